import type { ClientMessage, ServerMessage } from '../../protocol/ws-messages.js';
import { retryDelay, retryTracker } from './backoff.js';
import type { Clock } from './clock.js';
import type { FallbackReason } from './link-state.js';
import type { LinkStatus } from './link-status.js';
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

export interface SocketLinkConfig {
  /** ws:// or wss:// URL of ROUTES.ws. */
  url: string;
  /** null: no WebSocket in this browser, which falls back as when the constructor throws. */
  WebSocket: WebSocketCtor | null;
  clock: Clock;
  random?: () => number;
  /** How long the link must stay up before its retry count resets; default STABLE_MS (backoff.ts). */
  stableMs?: number;
  /** Hears the socket's status at each step (repeats included: the caller keeps the last one). */
  status(status: LinkStatus): void;
  /** Where key `s` + task id stands, asked at each (re)subscribe so a stream resumes right after. */
  cursor(key: string): number | null;
  /**
   * A server message for a stream's key; `requested` is the cursor the answered request was
   * sent with (null for a tail, and for an update, which answers nothing).
   */
  on(key: string, message: ServerMessage, requested: number | null): void;
}

/**
 * The WebSocket for one endpoint: a task's stream (key `s` + task id) and an agent's watch
 * (`w` + agent id) multiplexed over it, resubscribed from their cursors after a reconnect,
 * with jittered backoff and a client-side watchdog, because a socket can look open after sleep
 * and be dead. Its one user is the TabLink that shares the streams between panels and tabs.
 */
export interface SocketLink {
  open(): void;
  /** Closes the socket and every timer; the link can be opened again. */
  close(): void;
  /** Skip the backoff wait. */
  retryNow(): void;
  /**
   * The reader is back (online again, tab visible again): a socket that died silently meanwhile
   * can still look open, and the watchdog would take two heartbeats to notice. Ping it now and
   * replace it at once unless something arrives within PROBE_TIMEOUT_MS; with no socket, retry now.
   */
  probe(): void;
  /** Follows `key`, or asks it again (a fresh answer, from the cursor as it is now). */
  request(key: string): void;
  /** Stops following `key`. */
  drop(key: string): void;
}

