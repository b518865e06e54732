import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE_CODES, ROUTES, type ErrorBody, type ViewerTokenKey } from '../../protocol/index.js';
import type { TaskBus } from '../bus/task-bus.js';
import { HOST_NOT_ALLOWED_STATUS, hostNotAllowed, isHostAllowed, type HostAllowlist } from '../http/hosts.js';
import type { TaskStore } from '../store/task-store.js';
import { viewerKeyRing } from '../viewer-tokens/jwt.js';
import { Heartbeat } from './heartbeat.js';
import { Hub } from './hub.js';
import { refuseUpgrade } from './refuse-upgrade.js';
import { Session, type SessionAccess } from './session.js';
import { checkUpgradeOrigin } from './upgrade-origin.js';

export interface RealtimeConfig {
  /** Origins allowed to open the WebSocket; see server/http/origins.ts for the syntax. */
  allowedOrigins: readonly string[];
  /** Host names upgrades may name (DNS rebinding); see server/http/hosts.ts. */
  allowedHosts: HostAllowlist;
  /** Server ping interval; a peer that misses one is terminated at the next. */
  heartbeatMs: number;
  /** Largest client frame accepted (ws `maxPayload`). */
  maxPayloadBytes: number;
  /**
   * A socket whose unsent data exceeds this is closed (1013, try again later) instead of growing
   * memory; the client reconnects and resyncs from its cursor.
   */
  maxBufferedBytes: number;
  maxSubscriptionsPerSocket: number;
  /** VIEWER_TOKEN_KEYS: set, every subscription needs an `authorize`d token covering it. */
  viewerTokenKeys: readonly ViewerTokenKey[] | null;
  /** ADMIN_TOKEN, which an `authorize` may carry too: it covers everything and never expires. */
  adminToken: string | null;
}

