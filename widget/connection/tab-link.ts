import type { Clock } from './clock.js';
import type { FetchLike } from './http-get.js';
import { IDLE, type LinkStatus } from './link-status.js';
import { poller as makePoller, type Poller, type PollerConfig, type PollResult } from './poller.js';
import { socketLink, type SocketLink, type WebSocketCtor } from './socket-link.js';
import { pollUrl } from './urls.js';

/**
 * A panel's interest in a key: `s` + task id (its live stream), `w` + agent id (its active task,
 * live), `p` + task id (its status, polled), `a` + agent id (its active task, polled).
 */
export interface Listener {
  /** Where the panel's merge stands (task keys); asked at each (re)subscribe and poll. */
  cursor?(): number | null;
  /**
   * An event for the key: a server message by its `type`, or `poll` with a PollResult; `r` is
   * the cursor the answered request asked from (for a shared request, the lowest of its panels).
   */
  on(e: string, m: unknown, r: number | null): void;
}

/**
 * What a task feed needs from the connection to one endpoint: the live streams (multiplexed,
 * resubscribed from the cursors) and polls, each shared by every panel of the browser on its key.
 */
export interface Link {
  readonly status: LinkStatus;
  onStatus(listener: (status: LinkStatus) => void): () => void;
  /** Follows `key` until the returned function is called; `intervalMs` paces a poll key. */
  join(key: string, listener: Listener, intervalMs?: number): () => void;
  /** Asks the key's upstream again: a fresh snapshot from the cursors, or a poll now. */
  again(key: string): void;
  /** Skip the backoff wait. */
  retryNow(): void;
  /** The reader is back: prove the socket now (see SocketLink.probe). */
  probe(): void;
}

/** The Web Locks we use (navigator.locks). */
export interface LocksLike {
  request(name: string, options: { signal: AbortSignal }, callback: () => unknown): Promise<unknown>;
}

export interface TabLinkConfig {
  /** ws:// or wss:// URL of ROUTES.ws; with the origin, it names the channel and the locks. */
  url: string;
  /** Base URL of the server, for the polls. */
  endpoint: string;
  /** null: no WebSocket in this browser (a subscribe then falls back at once). */
  WebSocket: WebSocketCtor | null;
  fetch: FetchLike;
  clock: Clock;
  random?: () => number;
  /** Both are needed to share one socket between the tabs; without, this tab has its own. */
  BroadcastChannel?: (new (name: string) => BroadcastChannel) | null;
  locks?: LocksLike | null;
  /** Where `visibilitychange` and `freeze`/`resume` (page lifecycle) fire; whether the tab is hidden. */
  document?: (EventTarget & { readonly hidden?: boolean }) | null;
  /** Where `pagehide`/`pageshow` fire. */
  window?: EventTarget | null;
  /** Unique per tab; random by default. */
  tabId?: string;
}

/**
 * One tab's interest in a key: a listener of this tab, or (on the leader) another tab's, with
 * that tab's cursor as last reported and moved along with what was relayed to it since.
 */
interface Member {
  l?: Listener;
  c: number | null;
  /** Another tab's: hidden. Polls only (a panel of this tab is hidden when the tab is). */
  h?: boolean;
  /** Poll interval: polls only. */
  i: number;
}

/** A key's members, and on the leader its upstream: a socket subscription or a poller. */
interface Entry {
  m: Map<unknown, Member>;
  off?: (() => void) | undefined;
  poller?: Poller | undefined;
  poll?: PollerConfig<number | null>;
}

/**
 * The messages on the channel, short because every event crosses it. Keys are a kind and an id:
 * `s` a task's stream, `w` an agent watch, `p` a task poll, `a` an agent poll.
 */
export type TabMessage =
  /** A follower appeared (or resumed): the leader answers with `st`. */
  | { t: 'hi' }
  /** A follower's Retry button. */
  | { t: 'retry' }
  | { t: 'probe' }
  /** `lead`: a new leader; followers send their joins again. `st`: the leader's socket status. */
  | { t: 'lead' | 'st'; s: LinkStatus }
  /**
   * A follower's interests that changed in one tick (a page of 300 panels joins in one message,
   * and the leader subscribes them in one batch), and the keys it left.
   */
  | { t: 'j'; tab: string; joins: TabJoin[] }
  | { t: 'l'; tab: string; keys: string[] }
  /** An event for key `k`: a server message, or `poll` with a poll result; `r` its cursor. */
  | { t: 'ev'; k: string; e: string; m: unknown; r: number | null };

