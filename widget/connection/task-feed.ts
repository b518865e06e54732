import { ROUTES } from '../../protocol/routes.js';
import type { LIMITS, Task } from '../../protocol/task.js';
import type { ErrorMessage, SnapshotMessage, UpdateMessage } from '../../protocol/ws-messages.js';
import { systemClock, type Clock } from './clock.js';
import { getJson, type FetchLike, type HttpResult } from './http-get.js';
import { sharedLinks, type LinkLease, type LinkRegistry } from './link-registry.js';
import { StateHolder, transition, type FallbackReason, type LinkEvent } from './link-state.js';
import { POLLING, type PollResult } from './poller.js';
import { SeqMerge, type MergeResult } from './seq-merge.js';
import type { LinkStatus, TaskSubscriber, WebSocketCtor } from './socket-link.js';
import type { Link, LocksLike, PollHandle } from './tab-link.js';
import {
  ConnectionState,
  type FeedView,
  type TaskFeed,
  type TaskFeedConfig,
  type TaskFeedFactory,
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
  /** Where `online`/`offline` fire. */
  window?: EventTarget | null;
  /** Where `visibilitychange` fires, and whether the tab is hidden. */
  document?: (EventTarget & { readonly hidden: boolean }) | null;
  navigator?: { readonly onLine: boolean } | null;
  links?: LinkRegistry;
  /** Sharing one socket between the tabs needs both; null: this tab keeps its own socket. */
  BroadcastChannel?: (new (name: string) => BroadcastChannel) | null;
  locks?: LocksLike | null;
}

interface ResolvedDeps {
  WebSocket: WebSocketCtor | null;
  fetch: FetchLike;
  clock: Clock;
  random: () => number;
  window: EventTarget | null;
  document: (EventTarget & { readonly hidden: boolean }) | null;
  navigator: { readonly onLine: boolean } | null;
  links: LinkRegistry;
  BroadcastChannel: (new (name: string) => BroadcastChannel) | null;
  locks: LocksLike | null;
}

/** Which request a task poll answers: the cursor it asked from, for the task followed then. */
interface PollContext {
  afterSeq: number | null;
  generation: number;
}

/**
 * One panel's data: `createTaskFeed(config)` returns a stopped feed; `start()` when the element
 * connects, `stop()` when it disconnects; `config.onChange` gets a new FeedView on each change.
 */
export function createTaskFeed(config: TaskFeedConfig, deps: TaskFeedDeps = {}): TaskFeed {
  return new Feed(config, resolveDeps(deps));
}
createTaskFeed satisfies TaskFeedFactory;

function resolveDeps(deps: TaskFeedDeps): ResolvedDeps {
  const g = globalThis as Partial<typeof globalThis>;
  return {
    WebSocket:
      deps.WebSocket === undefined ? ((g.WebSocket as WebSocketCtor | undefined) ?? null) : deps.WebSocket,
    fetch: deps.fetch ?? ((url, init) => globalThis.fetch(url, init)),
    clock: deps.clock ?? systemClock,
    random: deps.random ?? Math.random,
    window:
      deps.window === undefined
        ? typeof g.addEventListener === 'function'
          ? globalThis
          : null
        : deps.window,
    document: deps.document === undefined ? (g.document ?? null) : deps.document,
    navigator: deps.navigator === undefined ? (g.navigator ?? null) : deps.navigator,
    links: deps.links ?? sharedLinks,
    BroadcastChannel:
      deps.BroadcastChannel === undefined ? (g.BroadcastChannel ?? null) : deps.BroadcastChannel,
    locks: deps.locks === undefined ? (g.navigator?.locks ?? null) : deps.locks,
  };
}

/**
 * Composes the parts for one panel: the link shared by the page and the browser's tabs (live
 * stream, and polls for the fallback or mode="polling"), the seq merge (no gap, no duplicate
 * across every path) and the connection state machine. Live work stops once the task is final
 * and all of it is in.
 */
