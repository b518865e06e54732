import type {
  AgentTaskMessage,
  ClientMessage,
  ErrorMessage,
  ServerMessage,
  SnapshotMessage,
  UpdateMessage,
} from '../../protocol/ws-messages.js';
import { BACKOFF, backoffDelay, RetryTracker } from './backoff.js';
import type { Clock } from './clock.js';
import type { FallbackReason } from './link-state.js';
import { parseServerMessage } from './wire-guards.js';

export const LINK = {
  /** From `new WebSocket` to the server's hello; a socket stuck connecting counts as failed. */
  connectTimeoutMs: 10_000,
  /** From a subscribe (or watch) to its answer; a socket that never answers is useless. */
  answerTimeoutMs: 10_000,
  /** Failed attempts in a row (without a stable link between) before the feed polls instead. */
  failuresBeforeFallback: 3,
} as const;

/** Closes that retrying will not fix: the feed polls at once (the link keeps probing). */
const REFUSED_CLOSE_CODES: readonly number[] = [1003, 1008, 1009];
/** The server restarts or sheds load: everyone retries at once, so spread wider. */
const RESTART_CLOSE_CODES: readonly number[] = [1012, 1013];
/** Our own close codes (RFC 6455 leaves 4000–4999 to applications). */
const CLOSE = { normal: 1000, silent: 4000, unanswered: 4001, protocol: 4002, timeout: 4003 } as const;
const OPEN = 1;

/**
 * ws-messages.ts imports zod, so its PROTOCOL_VERSION cannot be imported at run time here; the
 * type ties this copy to it (bumping the version there fails the type check here).
 */
const PROTOCOL_VERSION: Extract<ServerMessage, { type: 'hello' }>['protocol'] = 1;

type TimerName = 'connect' | 'watchdog' | 'answer' | 'retry';

/** The part of a browser WebSocket we use; injected (mock-socket in tests). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
}
export type WebSocketCtor = new (url: string) => SocketLike;

export type LinkStatus =
  | { kind: 'idle' }
  /** An attempt is under way. */
  | { kind: 'connecting' }
  /** The server said hello; subscriptions were sent. */
  | { kind: 'open' }
  /**
   * Waiting to retry at `nextRetryAt`. `fallback` says live updates should come from polling
   * meanwhile (it stays set until the link proves stable again).
   */
  | { kind: 'down'; nextRetryAt: number; fallback: FallbackReason | null };

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
  connectTimeoutMs?: number;
  answerTimeoutMs?: number;
  failuresBeforeFallback?: number;
  baseMs?: number;
  capMs?: number;
  restartSpreadMs?: number;
  stableMs?: number;
}

interface Channel<L> {
  listeners: Set<L>;
  /** The cursor of each subscribe sent and not yet answered, oldest first. */
  requested: (number | null)[];
}

/**
 * The WebSocket for one endpoint, shared by every panel on the page (see LinkRegistry): task
 * subscriptions and agent watches multiplexed by id, resubscribed with each one's cursor after a
 * reconnect, jittered backoff, and a client-side watchdog because a socket can look open after
 * sleep and be dead.
 */
export class SocketLink {
  readonly #config: SocketLinkConfig;
  readonly #tracker: RetryTracker;
  readonly #tasks = new Map<string, Channel<TaskSubscriber>>();
  readonly #agents = new Map<string, Channel<AgentWatcher>>();
  readonly #statusListeners = new Set<(status: LinkStatus) => void>();
  #status: LinkStatus = { kind: 'idle' };
  #active = false;
  #ws: SocketLike | null = null;
  #helloSeen = false;
  #heartbeatMs = 0;
  #lastMessageAt = 0;
  #lastTickAt = 0;
  #pingSentAt: number | null = null;
  readonly #timers = new Map<TimerName, unknown>();

  constructor(config: SocketLinkConfig) {
    this.#config = config;
    this.#tracker = new RetryTracker(config.stableMs ?? BACKOFF.stableMs);
  }

  get status(): LinkStatus {
    return this.#status;
  }

