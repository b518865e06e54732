import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { serve } from '@hono/node-server';
import { CLOSE_CODES } from '../protocol/index.js';
import { createApp } from './app.js';
import { catchUpAgent, catchUpUpdate } from './bus/catch-up.js';
import { LocalTaskBus } from './bus/local-bus.js';
import { RedisTaskBus } from './bus/redis-bus.js';
import type { TaskBus } from './bus/task-bus.js';
import { realtimeConfig, type Config } from './config.js';
import type { ErrorLog } from './http/error-handler.js';
import { AbuseLimits } from './http/abuse-limits.js';
import { HttpMetrics } from './http/metrics.js';
import { Readiness } from './http/readiness.js';
import { viewerKeyRing } from './viewer-tokens/jwt.js';
import { DEMO_AGENT_IDS, demoRoutes } from './demo/demo-routes.js';
import { SimulatedAgent } from './demo/simulated-agent.js';
import { createRealtime, type Realtime, type RealtimeStats } from './realtime/realtime.js';
import { openStore, type OpenedStore } from './store/open-store.js';
import type { TaskStore } from './store/task-store.js';

/** In-flight requests get this long to finish on close before their connections are cut. */
const CLOSE_GRACE_MS = 5_000;
/**
 * A handler still running when its connection was cut (a slow store) gets this much longer
 * before the store is closed under it: its write may complete, though nobody hears the answer.
 */
const HANDLER_GRACE_MS = 10_000;

export interface StartOptions {
  config: Config;
  /** Given: used and left open on close (the caller owns it). Absent: opened from config.store. */
  store?: TaskStore;
  /** Given: used and left open on close. Absent: an in-process LocalTaskBus. */
  bus?: TaskBus;
  /** `false`: no WebSocket hub (HTTP only, e.g. tests of the HTTP API). */
  realtime?: false;
  log?: ErrorLog;
  /** Milliseconds clock for timestamps, rate limits and viewer-token expiry (default: Date.now). */
  now?: () => number;
}

export interface RunningServer {
  /** Base URL clients on this machine can use, e.g. http://127.0.0.1:8787. */
  url: string;
  port: number;
  /** Which store serves, for the startup line. */
  storeDescription: string;
  /**
   * Graceful stop: stops accepting connections, closes WebSockets with `code` (default 1001 going
   * away; 1012 for a restart, so clients spread their reconnects), lets requests in flight finish
   * (an acknowledged write is stored before the store closes), then closes what it built.
   */
  close(code?: number): Promise<void>;
  /**
   * From now on `/readyz` answers 503 (draining) and WebSocket upgrades are refused (503): a load
   * balancer stops sending new connections here while this instance still serves the ones it has;
   * close() comes after (main.ts waits DRAIN_DELAY_MS).
   */
  drain(): void;
  /** The WebSocket hub's figures; null without one. */
  realtimeStats(): RealtimeStats | null;
}