/** A follower's interest in key `k`: its lowest cursor, hidden, poll interval; `r`: answer afresh. */
export interface TabJoin {
  k: string;
  c: number | null;
  h: boolean;
  i: number;
  r: boolean;
}

/**
 * The channel (and lock) name: per endpoint, so different endpoints have different leaders, and
 * versioned, so tabs still running an older build after a deploy never mix their messages.
 */
export function tabChannelName(url: string): string {
  return `agent-task-status/1 ${url}`;
}

/** The link a registry hands out: a Link, opened and closed by its holders' count. */
export interface TabLink extends Link {
  /** Whether this tab holds the socket (for tests and diagnostics). */
  readonly leading: boolean;
  open(): void;
  close(): void;
}

/**
 * The connection to one endpoint for this tab, shared with the other tabs of the browser. One
 * tab, the leader (elected with a Web Lock held for its life), owns the SocketLink and the
 * pollers; it serves its own panels and the other tabs' interests, relaying every event over a
 * BroadcastChannel. Followers send their interests with their cursors, hear the leader's socket
 * status, and re-send everything when a new leader takes over. Each tab also holds a lock of its
 * own, so the leader learns when a follower is gone (closed, discarded, frozen) and drops it.
 * Panels never see the difference: they always hold a Link. Without Web Locks or
 * BroadcastChannel the tab is its own leader. A closure, not a class: its state minifies to
 * one-letter names (issue 7, the size budget).
 */
