import {
  CLOSE_MESSAGE_TOO_BIG,
  CLOSE_NORMAL,
  CLOSE_POLICY_VIOLATION,
  CLOSE_SERVICE_RESTART,
  CLOSE_TRY_AGAIN_LATER,
  CLOSE_UNSUPPORTED_DATA,
  PROTOCOL_VERSION,
  SUBSCRIBE_BATCH,
} from '../../protocol/constants.js';
import type { ClientMessage, ServerMessage } from '../../protocol/ws-messages.js';
import { backoffDelay, retryDelay, retryTracker } from './backoff.js';
import type { Clock } from './clock.js';
import { feedKey, keyName, type FeedKey } from './feed-key.js';
import type { FallbackReason } from './link-state.js';
import type { StreamMessage } from './link.js';
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

/**
 * Closes that retrying will not fix, because this client sends what the server cannot take
 * (binary data, frames too big): the feed polls at once (the link keeps probing). A policy close
 * (1008: sending too fast, say) is not one of them: it is retried with backoff like a drop, so
 * the link never polls for good because of its own message volume (issue 12).
 */
const REFUSED_CLOSE_CODES: readonly number[] = [CLOSE_UNSUPPORTED_DATA, CLOSE_MESSAGE_TOO_BIG];
/**
 * Answers that refuse one subscription while the socket works: the link subscribes it again
 * with backoff (the panel polls meanwhile) until it is served.
 */
const RETRIED_ERRORS: readonly string[] = ['store_unavailable', 'too_many_subscriptions', 'internal'];
// Our own close codes (RFC 6455 leaves 4000–4999 to applications).
const CLOSE_SILENT = 4000;
const CLOSE_UNANSWERED = 4001;
const CLOSE_PROTOCOL = 4002;
const CLOSE_TIMEOUT = 4003;
const OPEN = 1;
/** Characters of tokens one `authorize` carries at most: with its JSON, under the default 64 KiB frame limit. */
const AUTHORIZE_CHARS_MAX = 48_000;
/** Tokens remembered as sent on one socket (renewals add one each); past it, forgotten and sent again. */
const AUTHORIZED_MAX = 1_024;

type TimerName = 'connect' | 'watchdog' | 'answer' | 'retry' | 'probe' | 'resubscribe';

/** A subscribe sent and not yet answered: its id, and the cursor it asked from (null: the tail). */
interface Outstanding {
  requestId: number;
  cursor: number | null;
}

/** A followed key, and its subscribes sent and not yet answered, oldest first. */
interface Stream {
  key: FeedKey;
  outstanding: Outstanding[];
}

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
  /** Where a task's stream stands, asked at each (re)subscribe so it resumes right after. */
  cursor(key: FeedKey): number | null;
  /** The viewer token to authorize before subscribing `key`, if any (asked at each subscribe). */
  token?(key: FeedKey): string | null;
  /**
   * A server message for a stream's key; `requested` is the cursor the answered request was
   * sent with (null for a tail, and for news, which answers nothing).
   */
  on(key: FeedKey, message: StreamMessage, requested: number | null): void;
}

/**
 * The WebSocket for one endpoint: tasks' streams and agents' active tasks (keys of kind `task`
 * and `agent`) multiplexed over it, resubscribed from their cursors after a reconnect,
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
  request(key: FeedKey): void;
  /** Stops following `key`. */
  drop(key: FeedKey): void;
}

/** A message's lists, each left out when empty (the server takes either alone). */
function nonEmpty<T>(tasks: T[], agents: string[]): { tasks?: T[]; agents?: string[] } {
  return { ...(tasks.length > 0 ? { tasks } : {}), ...(agents.length > 0 ? { agents } : {}) };
}

/** `keys` in runs of at most one message's worth. */
function batches(keys: FeedKey[]): FeedKey[][] {
  const runs: FeedKey[][] = [];
  for (let i = 0; i < keys.length; i += SUBSCRIBE_BATCH) runs.push(keys.slice(i, i + SUBSCRIBE_BATCH));
  return runs;
}

