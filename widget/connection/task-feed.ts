import { ROUTES } from '../../protocol/routes.js';
import type { LIMITS, Task } from '../../protocol/task.js';
import { systemClock, type Clock } from './clock.js';
import { getJson, type FetchLike, type HttpResult } from './http-get.js';
import { sharedLinks, type LinkLease, type LinkRegistry } from './link-registry.js';
import { transition, type FallbackReason, type LinkEvent } from './link-state.js';
import type { LinkStatus } from './link-status.js';
import type { PollResult } from './poller.js';
import { SeqMerge, type MergeResult } from './seq-merge.js';
import type { TaskSubscriber, WebSocketCtor } from './socket-link.js';
import type { LocksLike, PollHandle } from './tab-link.js';
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
  offline: 'Server unreachable',
  browserOffline: 'You are offline',
} as const;

// task.ts imports zod: its LIMITS are copied here, and the types keep the copies equal.
/** Lines asked for per "load older" click: as many as a fresh panel's tail. */
export const OLDER_PAGE_LINES: (typeof LIMITS)['tailLines'] = 200;
/** Lines per gap-fill page: the most the logs route serves. */
const FILL_PAGE_LINES: (typeof LIMITS)['logsPageMax'] = 1_000;

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

type ResolvedDeps = { [K in keyof TaskFeedDeps]-?: Exclude<TaskFeedDeps[K], undefined> };

function resolveDeps(deps: TaskFeedDeps): ResolvedDeps {
  const g = globalThis as Partial<typeof globalThis>;
  const resolved: ResolvedDeps = {
    WebSocket: (g.WebSocket as WebSocketCtor | undefined) ?? null,
    fetch: (url, init) => fetch(url, init),
    clock: systemClock,
    random: Math.random,
    window: g.addEventListener ? globalThis : null,
    document: g.document ?? null,
    navigator: g.navigator ?? null,
    links: sharedLinks,
    BroadcastChannel: g.BroadcastChannel ?? null,
    locks: g.navigator?.locks ?? null,
  };
  // An undefined dependency takes the default; null means "there is none".
  for (const [key, value] of Object.entries(deps)) {
    if (value !== undefined) (resolved as Record<string, unknown>)[key] = value;
  }
  return resolved;
}

/**
 * One panel's data: `createTaskFeed(config)` returns a stopped feed; `start()` when the element
 * connects, `stop()` when it disconnects; `config.onChange` gets a new FeedView on each change.
 *
 * It composes the parts for the panel: the link shared by the page and the browser's tabs (live
 * stream, and polls for the fallback or mode="polling"), the seq merge (no gap, no duplicate
 * across every path) and the connection state machine. Live work stops once the task is final
 * and all of it is in. Written as a closure, not a class: its state is local variables, which
 * minify to one letter where `this.#field` would not (issue 7, the size budget).
 */