class Feed implements TaskFeed {
  readonly #config: TaskFeedConfig;
  readonly #deps: ResolvedDeps;
  readonly #useSocket: boolean;
  readonly #state: StateHolder<ConnectionState>;
  #view: FeedView;
  #merge = new SeqMerge();
  #taskId: string | null;
  #running = false;
  /** Bumped when the followed task changes or the feed stops: older async results are dropped. */
  #generation = 0;
  #lease: LinkLease | null = null;
  #offStatus: (() => void) | null = null;
  #offTask: (() => void) | null = null;
  #offAgent: (() => void) | null = null;
  #taskPoll: PollHandle | null = null;
  #agentPoll: PollHandle | null = null;
  /** Live updates come from polling while the socket is probed in the background. */
  #fellBack = false;
  /** The current socket answered this panel's subscription. */
  #socketUp = false;
  #browserOffline = false;
  #notFound = false;
  #nextRetryAt: number | null = null;
  #filling = false;
  #older: Promise<void> | null = null;
  readonly #requests = new Set<{ abort: AbortController; timeout: unknown }>();

  constructor(config: TaskFeedConfig, deps: ResolvedDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#useSocket = config.mode === 'auto' && deps.WebSocket !== null;
    this.#taskId = config.taskId ?? null;
    const state = this.#useSocket ? ConnectionState.connecting : ConnectionState.polling;
    this.#state = new StateHolder<ConnectionState>(state, () => this.#render());
    this.#view = this.#buildView();
  }

