import { LOGS_PAGE_MAX, TAIL_LINES } from '../../protocol/constants.js';
import { taskLogsRoute } from '../../protocol/routes.js';
import type { Task } from '../../protocol/task.js';
import { systemClock, type Clock } from './clock.js';
import type { FetchLike, HttpResult } from './http-get.js';
import { getJsonOnDemand, httpParts } from './on-demand.js';
import { sharedLinks, type LinkLease, type LinkRegistry } from './link-registry.js';
import { feedKey, isPolled, keyName, type FeedKey, type FeedKind } from './feed-key.js';
import type { Listener } from './link.js';
import { connectionState, type LinkFacts } from './link-state.js';
import type { LinkStatus } from './link-status.js';
import { seqMerge, type MergeNeed } from './seq-merge.js';
import type { WebSocketCtor } from './socket-link.js';
import type { LocksLike } from './tab-link.js';
import type {
  ConnectionState,
  FeedView,
  TaskFeed,
  TaskFeedConfig,
  TaskFeedFactory,
} from './task-feed-types.js';
import { httpUrl, wsUrl } from './urls.js';
import { isActiveTaskResponse, isLogsPage, isTaskStatusPage } from './wire-guards.js';

/** The banner's text for each state that lacks live updates. */
export const PROBLEMS = {
  reconnecting: 'Connection lost; reconnecting',
  polling: 'Real-time updates unavailable',
  /** The server follows at most WS_MAX_SUBSCRIPTIONS tasks per browser; this panel polls. */
  overLimit: 'Live-update limit reached for this page',
  offline: 'Server unreachable',
  browserOffline: 'You are offline',
  unauthorized: 'Not authorized to view this task',
} as const;

/** Lines asked for per "load older" click: as many as a fresh panel's tail. */
export const OLDER_PAGE_LINES = TAIL_LINES;
/** Lines per gap-fill page: the most the logs route serves. */
const FILL_PAGE_LINES = LOGS_PAGE_MAX;

/** Everything the feed touches outside itself; each defaults to the browser's own. */
export interface TaskFeedDeps {
  /** null: no WebSocket at all (the feed polls). */
  WebSocket?: WebSocketCtor | null;
  fetch?: FetchLike;
  clock?: Clock;
  random?: () => number;
  /** Where `online`/`offline` and `pagehide`/`pageshow` fire. */
  window?: EventTarget | null;
  /** Where `visibilitychange` and `freeze`/`resume` fire, and whether the tab is hidden. */
  document?: (EventTarget & { readonly hidden: boolean }) | null;
  navigator?: { readonly onLine: boolean } | null;
  links?: LinkRegistry;
  /** Sharing one socket between the tabs needs both; null: this tab keeps its own socket. */
  BroadcastChannel?: (new (name: string) => BroadcastChannel) | null;
  locks?: LocksLike | null;
}

/** What the panel shows is derived from: the connection facts, and two about the task. */
interface FeedState extends LinkFacts {
  /** The task or agent does not exist (404). */
  notFound: boolean;
  /** The server refused this panel's subscription for being over its limit (until it serves it). */
  overLimit: boolean;
  /** The server refused the viewer token, and no fresh one helped. */
  unauthorized: boolean;
}

/** When a JWT expires (epoch ms), read from its payload without checking it (the server does); NaN if unreadable. */
function tokenExpiry(token: string | null): number {
  try {
    const payload = token!.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload)).exp * 1000;
  } catch {
    return NaN;
  }
}

/** A token is renewed a minute before it expires, or a fifth of its life when that is shorter. */
const RENEW_AHEAD_MS = 60_000;

/** The socket's answers that refuse the viewer token (protocol/ws-messages.ts). */
const REFUSALS: readonly string[] = ['unauthorized', 'forbidden', 'token_expired'];

/** A poll refused for its token: 401 (none, expired, forged) or 403 (another scope). */
const refusedBy = (result: HttpResult) =>
  result.kind === 'failed' && (result.status === 401 || result.status === 403);

/**
 * One panel's data: `createTaskFeed(config)` returns a stopped feed; `start()` when the element
 * connects, `stop()` when it disconnects; `config.onChange` gets a new FeedView on each change.
 *
 * It composes the parts for the panel: the link shared by the page and the browser's tabs (live
 * stream, and polls for the fallback or mode="polling"), the seq merge (no gap, no duplicate
 * across every path) and the view derived from the merge and one state object. Live work stops
 * once the task is final and all of it is in.
 */