/** A closure, not a class: its state minifies to one-letter names (issue 7, the size budget). */
export function socketLink(config: SocketLinkConfig): SocketLink {
  const { clock, status } = config;
  const tracker = retryTracker(config.stableMs);
  /** Each key's cursors of the requests sent for it and not yet answered, oldest first. */
  const streams = new Map<string, (number | null)[]>();
  const timers = new Map<TimerName, unknown>();
  let active = false;
  let ws: SocketLike | null = null;
  let helloSeen = false;
  let heartbeatMs = 0;
  let lastMessageAt = 0;
  let lastTickAt = 0;
  let pingSentAt: number | null = null;
  /**
   * Set by a restart close (1012/1013) until a server says hello again: the attempts that fail
   * while the server is down keep the wide restart spread, or they would all land at once.
   */
  let restarting = false;

  // ---- connection ----------------------------------------------------------------------------

  function retryNow(): void {
    if (active && timers.has('retry')) connect();
  }

  function connect(): void {
    clearTimer('retry');
    let socket: SocketLike;
    try {
      socket = new config.WebSocket!(config.url);
    } catch {
      // None, a CSP or a bad URL: the constructor throws synchronously, and will again.
      return down(null, 'no-websocket', true);
    }
    ws = socket;
    socket.addEventListener('message', onMessage);
    socket.addEventListener('close', onClose);
    setTimer('connect', CONNECT_TIMEOUT_MS, () => abandon(CLOSE_TIMEOUT, null, true));
    status({ kind: 'connecting' });
  }

  // Bound once, so each add has an exact remove; a detached socket's late events never arrive.
  function onMessage(event: Event): void {
    lastMessageAt = clock.now();
    const message = parseServerMessage((event as MessageEvent).data);
    if (message) dispatch(message);
  }

  function onClose(event: Event): void {
    detach();
    down((event as CloseEvent).code, null, true);
  }

  function dispatch(message: ServerMessage): void {
    if (message.type === 'hello') return onHello(message.protocol, message.heartbeatMs);
    const { taskId, agentId } = message as { taskId?: string; agentId?: string };
    for (const key of [taskId && 's' + taskId, agentId && 'w' + agentId]) {
      const queue = key && streams.get(key);
      // A snapshot, an agent's task or an error answers a request; an update does not.
      if (queue) config.on(key, message, message.type === 'update' ? null : answered(queue));
    }
  }

  function onHello(protocol: number, heartbeat: number): void {
    if (protocol !== PROTOCOL_VERSION) return abandon(CLOSE_PROTOCOL, 'upgrade-refused', false);
    const now = clock.now();
    clearTimer('connect');
    helloSeen = true;
    restarting = false;
    heartbeatMs = heartbeat;
    pingSentAt = null;
    tracker.up(now);
    lastTickAt = now;
    scheduleWatchdog();
    status({ kind: 'open' });
    for (const key of streams.keys()) request(key);
  }

  /**
   * The socket is gone (closed, or abandoned by us). `healthy: false` when it was up but failing
   * at its job, so its uptime must not reset the retry count.
   */
  function down(code: number | null, fallback: FallbackReason | null, healthy: boolean): void {
    if (!active) return;
    const now = clock.now();
    const attempt = tracker.down(now, healthy);
    const reason =
      fallback ??
      (code !== null && REFUSED_CLOSE_CODES.includes(code) ? 'upgrade-refused' : null) ??
      (tracker.failures >= FAILURES_BEFORE_FALLBACK ? 'attempts-exhausted' : null);
    if (code !== null && RESTART_CLOSE_CODES.includes(code)) restarting = true;
    const delay = retryDelay(attempt, restarting, config);
    setTimer('retry', delay, connect);
    status({ kind: 'down', nextRetryAt: now + delay, fallback: reason });
  }

  /** Give up on the current socket ourselves (dead, unanswered, wrong protocol). */
  function abandon(code: number, fallback: FallbackReason | null, healthy: boolean): void {
    detach(code);
    down(code, fallback, healthy);
  }

  /** Forget the current socket: listeners, timers, unanswered requests. */
  function detach(closeCode?: number): void {
    const socket = ws;
    ws = null;
    helloSeen = false;
    clearTimer('connect');
    clearTimer('watchdog');
    clearTimer('answer');
    clearTimer('probe');
    for (const key of streams.keys()) streams.set(key, []);
    if (!socket) return;
    socket.removeEventListener('message', onMessage);
    socket.removeEventListener('close', onClose);
    if (closeCode !== undefined) {
      try {
        socket.close(closeCode);
      } catch {
        // Already closing; nothing to release.
      }
    }
  }

  // ---- watchdog ------------------------------------------------------------------------------

  function scheduleWatchdog(): void {
    setTimer('watchdog', tickMs(), tick);
  }

  function tickMs(): number {
    return Math.max(1, Math.floor(heartbeatMs / 4));
  }

  /**
   * Pings when idle for a heartbeat and gives up when a ping stays unanswered for another one.
   * A tick that comes very late (background-tab throttling, sleep) proves nothing about the
   * server, so it only pings.
   */
  function tick(): void {
    const now = clock.now();
    const late = now - lastTickAt > tickMs() * 2;
    lastTickAt = now;
    const sentAt = pingSentAt;
    const pingPending = sentAt !== null && lastMessageAt < sentAt;
    if (!late && pingPending && now - sentAt >= heartbeatMs) return abandon(CLOSE_SILENT, null, true);
    if (late || (!pingPending && now - lastMessageAt >= heartbeatMs)) {
      send({ type: 'ping' });
      pingSentAt = now;
    }
    scheduleWatchdog();
  }

  // ---- requests ------------------------------------------------------------------------------

  /** Sends the stream's subscribe (from its cursor) or watch, once the socket is up. */
  function request(key: string): void {
    const queue = streams.get(key);
    if (!queue || !helloSeen) return;
    const id = key.slice(1);
    let afterSeq: number | null = null;
    if (key[0] === 'w') {
      send({ type: 'watch-agent', agentId: id });
    } else {
      afterSeq = config.cursor(key);
      send(
        afterSeq === null ? { type: 'subscribe', taskId: id } : { type: 'subscribe', taskId: id, afterSeq },
      );
    }
    queue.push(afterSeq);
    if (!timers.has('answer')) armAnswerTimer();
  }

  function armAnswerTimer(): void {
    // The socket is up but the server does not serve it: treat it as broken, not as stable.
    setTimer('answer', ANSWER_TIMEOUT_MS, () => abandon(CLOSE_UNANSWERED, 'snapshot-timeout', false));
  }

  /** Returns the cursor the answered request was sent with. */
  function answered(queue: (number | null)[]): number | null {
    const requested = queue.shift() ?? null;
    rearmAnswerTimer();
    return requested;
  }

  /** One timer for all unanswered requests: restarted on each answer, cleared when none wait. */
  function rearmAnswerTimer(): void {
    clearTimer('answer');
    if (helloSeen && [...streams.values()].some((queue) => queue.length > 0)) armAnswerTimer();
  }

  function send(message: ClientMessage): void {
    if (ws && helloSeen && ws.readyState === OPEN) ws.send(JSON.stringify(message));
  }

  function setTimer(name: TimerName, ms: number, callback: () => void): void {
    clearTimer(name);
    timers.set(
      name,
      clock.setTimeout(() => {
        timers.delete(name);
        callback();
      }, ms),
    );
  }

  function clearTimer(name: TimerName): void {
    clock.clearTimeout(timers.get(name));
    timers.delete(name);
  }

  return {
    open() {
      if (active) return;
      active = true;
      connect();
    },

    close() {
      if (!active) return;
      active = false;
      detach(CLOSE_NORMAL);
      clearTimer('retry');
      tracker.reset();
      restarting = false;
    },

    retryNow,

    probe() {
      if (!active) return;
      if (!ws || !helloSeen) return retryNow();
      if (timers.has('probe')) return;
      const sentAt = clock.now();
      send({ type: 'ping' });
      setTimer('probe', PROBE_TIMEOUT_MS, () => {
        if (lastMessageAt >= sentAt) return;
        abandon(CLOSE_SILENT, null, true);
        connect();
      });
    },

    request(key) {
      // A request already on its way stays queued: its answer comes first, with its cursor.
      if (!streams.has(key)) streams.set(key, []);
      request(key);
    },

    drop(key) {
      if (!streams.delete(key)) return;
      const id = key.slice(1);
      send(key[0] === 's' ? { type: 'unsubscribe', taskId: id } : { type: 'unwatch-agent', agentId: id });
      rearmAnswerTimer();
    },
  };
}
