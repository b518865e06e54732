import type { MiddlewareHandler } from 'hono';
import type { WebSocketServer } from 'ws';
import type { TaskBus } from '../bus/task-bus.js';
import type { TaskStore } from '../store/task-store.js';

export interface RealtimeConfig {
  /** Origins allowed to open the WebSocket (exact `scheme://host[:port]`); see upgrade-origin.ts. */
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
  stats(): { connections: number; subscriptions: number; delivered: number };
  /** Closes every socket with `code` (1001 going away, 1012 restart) and stops the heartbeat. */
  close(code?: number): Promise<void>;
}

export interface RealtimeDeps {
  store: TaskStore;
  bus: TaskBus;
  config: RealtimeConfig;
}

export function createRealtime(_deps: RealtimeDeps): Realtime {
  throw new Error('not implemented yet');
}
