import type {
  AgentTaskMessage,
  ClientMessage,
  ErrorMessage,
  ServerMessage,
  SnapshotMessage,
  UpdateMessage,
} from '../../protocol/ws-messages.js';
import { BASE_MS, backoffDelay, RESTART_SPREAD_MS, RetryTracker } from './backoff.js';
import type { Clock } from './clock.js';
import type { FallbackReason } from './link-state.js';
import { IDLE, StatusSource } from './link-status.js';
import { parseServerMessage } from './wire-guards.js';

export type { LinkStatus } from './link-status.js';

// Plain constants, which the bundler inlines; LINK gathers them for tests and docs.
/** From `new WebSocket` to the server's hello; a socket stuck connecting counts as failed. */
const CONNECT_TIMEOUT_MS = 10_000;
/** From a subscribe (or watch) to its answer; a socket that never answers is useless. */
const ANSWER_TIMEOUT_MS = 10_000;
/** How long a socket gets to answer a probe when the reader comes back before it is replaced. */
const PROBE_TIMEOUT_MS = 3_000;
/** Failed attempts in a row (without a stable link between) before the feed polls instead. */
const FAILURES_BEFORE_FALLBACK = 3;

export const LINK = {
  connectTimeoutMs: CONNECT_TIMEOUT_MS,
  answerTimeoutMs: ANSWER_TIMEOUT_MS,
  failuresBeforeFallback: FAILURES_BEFORE_FALLBACK,
} as const;

/** Closes that retrying will not fix: the feed polls at once (the link keeps probing). */
const REFUSED_CLOSE_CODES = [1003, 1008, 1009];
/** The server restarts or sheds load: everyone retries at once, so spread wider. */
const RESTART_CLOSE_CODES = [1012, 1013];
const CLOSE_NORMAL = 1000;
// Our own close codes (RFC 6455 leaves 4000–4999 to applications).
const CLOSE_SILENT = 4000;
const CLOSE_UNANSWERED = 4001;
const CLOSE_PROTOCOL = 4002;
const CLOSE_TIMEOUT = 4003;
const OPEN = 1;

/**
 * ws-messages.ts imports zod, so its PROTOCOL_VERSION cannot be imported at run time here; the
 * type ties this copy to it (bumping the version there fails the type check here).
 */
const PROTOCOL_VERSION: Extract<ServerMessage, { type: 'hello' }>['protocol'] = 1;

type TimerName = 'connect' | 'watchdog' | 'answer' | 'retry' | 'probe';

/** The part of a browser WebSocket we use; injected (mock-socket in tests). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
}
export type WebSocketCtor = new (url: string) => SocketLike;

export interface TaskSubscriber {
  readonly taskId: string;
  /** Asked at each (re)subscribe, so a resumed stream starts right after what is held. */
  cursor(): number | null;
  /** `requestedAfterSeq`: the cursor the subscribe was sent with (null: a tail). */
  onSnapshot(message: SnapshotMessage, requestedAfterSeq: number | null): void;
  onUpdate(message: UpdateMessage): void;
  onError(message: ErrorMessage): void;
}

export interface AgentWatcher {
  readonly agentId: string;
  onAgentTask(message: AgentTaskMessage): void;
  onError(message: ErrorMessage): void;
}

export interface SocketLinkConfig {
  /** ws:// or wss:// URL of ROUTES.ws. */
  url: string;
  WebSocket: WebSocketCtor;
  clock: Clock;
  random?: () => number;
  /** How long the link must stay up before its retry count resets; default STABLE_MS (backoff.ts). */
  stableMs?: number;
}

/** The listener method each server message goes to. */
const HANDLERS: Partial<Record<string, string>> = {
  snapshot: 'onSnapshot',
  update: 'onUpdate',
  'agent-task': 'onAgentTask',
  error: 'onError',
};