  get view(): FeedView {
    return this.#view;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#deps.window?.addEventListener('online', this.#onOnline);
    this.#deps.window?.addEventListener('offline', this.#onOffline);
    this.#deps.document?.addEventListener('visibilitychange', this.#onVisibility);
    if (this.#finished()) return this.#render();

    this.#dispatch({ type: 'start', socket: this.#useSocket });
    this.#fellBack = !this.#useSocket;
    this.#socketUp = false;
    // Polls are shared through the link too, so even mode="polling" takes one.
    const { links, ...deps } = this.#deps;
    this.#lease = links.acquire({
      ...deps,
      url: wsUrl(this.#config.endpoint),
      endpoint: this.#config.endpoint,
    });
    if (this.#useSocket) {
      this.#offStatus = this.#lease.link.onStatus(this.#onLinkStatus);
      // A link shared with other panels may already be down (or open: our subscribe is answered).
      this.#onLinkStatus(this.#lease.link.status);
    }
    if (this.#taskId !== null) this.#follow(this.#taskId);
    if (this.#config.agentId !== undefined) this.#watchAgent(this.#config.agentId);
    if (this.#deps.navigator?.onLine === false) this.#onOffline();
    this.#render();
  }

  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#generation++;
    this.#deps.window?.removeEventListener('online', this.#onOnline);
    this.#deps.window?.removeEventListener('offline', this.#onOffline);
    this.#deps.document?.removeEventListener('visibilitychange', this.#onVisibility);
    for (const request of this.#requests) {
      request.abort.abort();
      this.#deps.clock.clearTimeout(request.timeout);
    }
    this.#requests.clear();
    this.#stopPolls();
    this.#offTask?.();
    this.#offAgent?.();
    this.#offTask = this.#offAgent = null;
    this.#releaseLink();
    this.#socketUp = false;
    this.#filling = false;
    this.#nextRetryAt = null;
  }

  retryNow(): void {
    if (!this.#running) return;
    this.#socket()?.retryNow();
    if (this.#fellBack) this.#pollNow();
  }

  refresh(): void {
    if (!this.#running) return;
    if (this.#taskPoll || this.#agentPoll) return this.#pollNow();
    const generation = this.#generation;
    if (this.#taskId !== null) {
      const afterSeq = this.#merge.cursor;
      void this.#get(this.#statusUrl(afterSeq)).then((result) =>
        this.#onTaskPoll(
          { ...result, consecutiveFailures: result.kind === 'failed' ? 1 : 0 },
          {
            afterSeq,
            generation,
          },
        ),
      );
    } else if (this.#config.agentId !== undefined) {
      void this.#get(this.#activeTaskUrl()).then((result) =>
        this.#onAgentPoll({ ...result, consecutiveFailures: result.kind === 'failed' ? 1 : 0 }, generation),
      );
    }
  }

  loadOlder(): Promise<void> {
    if (this.#older) return this.#older;
    const merge = this.#merge;
    const taskId = this.#taskId;
    const beforeSeq = merge.oldestSeq ?? (merge.cursor === null ? null : merge.cursor + 1);
    if (!this.#running || !merge.hasOlder || taskId === null || beforeSeq === null || beforeSeq < 1) {
      return Promise.resolve();
    }
    const generation = this.#generation;
    const url = httpUrl(this.#config.endpoint, ROUTES.taskLogs(taskId), {
      beforeSeq,
      limit: OLDER_PAGE_LINES,
    });
    // A failed page leaves hasOlder set, so the reader can simply ask again.
    this.#older = this.#get(url)
      .then((result) => {
        if (generation !== this.#generation || result.kind !== 'ok' || !isLogsPage(result.body)) return;
        if (merge.prependOlder(result.body, beforeSeq)) this.#render();
      })
      .finally(() => {
        this.#older = null;
      });
    return this.#older;
  }

  // ---- following a task ----------------------------------------------------------------------

  /** Task mode and the task is complete: nothing live is left to do. */
  #finished(): boolean {
    return this.#config.agentId === undefined && this.#merge.complete;
  }

  #follow(taskId: string): void {
    if (taskId !== this.#taskId) {
      this.#generation++;
      this.#taskId = taskId;
      this.#merge = new SeqMerge();
      this.#notFound = false;
      this.#filling = false;
      this.#taskPoll?.stop();
      this.#taskPoll = null;
    }
    this.#offTask?.();
    this.#offTask = null;
    if (this.#merge.complete) return;
    this.#offTask = this.#socket()?.subscribe(this.#subscriber(taskId)) ?? null;
    if (this.#fellBack) this.#startPolling();
  }

  /** The link, when this panel uses the WebSocket. */
  #socket(): Link | undefined {
    return this.#useSocket ? this.#lease?.link : undefined;
  }

  #subscriber(taskId: string): TaskSubscriber {
    return {
      taskId,
      cursor: () => this.#merge.cursor,
      onSnapshot: (message: SnapshotMessage, requestedAfterSeq: number | null) => {
        if (message.taskId !== this.#taskId) return;
        this.#socketAnswered();
        this.#handle(this.#merge.applyPage(message, requestedAfterSeq));
      },
      onUpdate: (message: UpdateMessage) => {
        if (message.taskId !== this.#taskId) return;
        this.#handle(this.#merge.applyUpdate(message));
      },
      onError: (message: ErrorMessage) => {
        if (message.taskId !== this.#taskId) return;
        if (message.code === 'not_found') {
          this.#socketAnswered();
          this.#notFound = true;
          this.#render();
        } else {
          // The socket works but will not serve this task (store down, too many subscriptions).
          this.#fallBack('snapshot-timeout');
        }
      },
    };
  }

  #watchAgent(agentId: string): void {
    const socket = this.#socket();
    if (socket) {
      this.#offAgent = socket.watchAgent({
        agentId,
        onAgentTask: (message) => {
          this.#socketAnswered();
          this.#onAgentTask(message.task);
        },
        onError: () => this.#fallBack('snapshot-timeout'),
      });
    }
    if (this.#fellBack) this.#startPolling();
  }

  /** The agent's active task now; a different one than followed means it started a new one. */
  #onAgentTask(task: Task | null): void {
    if (task === null) {
      this.#notFound = this.#merge.task === null;
    } else {
      this.#notFound = false;
      if (task.id !== this.#taskId) this.#follow(task.id);
      this.#merge.adoptTask(task);
    }
    this.#render();
  }

  /** Acts on what the merge needs next, and ends live work once the task is complete. */
  #handle(result: MergeResult): void {
    const need = result.need;
    if (need.kind === 'fill') {
      if (this.#taskPoll) this.#taskPoll.pollNow();
      else void this.#fill(need.afterSeq);
    } else if (need.kind === 'reload') {
      if (this.#taskPoll) this.#taskPoll.pollNow();
      else if (this.#taskId !== null) this.#socket()?.resync(this.#taskId);
    }
    if (this.#merge.complete) this.#endTaskWork();
    this.#render();
  }

  /** A gap in the live stream: fetch the missing events from the logs route. */
  async #fill(afterSeq: number): Promise<void> {
    const taskId = this.#taskId;
    if (this.#filling || taskId === null) return;
    this.#filling = true;
    const generation = this.#generation;
    const url = httpUrl(this.#config.endpoint, ROUTES.taskLogs(taskId), { afterSeq, limit: FILL_PAGE_LINES });
    const result = await this.#get(url);
    if (generation !== this.#generation) return;
    this.#filling = false;
    if (result.kind === 'ok' && isLogsPage(result.body)) {
      this.#handle(this.#merge.applyPage(result.body, afterSeq));
    } else {
      // A resubscribe from the cursor brings the same events over the socket.
      this.#socket()?.resync(taskId);
    }
  }

  #endTaskWork(): void {
    this.#taskPoll?.stop();
    this.#taskPoll = null;
    this.#offTask?.();
    this.#offTask = null;
    // Following an agent, keep watching it: it may start another task.
    if (this.#config.agentId === undefined) this.#releaseLink();
  }

  #releaseLink(): void {
    this.#offStatus?.();
    this.#lease?.release();
    this.#offStatus = null;
    this.#lease = null;
  }

  // ---- socket --------------------------------------------------------------------------------

  readonly #onLinkStatus = (status: LinkStatus): void => {
    switch (status.kind) {
      case 'connecting':
        this.#nextRetryAt = null;
        break;
      case 'down':
        this.#socketUp = false;
        this.#nextRetryAt = status.nextRetryAt;
        if (status.fallback !== null && !this.#fellBack) this.#fallBack(status.fallback);
        else this.#dispatch({ type: 'socket-lost' });
        break;
      case 'open':
      case 'idle':
        break;
    }
    this.#render();
  };

  #socketAnswered(): void {
    this.#socketUp = true;
    this.#fellBack = false;
    this.#nextRetryAt = null;
    this.#stopPolls();
    this.#dispatch({ type: 'snapshot-received' });
  }

  /** Poll over HTTP; the link keeps probing the socket and the first snapshot climbs back. */
  #fallBack(reason: FallbackReason): void {
    this.#fellBack = true;
    this.#socketUp = false;
    this.#dispatch({ type: 'fallback', reason });
    this.#startPolling();
  }

  // ---- polling -------------------------------------------------------------------------------

  #startPolling(): void {
    const link = this.#lease?.link;
    if (!this.#running || this.#browserOffline || !link) return;
    const hidden = this.#deps.document?.hidden ?? false;
    const interval = this.#config.pollIntervalMs;
    const generation = this.#generation;
    const taskId = this.#taskId;
    if (taskId !== null && !this.#merge.complete) {
      this.#taskPoll ??= link.poll(
        {
          taskId,
          cursor: () => this.#merge.cursor,
          onPoll: (result, afterSeq) => this.#onTaskPoll(result, { afterSeq, generation }),
        },
        interval,
        hidden,
      );
    }
    const agentId = this.#config.agentId;
    if (agentId !== undefined) {
      this.#agentPoll ??= link.poll(
        { agentId, cursor: () => null, onPoll: (result) => this.#onAgentPoll(result, this.#generation) },
        interval,
        hidden,
      );
    }
  }

  #stopPolls(): void {
    this.#taskPoll?.stop();
    this.#agentPoll?.stop();
    this.#taskPoll = this.#agentPoll = null;
  }

  #pollNow(): void {
    if (this.#browserOffline) return;
    if (this.#taskPoll) this.#taskPoll.pollNow();
    else if (this.#fellBack) this.#startPolling();
    this.#agentPoll?.pollNow();
  }

  #onTaskPoll(result: PollResult, context: PollContext): void {
    if (context.generation !== this.#generation) return;
    this.#onPollOutcome(result);
    if (result.kind === 'ok' && isTaskStatusPage(result.body)) {
      this.#notFound = false;
      this.#handle(this.#merge.applyPage(result.body, context.afterSeq));
    } else if (result.kind === 'not-found') {
      this.#notFound = true;
    }
    this.#render();
  }

  #onAgentPoll(result: PollResult, generation: number): void {
    if (generation !== this.#generation) return;
    this.#onPollOutcome(result);
    if (result.kind === 'ok' && isActiveTaskResponse(result.body)) this.#onAgentTask(result.body.task);
    else if (result.kind === 'not-found') this.#onAgentTask(null);
    this.#render();
  }

  #onPollOutcome(result: PollResult): void {
    if (result.kind === 'failed') {
      this.#dispatch({ type: 'poll-failed', consecutiveFailures: result.consecutiveFailures });
    } else {
      this.#dispatch({ type: 'poll-ok' });
    }
  }

  #statusUrl(afterSeq: number | null): string {
    return httpUrl(this.#config.endpoint, ROUTES.taskStatus(this.#taskId!), {
      afterSeq: afterSeq ?? undefined,
    });
  }

  #activeTaskUrl(): string {
    return httpUrl(this.#config.endpoint, ROUTES.activeTask(this.#config.agentId!));
  }

  /** A one-off GET, aborted by stop(). */
  async #get(url: string): Promise<HttpResult> {
    const { clock, fetch } = this.#deps;
    const abort = new AbortController();
    const request = { abort, timeout: clock.setTimeout(() => abort.abort(), POLLING.requestTimeoutMs) };
    this.#requests.add(request);
    try {
      return await getJson(fetch, url, { signal: abort.signal, clock });
    } finally {
      if (this.#requests.delete(request)) clock.clearTimeout(request.timeout);
    }
  }

  // ---- browser -------------------------------------------------------------------------------

  readonly #onOffline = (): void => {
    if (this.#finished()) return;
    this.#browserOffline = true;
    this.#stopPolls();
    this.#dispatch({ type: 'browser-offline' });
  };

  readonly #onOnline = (): void => {
    if (this.#finished() || !this.#browserOffline) return;
    this.#browserOffline = false;
    this.#dispatch({ type: 'browser-online', socketUp: this.#socketUp, fellBack: this.#fellBack });
    this.#socket()?.retryNow();
    if (this.#fellBack) this.#startPolling();
    this.#render();
  };

  readonly #onVisibility = (): void => {
    const hidden = this.#deps.document?.hidden ?? false;
    this.#taskPoll?.setHidden(hidden);
    this.#agentPoll?.setHidden(hidden);
  };

  // ---- view ----------------------------------------------------------------------------------

  #dispatch(event: LinkEvent): void {
    this.#state.set(transition(this.#state.value, event));
  }

  #buildView(): FeedView {
    const state = this.#state.value;
    return {
      task: this.#merge.task,
      logs: this.#merge.logs,
      hasOlder: this.#merge.hasOlder,
      connectionState: state,
      nextRetryAt: state === ConnectionState.reconnecting ? this.#nextRetryAt : null,
      problem: this.#merge.complete ? null : this.#problem(state),
      notFound: this.#notFound,
    };
  }

  #problem(state: ConnectionState): string | null {
    switch (state) {
      case ConnectionState.reconnecting:
        return PROBLEMS.reconnecting;
      case ConnectionState.polling:
        return PROBLEMS.polling;
      case ConnectionState.offline:
        return this.#browserOffline ? PROBLEMS.browserOffline : PROBLEMS.offline;
      default:
        return null;
    }
  }

  /** Calls onChange with a new view, only when something in it changed. */
  #render(): void {
    const next = this.#buildView();
    const prev = this.#view;
    const same = (Object.keys(next) as (keyof FeedView)[]).every((key) => Object.is(next[key], prev[key]));
    if (same) return;
    this.#view = next;
    this.#config.onChange(next);
  }
}