/** The keys a server message is about (an error can name both a task and an agent). */
function keysOf(message: StreamMessage): FeedKey[] {
  const { taskId, agentId } = message as { taskId?: string; agentId?: string };
  const keys: FeedKey[] = [];
  if (taskId) keys.push(feedKey('task', taskId));
  if (agentId) keys.push(feedKey('agent', agentId));
  return keys;
}

export function socketLink(config: SocketLinkConfig): SocketLink {
  const { clock, status } = config;
  const tracker = retryTracker(config.stableMs);
  /** The followed keys, by name. */
  const streams = new Map<string, Stream>();
  /** How many subscribes wait for their answer, over every key (the answer timer runs while any do). */
  let waiting = 0;
  /** Request ids grow for the link's life, so an answer meant for an earlier socket never matches. */
  let lastRequestId = 0;
  /** Viewer tokens sent on this socket: each is authorized once, before the first subscribe it covers. */
  const authorized = new Set<string>();
  /** What the next flush sends, by name: streams to subscribe (from their cursors then), keys to unsubscribe. */
  const toSubscribe = new Set<string>();
  const toUnsubscribe = new Map<string, FeedKey>();
  let flushQueued = false;
  /** Streams the server refused for now (store down, over its limit), by name, with their refusals in a row. */
  const refused = new Map<string, number>();
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
    const { code } = event as CloseEvent;
    // A policy close says this client did something wrong: its uptime must not reset the count.
    down(code, null, code !== CLOSE_POLICY_VIOLATION);
  }

  function dispatch(message: ServerMessage): void {
    if (message.type === 'hello') return onHello(message.protocol, message.heartbeatMs);
    if (message.type === 'pong') return;
    const requestId = message.type === 'update' ? undefined : message.requestId;
    for (const key of keysOf(message)) {
      const name = keyName(key);
      const stream = streams.get(name);
      if (!stream) continue;
      // An update, an agent's new task, or a token that ran out, answers nothing: it is news.
      if (requestId === undefined) {
        if (message.type !== 'error' || message.code === 'token_expired') config.on(key, message, null);
        continue;
      }
      const cursor = answered(stream, requestId);
      if (cursor === undefined) continue;
      if (message.type === 'error' && RETRIED_ERRORS.includes(message.code)) refuse(name);
      else refused.delete(name);
      config.on(key, message, cursor);
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
    for (const key of streams.keys()) toSubscribe.add(key);
    flush();
  }

  /**
   * The socket is gone (closed, or abandoned by us). `healthy: false` when it was up but failing
   * at its job, so its uptime must not reset the retry count.
   */
  function down(code: number | null, fallback: FallbackReason | null, healthy: boolean): void {
    if (!active) return;
    const now = clock.now();
    // Only a restart (1012) is not the link failing: 1013 also means "too slow a reader".
    const restart = code === CLOSE_SERVICE_RESTART;
    const attempt = tracker.down(now, healthy, restart);
    const reason =
      fallback ??
      (code !== null && REFUSED_CLOSE_CODES.includes(code) ? 'upgrade-refused' : null) ??
      (tracker.failures >= FAILURES_BEFORE_FALLBACK ? 'attempts-exhausted' : null);
    // The server restarts (1012) or sheds load (1013): everyone retries at once, so spread wider.
    if (restart || code === CLOSE_TRY_AGAIN_LATER) restarting = true;
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
    clearTimer('resubscribe');
    // The next hello subscribes every key afresh.
    for (const stream of streams.values()) stream.outstanding = [];
    waiting = 0;
    toSubscribe.clear();
    toUnsubscribe.clear();
    refused.clear();
    authorized.clear();
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

  /** Sends what the last changes call for, in as few messages as a batch allows. */
  function schedule(): void {
    if (flushQueued) return;
    flushQueued = true;
    // Panels join one by one as a page renders: a microtask gathers them into one subscribe.
    queueMicrotask(flush);
  }

  function flush(): void {
    flushQueued = false;
    if (!helloSeen) return;
    const dropped = [...toUnsubscribe.values()];
    toUnsubscribe.clear();
    for (const keys of batches(dropped)) {
      const ids = (kind: string) => keys.filter((key) => key.kind === kind).map((key) => key.id);
      send({ type: 'unsubscribe', ...nonEmpty(ids('task'), ids('agent')) });
    }
    const wanted = [...toSubscribe].flatMap((name) => streams.get(name) ?? []);
    toSubscribe.clear();
    for (const run of batches(wanted.map((stream) => stream.key))) subscribe(run);
    if (waiting > 0 && !timers.has('answer')) armAnswerTimer();
  }

  /** One subscribe for these keys, tasks from their cursors as they are now, each then waiting. */
  function subscribe(keys: FeedKey[]): void {
    const requestId = ++lastRequestId;
    const tasks: { taskId: string; afterSeq?: number }[] = [];
    const agents: string[] = [];
    /** Tokens not yet sent on this socket, for the keys of this batch. */
    const fresh: string[] = [];
    for (const key of keys) {
      const token = config.token?.(key);
      if (token && !authorized.has(token)) {
        // Renewed tokens pile up on a socket open for days; sending one twice does no harm.
        if (authorized.size >= AUTHORIZED_MAX) authorized.clear();
        authorized.add(token);
        fresh.push(token);
      }
      const cursor = key.kind === 'task' ? config.cursor(key) : null;
      if (key.kind === 'agent') agents.push(key.id);
      else tasks.push(cursor === null ? { taskId: key.id } : { taskId: key.id, afterSeq: cursor });
      streams.get(keyName(key))!.outstanding.push({ requestId, cursor });
      waiting += 1;
    }
    // Before the subscribe they cover, in as few messages as the frame limit allows: a dashboard
    // giving each panel its own token sends one or two, not one per panel (the server closes a
    // socket that sends more than 50 messages a second).
    let run: string[] = [];
    let chars = 0;
    for (const token of fresh) {
      if (run.length > 0 && chars + token.length > AUTHORIZE_CHARS_MAX) {
        send({ type: 'authorize', requestId: ++lastRequestId, tokens: run });
        run = [];
        chars = 0;
      }
      run.push(token);
      chars += token.length;
    }
    if (run.length > 0) send({ type: 'authorize', requestId: ++lastRequestId, tokens: run });
    send({ type: 'subscribe', requestId, ...nonEmpty(tasks, agents) });
  }

  /** The cursor the answered request asked from; undefined when this socket waits for no such answer. */
  function answered(stream: Stream, requestId: number): number | null | undefined {
    const { outstanding } = stream;
    const index = outstanding.findIndex((sent) => sent.requestId === requestId);
    if (index < 0) return undefined;
    const { cursor } = outstanding[index]!;
    // The server answers the latest subscribe of a key: earlier ones will never be answered.
    outstanding.splice(0, index + 1);
    waiting -= index + 1;
    rearmAnswerTimer();
    return cursor;
  }

  /** A key refused for now is subscribed again after a backoff (with the others refused by then). */
  function refuse(name: string): void {
    const refusals = (refused.get(name) ?? 0) + 1;
    refused.set(name, refusals);
    if (timers.has('resubscribe')) return;
    setTimer('resubscribe', backoffDelay(refusals, config), () => {
      for (const again of refused.keys()) toSubscribe.add(again);
      flush();
    });
  }

  function armAnswerTimer(): void {
    // The socket is up but the server does not serve it: treat it as broken, not as stable.
    setTimer('answer', ANSWER_TIMEOUT_MS, () => abandon(CLOSE_UNANSWERED, 'snapshot-timeout', false));
  }

  /** One timer for all unanswered requests: restarted on each answer, cleared when none wait. */
  function rearmAnswerTimer(): void {
    clearTimer('answer');
    if (helloSeen && waiting > 0) armAnswerTimer();
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
      const name = keyName(key);
      if (!streams.has(name)) streams.set(name, { key, outstanding: [] });
      toUnsubscribe.delete(name);
      // Before the hello, the hello subscribes it.
      if (!helloSeen) return;
      toSubscribe.add(name);
      schedule();
    },

    drop(key) {
      const name = keyName(key);
      const stream = streams.get(name);
      if (!stream) return;
      streams.delete(name);
      waiting -= stream.outstanding.length;
      toSubscribe.delete(name);
      refused.delete(name);
      rearmAnswerTimer();
      if (!helloSeen) return;
      toUnsubscribe.set(name, key);
      schedule();
    },
  };
}