/**
 * A task's stream (key `s` + task id) or an agent's watch (`w` + agent id): its one listener, and
 * the cursor of each request sent for it and not yet answered, oldest first.
 */
interface Stream {
  l: TaskSubscriber | AgentWatcher;
  q: (number | null)[];
}

/**
 * The WebSocket for one endpoint: task subscriptions and agent watches multiplexed by id (one
 * listener each: the TabLink that shares them between panels and tabs), resubscribed with each
 * one's cursor after a reconnect, jittered backoff, and a client-side watchdog because a socket
 * can look open after sleep and be dead.
 */
export class SocketLink extends StatusSource {
  readonly #config: SocketLinkConfig;
  readonly #tracker: RetryTracker;
  readonly #streams = new Map<string, Stream>();
  readonly #timers = new Map<TimerName, unknown>();
  #active = false;
  #ws: SocketLike | null = null;
  #helloSeen = false;
  #heartbeatMs = 0;
  #lastMessageAt = 0;
  #lastTickAt = 0;
  #pingSentAt: number | null = null;
  /**
   * Set by a restart close (1012/1013) until a server says hello again: the attempts that fail
   * while the server is down keep the wide restart spread, or they would all land at once.
   */
  #restarting = false;

  constructor(config: SocketLinkConfig) {
    super();
    this.#config = config;
    this.#tracker = new RetryTracker(config.stableMs);
  }

