import { upgradeWebSocket } from '@hono/node-server';
import type { MiddlewareHandler } from 'hono';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE_CODES } from '../../protocol/index.js';
import type { TaskBus } from '../bus/task-bus.js';
import type { TaskStore } from '../store/task-store.js';
import { Heartbeat } from './heartbeat.js';
import { Hub } from './hub.js';
import { Session } from './session.js';
import { checkUpgradeOrigin } from './upgrade-origin.js';

export interface RealtimeConfig {
  /** Origins allowed to open the WebSocket; see server/http/origins.ts for the syntax. */
  allowedOrigins: readonly string[];
  /** Server ping interval; a peer that misses one is terminated at the next. */
  heartbeatMs: number;
  /** Largest client frame accepted (ws `maxPayload`). */
  maxPayloadBytes: number;
  /** A socket whose unsent data exceeds this is closed (1008) instead of growing memory. */
  maxBufferedBytes: number;
  maxSubscriptionsPerSocket: number;
}

export interface Realtime {
  /** Mounted by the app at ROUTES.ws (GET with Upgrade: websocket). */
  readonly upgrade: MiddlewareHandler;
  /** Handed to @hono/node-server's `serve({ websocket: { server } })`. */
  readonly wss: WebSocketServer;
  /** Open connections, subscriptions and deliveries, for /metrics. */
  stats(): RealtimeStats;
  /**
   * While refusing, upgrades get 503 and clients fall back to polling: a switch for maintenance
   * (and for the demo and chaos tests).
   */
  refuseUpgrades(refuse: boolean): void;
  /** Closes every open socket with `code`; clients reconnect and resync. */
  dropConnections(code?: number): void;
  /** Closes every socket with `code` (1001 going away, 1012 restart) and stops the heartbeat. */
  close(code?: number): Promise<void>;
}

export interface RealtimeStats {
  connections: number;
  subscriptions: number;
  delivered: number;
  /** Bytes queued for clients and not yet taken by the kernel, over every socket. */
  bufferedBytes: number;
}

export interface RealtimeDeps {
  store: TaskStore;
  bus: TaskBus;
  config: RealtimeConfig;
}

/** How long close() waits for clients to answer the close frame before cutting them off. */
const CLOSE_GRACE_MS = 2_000;

/** `ws` emits 'error' before closing on protocol errors; the close that follows does the work. */
function ignoreSocketError(): void {}

/**
 * Moves an open socket's events from @hono/node-server's listeners to `ours`. Its listeners close
 * over the whole upgrade request (Hono context, headers, URL, the IncomingMessage), which would
 * otherwise stay alive as long as the socket: about 6 KB of heap per idle connection, twice what
 * `ws` itself holds (bench/, BENCHMARKS.md). They are attached synchronously right after
 * `onOpen` returns, so a microtask later every listener that was not there at `onOpen` is
 * theirs; the ones already there (ws's own client tracking, the heartbeat) are kept. Should a
 * later version attach differently, its listeners stay and stay harmless: the events they
 * forward are ignored once `direct` is set.
 */
function takeOverListeners(
  ws: WebSocket,
  ours: {
    message: (this: WebSocket, data: Buffer, isBinary: boolean) => void;
    close: (this: WebSocket) => void;
    error: () => void;
  },
): void {
  const events = ['message', 'close', 'error'] as const;
  const before = events.map((name) => ws.listeners(name));
  queueMicrotask(() => {
    events.forEach((name, i) => {
      for (const listener of ws.listeners(name)) {
        if (!before[i]!.includes(listener)) ws.off(name, listener as (...args: unknown[]) => void);
      }
      ws.on(name, ours[name] as (...args: unknown[]) => void);
    });
  });
}

/** The WebSocket side of the server: upgrade (with the Origin check), sessions, hub, heartbeat. */
export function createRealtime({ store, bus, config }: RealtimeDeps): Realtime {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxPayloadBytes,
    // Compression costs CPU per subscriber and opens the door to memory blow-ups; frames are small.
    perMessageDeflate: false,
  });
  const hub = new Hub();
  const heartbeat = new Heartbeat(config.heartbeatMs);
  const sessions = new Map<WebSocket, Session>();
  // Shared by every socket (`this` is the socket), so a connection costs no listener closures.
  function onSocketMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
    sessions.get(this)?.receive(data, isBinary);
  }
  function onSocketClose(this: WebSocket): void {
    sessions.get(this)?.dispose();
    sessions.delete(this);
  }
  const unsubscribeBus = bus.subscribe((event) => hub.publish(event));

  const limits = {
    heartbeatMs: config.heartbeatMs,
    maxBufferedBytes: config.maxBufferedBytes,
    maxSubscriptions: config.maxSubscriptionsPerSocket,
  };
  const accept = upgradeWebSocket(() => {
    let session: Session | undefined;
    // Until takeOverListeners runs, @hono/node-server's own listeners deliver (its replay of
    // messages that arrived while the socket was opening); after it, ours do, straight from `ws`.
    let direct = false;
    return {
      onOpen(_event, ctx) {
        const ws = ctx.raw as WebSocket;
        heartbeat.watch(ws);
        const opened = new Session(ws, hub, store, limits);
        session = opened;
        sessions.set(ws, opened);
        takeOverListeners(ws, { message: onSocketMessage, close: onSocketClose, error: ignoreSocketError });
        queueMicrotask(() => (direct = true));
      },
      onMessage(event) {
        if (!direct) session?.receive(event.data, typeof event.data !== 'string');
      },
      onClose() {
        if (direct || !session) return;
        session.dispose();
        sessions.delete(session.ws);
      },
    };
  });

  let refusing = false;
  /** Set by close(): a socket accepted after it would never be told to come back. */
  let closing = false;
  const upgrade: MiddlewareHandler = async function realtimeUpgrade(c, next) {
    if (refusing || closing) {
      c.header('Retry-After', '5');
      return c.json(
        {
          error: {
            code: 'realtime_unavailable',
            message: closing
              ? 'the server is shutting down; connect again shortly'
              : 'real-time updates are switched off for now; poll the status route',
          },
        },
        503,
      );
    }
    const refused = checkUpgradeOrigin(c.req.header('origin'), c.req.header('host'), config.allowedOrigins);
    if (refused) return c.json(refused, 403);
    return accept(c, next);
  };

  return {
    upgrade,
    wss,
    stats: () => ({
      connections: sessions.size,
      subscriptions: hub.subscriptions,
      delivered: hub.delivered,
      bufferedBytes: [...wss.clients].reduce((sum, ws) => sum + ws.bufferedAmount, 0),
    }),
    refuseUpgrades(refuse) {
      refusing = refuse;
    },
    dropConnections(code = CLOSE_CODES.serviceRestart) {
      for (const ws of wss.clients) ws.close(code, 'dropped by the operator');
    },
    async close(code = CLOSE_CODES.goingAway) {
      closing = true;
      heartbeat.stop();
      unsubscribeBus();
      const goodbyes = [...wss.clients].map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === ws.CLOSED) return resolve();
            const cut = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
            ws.once('close', () => {
              clearTimeout(cut);
              resolve();
            });
            ws.close(
              code,
              code === CLOSE_CODES.serviceRestart ? 'server restarting; reconnect' : 'server shutting down',
            );
          }),
      );
      await Promise.all(goodbyes);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