export function createTaskFeed(config: TaskFeedConfig, deps: TaskFeedDeps = {}): TaskFeed {
  const { endpoint, agentId, pollIntervalMs, onChange } = config;
  const { links, ...linkDeps } = resolveDeps(deps);
  const { clock, window, navigator } = linkDeps;
  const useSocket = config.mode === 'auto' && linkDeps.WebSocket !== null;
  let state: ConnectionState = useSocket ? 'connecting' : 'polling';
  let merge = new SeqMerge();
  let taskId = config.taskId ?? null;
  let running = false;
  /** Bumped when the followed task changes or the feed stops: older async results are dropped. */
  let generation = 0;
  let lease: LinkLease | null = null;
  let offStatus: (() => void) | undefined;
  let offTask: (() => void) | undefined;
  let offAgent: (() => void) | undefined;
  let taskPoll: PollHandle | null = null;
  let agentPoll: PollHandle | null = null;
  /** Live updates come from polling while the socket is probed in the background. */
  let fellBack = false;
  /** The current socket answered this panel's subscription. */
  let socketUp = false;
  let browserOffline = false;
  let notFound = false;
  let nextRetryAt: number | null = null;
  let filling = false;
  let older: Promise<void> | null = null;
  /** One-off GETs in flight (gap fill, older lines, Refresh), aborted by stop(). */
  const requests = new Set<AbortController>();
  let view = buildView();

  /** The link, when this panel uses the WebSocket. */
  const socket = () => (useSocket ? lease?.link : undefined);

  /** Task mode and the task is complete: nothing live is left to do. */
  const finished = () => agentId === undefined && merge.complete;

  // ---- following a task ----------------------------------------------------------------------

  function follow(id: string): void {
    if (id !== taskId) {
      generation++;
      taskId = id;
      merge = new SeqMerge();
      notFound = filling = false;
      taskPoll?.stop();
      taskPoll = null;
    }
    offTask?.();
    offTask = undefined;
    if (merge.complete) return;
    offTask = socket()?.subscribe(subscriber(id));
    if (fellBack) startPolling();
  }

  function subscriber(id: string): TaskSubscriber {
    return {
      taskId: id,
      cursor: () => merge.cursor,
      onSnapshot(message, requestedAfterSeq) {
        if (id !== taskId) return;
        socketAnswered();
        handle(merge.applyPage(message, requestedAfterSeq));
      },
      onUpdate(message) {
        if (id === taskId) handle(merge.applyUpdate(message));
      },
      onError(message) {
        if (id !== taskId) return;
        // Anything but not_found: the socket works but will not serve this task (store down,
        // too many subscriptions).
        if (message.code !== 'not_found') return fallBack('snapshot-timeout');
        socketAnswered();
        notFound = true;
        render();
      },
    };
  }

  function watchAgent(id: string): void {
    offAgent = socket()?.watchAgent({
      agentId: id,
      onAgentTask(message) {
        socketAnswered();
        onAgentTask(message.task);
      },
      onError: () => fallBack('snapshot-timeout'),
    });
    if (fellBack) startPolling();
  }

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
  function handle({ need }: MergeResult): void {
    if (need.kind !== 'none') {
      if (taskPoll) taskPoll.pollNow();
      else if (need.kind === 'fill') void fill(need.afterSeq);
      else if (taskId !== null) socket()?.resync(taskId);
    }
    if (merge.complete) {
      taskPoll?.stop();
      taskPoll = null;
      offTask?.();
      offTask = undefined;
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
    const result = await get(httpUrl(endpoint, ROUTES.taskLogs(id), { afterSeq, limit: FILL_PAGE_LINES }));
    if (g !== generation) return;
    filling = false;
    if (result.kind === 'ok' && isLogsPage(result.body)) handle(merge.applyPage(result.body, afterSeq));
    // A resubscribe from the cursor brings the same events over the socket.
    else socket()?.resync(id);
  }

  function releaseLink(): void {
    offStatus?.();
    lease?.release();
    offStatus = undefined;
    lease = null;
  }

  // ---- socket --------------------------------------------------------------------------------

  function onLinkStatus(status: LinkStatus): void {
    if (status.kind === 'connecting') {
      nextRetryAt = null;
    } else if (status.kind === 'down') {
      socketUp = false;
      nextRetryAt = status.nextRetryAt;
      if (status.fallback !== null && !fellBack) fallBack(status.fallback);
      else dispatch({ type: 'socket-lost' });
    }
    render();
  }

  function socketAnswered(): void {
    socketUp = true;
    fellBack = false;
    nextRetryAt = null;
    stopPolls();
    dispatch({ type: 'snapshot-received' });
  }

  /** Poll over HTTP; the link keeps probing the socket and the first snapshot climbs back. */
  function fallBack(reason: FallbackReason): void {
    fellBack = true;
    socketUp = false;
    dispatch({ type: 'fallback', reason });
    startPolling();
  }

  // ---- polling -------------------------------------------------------------------------------

  function startPolling(): void {
    const link = lease?.link;
    if (!running || browserOffline || !link) return;
    const g = generation;
    if (taskId !== null && !merge.complete) {
      taskPoll ??= link.poll(
        { taskId, cursor: () => merge.cursor, onPoll: (result, afterSeq) => onTaskPoll(result, afterSeq, g) },
        pollIntervalMs,
      );
    }
    if (agentId !== undefined) {
      agentPoll ??= link.poll(
        { agentId, cursor: () => null, onPoll: (result) => onAgentPoll(result, generation) },
        pollIntervalMs,
      );
    }
  }

  function stopPolls(): void {
    taskPoll?.stop();
    agentPoll?.stop();
    taskPoll = agentPoll = null;
  }

  function pollNow(): void {
    if (browserOffline) return;
    if (taskPoll) taskPoll.pollNow();
    else if (fellBack) startPolling();
    agentPoll?.pollNow();
  }

  /** `afterSeq`: the cursor the poll asked from; `g`: the generation it was made in. */
  function onTaskPoll(result: PollResult, afterSeq: number | null, g: number): void {
    if (g !== generation) return;
    onPollOutcome(result);
    if (result.kind === 'ok' && isTaskStatusPage(result.body)) {
      notFound = false;
      handle(merge.applyPage(result.body, afterSeq));
    } else if (result.kind === 'not-found') {
      notFound = true;
    }
    render();
  }

  function onAgentPoll(result: PollResult, g: number): void {
    if (g !== generation) return;
    onPollOutcome(result);
    if (result.kind === 'ok' && isActiveTaskResponse(result.body)) onAgentTask(result.body.task);
    else if (result.kind === 'not-found') onAgentTask(null);
    render();
  }

  function onPollOutcome(result: PollResult): void {
    dispatch(
      result.kind === 'failed'
        ? { type: 'poll-failed', consecutiveFailures: result.consecutiveFailures }
        : { type: 'poll-ok' },
    );
  }

  /** A one-off GET, aborted by stop(). */
  async function get(url: string): Promise<HttpResult> {
    const abort = new AbortController();
    requests.add(abort);
    try {
      return await getJson(linkDeps.fetch, url, { abort, clock });
    } finally {
      requests.delete(abort);
    }
  }

  /** A one-off GET that answers as a poll would (Refresh while no poll runs). */
  function getOnce(url: string, then: (result: PollResult) => void): void {
    void get(url).then((result) =>
      then({ ...result, consecutiveFailures: result.kind === 'failed' ? 1 : 0 }),
    );
  }

  // ---- browser -------------------------------------------------------------------------------

  function onOffline(): void {
    if (finished()) return;
    browserOffline = true;
    stopPolls();
    dispatch({ type: 'browser-offline' });
  }

  function onOnline(): void {
    if (finished() || !browserOffline) return;
    browserOffline = false;
    dispatch({ type: 'browser-online', socketUp, fellBack });
    // The socket may have died silently while offline: prove it (or replace it) now.
    socket()?.probe();
    if (fellBack) startPolling();
    render();
  }

  // ---- view ----------------------------------------------------------------------------------

  function dispatch(event: LinkEvent): void {
    state = transition(state, event);
    render();
  }

  function buildView(): FeedView {
    const problems: Partial<Record<string, string>> = PROBLEMS;
    return {
      task: merge.task,
      logs: merge.logs,
      hasOlder: merge.hasOlder,
      connectionState: state,
      nextRetryAt: state === 'reconnecting' ? nextRetryAt : null,
      problem: merge.complete
        ? null
        : ((state === 'offline' && browserOffline ? PROBLEMS.browserOffline : problems[state]) ?? null),
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

      dispatch({ type: 'start', socket: useSocket });
      fellBack = !useSocket;
      socketUp = false;
      // Polls are shared through the link too, so even mode="polling" takes one.
      const link = (lease = links.acquire({ ...linkDeps, url: wsUrl(endpoint), endpoint })).link;
      if (useSocket) {
        offStatus = link.onStatus(onLinkStatus);
        // A link shared with other panels may already be down (or open: our subscribe is answered).
        onLinkStatus(link.status);
      }
      if (taskId !== null) follow(taskId);
      if (agentId !== undefined) watchAgent(agentId);
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
      stopPolls();
      offTask?.();
      offAgent?.();
      offTask = offAgent = undefined;
      releaseLink();
      socketUp = filling = false;
      nextRetryAt = null;
    },

    retryNow() {
      if (!running) return;
      socket()?.retryNow();
      if (fellBack) pollNow();
    },

    refresh() {
      if (!running) return;
      if (taskPoll || agentPoll) return pollNow();
      const g = generation;
      if (taskId !== null) {
        const afterSeq = merge.cursor;
        getOnce(httpUrl(endpoint, ROUTES.taskStatus(taskId), { afterSeq }), (result) =>
          onTaskPoll(result, afterSeq, g),
        );
      } else if (agentId !== undefined) {
        getOnce(httpUrl(endpoint, ROUTES.activeTask(agentId)), (result) => onAgentPoll(result, g));
      }
    },

    loadOlder() {
      if (older) return older;
      const held = merge;
      const id = taskId;
      const g = generation;
      // Before the oldest line held; with none held, before the first event after the cursor.
      const beforeSeq = held.oldestSeq ?? (held.cursor ?? -1) + 1;
      if (!running || !held.hasOlder || id === null || beforeSeq < 1) return Promise.resolve();
      const url = httpUrl(endpoint, ROUTES.taskLogs(id), { beforeSeq, limit: OLDER_PAGE_LINES });
      // A failed page leaves hasOlder set, so the reader can simply ask again.
      return (older = get(url)
        .then((result) => {
          if (g === generation && result.kind === 'ok' && isLogsPage(result.body)) {
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
