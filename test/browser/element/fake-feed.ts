// A TaskFeed the tests drive by hand: the element only renders FeedViews, so the real connection
// (tested on its own) stays out of these tests.
import type { LogEntry, Task } from '../../../protocol/task.js';
import type {
  FeedView,
  TaskFeed,
  TaskFeedConfig,
  TaskFeedFactory,
} from '../../../widget/connection/task-feed-types.js';
import { IDLE_VIEW } from '../../../widget/task-status-controller.js';

export class FakeFeed implements TaskFeed {
  view: FeedView = IDLE_VIEW;
  running = false;
  starts = 0;
  stops = 0;
  retries = 0;
  refreshes = 0;
  olderLoads = 0;
  /** Every token the element handed over after the feed was made. */
  readonly tokens: (string | null)[] = [];
  readonly config: TaskFeedConfig;

  constructor(config: TaskFeedConfig) {
    this.config = config;
  }

  start(): void {
    if (this.running) throw new Error('started twice');
    this.running = true;
    this.starts++;
  }

  stop(): void {
    if (!this.running) throw new Error('stopped while stopped');
    this.running = false;
    this.stops++;
  }

  retryNow(): void {
    this.retries++;
  }

  refresh(): void {
    this.refreshes++;
  }

  loadOlder(): Promise<void> {
    this.olderLoads++;
    return Promise.resolve();
  }

  setToken(token: string | null): void {
    this.tokens.push(token);
  }

  /** Publishes a new view, as the real feed does on every change. */
  emit(patch: Partial<FeedView>): void {
    this.view = { ...this.view, ...patch };
    this.config.onChange(this.view);
  }
}

/** Records every feed made, so tests can count starts and stops across elements. */
export class FakeFeeds {
  readonly made: FakeFeed[] = [];

  readonly factory: TaskFeedFactory = (config) => {
    const feed = new FakeFeed(config);
    this.made.push(feed);
    return feed;
  };

  get last(): FakeFeed {
    const feed = this.made.at(-1);
    if (!feed) throw new Error('no feed was made');
    return feed;
  }

  get running(): number {
    return this.made.filter((f) => f.running).length;
  }
}

export function makeTask(patch: Partial<Task> = {}): Task {
  return {
    id: 't-1',
    agentId: 'agent-7',
    title: null,
    phase: 'running',
    progress: null,
    message: null,
    seq: 1,
    createdAt: '2026-11-24T12:00:00.000Z',
    updatedAt: '2026-11-24T12:00:00.000Z',
    ...patch,
  };
}

export function logLines(from: number, count: number, level: LogEntry['level'] = 'info'): LogEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    seq: from + i,
    at: new Date(Date.UTC(2026, 10, 24, 12, 0, from + i)).toISOString(),
    level,
    message: `line ${from + i}`,
  }));
}