  open(): void {
    if (this.#active) return;
    this.#active = true;
    this.#connect();
  }

  /** Closes the socket and every timer; the link can be opened again. */
  close(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#detach(CLOSE_NORMAL);
    this.#clearTimer('retry');
    this.#tracker.reset();
    this.#restarting = false;
    this.setStatus(IDLE);
  }

  /** Skip the backoff wait. */
  retryNow(): void {
    if (this.#active && this.#timers.has('retry')) this.#connect();
  }

  /**
   * The reader is back (online again, tab visible again): a socket that died silently meanwhile
   * can still look open, and the watchdog would take two heartbeats to notice. Ping it now and
   * replace it at once unless something arrives within PROBE_TIMEOUT_MS; with no socket, retry now.
   */
  probe(): void {
    if (!this.#active) return;
    if (!this.#ws || !this.#helloSeen) return this.retryNow();
    if (this.#timers.has('probe')) return;
    const sentAt = this.#config.clock.now();
    this.#send({ type: 'ping' });
    this.#setTimer('probe', PROBE_TIMEOUT_MS, () => {
      if (this.#lastMessageAt >= sentAt) return;
      this.#abandon(CLOSE_SILENT, null, true);
      this.#connect();
    });
  }

  /**
   * Follows a task. A later subscriber of the same task takes its place and is answered afresh
   * (from its cursor); the earlier one's unsubscribe then does nothing.
   */
  subscribe(subscriber: TaskSubscriber): () => void {
    return this.#add('s' + subscriber.taskId, subscriber);
  }

  /** Follows an agent's active task; like subscribe, a later watcher takes the place. */
  watchAgent(watcher: AgentWatcher): () => void {
    return this.#add('w' + watcher.agentId, watcher);
  }

  #add(key: string, listener: Stream['l']): () => void {
    const stream = this.#streams.get(key);
    // A replaced listener's requests stay queued: their answers come first, with their cursors.
    if (stream) stream.l = listener;
    else this.#streams.set(key, { l: listener, q: [] });
    this.#request(key);
    return () => {
      if (this.#streams.get(key)?.l !== listener) return;
      this.#streams.delete(key);
      const id = key.slice(1);
      this.#send(
        key[0] === 's' ? { type: 'unsubscribe', taskId: id } : { type: 'unwatch-agent', agentId: id },
      );
      this.#rearmAnswerTimer();
    };
  }

  // ---- connection ----------------------------------------------------------------------------

  #connect(): void {
    this.#clearTimer('retry');
    let ws: SocketLike;
    try {
      ws = new this.#config.WebSocket(this.#config.url);
    } catch {
      // A CSP or a bad URL: the constructor throws synchronously, and will again.
      return this.#down(null, 'no-websocket', true);
    }
    this.#ws = ws;
    ws.addEventListener('message', this.#onMessage);
    ws.addEventListener('close', this.#onClose);
    this.#setTimer('connect', CONNECT_TIMEOUT_MS, () => this.#abandon(CLOSE_TIMEOUT, null, true));
    this.setStatus({ kind: 'connecting' });
  }

  // Bound once, so each add has an exact remove; a detached socket's late events never arrive.
  readonly #onMessage = (event: Event): void => {
    this.#lastMessageAt = this.#config.clock.now();
    const message = parseServerMessage((event as MessageEvent).data);
    if (message) this.#dispatch(message);
  };

  readonly #onClose = (event: Event): void => {
    this.#detach();
    this.#down((event as CloseEvent).code, null, true);
  };

  #dispatch(message: ServerMessage): void {
    if (message.type === 'hello') return this.#onHello(message.protocol, message.heartbeatMs);
    const { taskId, agentId } = message as { taskId?: string; agentId?: string };
    for (const key of [taskId && 's' + taskId, agentId && 'w' + agentId]) {
      const stream = key ? this.#streams.get(key) : undefined;
      if (!stream) continue;
      // A snapshot, an agent's task or an error answers a request; an update does not.
      const requested = message.type === 'update' ? null : this.#answered(stream);
      (stream.l as unknown as Record<string, (m: unknown, r: number | null) => void>)[
        HANDLERS[message.type]!
      ]?.(message, requested);
    }
  }

  #onHello(protocol: number, heartbeatMs: number): void {
    if (protocol !== PROTOCOL_VERSION) return this.#abandon(CLOSE_PROTOCOL, 'upgrade-refused', false);
    const now = this.#config.clock.now();
    this.#clearTimer('connect');
    this.#helloSeen = true;
    this.#restarting = false;
    this.#heartbeatMs = heartbeatMs;
    this.#pingSentAt = null;
    this.#tracker.up(now);
    this.#lastTickAt = now;
    this.#scheduleWatchdog();
    this.setStatus({ kind: 'open' });
    for (const key of this.#streams.keys()) this.#request(key);
  }

  /**
   * The socket is gone (closed, or abandoned by us). `healthy: false` when it was up but failing
   * at its job, so its uptime must not reset the retry count.
   */
  #down(code: number | null, fallback: FallbackReason | null, healthy: boolean): void {
    if (!this.#active) return;
    const { clock, random } = this.#config;
    const now = clock.now();
    const attempt = this.#tracker.down(now, healthy);
    const reason =
      fallback ??
      (code !== null && REFUSED_CLOSE_CODES.includes(code) ? 'upgrade-refused' : null) ??
      (this.#tracker.failures >= FAILURES_BEFORE_FALLBACK ? 'attempts-exhausted' : null);
    if (code !== null && RESTART_CLOSE_CODES.includes(code)) this.#restarting = true;
    const baseMs = this.#restarting ? RESTART_SPREAD_MS : BASE_MS;
    const delay = backoffDelay(attempt, { baseMs, ...(random ? { random } : {}) });
    this.#setTimer('retry', delay, () => this.#connect());
    this.setStatus({ kind: 'down', nextRetryAt: now + delay, fallback: reason });
  }

  /** Give up on the current socket ourselves (dead, unanswered, wrong protocol). */
  #abandon(code: number, fallback: FallbackReason | null, healthy: boolean): void {
    this.#detach(code);
    this.#down(code, fallback, healthy);
  }

  /** Forget the current socket: listeners, timers, unanswered requests. */
  #detach(closeCode?: number): void {
    const ws = this.#ws;
    this.#ws = null;
    this.#helloSeen = false;
    this.#clearTimer('connect');
    this.#clearTimer('watchdog');
    this.#clearTimer('answer');
    this.#clearTimer('probe');
    for (const stream of this.#streams.values()) stream.q = [];
    if (!ws) return;
    ws.removeEventListener('message', this.#onMessage);
    ws.removeEventListener('close', this.#onClose);
    if (closeCode !== undefined) {
      try {
        ws.close(closeCode);
      } catch {
        // Already closing; nothing to release.
      }
    }
  }

  // ---- watchdog ------------------------------------------------------------------------------

  #scheduleWatchdog(): void {
    this.#setTimer('watchdog', this.#tickMs(), () => this.#tick());
  }

  #tickMs(): number {
    return Math.max(1, Math.floor(this.#heartbeatMs / 4));
  }

  /**
   * Pings when idle for a heartbeat and gives up when a ping stays unanswered for another one.
   * A tick that comes very late (background-tab throttling, sleep) proves nothing about the
   * server, so it only pings.
   */
  #tick(): void {
    const now = this.#config.clock.now();
    const late = now - this.#lastTickAt > this.#tickMs() * 2;
    this.#lastTickAt = now;
    const hb = this.#heartbeatMs;
    const sentAt = this.#pingSentAt;
    const pingPending = sentAt !== null && this.#lastMessageAt < sentAt;
    if (!late && pingPending && now - sentAt >= hb) return this.#abandon(CLOSE_SILENT, null, true);
    if (late || (!pingPending && now - this.#lastMessageAt >= hb)) {
      this.#send({ type: 'ping' });
      this.#pingSentAt = now;
    }
    this.#scheduleWatchdog();
  }

  // ---- requests ------------------------------------------------------------------------------

  /** Sends the stream's subscribe (from its listener's cursor) or watch, once the socket is up. */
  #request(key: string): void {
    const stream = this.#streams.get(key);
    if (!stream || !this.#helloSeen) return;
    const id = key.slice(1);
    let afterSeq: number | null = null;
    if (key[0] === 'w') {
      this.#send({ type: 'watch-agent', agentId: id });
    } else {
      afterSeq = (stream.l as TaskSubscriber).cursor();
      this.#send(
        afterSeq === null ? { type: 'subscribe', taskId: id } : { type: 'subscribe', taskId: id, afterSeq },
      );
    }
    stream.q.push(afterSeq);
    if (!this.#timers.has('answer')) this.#armAnswerTimer();
  }

  #armAnswerTimer(): void {
    // The socket is up but the server does not serve it: treat it as broken, not as stable.
    this.#setTimer('answer', ANSWER_TIMEOUT_MS, () =>
      this.#abandon(CLOSE_UNANSWERED, 'snapshot-timeout', false),
    );
  }

  /** Returns the cursor the answered request was sent with. */
  #answered(stream: Stream): number | null {
    const requested = stream.q.shift() ?? null;
    this.#rearmAnswerTimer();
    return requested;
  }

  /** One timer for all unanswered requests: restarted on each answer, cleared when none wait. */
  #rearmAnswerTimer(): void {
    this.#clearTimer('answer');
    if (this.#helloSeen && [...this.#streams.values()].some((stream) => stream.q.length > 0)) {
      this.#armAnswerTimer();
    }
  }

  #send(message: ClientMessage): void {
    const ws = this.#ws;
    if (ws && this.#helloSeen && ws.readyState === OPEN) ws.send(JSON.stringify(message));
  }

  #setTimer(name: TimerName, ms: number, callback: () => void): void {
    this.#clearTimer(name);
    const id = this.#config.clock.setTimeout(() => {
      this.#timers.delete(name);
      callback();
    }, ms);
    this.#timers.set(name, id);
  }

  #clearTimer(name: TimerName): void {
    this.#config.clock.clearTimeout(this.#timers.get(name));
    this.#timers.delete(name);
  }
}