export interface Realtime {
  /**
   * The HTTP server's 'upgrade' listener (serve.ts attaches it): a WebSocket upgrade at
   * ROUTES.ws passes the checks and is handed to `ws`; anything else gets a JSON error on the raw
   * socket. Returns what it answered, for the request metrics.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): UpgradeAnswer;
  /** The `ws` server (noServer) behind handleUpgrade; its `clients` are the open sockets. */
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

/** How an upgrade request was answered: its metrics route label and HTTP status (101: accepted). */
export interface UpgradeAnswer {
  route: string;
  status: number;
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
  /** Milliseconds clock for viewer-token expiry (default: Date.now; tests move it). */
  now?: () => number;
  /** Each socket's budget of refused tokens, by its client address (shared with the HTTP routes). */
  tokenBudget?: (req: IncomingMessage) => SessionAccess['tokenBudget'];
}

/** How long close() waits for clients to answer the close frame before cutting them off. */
const CLOSE_GRACE_MS = 2_000;

/** `ws` emits 'error' before closing on protocol errors; the close that follows does the work. */
function ignoreSocketError(): void {}

/** The WebSocket side of the server: upgrade (with the Host and Origin checks), sessions, hub, heartbeat. */
export function createRealtime({ store, bus, config, now = Date.now, tokenBudget }: RealtimeDeps): Realtime {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxPayloadBytes,
    // Compression costs CPU per subscriber and opens the door to memory blow-ups; frames are small.
    perMessageDeflate: false,
  });
  const hub = new Hub(
    bus.follow && bus.unfollow
      ? {
          follow: (key) => {
            // A shared bus: this instance did not hear the task's events until now.
            if (key.kind === 'task') store.forget?.(key.id);
            return bus.follow!(key);
          },
          unfollow: (key) => bus.unfollow!(key),
        }
      : undefined,
  );
  const sessions = new Map<WebSocket, Session>();
  const access = {
    keys: config.viewerTokenKeys === null ? null : viewerKeyRing(config.viewerTokenKeys),
    adminToken: config.adminToken,
    now,
  };
  // With viewer tokens, each tick also ends the subscriptions whose tokens expired on a quiet task
  // (a busy one is checked on each event it delivers).
  const heartbeat = new Heartbeat(
    config.heartbeatMs,
    access.keys === null
      ? undefined
      : function expireSubscriptions() {
          for (const session of sessions.values()) session.expireLapsed();
        },
  );
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
  /** ws's handleUpgrade callback, shared by every connection: `ws` is open and its own. */
  function onUpgraded(ws: WebSocket, req: IncomingMessage): void {
    heartbeat.watch(ws);
    const budget = tokenBudget?.(req);
    sessions.set(
      ws,
      new Session(ws, hub, store, limits, budget ? { ...access, tokenBudget: budget } : access),
    );
    // Attached before ws reads any frame: frames sent with the handshake are read on a later tick.
    ws.on('message', onSocketMessage);
    ws.on('close', onSocketClose);
    ws.on('error', ignoreSocketError);
  }

  let refusing = false;
  /** Set by close(): a socket accepted after it would never be told to come back. */
  let closing = false;
  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): UpgradeAnswer {
    // With an 'upgrade' listener, Node 20 sends every request carrying Upgrade here, whatever
    // protocol it names (an `h2c` upgrade included), and it cannot be handed back to the app.
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
      return refused(socket, 'unmatched', 400, {
        error: {
          code: 'validation_failed',
          message: `this server upgrades only to WebSocket, at GET ${ROUTES.ws}; send other requests without an Upgrade header`,
        },
      });
    }
    const path = pathOf(req.url);
    if (req.method !== 'GET' || path !== ROUTES.ws) {
      return refused(socket, 'unmatched', 404, {
        error: {
          code: 'not_found',
          message: `no WebSocket at ${req.method ?? ''} ${path ?? req.url ?? ''}; it is at GET ${ROUTES.ws}`,
        },
      });
    }
    const { host } = req.headers;
    if (host !== undefined && !isHostAllowed(host, config.allowedHosts)) {
      return refused(socket, ROUTES.ws, HOST_NOT_ALLOWED_STATUS, { error: hostNotAllowed(host) });
    }
    if (refusing || closing) {
      return refused(
        socket,
        ROUTES.ws,
        503,
        {
          error: {
            code: 'realtime_unavailable',
            message: closing
              ? 'the server is shutting down; connect again shortly'
              : 'real-time updates are switched off for now; poll the status route',
          },
        },
        { 'Retry-After': '5' },
      );
    }
    const forbidden = checkUpgradeOrigin(req.headers.origin, host, config.allowedOrigins);
    if (forbidden) return refused(socket, ROUTES.ws, 403, forbidden);
    // ws checks the rest of the handshake (Sec-WebSocket-Key, -Version): onHandshakeError answers
    // a broken one, synchronously, so an ended socket here is a refused one.
    wss.handleUpgrade(req, socket, head, onUpgraded);
    return { route: ROUTES.ws, status: socket.writableEnded ? 400 : 101 };
  }
  /** ws found the handshake broken; with this listener it leaves the answer to us (ws docs). */
  wss.on('wsClientError', function onHandshakeError(error, socket, req) {
    const version = req.headers['sec-websocket-version'];
    refuseUpgrade(
      socket,
      400,
      { error: { code: 'validation_failed', message: `invalid WebSocket handshake: ${error.message}` } },
      // RFC 6455 §4.4: name the versions we speak when the client's is not one of them.
      version === '13' || version === '8' ? {} : { 'Sec-WebSocket-Version': '13, 8' },
    );
  });

  return {
    handleUpgrade,
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

function refused(
  socket: Duplex,
  route: string,
  status: number,
  body: ErrorBody,
  headers?: Record<string, string>,
): UpgradeAnswer {
  refuseUpgrade(socket, status, body, headers);
  return { route, status };
}

/** The path of a request target (origin-form or absolute-form); undefined when it does not parse. */
function pathOf(target: string | undefined): string | undefined {
  try {
    return new URL(target ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}