export function createTaskFeed(config: TaskFeedConfig, deps: TaskFeedDeps = {}): TaskFeed {
  const { endpoint, agentId, pollIntervalMs, onChange, tokenProvider } = config;
  const g: Partial<typeof globalThis> = globalThis;
  // An undefined dependency takes the browser's own; null means "there is none".
  const {
    links = sharedLinks,
    WebSocket = (g.WebSocket as WebSocketCtor | undefined) ?? null,
    fetch: fetchJson = (url, init) => fetch(url, init),
    clock = systemClock,
    random = Math.random,
    window = g.addEventListener ? globalThis : null,
    document = g.document ?? null,
    navigator = g.navigator ?? null,
    BroadcastChannel = g.BroadcastChannel ?? null,
    locks = g.navigator?.locks ?? null,
  } = deps;
  const linkDeps = { WebSocket, fetch: fetchJson, clock, random, window, document, BroadcastChannel, locks };

  const useSocket = config.mode === 'auto' && WebSocket !== null;
  /** How a feed starts, and starts again after stop(). */
  const fresh = (): FeedState => ({
    fellBack: !useSocket,
    socketUp: false,
    browserOffline: false,
    pollFailures: 0,
    lost: false,
    notFound: false,
    overLimit: false,
    unauthorized: false,
  });
  let state = fresh();
  let merge = seqMerge();
  let taskId = config.taskId ?? null;
  let running = false;
  /** Bumped when the followed task changes or the feed stops: older async results are dropped. */
  let generation = 0;
  let lease: LinkLease | null = null;
  let offStatus: (() => void) | undefined;
  /** The link's keys this panel follows, by name, each with the function that leaves it. */
  const joined = new Map<string, { key: FeedKey; leave: () => void }>();
  /** A gap fill is in flight (one at a time). */
  let filling = false;
  let older: Promise<void> | null = null;
  /** One-off GETs in flight (gap fill, older lines, Refresh), aborted by stop(). */
  const requests = new Set<AbortController>();
  /** The viewer token sent with this panel's subscribes and polls. */
  let token = config.accessToken ?? null;
  /** A renewal from tokenProvider in flight (one at a time), and the timer of the next one. */
  let renewing: Promise<boolean> | null = null;
  let renewTimer: unknown;
  /** Refused once since the last answer: a fresh token was asked for; refused again, give up. */
  let refusedOnce = false;
  /** Keys refused while a renewal is under way, each asked again once it brings a fresh token. */
  const refusedKeys = new Map<string, FeedKey>();
  /** A refusal waits for a renewal's result (refusedKeys gathers the others meanwhile). */
  let awaitingRenewal = false;
  let view = buildView();

  /** Task mode and the task is complete: nothing live is left to do. */
  const finished = () => agentId === undefined && merge.complete;

  /** The one way the state changes: the panel then gets a new view if what it shows changed. */
  function set(change: Partial<FeedState>): void {
    state = { ...state, ...change };
    render();
  }

  // ---- the link's keys -----------------------------------------------------------------------

  function join(key: FeedKey, listener: Listener, intervalMs?: number): void {
    const name = keyName(key);
    if (lease && !joined.has(name))
      joined.set(name, { key, leave: lease.link.join(key, listener, intervalMs) });
  }

  function leave(kinds: FeedKind[]): void {
    for (const [name, { key, leave }] of joined) {
      if (kinds.includes(key.kind)) {
        joined.delete(name);
        leave();
      }
    }
  }

  /** Asks a key this panel follows again (a resync, a poll now). */
  function again(key: FeedKey): void {
    if (joined.has(keyName(key))) lease!.link.again(key);
  }

  const polledKeys = (): FeedKey[] => [...joined.values()].map(({ key }) => key).filter(isPolled);

  // ---- following a task ----------------------------------------------------------------------

  function follow(id: string): void {
    if (id !== taskId) {
      generation++;
      taskId = id;
      merge = seqMerge();
      filling = false;
    }
    leave(['task', 'task-poll']);
    if (merge.complete) return;
    if (useSocket) join(feedKey('task', id), taskListener(id));
    if (state.fellBack) startPolling();
  }

  /** The task's live stream and its polls (each answers from the cursor it was asked with). */
  function taskListener(id: string): Listener {
    return {
      cursor: () => merge.cursor,
      token: () => token,
      on(event) {
        if (id !== taskId) return;
        if (event.source === 'poll') {
          const { result } = event;
          if (refusedBy(result)) return refused(feedKey('task-poll', id));
          if (result.kind !== 'failed') refusedOnce = false;
          const page = isTaskStatusPage(result.body) ? result.body : null;
          const notFound = !page && (result.kind === 'not-found' || state.notFound);
          set({ pollFailures: result.consecutiveFailures, notFound });
          if (page) handle(merge.applyPage(page, event.requested));
          return;
        }
        const { message } = event;
        switch (message.type) {
          case 'update':
            return handle(merge.applyUpdate(message));
          case 'snapshot':
            socketAnswered();
            return handle(merge.applyPage(message, event.requested));
          case 'error':
            if (REFUSALS.includes(message.code)) return refused(feedKey('task', id));
            // Anything but not_found: the socket works but will not serve this task for now (store
            // down, too many subscriptions). Poll meanwhile; the link subscribes again with backoff.
            if (message.code !== 'not_found') return fallBack(message.code === 'too_many_subscriptions');
            socketAnswered();
            return set({ notFound: true });
        }
      },
    };
  }

  /** The agent's active task, live or polled. */
  const agentListener: Listener = {
    token: () => token,
    on(event) {
      if (event.source === 'poll') {
        const { result } = event;
        if (refusedBy(result)) return refused(feedKey('agent-poll', agentId!));
        if (result.kind !== 'failed') refusedOnce = false;
        set({ pollFailures: result.consecutiveFailures });
        if (isActiveTaskResponse(result.body)) onAgentTask(result.body.task);
        else if (result.kind === 'not-found') onAgentTask(null);
        return;
      }
      const { message } = event;
      if (message.type === 'error')
        return REFUSALS.includes(message.code) ? refused(feedKey('agent', agentId!)) : fallBack(false);
      if (message.type !== 'agent-task') return;
      socketAnswered();
      onAgentTask(message.task);
    },
  };

  /** The agent's active task now; a different one than followed means it started a new one. */
  function onAgentTask(task: Task | null): void {
    if (task === null) return set({ notFound: merge.task === null });
    if (task.id !== taskId) follow(task.id);
    merge.adoptTask(task);
    set({ notFound: false });
  }

  /** Acts on what the merge needs next, and ends live work once the task is complete. */
  function handle(need: MergeNeed): void {
    if (need.kind !== 'none' && taskId !== null) {
      const poll = feedKey('task-poll', taskId);
      if (joined.has(keyName(poll))) again(poll);
      else if (need.kind === 'fill') void fill(need.afterSeq);
      else again(feedKey('task', taskId));
    }
    if (merge.complete) {
      leave(['task', 'task-poll']);
      // Following an agent, keep watching it: it may start another task.
      if (agentId === undefined) releaseLink();
    }
    render();
  }

  /** A gap in the live stream: fetch the missing events from the logs route. */
  async function fill(afterSeq: number): Promise<void> {
    const id = taskId;
    if (filling || id === null) return;
    filling = true;
    const g = generation;
    const result = await get(httpUrl(endpoint, taskLogsRoute(id), { afterSeq, limit: FILL_PAGE_LINES }));
    if (g !== generation) return;
    filling = false;
    if (isLogsPage(result.body)) handle(merge.applyPage(result.body, afterSeq));
    // A resubscribe from the cursor brings the same events over the socket.
    else again(feedKey('task', id));
  }

  function releaseLink(): void {
    offStatus?.();
    lease?.release();
    offStatus = undefined;
    lease = null;
  }

  // ---- socket --------------------------------------------------------------------------------

  function onLinkStatus(status: LinkStatus): void {
    // A new socket: a refusal on it may ask the provider again.
    if (status.kind === 'open') refusedOnce = false;
    if (status.kind !== 'down') return render();
    set({ socketUp: false, lost: true });
    if (status.fallback !== null && !state.fellBack) fallBack(false);
  }

  function socketAnswered(): void {
    // The server answered: whatever the browser said, it is reachable. Fetch the polling code
    // now: the fallback is needed when the server cannot be reached, and then neither can its file.
    httpParts().catch(() => {});
    refusedOnce = false;
    set({
      socketUp: true,
      overLimit: false,
      fellBack: false,
      browserOffline: false,
      pollFailures: 0,
      unauthorized: false,
    });
    leave(['task-poll', 'agent-poll']);
  }

  /** Poll over HTTP; the link keeps probing the socket and the first snapshot climbs back. */
  function fallBack(overLimit: boolean): void {
    set({ fellBack: true, socketUp: false, overLimit });
    startPolling();
  }

  // ---- viewer token --------------------------------------------------------------------------

  /**
   * The server refused the token on `key` (none, expired, forged, other scope): ask the host for
   * a fresh one and ask again every key refused meanwhile (a task's stream and its agent's watch
   * expire together); refused again before any answer, or no fresh token, the panel says it is
   * not authorized and stops polling (its stream is asked again only when the token changes, or
   * when the socket reconnects).
   */
  function refused(key: FeedKey): void {
    refusedKeys.set(keyName(key), key);
    if (awaitingRenewal) return;
    if (refusedOnce) return unauthorized();
    refusedOnce = awaitingRenewal = true;
    // The renewal under way, if the timer started one before expiry: its result serves this too.
    void renew().then((renewed) => {
      awaitingRenewal = false;
      if (!renewed) return unauthorized();
      for (const refusedKey of refusedKeys.values()) again(refusedKey);
      refusedKeys.clear();
    });
  }

  function unauthorized(): void {
    refusedKeys.clear();
    awaitingRenewal = false;
    leave(['task-poll', 'agent-poll']);
    set({ unauthorized: true });
  }

  /** A fresh token from tokenProvider; false when there is none, it failed, or it is the same one. */
  function renew(): Promise<boolean> {
    return (renewing ??= (tokenProvider?.() ?? Promise.resolve(null))
      .then(
        (next) => {
          // The same token again (a backend that caches them) changes nothing: no key is asked again.
          const fresh = !!next && next !== token;
          if (fresh) useToken(next);
          return fresh;
        },
        () => false,
      )
      .finally(() => (renewing = null)));
  }

  /** Sends `next` from now on, and plans its renewal before it expires. */
  function useToken(next: string | null): void {
    token = next;
    clock.clearTimeout(renewTimer);
    const left = tokenExpiry(next) - clock.now();
    if (tokenProvider && running && left > 0) {
      // Renewed while the old one still holds: the streams go on with nothing lost or shown.
      renewTimer = clock.setTimeout(
        () => void renew().then((renewed) => renewed && askAgain()),
        left - Math.min(RENEW_AHEAD_MS, left / 5),
      );
    }
  }

  /** Every key asked again: the new token is sent with each subscribe and poll. */
  function askAgain(): void {
    for (const { key } of joined.values()) again(key);
  }

  // ---- polling -------------------------------------------------------------------------------

  function startPolling(): void {
    if (!running || state.browserOffline) return;
    if (taskId !== null && !merge.complete)
      join(feedKey('task-poll', taskId), taskListener(taskId), pollIntervalMs);
    if (agentId !== undefined) join(feedKey('agent-poll', agentId), agentListener, pollIntervalMs);
  }

  function pollNow(): void {
    if (state.browserOffline) return;
    for (const key of polledKeys()) again(key);
    // Starts what is missing (a new poll asks at once).
    if (state.fellBack) startPolling();
  }

  /** A one-off GET, aborted by stop(). */
  async function get(url: string): Promise<HttpResult> {
    const abort = new AbortController();
    requests.add(abort);
    try {
      return await getJsonOnDemand(fetchJson, url, { abort, clock, token });
    } finally {
      requests.delete(abort);
    }
  }

  // ---- browser -------------------------------------------------------------------------------

  function onOffline(): void {
    if (finished()) return;
    leave(['task-poll', 'agent-poll']);
    set({ browserOffline: true, lost: true });
  }

  function onOnline(): void {
    if (finished() || !state.browserOffline) return;
    set({ browserOffline: false, pollFailures: 0 });
    // The socket may have died silently while offline: prove it (or replace it) now.
    if (useSocket) lease?.link.probe();
    if (state.fellBack) startPolling();
  }

  // ---- view ----------------------------------------------------------------------------------

  function buildView(): FeedView {
    const shown = state.unauthorized ? 'unauthorized' : connectionState(state);
    const status = lease?.link.status;
    return {
      task: merge.task,
      logs: merge.logs,
      hasOlder: merge.hasOlder,
      connectionState: shown,
      // The link's own, read when shown: it is the one retry every panel of the browser waits for.
      nextRetryAt: shown === 'reconnecting' && status?.kind === 'down' ? status.nextRetryAt : null,
      problem: merge.complete && !state.unauthorized ? null : problem(shown),
      notFound: state.notFound,
    };
  }

  /** The banner's text for a state without live updates. */
  function problem(shown: ConnectionState): string | null {
    if (shown === 'offline' && state.browserOffline) return PROBLEMS.browserOffline;
    if (shown === 'polling' && state.overLimit) return PROBLEMS.overLimit;
    return shown === 'polling' || shown === 'reconnecting' || shown === 'offline' || shown === 'unauthorized'
      ? PROBLEMS[shown]
      : null;
  }

  /** Calls onChange with a new view, only when something in it changed. */
  function render(): void {
    const next = buildView();
    if ((Object.keys(next) as (keyof FeedView)[]).every((key) => Object.is(next[key], view[key]))) return;
    view = next;
    onChange(next);
  }

  return {
    get view() {
      return view;
    },

    start() {
      if (running) return;
      running = true;
      window?.addEventListener('online', onOnline);
      window?.addEventListener('offline', onOffline);
      if (finished()) return render();

      // What a stopped feed knew of the connection is stale; whether the task exists is not.
      state = { ...fresh(), notFound: state.notFound };
      refusedOnce = false;
      useToken(token);
      // Polls are shared through the link too, so even mode="polling" takes one.
      const link = (lease = links.acquire({ ...linkDeps, url: wsUrl(endpoint), endpoint })).link;
      if (useSocket) {
        offStatus = link.onStatus(onLinkStatus);
        // A link shared with other panels may already be down (or open: our subscribe is answered).
        onLinkStatus(link.status);
      }
      if (taskId !== null) follow(taskId);
      if (agentId !== undefined) {
        if (useSocket) join(feedKey('agent', agentId), agentListener);
        if (state.fellBack) startPolling();
      }
      if (navigator?.onLine === false) onOffline();
      render();
    },

    stop() {
      if (!running) return;
      running = false;
      generation++;
      window?.removeEventListener('online', onOnline);
      window?.removeEventListener('offline', onOffline);
      for (const abort of requests) abort.abort();
      clock.clearTimeout(renewTimer);
      leave(['task', 'agent', 'task-poll', 'agent-poll']);
      releaseLink();
      filling = false;
    },

    retryNow() {
      if (!running) return;
      if (useSocket) lease?.link.retryNow();
      if (state.fellBack) pollNow();
    },

    refresh() {
      if (!running) return;
      // Polls were paused because the browser said it is offline: the reader's word overrides it.
      if (state.browserOffline) onOnline();
      else pollNow();
    },

    setToken(next) {
      useToken(next);
      if (!running) return;
      refusedOnce = false;
      if (state.unauthorized) {
        set({ unauthorized: false });
        if (state.fellBack) startPolling();
      }
      askAgain();
    },

    loadOlder() {
      if (older) return older;
      const held = merge;
      const id = taskId;
      const g = generation;
      // Before the oldest line held; with none held, before the first event after the cursor.
      const beforeSeq = held.oldestSeq ?? (held.cursor ?? -1) + 1;
      if (!running || !held.hasOlder || id === null || beforeSeq < 1) return Promise.resolve();
      const url = httpUrl(endpoint, taskLogsRoute(id), { beforeSeq, limit: OLDER_PAGE_LINES });
      // A failed page leaves hasOlder set, so the reader can simply ask again.
      return (older = get(url)
        .then((result) => {
          if (g === generation && isLogsPage(result.body)) {
            if (held.prependOlder(result.body, beforeSeq)) render();
          }
        })
        .finally(() => {
          older = null;
        }));
    },
  };
}
createTaskFeed satisfies TaskFeedFactory;
