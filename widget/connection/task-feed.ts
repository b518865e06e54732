import { LIMITS } from '../../protocol/constants.js';
import { taskLogsRoute } from '../../protocol/routes.js';
import type { Task } from '../../protocol/task.js';
import type {
  AgentTaskMessage,
  ErrorMessage,
  UpdateMessage,
  SnapshotMessage,
} from '../../protocol/ws-messages.js';
import { systemClock, type Clock } from './clock.js';
import { getJson, type FetchLike, type HttpResult } from './http-get.js';
import { sharedLinks, type LinkLease, type LinkRegistry } from './link-registry.js';
import { connectionState } from './link-state.js';
import type { LinkStatus } from './link-status.js';
import type { PollResult } from './poller.js';
import { seqMerge, type MergeNeed } from './seq-merge.js';
import type { WebSocketCtor } from './socket-link.js';
import type { Listener, LocksLike } from './tab-link.js';
import type { FeedView, TaskFeed, TaskFeedConfig, TaskFeedFactory } from './task-feed-types.js';
import { httpUrl, pollUrl, wsUrl } from './urls.js';
import { isActiveTaskResponse, isLogsPage, isTaskStatusPage } from './wire-guards.js';

/** The banner's text for each state that lacks live updates. */
export const PROBLEMS = {
  reconnecting: 'Connection lost; reconnecting',
  polling: 'Real-time updates unavailable',
  /** The server follows at most WS_MAX_SUBSCRIPTIONS tasks per browser; this panel polls. */
  overLimit: 'Live-update limit reached for this page',
  offline: 'Server unreachable',
  browserOffline: 'You are offline',
} as const;

/** Lines asked for per "load older" click: as many as a fresh panel's tail. */
export const OLDER_PAGE_LINES = LIMITS.tailLines;
/** Lines per gap-fill page: the most the logs route serves. */
const FILL_PAGE_LINES = LIMITS.logsPageMax;

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

/**
 * One panel's data: `createTaskFeed(config)` returns a stopped feed; `start()` when the element
 * connects, `stop()` when it disconnects; `config.onChange` gets a new FeedView on each change.
 *
 * It composes the parts for the panel: the link shared by the page and the browser's tabs (live
 * stream, and polls for the fallback or mode="polling"), the seq merge (no gap, no duplicate
 * across every path) and the connection state derived from what it knows. Live work stops once the task is final
 * and all of it is in. Written as a closure, not a class: its state is local variables, which
 * minify to one letter where `this.#field` would not (issue 7, the size budget).
 */
