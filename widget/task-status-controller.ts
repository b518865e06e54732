import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { FeedView, TaskFeed, TaskFeedConfig, TaskFeedFactory } from './connection/task-feed-types.js';

/** What the host wants to follow; `endpoint` defaults to the page's origin. */
export interface TaskStatusSettings {
  endpoint?: string | undefined;
  taskId?: string | undefined;
  agentId?: string | undefined;
  mode: TaskFeedConfig['mode'];
  pollIntervalMs: number;
  /** A viewer token; a new one is handed to the running feed, which goes on with it. */
  accessToken?: string | null | undefined;
  /** Asked for a fresh viewer token before expiry and on refusal (TaskFeedConfig.tokenProvider). */
  tokenProvider?: (() => Promise<string | null>) | null | undefined;
}

export interface TaskStatusControllerConfig {
  /** The host's current settings; read before each host update. */
  settings(): TaskStatusSettings;
  /** Called on every new view with the one it replaces, before the host re-renders. */
  onViewChange?(next: FeedView, previous: FeedView): void;
  /** Makes the feed; defaults to the factory given to `setDefaultFeedFactory`. */
  factory?: TaskFeedFactory;
}

/** The view while there is nothing to follow (no task-id or agent-id yet). */
export const IDLE_VIEW: FeedView = Object.freeze({
  task: null,
  logs: [],
  hasOlder: false,
  connectionState: 'connecting',
  nextRetryAt: null,
  problem: null,
  notFound: false,
});

let defaultFactory: TaskFeedFactory | undefined;

/**
 * Sets the factory every controller without its own uses. The widget's entry module passes the
 * real `createTaskFeed`; the element and this controller never import the connection code, so
 * tests (and other transports) inject their own.
 */
export function setDefaultFeedFactory(factory: TaskFeedFactory | undefined): void {
  defaultFactory = factory;
}

/**
 * Owns one TaskFeed for its host. The feed is made on the first host update after the settings
 * name a task or agent (so attributes set right after connecting don't make a throwaway feed,
 * and an entry module can call `setDefaultFeedFactory` after defining the element), remade when
 * the settings change, started while the host is connected and stopped while it is not.
 */
export class TaskStatusController implements ReactiveController {
  readonly #host: ReactiveControllerHost;
  readonly #config: TaskStatusControllerConfig;
  #feed: TaskFeed | undefined;
  /** Identifies the current feed's settings; views from a replaced feed are dropped. */
  #key: string | undefined;
  #running = false;
  #connected = false;
  /** The viewer token the feed was given last. */
  #token: string | null | undefined;
  #current: FeedView = IDLE_VIEW;

  constructor(host: ReactiveControllerHost, config: TaskStatusControllerConfig) {
    this.#host = host;
    this.#config = config;
    host.addController(this);
  }

  /** The latest view of the feed (IDLE_VIEW while there is nothing to follow). */
  get view(): FeedView {
    return this.#current;
  }

  hostConnected(): void {
    this.#connected = true;
    if (this.#feed) this.#setRunning(true);
    // Makes the feed (or a newer one) when the host's next update reads the settings.
    else this.#host.requestUpdate();
  }

  hostDisconnected(): void {
    this.#connected = false;
    this.#setRunning(false);
  }

  hostUpdate(): void {
    const s = this.#config.settings();
    const endpoint = s.endpoint || location.origin;
    const follows = Boolean(s.taskId || s.agentId);
    const key = follows
      ? JSON.stringify([endpoint, s.taskId, s.agentId, s.mode, s.pollIntervalMs])
      : undefined;
    if (key === this.#key && (this.#feed || !follows)) {
      if (this.#feed && s.accessToken !== this.#token)
        this.#feed.setToken((this.#token = s.accessToken) ?? null);
      return;
    }

    this.#setRunning(false);
    this.#feed = undefined;
    this.#key = key;
    if (key === undefined) {
      this.#apply(IDLE_VIEW);
      return;
    }
    const factory = this.#config.factory ?? defaultFactory;
    // Only a host that imports the element without the entry (widget/index.ts) gets here.
    if (!factory)
      throw new Error('agent-task-status: no feed; import the widget entry or call setDefaultFeedFactory()');
    const feed = factory({
      endpoint,
      taskId: s.taskId || undefined,
      agentId: s.agentId || undefined,
      mode: s.mode,
      pollIntervalMs: s.pollIntervalMs,
      accessToken: (this.#token = s.accessToken) ?? null,
      // The host's provider as it is when asked: it may be set after the feed was made.
      tokenProvider: async () => (await this.#config.settings().tokenProvider?.()) ?? null,
      onChange: (view) => {
        if (this.#feed === feed) this.#apply(view);
      },
    });
    this.#feed = feed;
    this.#apply(feed.view);
    if (this.#connected) this.#setRunning(true);
  }

  /** Skips the reconnect wait (the "Retry now" button). */
  retryNow(): void {
    this.#feed?.retryNow();
  }

  /** Fetches the status now (the "Refresh" button). */
  refresh(): void {
    this.#feed?.refresh();
  }

  /** Loads the lines before the oldest one held. */
  loadOlder(): Promise<void> {
    return this.#feed ? this.#feed.loadOlder() : Promise.resolve();
  }

  #setRunning(run: boolean): void {
    if (!this.#feed || run === this.#running) return;
    this.#running = run;
    if (run) this.#feed.start();
    else this.#feed.stop();
  }

  #apply(next: FeedView): void {
    const previous = this.#current;
    if (next === previous) return;
    this.#current = next;
    this.#config.onViewChange?.(next, previous);
    this.#host.requestUpdate();
  }
}
