import type { LogEntry, Task } from '../../protocol/task.js';

/**
 * The connection states a panel shows (README, "The element"), as a const object plus a union
 * type of the same name.
 * - connecting: first attempt, nothing shown yet
 * - live: subscribed over the WebSocket, snapshot received
 * - reconnecting: the WebSocket dropped; retrying with backoff (data may be stale)
 * - polling: updates come from HTTP polling (WebSocket unavailable, or mode="polling")
 * - offline: the server is unreachable over HTTP too (or the browser is offline)
 * - unauthorized: the server refused this panel's viewer token (none, expired and not renewed,
 *   forged, or scoped to other tasks); it stops polling, and asks again when its token changes
 *   or its socket reconnects (the provider asked once more then)
 */
export const ConnectionState = {
  connecting: 'connecting',
  live: 'live',
  reconnecting: 'reconnecting',
  polling: 'polling',
  offline: 'offline',
  unauthorized: 'unauthorized',
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/** What a panel shows; a new object on every change (so Lit sees the change). */
export interface FeedView {
  task: Task | null;
  /** The lines held, in seq order, bounded (oldest dropped first; reload them with loadOlder). */
  logs: readonly LogEntry[];
  /** Earlier lines exist on the server that are not in `logs`. */
  hasOlder: boolean;
  connectionState: ConnectionState;
  /** When the next reconnect attempt happens (epoch ms), while reconnecting. */
  nextRetryAt: number | null;
  /** Why live updates are unavailable, when they are (for the banner), else null. */
  problem: string | null;
  /** The task or agent does not exist (404). */
  notFound: boolean;
}

export interface TaskFeedConfig {
  /** Base URL of the status server, e.g. "https://status.example.com" (no trailing slash needed). */
  endpoint: string;
  /** Follow this task... */
  taskId?: string;
  /** ...or this agent's active task, switching when it starts a new one. */
  agentId?: string;
  /** `polling`: no WebSocket at all (rollback mode). */
  mode: 'auto' | 'polling';
  pollIntervalMs: number;
  /** A viewer token for this task or agent (the `access-token` attribute); null: none. */
  accessToken?: string | null;
  /**
   * Asked for a fresh viewer token before the current one expires, and when the server refuses
   * it; resolves to null when there is none (the panel then shows `unauthorized`).
   */
  tokenProvider?: () => Promise<string | null>;
  /** Called with a new view on every change. */
  onChange: (view: FeedView) => void;
}

/** One panel's live data. Created stopped; `start`/`stop` mirror each other and may repeat. */
export interface TaskFeed {
  readonly view: FeedView;
  start(): void;
  stop(): void;
  /** Skip the backoff wait and try the WebSocket now. */
  retryNow(): void;
  /**
   * Ask now over HTTP (the Refresh button): every poll at once; after the browser said it is
   * offline (polls paused), try as if it were back online.
   */
  refresh(): void;
  /** Load the lines before the oldest held one, from the logs route; while a load is under way, its promise. */
  loadOlder(): Promise<void>;
  /** A new viewer token from the host: used from the next request on, the streams continuing. */
  setToken(token: string | null): void;
}

export type TaskFeedFactory = (config: TaskFeedConfig) => TaskFeed;