  onStatus(listener: (status: LinkStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
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
    this.#detach(CLOSE.normal);
    this.#clearTimer('retry');
    this.#tracker.reset();
    this.#setStatus({ kind: 'idle' });
  }

  /** Skip the backoff wait. */
  retryNow(): void {
    if (!this.#active || !this.#timers.has('retry')) return;
    this.#clearTimer('retry');
    this.#connect();
  }

  subscribe(subscriber: TaskSubscriber): () => void {
    const channel = channelFor(this.#tasks, subscriber.taskId);
    channel.listeners.add(subscriber);
    // Restarting the stream answers every subscriber of the task; their merges drop what they hold.
    this.#sendSubscribe(subscriber.taskId, channel);
    return () => {
      if (!channel.listeners.delete(subscriber) || channel.listeners.size > 0) return;
      this.#tasks.delete(subscriber.taskId);
      this.#send({ type: 'unsubscribe', taskId: subscriber.taskId });
      this.#rearmAnswerTimer();
    };
  }

  /** Ask for a fresh snapshot from the subscribers' cursors (after a reload or failed gap fill). */
  resync(taskId: string): void {
    const channel = this.#tasks.get(taskId);
    if (channel) this.#sendSubscribe(taskId, channel);
  }

  watchAgent(watcher: AgentWatcher): () => void {
    const channel = channelFor(this.#agents, watcher.agentId);
    channel.listeners.add(watcher);
    // Like a subscribe: each new watcher is answered (the server answers a repeated watch).
    this.#sendWatch(watcher.agentId, channel);
    return () => {
      if (!channel.listeners.delete(watcher) || channel.listeners.size > 0) return;
      this.#agents.delete(watcher.agentId);
      this.#send({ type: 'unwatch-agent', agentId: watcher.agentId });
      this.#rearmAnswerTimer();
    };
  }

  // ---- connection ----------------------------------------------------------------------------

  #connect(): void {
    this.#timers.delete('retry');
    let ws: SocketLike;
    try {
      ws = new this.#config.WebSocket(this.#config.url);
    } catch {
      // A CSP or a bad URL: the constructor throws synchronously, and will again.
      this.#down(null, 'no-websocket', true);
      return;
    }
    this.#ws = ws;
    this.#helloSeen = false;
    ws.addEventListener('message', this.#onMessage);
    ws.addEventListener('close', this.#onClose);
    this.#setTimer('connect', this.#config.connectTimeoutMs ?? LINK.connectTimeoutMs, () =>
      this.#abandon(CLOSE.timeout, null, true),
    );
    this.#setStatus({ kind: 'connecting' });
  }

  // Bound once, so each add has an exact remove; a detached socket's late events never arrive.
  readonly #onMessage = (event: Event): void => {
    const clock = this.#config.clock;
    this.#lastMessageAt = clock.now();
    const message = parseServerMessage((event as MessageEvent).data);
    if (message) this.#dispatch(message);
  };

  readonly #onClose = (event: Event): void => {
    const code = (event as CloseEvent).code;
    this.#detach();
    this.#down(code, null, true);
  };

  #dispatch(message: ServerMessage): void {
    switch (message.type) {
      case 'hello':
        this.#onHello(message.protocol, message.heartbeatMs);
        return;
      case 'snapshot': {
        const channel = this.#tasks.get(message.taskId);
        if (!channel) return;
        const requested = this.#answered(channel);
        for (const subscriber of [...channel.listeners]) subscriber.onSnapshot(message, requested);
        return;
      }
      case 'update':
        for (const subscriber of [...(this.#tasks.get(message.taskId)?.listeners ?? [])])
          subscriber.onUpdate(message);
        return;
      case 'agent-task': {
        const channel = this.#agents.get(message.agentId);
        if (!channel) return;
        this.#answered(channel);
        for (const watcher of [...channel.listeners]) watcher.onAgentTask(message);
        return;
      }
      case 'error': {
        const tasks = message.taskId === undefined ? undefined : this.#tasks.get(message.taskId);
        const agents = message.agentId === undefined ? undefined : this.#agents.get(message.agentId);
        // An error answers the subscribe as much as a snapshot does.
        if (tasks) this.#answered(tasks);
        if (agents) this.#answered(agents);
        for (const listener of [...(tasks?.listeners ?? []), ...(agents?.listeners ?? [])])
          listener.onError(message);
        return;
      }
      case 'pong':
        return;
    }
  }

  #onHello(protocol: number, heartbeatMs: number): void {
    if (protocol !== PROTOCOL_VERSION) {
      this.#abandon(CLOSE.protocol, 'upgrade-refused', false);
      return;
    }
    const now = this.#config.clock.now();
    this.#clearTimer('connect');
    this.#helloSeen = true;
    this.#heartbeatMs = heartbeatMs;
    this.#pingSentAt = null;
    this.#tracker.up(now);
    this.#lastTickAt = now;
    this.#scheduleWatchdog();
    this.#setStatus({ kind: 'open' });
    for (const [taskId, channel] of this.#tasks) this.#sendSubscribe(taskId, channel);
    for (const [agentId, channel] of this.#agents) this.#sendWatch(agentId, channel);
  }

  /**
   * The socket is gone (closed, or abandoned by us). `healthy: false` when it was up but failing
   * at its job, so its uptime must not reset the retry count.
   */
  #down(code: number | null, fallback: FallbackReason | null, healthy: boolean): void {
    if (!this.#active) return;
    const { clock } = this.#config;
    const now = clock.now();
    const attempt = this.#tracker.down(now, healthy);
    const threshold = this.#config.failuresBeforeFallback ?? LINK.failuresBeforeFallback;
    const reason =
      fallback ??
      (code !== null && REFUSED_CLOSE_CODES.includes(code) ? 'upgrade-refused' : null) ??
      (this.#tracker.failures >= threshold ? 'attempts-exhausted' : null);
    const restart = code !== null && RESTART_CLOSE_CODES.includes(code);
    const delay = backoffDelay(attempt, {
      baseMs: restart
        ? (this.#config.restartSpreadMs ?? BACKOFF.restartSpreadMs)
        : (this.#config.baseMs ?? BACKOFF.baseMs),
      capMs: this.#config.capMs ?? BACKOFF.capMs,
      ...(this.#config.random ? { random: this.#config.random } : {}),
    });
    this.#setTimer('retry', delay, () => this.#connect());
    this.#setStatus({ kind: 'down', nextRetryAt: now + delay, fallback: reason });
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
    for (const channel of [...this.#tasks.values(), ...this.#agents.values()]) channel.requested = [];
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
    const pingPending = this.#pingSentAt !== null && this.#lastMessageAt < this.#pingSentAt;
    if (!late && pingPending && now - this.#pingSentAt! >= hb) {
      this.#abandon(CLOSE.silent, null, true);
      return;
    }
    if (late || (!pingPending && now - this.#lastMessageAt >= hb)) {
      this.#send({ type: 'ping' });
      this.#pingSentAt = now;
    }
    this.#scheduleWatchdog();
  }

  // ---- requests ------------------------------------------------------------------------------

  #sendSubscribe(taskId: string, channel: Channel<TaskSubscriber>): void {
    if (!this.#helloSeen) return;
    const cursors = [...channel.listeners].map((s) => s.cursor());
    // One stream per task and socket: from the lowest cursor, or the tail if anyone has none.
    const afterSeq = cursors.some((c) => c === null) ? null : Math.min(...(cursors as number[]));
    this.#send(afterSeq === null ? { type: 'subscribe', taskId } : { type: 'subscribe', taskId, afterSeq });
    this.#awaitAnswer(channel, afterSeq);
  }

  #sendWatch(agentId: string, channel: Channel<AgentWatcher>): void {
    if (!this.#helloSeen) return;
    this.#send({ type: 'watch-agent', agentId });
    this.#awaitAnswer(channel, null);
  }

  #awaitAnswer(channel: Channel<unknown>, afterSeq: number | null): void {
    channel.requested.push(afterSeq);
    if (!this.#timers.has('answer')) this.#armAnswerTimer();
  }

  #armAnswerTimer(): void {
    // The socket is up but the server does not serve it: treat it as broken, not as stable.
    this.#setTimer('answer', this.#config.answerTimeoutMs ?? LINK.answerTimeoutMs, () =>
      this.#abandon(CLOSE.unanswered, 'snapshot-timeout', false),
    );
  }

  /** Returns the cursor the answered request was sent with. */
  #answered(channel: Channel<unknown>): number | null {
    const requested = channel.requested.length > 0 ? channel.requested.shift()! : null;
    this.#rearmAnswerTimer();
    return requested;
  }

  /** One timer for all unanswered requests: restarted on each answer, cleared when none wait. */
  #rearmAnswerTimer(): void {
    this.#clearTimer('answer');
    const waiting = [...this.#tasks.values(), ...this.#agents.values()].some((c) => c.requested.length > 0);
    if (waiting && this.#helloSeen) this.#armAnswerTimer();
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
    if (!this.#timers.has(name)) return;
    this.#config.clock.clearTimeout(this.#timers.get(name));
    this.#timers.delete(name);
  }

  #setStatus(next: LinkStatus): void {
    const prev = this.#status;
    if (
      prev.kind === next.kind &&
      (prev.kind !== 'down' ||
        (next.kind === 'down' && prev.nextRetryAt === next.nextRetryAt && prev.fallback === next.fallback))
    )
      return;
    this.#status = next;
    for (const listener of [...this.#statusListeners]) listener(next);
  }
}

function channelFor<L>(map: Map<string, Channel<L>>, key: string): Channel<L> {
  let channel = map.get(key);
  if (!channel) {
    channel = { listeners: new Set(), requested: [] };
    map.set(key, channel);
  }
  return channel;
}
