// An agent's handle on its task: say what happens (phase, progress, message, log lines) and it
// reaches the server in order, in batches, each with an Idempotency-Key, retried until stored.
// Only `fetch` and timers: Node 20+, Deno, Bun and browsers.
import { backoffDelay } from '../../widget/connection/backoff.js';
import { taskStatusRoute } from '../../protocol/routes.js';
import type { Phase } from '../../protocol/phases.js';
import type { LogLevel } from '../../protocol/task.js';
import { Outbox, type OutboxLimits, type StatusFields } from './outbox.js';

export interface AgentTaskOptions {
  /** Where the server listens, e.g. `http://localhost:8787`. */
  baseUrl: string;
  /** Defaults to globalThis.fetch. */
  fetch?: typeof fetch;
  /** How long a log line may wait for others to share its POST (ms, default 200). */
  batchDelayMs?: number;
  /** Log lines waiting at most before log() throws OutboxFullError (default 10,000). */
  maxBufferedLines?: number;
  /** Retry delays: full jitter from `retryBaseMs` doubling up to `retryCapMs` (250 ms, 10 s). */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** Told of every failed attempt that will be retried (e.g. to log "server unreachable"). */
  onRetry?: (error: Error, delayMs: number) => void;
  /** An attempt with no answer after this long is abandoned and retried (ms, default 30 s). */
  requestTimeoutMs?: number;
}

/** The server refused a batch in a way a retry cannot fix (e.g. 401, 409): nothing more is sent. */
export class AgentTaskError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'AgentTaskError';
  }
}

/** Statuses worth retrying with the same body and key: the server stored nothing, or may have. */
const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

export class AgentTask {
  readonly id: string;
  readonly agentToken: string;
  readonly #options: Required<Pick<AgentTaskOptions, 'batchDelayMs' | 'retryBaseMs' | 'retryCapMs'>> &
    AgentTaskOptions;
  readonly #outbox: Outbox;
  readonly #fetch: typeof fetch;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sending = false;
  #failure: AgentTaskError | null = null;
  #closed = false;
  /** The last attempt failed and is waiting to be retried: the server is away or refusing. */
  #retrying = false;
  /** Lines the server would not take (the task's log was full: TASK_LOG_MAX_LINES/BYTES). */
  #dropped = 0;
  /** flush() callers: resolved once `delivered` reaches their mark. */
  readonly #waiting: { until: number; resolve: () => void; reject: (error: Error) => void }[] = [];