export function tabLink(config: TabLinkConfig): TabLink {
  const { document, window, locks, BroadcastChannel: Channel } = config;
  const id = config.tabId ?? Math.random().toString(36).slice(2);
  const name = tabChannelName(config.url);
  let status = IDLE;
  const watchers = new Set<(status: LinkStatus) => void>();
  const keys = new Map<string, Entry>();
  /** Followers whose tab lock the leader is waiting on. */
  const tabs = new Set<string>();
  let open = false;
  let leading = false;
  /** This tab's own lock is held: it may speak on the channel. */
  let ready = false;
  let abort: AbortController | null = null;
  let channel: BroadcastChannel | null = null;
  let socket: SocketLink | null = null;
  /** A follower's joins and leaves of this tick, in order, posted together at its end. */
  let outbox: TabMessage[] | null = null;

  /** Listeners hear each real change once; the leader's socket status also goes to the other tabs. */
  function setStatus(next: LinkStatus): void {
    // Statuses are small flat objects: equal JSON is the same status.
    if (JSON.stringify(next) === JSON.stringify(status)) return;
    status = next;
    if (leading) post({ t: 'st', s: next });
    for (const listener of [...watchers]) listener(next);
  }

  // ---- election ------------------------------------------------------------------------------

  function listen(method: 'addEventListener' | 'removeEventListener'): void {
    document?.[method]('visibilitychange', onVisibility);
    // A frozen or bfcached tab must not keep the socket (or a lock) that other tabs wait on.
    document?.[method]('freeze', stop);
    document?.[method]('resume', resume);
    window?.[method]('pagehide', stop);
    window?.[method]('pageshow', resume);
  }

  /** Polls go slower while hidden: the leader retunes them, a follower tells the leader. */
  function onVisibility(): void {
    for (const key of keys.keys()) if (key[0] === 'p' || key[0] === 'a') changed(key, false);
    // Back in view after a while (a laptop that slept): the socket may be dead but look open.
    if (document?.hidden === false) link.probe();
  }

  function resume(): void {
    if (open) start();
  }

  function start(): void {
    if (abort) return;
    const signal = (abort = new AbortController()).signal;
    if (!Channel || !locks) return lead();
    channel = new Channel(name);
    channel.onmessage = (event) => receive(event.data as TabMessage);
    // Both locks are held until stop(); exclusive is the default mode.
    const held = new Promise((resolve) => signal.addEventListener('abort', resolve));
    const ignore = (): void => {};
    // A grant can be on its way when stop() aborts: such a callback lets go at once.
    locks
      .request(`${name} #${id}`, { signal }, () => {
        if (signal.aborted) return;
        ready = true;
        post({ t: 'hi' });
        for (const key of keys.keys()) join(key, true);
        locks.request(name, { signal }, () => signal.aborted || (lead(), held)).catch(ignore);
        return held;
      })
      .catch(ignore);
  }

  function stop(): void {
    if (!abort) return;
    // Pending lock requests fail; held locks are released (the next tab in line takes over).
    abort.abort();
    abort = null;
    channel?.close();
    channel = null;
    ready = false;
    tabs.clear();
    if (leading) {
      leading = false;
      for (const [key, entry] of keys) {
        for (const [who, member] of entry.m) if (!member.l) entry.m.delete(who);
        close(entry);
        if (entry.m.size === 0) keys.delete(key);
      }
      socket?.close();
      socket = null;
    }
    setStatus(IDLE);
  }

  function lead(): void {
    leading = true;
    for (const key of keys.keys()) up(key, true);
    post({ t: 'lead', s: status });
  }

  // ---- interests -----------------------------------------------------------------------------

  /** This tab's interest in `key` changed: serve it (leader) or tell the leader. */
  function changed(key: string, refresh: boolean): void {
    if (!keys.has(key)) return;
    if (leading) up(key, refresh);
    else join(key, refresh);
  }

  function join(key: string, refresh: boolean): void {
    const { c, h, i } = sum(keys.get(key)!);
    const joined: TabJoin = { k: key, c, h, i, r: refresh };
    const last = outbox?.at(-1);
    if (last?.t === 'j') last.joins.push(joined);
    else queue({ t: 'j', tab: id, joins: [joined] });
  }

  function leave(key: string): void {
    const last = outbox?.at(-1);
    if (last?.t === 'l') last.keys.push(key);
    else queue({ t: 'l', tab: id, keys: [key] });
  }

  /** Posted at the end of this tick, after the joins and leaves queued before it. */
  function queue(message: TabMessage): void {
    if (!outbox) {
      outbox = [];
      queueMicrotask(() => {
        const messages = outbox ?? [];
        outbox = null;
        for (const queued of messages) post(queued);
      });
    }
    outbox.push(message);
  }

  /** The lowest cursor (null if anyone has none), whether all are hidden, the shortest interval. */
  function sum(entry: Entry): { c: number | null; h: boolean; i: number } {
    const hidden = !!document?.hidden;
    let c: number | null = Infinity;
    let h = true;
    let i = Infinity;
    for (const m of entry.m.values()) {
      const mine = m.l ? (m.l.cursor?.() ?? null) : m.c;
      c = c === null || mine === null ? null : Math.min(c, mine);
      h &&= m.l ? hidden : !!m.h;
      i = Math.min(i, m.i);
    }
    return { c: c === Infinity ? null : c, h, i };
  }

  function entryOf(key: string): Entry {
    let entry = keys.get(key);
    if (!entry) keys.set(key, (entry = { m: new Map() }));
    return entry;
  }

  // ---- leader --------------------------------------------------------------------------------

  /** Opens the key's upstream, or (refresh) asks it again for a newcomer or a resync. */
  function up(key: string, refresh: boolean): void {
    const entry = keys.get(key)!;
    const kind = key[0];
    if (kind === 's' || kind === 'w') {
      if (entry.off && !refresh) return;
      if (!socket) openSocket();
      const opened = socket!;
      opened.request(key);
      entry.off = () => opened.drop(key);
      return;
    }
    const poll: PollerConfig<number | null> = (entry.poll ??= {
      ...config,
      intervalMs: 0,
      request: () => {
        const afterSeq = kind === 'p' ? sum(entry).c : null;
        return { url: pollUrl(config.endpoint, key, afterSeq), context: afterSeq };
      },
      onResult: (result, afterSeq) => relay(key, 'poll', result, afterSeq),
    });
    const poller = (entry.poller ??= makePoller(poll));
    const { h, i } = sum(entry);
    poll.intervalMs = i;
    poller.setHidden(h);
    if (!poller.running) poller.start();
    else if (refresh) poller.pollNow();
  }

  function close(entry: Entry): void {
    entry.off?.();
    entry.poller?.stop();
    entry.off = entry.poller = undefined;
  }

  /** Sets `socket` before opening it: open() may already report (a throwing constructor). */
  function openSocket(): void {
    const opened = (socket = socketLink({
      ...config,
      // The socket is closed before it is dropped, and says nothing after.
      status: setStatus,
      cursor: (key) => sum(keys.get(key)!).c,
      on: (key, m, r) => relay(key, m.type, m, r),
    }));
    opened.open();
  }

  /** Relays an event to the other tabs (first, so every tab sees events in one order) and here. */
  function relay(key: string, e: string, m: unknown, r: number | null): void {
    const entry = keys.get(key);
    if (!entry) return;
    let remote = false;
    for (const member of entry.m.values()) {
      if (member.l) continue;
      remote = true;
      member.c = advance(member.c, e, m, r);
    }
    if (remote) post({ t: 'ev', k: key, e, m, r });
    deliver(key, e, m, r);
  }

  /** Waits on a follower's own lock: granted when that tab is gone, so its interests go too. */
  function watch(tab: string): void {
    if (tabs.has(tab) || !abort) return;
    tabs.add(tab);
    locks!
      .request(`${name} #${tab}`, { signal: abort.signal }, () => {
        tabs.delete(tab);
        for (const [key, entry] of keys) if (entry.m.delete(tab)) left(key, entry);
      })
      .catch(() => {});
  }

  function left(key: string, entry: Entry): void {
    if (entry.m.size > 0) return up(key, false);
    keys.delete(key);
    close(entry);
  }

  // ---- channel -------------------------------------------------------------------------------

  function post(message: TabMessage): void {
    if (ready) channel?.postMessage(message);
  }

  function receive(message: TabMessage): void {
    if (leading) {
      switch (message.t) {
        case 'hi':
          return post({ t: 'st', s: status });
        case 'retry':
          return socket?.retryNow();
        case 'probe':
          return socket?.probe();
        case 'j':
          for (const { k, c, h, i, r } of message.joins) {
            entryOf(k).m.set(message.tab, { c, h, i });
            up(k, r);
          }
          return watch(message.tab);
        case 'l':
          for (const key of message.keys) {
            const entry = keys.get(key);
            if (entry?.m.delete(message.tab)) left(key, entry);
          }
          return;
      }
    } else if (ready) {
      switch (message.t) {
        case 'lead':
          for (const key of keys.keys()) join(key, true);
        // falls through: a new leader's status is the status
        case 'st':
          return setStatus(message.s);
        case 'ev':
          return deliver(message.k, message.e, message.m, message.r);
      }
    }
  }

  function deliver(key: string, e: string, m: unknown, r: number | null): void {
    for (const { l } of [...(keys.get(key)?.m.values() ?? [])]) l?.on(e, m, r);
  }

  const link: TabLink = {
    get status() {
      return status;
    },
    onStatus(listener) {
      watchers.add(listener);
      return () => watchers.delete(listener);
    },
    get leading() {
      return leading;
    },

    open() {
      if (open) return;
      open = true;
      listen('addEventListener');
      start();
    },

    close() {
      if (!open) return;
      open = false;
      listen('removeEventListener');
      stop();
    },

    join(key, listener, intervalMs = 0) {
      const held = entryOf(key);
      const member: Member = { l: listener, c: null, i: intervalMs };
      held.m.set(member, member);
      changed(key, true);
      return () => {
        if (!held.m.delete(member)) return;
        if (held.m.size > 0) return changed(key, false);
        keys.delete(key);
        close(held);
        if (!leading) leave(key);
      };
    },

    again: (key) => changed(key, true),

    retryNow() {
      if (leading) socket?.retryNow();
      else post({ t: 'retry' });
    },

    probe() {
      if (leading) socket?.probe();
      else post({ t: 'probe' });
    },
  };
  return link;
}

/**
 * Where another tab's cursor stands after it receives an event, as its seq merge would move it.
 * A guess, but a safe one either way: too low only repeats events on a resubscribe, too high
 * makes that tab's merge see a gap and fill it from the logs route.
 */
function advance(c: number | null, e: string, m: unknown, r: number | null): number | null {
  // Only a snapshot, or a status page a poll brought, has a nextAfterSeq.
  const page = (e === 'poll' ? (m as PollResult).body : m) as { nextAfterSeq?: unknown } | null | undefined;
  if (typeof page?.nextAfterSeq === 'number') {
    return c === null || (r !== null && r <= c) ? Math.max(c ?? 0, page.nextAfterSeq) : c;
  }
  const update = m as { fromSeq: number; task: { seq: number } };
  return e === 'update' && c !== null && update.fromSeq <= c + 1 ? Math.max(c, update.task.seq) : c;
}
