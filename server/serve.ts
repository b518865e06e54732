import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { CLOSE_CODES } from '../protocol/index.js';
import { createApp } from './app.js';
import { LocalTaskBus } from './bus/local-bus.js';
import type { TaskBus } from './bus/task-bus.js';
import { realtimeConfig, type Config } from './config.js';
import type { ErrorLog } from './http/error-handler.js';
import { demoRoutes } from './demo/demo-routes.js';
import { SimulatedAgent } from './demo/simulated-agent.js';
import { createRealtime, type Realtime } from './realtime/realtime.js';
import { openStore, type OpenedStore } from './store/open-store.js';
import type { TaskStore } from './store/task-store.js';

/** In-flight requests get this long to finish on close before their connections are cut. */
const CLOSE_GRACE_MS = 5_000;

export interface StartOptions {
  config: Config;
  /** Given: used and left open on close (the caller owns it). Absent: opened from config.store. */
  store?: TaskStore;
  /** Given: used and left open on close. Absent: an in-process LocalTaskBus. */
  bus?: TaskBus;
  /** `false`: no WebSocket hub (HTTP only, e.g. tests of the HTTP API). */
  realtime?: false;
  log?: ErrorLog;
}

export interface RunningServer {
  /** Base URL clients on this machine can use, e.g. http://127.0.0.1:8787. */
  url: string;
  port: number;
  /** Which store serves, for the startup line. */
  storeDescription: string;
  /** Stops accepting, closes WebSockets (1001), drains requests, then closes what it built. */
  close(): Promise<void>;
}

/** Builds everything from the config and listens; resolves once the port is bound. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config, log = console } = options;
  const opened = options.store
    ? { store: options.store, close: async () => {}, description: 'given by the caller' }
    : await openConfiguredStore(config);
  const { store } = opened;
  const bus = options.bus ?? new LocalTaskBus();
  const realtime: Realtime | undefined =
    options.realtime === false ? undefined : createRealtime({ store, bus, config: realtimeConfig(config) });
  // Demo mode: simulated agents post to this very server over HTTP once it listens.
  const demoAgents: SimulatedAgent[] = [];
  const demo = config.demo && realtime ? demoRoutes(realtime, demoAgents) : undefined;
  const app = createApp({ store, bus, config, realtime, log, demo });

  const server = serve({
    fetch: app.fetch,
    port: config.port,
    hostname: config.host,
    ...(realtime ? { websocket: { server: realtime.wss } } : {}),
  }) as Server;
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => reject(error);
    server.once('error', fail);
    server.once('listening', () => {
      server.off('error', fail);
      resolve();
    });
  }).catch(async (error: unknown) => {
    // Port taken, say: release what we opened so the caller can exit cleanly.
    await realtime?.close(CLOSE_CODES.goingAway);
    await releaseOwned();
    throw error;
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${reachableHost(config.host)}:${port}`;
  if (demo) {
    for (const [agentId, failEvery] of [
      ['demo-researcher', 1_000],
      ['demo-builder', 3],
    ] as const) {
      const agent = new SimulatedAgent({
        baseUrl: url,
        agentId,
        failEvery,
        adminToken: config.adminToken ?? undefined,
      });
      demoAgents.push(agent);
      agent.start();
    }
  }

  let closing: Promise<void> | null = null;
  async function close(): Promise<void> {
    for (const agent of demoAgents) agent.stop();
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    await realtime?.close(CLOSE_CODES.goingAway);
    await stopped;
    clearTimeout(cut);
    await releaseOwned();
  }

  async function releaseOwned(): Promise<void> {
    if (!options.bus) await bus.close();
    await opened.close();
  }

  return {
    url,
    port,
    storeDescription: opened.description,
    close: () => (closing ??= close()),
  };
}

/** The store named by the config; its close() also stops what it started (embedded dynalite). */
export function openConfiguredStore(config: Config): Promise<OpenedStore> {
  return openStore({
    kind: config.store,
    dataDir: config.dataDir,
    logTtlDays: config.logTtlDays,
    dynamodb: {
      tableName: config.tableName,
      ...(config.dynamodbEndpoint ? { endpoint: config.dynamodbEndpoint } : {}),
      ...(config.awsRegion ? { region: config.awsRegion } : {}),
    },
  });
}

/** A wildcard bind address is not something to connect to: name loopback instead. */
function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