  constructor(id: string, agentToken: string, options: AgentTaskOptions) {
    this.id = id;
    this.agentToken = agentToken;
    this.#options = { batchDelayMs: 200, retryBaseMs: 250, retryCapMs: 10_000, ...options };
    const limits: Partial<OutboxLimits> = {};
    if (options.maxBufferedLines !== undefined) limits.maxLines = options.maxBufferedLines;
    this.#outbox = new Outbox(limits);
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  phase(phase: Phase): void {
    this.status({ phase });
  }

  /** 0 to 100, or null for "unknown". */
  progress(progress: number | null): void {
    this.status({ progress });
  }

  message(message: string | null): void {
    this.status({ message });
  }

  /** Several fields in one change, e.g. `{ phase: 'completed', progress: 100 }`. */
  status(fields: StatusFields): void {
    this.#usable();
    this.#outbox.addStatus(fields);
    this.#schedule();
  }

  log(message: string, at: Date = new Date()): void {
    this.line('info', message, at);
  }

  warn(message: string, at: Date = new Date()): void {
    this.line('warn', message, at);
  }

  error(message: string, at: Date = new Date()): void {
    this.line('error', message, at);
  }

  line(level: LogLevel, message: string, at: Date = new Date()): void {
    this.#usable();
    this.#outbox.addLine(level, message, at);
    this.#schedule();
  }

  /** Lines waiting to be sent (the batch in flight included). */
  get buffered(): number {
    return this.#outbox.lines;
  }

  /** Whether the last attempt failed and waits to be retried (the server away, or busy). */
  get retrying(): boolean {
    return this.#retrying;
  }

  /**
   * Lines the server refused because the task's log is full (413 log_quota_exceeded): dropped,
   * while status changes still go through.
   */
  get droppedLines(): number {
    return this.#dropped;
  }

  /** Resolves once everything said before the call is stored; rejects if the server refused it. */
  flush(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const until = this.#outbox.added;
    if (this.#outbox.delivered >= until) return Promise.resolve();
    const waited = new Promise<void>((resolve, reject) => this.#waiting.push({ until, resolve, reject }));
    clearTimeout(this.#timer);
    this.#timer = undefined;
    void this.#send();
    return waited;
  }

  /** Flushes, then refuses anything more. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #usable(): void {
    if (this.#failure) throw this.#failure;
    if (this.#closed) throw new Error(`task ${this.id} is closed`);
  }

  #schedule(): void {
    if (this.#sending) return;
    if (this.#outbox.full) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      void this.#send();
    } else {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        void this.#send();
      }, this.#options.batchDelayMs);
    }
  }

  /** One batch at a time, in order, each until stored or refused for good. */
  async #send(): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    try {
      let attempt = 0;
      for (let batch = this.#outbox.next(); batch; batch = this.#outbox.next()) {
        const outcome = await this.#post(batch.body, batch.key);
        if (outcome === 'stored') {
          attempt = 0;
          this.#retrying = false;
          this.#outbox.acknowledge();
          this.#settle();
          // What was said meanwhile waits for company, as after a pause, unless someone waits.
          if (this.#waiting.length === 0 && !this.#outbox.full) break;
          continue;
        }
        if (outcome instanceof AgentTaskError) {
          if (outcome.code === 'payload_too_large' && (batch.body.logs?.length ?? 0) > 1) {
            this.#outbox.shrink();
            continue;
          }
          if (outcome.code === 'log_quota_exceeded' || outcome.code === 'payload_too_large') {
            // The log is full (or one line is over the server's body limit): the lines go, what
            // the batch says of the status still goes.
            this.#dropped += batch.body.logs?.length ?? 0;
            if (!this.#outbox.withoutLines()) {
              this.#outbox.acknowledge();
              this.#settle();
            }
            continue;
          }
          this.#fail(outcome);
          return;
        }
        this.#retrying = true;
        const delay =
          outcome.retryAfterMs ??
          backoffDelay(attempt, {
            baseMs: this.#options.retryBaseMs,
            capMs: this.#options.retryCapMs,
          });
        attempt += 1;
        this.#options.onRetry?.(outcome.error, delay);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    } finally {
      this.#sending = false;
    }
    // Said while the last batch was in flight, and not yet full enough to go at once.
    if (!this.#outbox.empty) this.#schedule();
  }

  async #post(
    body: unknown,
    key: string,
  ): Promise<'stored' | AgentTaskError | { error: Error; retryAfterMs?: number }> {
    let response: Response;
    try {
      response = await this.#fetch(new URL(taskStatusRoute(this.id), this.#options.baseUrl), {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Authorization: `Bearer ${this.agentToken}`,
          'Idempotency-Key': key,
        },
        body: JSON.stringify(body),
        // An answer that never comes is a lost one: retried (same key) rather than waited on.
        signal: AbortSignal.timeout(this.#options.requestTimeoutMs ?? 30_000),
      });
    } catch (error) {
      // Unreachable, reset, or cut off mid-answer: the same key makes the retry safe either way.
      return { error: error as Error };
    }
    if (response.ok) {
      await response.body?.cancel();
      return 'stored';
    }
    const { code, message } = await errorOf(response);
    const error = new AgentTaskError(`${response.status} ${code}: ${message}`, response.status, code);
    if (!RETRYABLE.has(response.status)) return error;
    const retryAfter = Number(response.headers.get('retry-after'));
    return { error, ...(retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
  }

  #settle(): void {
    const delivered = this.#outbox.delivered;
    for (let i = this.#waiting.length - 1; i >= 0; i--) {
      if (this.#waiting[i]!.until <= delivered) this.#waiting.splice(i, 1)[0]!.resolve();
    }
  }

  #fail(error: AgentTaskError): void {
    this.#failure = error;
    this.#outbox.discard();
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
  }
}

/** The error body's code and message, or the status text when the body is not ours. */
export async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  const text = await response.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string } };
    if (typeof error?.code === 'string') return { code: error.code, message: error.message };
  } catch {
    // Not JSON: a proxy's page, say.
  }
  return { code: 'http_error', message: text.slice(0, 200) || response.statusText };
}
