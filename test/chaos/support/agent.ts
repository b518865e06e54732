// A simulated agent for chaos tests: creates a task and posts numbered log lines at a steady
// rate, the way a real agent would through a flaky server: each batch is retried with the same
// Idempotency-Key until it is acknowledged, so a batch stored but not answered is not stored twice.
import {
  ROUTES,
  type CreateTaskResponse,
  type LogEntry,
  type LogsPage,
  type StatusUpdateInput,
  type Task,
} from '../../../protocol/index.js';

/** Between retries of an unanswered post: the agent's own pacing, not a test wait. */
const RETRY_DELAY_MS = 100;

export interface StoredLog {
  task: Task;
  lines: LogEntry[];
}

export class Agent {
  readonly taskId: string;
  readonly #token: string;
  readonly #baseUrl: () => string;
  #next = 1;
  #posts = 0;
  /** Posts answered 200, in order. */
  readonly acknowledged: Task[] = [];
  /** The highest line number acknowledged so far (lines are acknowledged in order). */
  acknowledgedLines = 0;
  /** Attempts that got no answer or a 5xx (the server was down or going down). */
  failedAttempts = 0;
  #queue: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | null = null;
  readonly #errors: unknown[] = [];
  #disposed = false;

  private constructor(baseUrl: () => string, created: CreateTaskResponse) {
    this.#baseUrl = baseUrl;
    this.taskId = created.task.id;
    this.#token = created.agentToken;
  }

  /** Creates a task as a dispatcher would; `baseUrl` is asked anew on every request. */
  static async create(baseUrl: () => string, agentId = 'chaos-agent', title = 'chaos'): Promise<Agent> {
    const response = await fetch(baseUrl() + ROUTES.tasks, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agentId, title }),
    });
    if (response.status !== 201) throw new Error(`create: ${response.status} ${await response.text()}`);
    return new Agent(baseUrl, (await response.json()) as CreateTaskResponse);
  }

  /** Lines posted so far are numbered 1..linesQueued. */
  get linesQueued(): number {
    return this.#next - 1;
  }

  /**
   * Queues a post of `count` new lines (and `extra` fields); posts go out one at a time, in order,
   * each retried until acknowledged. Resolves with the acknowledged task.
   */
  post(count: number, extra: Omit<StatusUpdateInput, 'logs'> = {}, lineSize = 0): Promise<Task> {
    const logs = Array.from({ length: count }, () => {
      const n = this.#next++;
      return { message: lineSize > 0 ? `line-${n} ${'x'.repeat(lineSize)}` : `line-${n}` };
    });
    const key = `${this.taskId}-post-${++this.#posts}`;
    const update: StatusUpdateInput = { ...extra, ...(logs.length > 0 ? { logs } : {}) };
    const last = this.#next - 1;
    const sent = this.#queue
      .then(() => this.#postUntilAcknowledged(update, key))
      .then((task) => {
        this.acknowledgedLines = Math.max(this.acknowledgedLines, last);
        return task;
      });
    this.#queue = sent.then(
      () => {},
      () => {},
    );
    return sent;
  }

  /** Posts `linesPerSecond` lines a second, in batches every `everyMs`, until stop(). */
  start(linesPerSecond: number, everyMs = 100): void {
    const perBatch = Math.max(1, Math.round((linesPerSecond * everyMs) / 1000));
    this.#timer = setInterval(() => {
      this.post(perBatch).catch((error: unknown) => this.#errors.push(error));
    }, everyMs);
  }

  /** Stops the steady posting; resolves once every queued post is acknowledged. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#queue;
    if (this.#errors.length > 0) throw this.#errors[0];
  }

  /** Stops at once, abandoning posts not yet acknowledged (cleanup after a failed test). */
  dispose(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#disposed = true;
  }

  /**
   * Everything stored for the task: its status and every log line, read forward page by page.
   * Through a balancer, an instance may answer from a head up to HEAD_FRESH_MS old (a write
   * through another instance shows there that late): then read again until the head holds every
   * acknowledged post.
   */
  async stored(timeoutMs = 15_000): Promise<StoredLog> {
    const deadline = Date.now() + timeoutMs;
    const acknowledgedSeq = this.acknowledged.at(-1)?.seq ?? 0;
    for (;;) {
      const log = await this.#readStored();
      if (log.task.seq >= acknowledgedSeq && (log.lines.at(-1)?.seq ?? 0) <= log.task.seq) {
        if (log.lines.length >= this.acknowledgedLines || Date.now() > deadline) return log;
      }
      if (Date.now() > deadline) return log;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async #readStored(): Promise<StoredLog> {
    const base = this.#baseUrl();
    const status = await fetch(base + ROUTES.taskStatus(this.taskId) + '?limit=1');
    if (status.status !== 200) throw new Error(`status: ${status.status}`);
    const { task } = (await status.json()) as { task: Task };
    const lines: LogEntry[] = [];
    let afterSeq = 0;
    for (;;) {
      const response = await fetch(`${base}${ROUTES.taskLogs(this.taskId)}?afterSeq=${afterSeq}&limit=1000`);
      if (response.status !== 200) throw new Error(`logs: ${response.status}`);
      const page = (await response.json()) as LogsPage;
      lines.push(...page.logs);
      if (!page.hasMore) break;
      afterSeq = page.nextAfterSeq;
    }
    return { task, lines };
  }

  async #postUntilAcknowledged(update: StatusUpdateInput, key: string): Promise<Task> {
    for (;;) {
      if (this.#disposed) throw new Error('agent disposed');
      try {
        const response = await fetch(this.#baseUrl() + ROUTES.taskStatus(this.taskId), {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${this.#token}`,
            'idempotency-key': key,
          },
          body: JSON.stringify(update),
        });
        const body = (await response.json()) as { task?: Task };
        if (response.status === 200 && body.task) {
          this.acknowledged.push(body.task);
          return body.task;
        }
        if (response.status < 500 && response.status !== 429) {
          throw new Error(`post answered ${response.status}: ${JSON.stringify(body)}`);
        }
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('post answered')) throw error;
      }
      this.failedAttempts += 1;
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
    }
  }
}

/** "line-17 xxx…" → 17; NaN for a line the agent did not write. */
export function lineNumber(message: string): number {
  return Number(/^line-(\d+)/.exec(message)?.[1]);
}