/** Builds everything from the config and listens; resolves once the port is bound. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config, log = console } = options;
  const opened = options.store
    ? { store: options.store, close: async () => {}, description: 'given by the caller' }
    : await openConfiguredStore(config);
  const { store } = opened;
  let bus: TaskBus;
  try {
    bus = options.bus ?? (await openConfiguredBus(config, store, log));
  } catch (error) {
    await opened.close();
    throw error;
  }
  // The store answers reads from the heads it knows for as long as the bus vouches for them.
  store.hearFrom?.((taskId) => bus.hearing(taskId));
  // Subscribed before the realtime hub: the store learns of a write before any snapshot is cut.
  const stopLearning = bus.subscribe((event) => {
    if (event.task) store.learn?.(event.task);
  });
  // One set of per-address limits for HTTP and the WebSocket: a token refused on either spends
  // from the same budget.
  const limits = new AbuseLimits(
    config,
    options.now ?? Date.now,
    bus instanceof RedisTaskBus ? bus.commands : undefined,
  );
  const realtime: Realtime | undefined =
    options.realtime === false
      ? undefined
      : createRealtime({
          store,
          bus,
          config: realtimeConfig(config),
          now: options.now,
          tokenBudget: (req) => limits.tokenBudgetOf(req),
        });
  // Demo mode: simulated agents post to this very server over HTTP once it listens.
  const demoAgents: SimulatedAgent[] = [];
  const demo =
    config.demo && realtime
      ? demoRoutes(realtime, demoAgents, {
          ring: config.viewerTokenKeys ? viewerKeyRing(config.viewerTokenKeys) : null,
          now: options.now ?? Date.now,
        })
      : undefined;
  const metrics = new HttpMetrics();
  const readiness = new Readiness({
    pingStore: store.ping ? () => store.ping!() : undefined,
    redis: bus instanceof RedisTaskBus ? () => (bus.state === 'up' ? 'ok' : 'down') : undefined,
  });
  const app = createApp({
    store,
    bus,
    config,
    realtime,
    log,
    demo,
    metrics,
    embeddedStats: opened.embeddedStats,
    limits,
    now: options.now,
    readiness,
  });

  const inFlight = new InFlight();
  const server = serve({
    fetch: (request, env) => inFlight.track(app.fetch(request, env)),
    port: config.port,
    hostname: config.host,
  }) as Server;
  if (realtime) {
    // The upgrade is ours, not @hono/node-server's `upgradeWebSocket`: that helper's listeners
    // close over the whole upgrade request for as long as the socket lives (about 6 KB of heap per
    // idle connection; BENCHMARKS.md). Counted in /metrics like the app's own answers.
    server.on('upgrade', function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
      const { route, status } = realtime.handleUpgrade(req, socket, head);
      metrics.record(req.method ?? 'GET', route, status);
    });
  }
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
    const failEvery = { 'demo-researcher': 1_000, 'demo-builder': 3 };
    for (const agentId of DEMO_AGENT_IDS) {
      const agent = new SimulatedAgent({
        baseUrl: url,
        agentId,
        failEvery: failEvery[agentId],
        adminToken: config.adminToken ?? undefined,
      });
      demoAgents.push(agent);
      agent.start();
    }
  }

  // While closing, a keep-alive connection is closed as soon as its response is out: otherwise
  // server.close() would wait for the client's keep-alive timeout.
  let closing: Promise<void> | null = null;
  const responses = new Set<ServerResponse>();
  // One listener shared by every response, no closure per request. 'close' follows 'finish' (or
  // an abort), when a kept-alive connection has just gone idle.
  function responseClosed(this: ServerResponse): void {
    responses.delete(this);
    if (closing) setImmediate(() => server.closeIdleConnections());
  }
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (closing) res.shouldKeepAlive = false;
    responses.add(res);
    res.on('close', responseClosed);
  });

  async function close(code: number): Promise<void> {
    for (const agent of demoAgents) agent.stop();
    // Stop accepting first: a client told to come back must not land on this process again.
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    for (const res of responses) if (!res.headersSent) res.shouldKeepAlive = false;
    const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    await realtime?.close(code);
    await stopped;
    clearTimeout(cut);
    // Writes whose connection was cut may still be running: the store stays open until they end.
    await inFlight.drained(HANDLER_GRACE_MS);
    await releaseOwned();
  }

  async function releaseOwned(): Promise<void> {
    stopLearning();
    if (!options.bus) await bus.close();
    await opened.close();
  }

  return {
    url,
    port,
    storeDescription: opened.description,
    close: (code = CLOSE_CODES.goingAway) => (closing ??= close(code)),
    drain: () => {
      readiness.drain();
      // New sockets go elsewhere: a balancer retries a refused upgrade on another instance.
      realtime?.refuseUpgrades(true);
    },
    realtimeStats: () => realtime?.stats() ?? null,
  };
}

/** Counts the app's handlers still running, so the store is not closed under a write. */
class InFlight {
  #count = 0;
  #idle: (() => void)[] = [];

  track<T>(result: T | Promise<T>): T | Promise<T> {
    if (!(result instanceof Promise)) return result;
    this.#count += 1;
    // A branch beside the caller's (which still sees the rejection), rather than a `finally`
    // promise the caller has to wait through: this runs on every request.
    result.then(this.#settled, this.#settled);
    return result;
  }

  readonly #settled = (): void => {
    this.#count -= 1;
    if (this.#count === 0) for (const resolve of this.#idle.splice(0)) resolve();
  };

  /** Resolves when no handler runs, or after `timeoutMs` (a hung handler must not block exit). */
  drained(timeoutMs: number): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** REDIS_URL set: the bus shared through Redis (caught up from `store` after a gap); else in-process. */
async function openConfiguredBus(config: Config, store: TaskStore, log: ErrorLog): Promise<TaskBus> {
  if (!config.redisUrl) return new LocalTaskBus();
  return RedisTaskBus.connect({
    url: config.redisUrl,
    catchUp: (taskId, afterSeq) => catchUpUpdate(store, taskId, afterSeq),
    catchUpAgent: (agentId) => catchUpAgent(store, agentId),
    log,
  });
}

/** The store named by the config; its close() also stops what it started (embedded dynalite). */
export function openConfiguredStore(config: Config): Promise<OpenedStore> {
  return openStore({
    kind: config.store,
    dataDir: config.dataDir,
    logTtlDays: config.logTtlDays,
    headFreshMs: config.headFreshMs,
    transactions: config.dynamodbTransactions,
    packedLines: config.dynamodbPackedLines,
    logQuota: { maxLines: config.taskLogMaxLines, maxBytes: config.taskLogMaxBytes },
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