export function createTaskFeed(config: TaskFeedConfig, deps: TaskFeedDeps = {}): TaskFeed {
  const { endpoint, agentId, pollIntervalMs, onChange } = config;
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
  let merge = seqMerge();
  let taskId = config.taskId ?? null;
  let running = false;
  /** Bumped when the followed task changes or the feed stops: older async results are dropped. */
  let generation = 0;
  let lease: LinkLease | null = null;
  let offStatus: (() => void) | undefined;
  /** The link's keys this panel follows (see Listener), each with the function that leaves it. */
  const joined = new Map<string, () => void>();
  // What connectionState (link-state.ts) derives the state shown from.
  /** Live updates come from polling while the socket is probed in the background. */
  let fellBack = !useSocket;
  /** The current socket answered this panel's subscription. */
  let socketUp = false;
  let browserOffline = false;
  let pollFailures = 0;
  let lost = false;
  let notFound = false;
  /** The server refused this panel's subscription for being over its limit (until it serves it). */
  let overLimit = false;
  let filling = false;
  let older: Promise<void> | null = null;
  /** One-off GETs in flight (gap fill, older lines, Refresh), aborted by stop(). */
  const requests = new Set<AbortController>();
  let view = buildView();

  /** Task mode and the task is complete: nothing live is left to do. */
  const finished = () => agentId === undefined && merge.complete;

  // ---- the link's keys -----------------------------------------------------------------------

  function join(key: string, listener: Listener, intervalMs?: number): void {
    if (lease && !joined.has(key)) joined.set(key, lease.link.join(key, listener, intervalMs));
  }

  /** Leaves every key of these kinds (`s`, `w`, `p`, `a`). */
  function leave(kinds: string): void {
    for (const [key, off] of joined) {
      if (kinds.includes(key[0]!)) {
        joined.delete(key);
        off();
      }
    }
  }

  /** Asks a key this panel follows again (a resync, a poll now). */
  function again(key: string): void {
    if (joined.has(key)) lease!.link.again(key);
  }

  // ---- following a task ----------------------------------------------------------------------

  function follow(id: string): void {
    if (id !== taskId) {
      generation++;
      taskId = id;
      merge = seqMerge();
      notFound = filling = false;
    }
    leave('sp');
    if (merge.complete) return;
    if (useSocket) join('s' + id, taskListener(id));
    if (fellBack) startPolling();
  }

  /** The task's live stream and its polls (each answers from the cursor it was asked with). */
  function taskListener(id: string): Listener {
    return {
      cursor: () => merge.cursor,
      on(e, m, r) {
        if (id !== taskId) return;
        if (e === 'update') return handle(merge.applyUpdate(m as UpdateMessage));
        if (e === 'poll') {
          const result = m as PollResult;
          polled(result);
          if (isTaskStatusPage(result.body)) {
            notFound = false;
            return handle(merge.applyPage(result.body, r));
          }
          if (result.kind === 'not-found') notFound = true;
          return render();
        }
        // Anything but not_found: the socket works but will not serve this task for now (store
        // down, too many subscriptions). Poll meanwhile; the link subscribes again with backoff.
        if (e === 'error' && (m as ErrorMessage).code !== 'not_found') {
          overLimit = (m as ErrorMessage).code === 'too_many_subscriptions';
          return fallBack();
        }
        socketAnswered();
        if (e === 'error') {
          notFound = true;
          render();
        } else handle(merge.applyPage(m as SnapshotMessage, r));
      },
    };
  }

  /** The agent's active task, live or polled. */
  const agentListener: Listener = {
    on(e, m) {
      if (e === 'poll') {
        const result = m as PollResult;
        polled(result);
        if (isActiveTaskResponse(result.body)) onAgentTask(result.body.task);
        else if (result.kind === 'not-found') onAgentTask(null);
        return render();
      }
      if (e === 'error') return fallBack();
      socketAnswered();
      onAgentTask((m as AgentTaskMessage).task);
    },
  };

  /** The agent's active task now; a different one than followed means it started a new one. */
  function onAgentTask(task: Task | null): void {
    if (task === null) {
      notFound = merge.task === null;
    } else {
      notFound = false;
      if (task.id !== taskId) follow(task.id);
      merge.adoptTask(task);
    }
    render();
  }

  /** Acts on what the merge needs next, and ends live work once the task is complete. */
  function handle(need: MergeNeed): void {
    if (need.kind !== 'none') {
      if (joined.has('p' + taskId)) again('p' + taskId);
      else if (need.kind === 'fill') void fill(need.afterSeq);
      else again('s' + taskId);
    }
    if (merge.complete) {
      leave('sp');
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
    else again('s' + id);
  }

  function releaseLink(): void {
    offStatus?.();
    lease?.release();
    offStatus = undefined;
    lease = null;
  }

  // ---- socket --------------------------------------------------------------------------------

  function onLinkStatus(status: LinkStatus): void {
    if (status.kind === 'down') {
      socketUp = false;
      lost = true;
      if (status.fallback !== null && !fellBack) fallBack();
    }
    render();
  }

  function socketAnswered(): void {
    socketUp = true;
    overLimit = false;
    // The server answered: whatever the browser said, it is reachable.
    fellBack = browserOffline = false;
    pollFailures = 0;
    leave('pa');
    render();
  }

  /** Poll over HTTP; the link keeps probing the socket and the first snapshot climbs back. */
  function fallBack(): void {
    fellBack = true;
    socketUp = false;
    startPolling();
    render();
  }

  // ---- polling -------------------------------------------------------------------------------

  function startPolling(): void {
    if (!running || browserOffline) return;
    if (taskId !== null && !merge.complete) join('p' + taskId, taskListener(taskId), pollIntervalMs);
    if (agentId !== undefined) join('a' + agentId, agentListener, pollIntervalMs);
  }

  function pollNow(): void {
    if (browserOffline) return;
    for (const key of joined.keys()) if (key[0] === 'p' || key[0] === 'a') again(key);
    // Starts what is missing (a new poll asks at once).
    if (fellBack) startPolling();
  }

  function polled(result: PollResult): void {
    pollFailures = result.consecutiveFailures;
  }

  /** A one-off GET, aborted by stop(). */
  async function get(url: string): Promise<HttpResult> {
    const abort = new AbortController();
    requests.add(abort);
    try {
      return await getJson(fetchJson, url, { abort, clock });
    } finally {
      requests.delete(abort);
    }
  }

  // ---- browser -------------------------------------------------------------------------------

  function onOffline(): void {
    if (finished()) return;
    browserOffline = lost = true;
    leave('pa');
    render();
  }

  function onOnline(): void {
    if (finished() || !browserOffline) return;
    browserOffline = false;
    pollFailures = 0;
    // The socket may have died silently while offline: prove it (or replace it) now.
    if (useSocket) lease?.link.probe();
    if (fellBack) startPolling();
    render();
  }

  // ---- view ----------------------------------------------------------------------------------

  function buildView(): FeedView {
    const problems: Partial<Record<string, string>> = PROBLEMS;
    const state = connectionState(browserOffline, fellBack, pollFailures, socketUp, lost);
    const status = lease?.link.status;
    return {
      task: merge.task,
      logs: merge.logs,
      hasOlder: merge.hasOlder,
      connectionState: state,
      // The link's own, read when shown: it is the one retry every panel of the browser waits for.
      nextRetryAt: state === 'reconnecting' && status?.kind === 'down' ? status.nextRetryAt : null,
      problem: merge.complete
        ? null
        : state === 'offline' && browserOffline
          ? PROBLEMS.browserOffline
          : state === 'polling' && overLimit
            ? PROBLEMS.overLimit
            : (problems[state] ?? null),
      notFound,
    };
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

      fellBack = !useSocket;
      socketUp = browserOffline = lost = false;
      pollFailures = 0;
      // Polls are shared through the link too, so even mode="polling" takes one.
      const link = (lease = links.acquire({ ...linkDeps, url: wsUrl(endpoint), endpoint })).link;
      if (useSocket) {
        offStatus = link.onStatus(onLinkStatus);
        // A link shared with other panels may already be down (or open: our subscribe is answered).
        onLinkStatus(link.status);
      }
      if (taskId !== null) follow(taskId);
      if (agentId !== undefined) {
        if (useSocket) join('w' + agentId, agentListener);
        if (fellBack) startPolling();
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
      leave('swpa');
      releaseLink();
      socketUp = filling = false;
    },

    retryNow() {
      if (!running) return;
      if (useSocket) lease?.link.retryNow();
      if (fellBack) pollNow();
    },

    refresh() {
      if (!running) return;
      for (const key of joined.keys()) if (key[0] === 'p' || key[0] === 'a') return pollNow();
      const g = generation;
      const afterSeq = merge.cursor;
      const key = taskId !== null ? 'p' + taskId : 'a' + agentId;
      const listener = taskId !== null ? taskListener(taskId) : agentListener;
      // A one-off GET that answers as a poll would.
      void get(pollUrl(endpoint, key, afterSeq)).then((result) => {
        if (g === generation)
          listener.on('poll', { ...result, consecutiveFailures: +(result.kind === 'failed') }, afterSeq);
      });
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
