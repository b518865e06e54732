import { backoffDelay } from './backoff.js';
import type { Clock } from './clock.js';
import { getJson, REQUEST_TIMEOUT_MS, type FetchLike, type HttpResult } from './http-get.js';

// Plain constants, which the bundler inlines; POLLING gathers them for tests and docs.
/** Errors back off from the interval up to this (Retry-After can ask for more). */
const MAX_ERROR_DELAY_MS = 60_000;
/** Hidden tabs poll this many times less often, and at most every HIDDEN_MIN_MS. */
const HIDDEN_SLOWDOWN = 6;
const HIDDEN_MIN_MS = 30_000;

export const POLLING = {
  /** A request that has not answered by then is aborted and counts as a failure. */
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  maxErrorDelayMs: MAX_ERROR_DELAY_MS,
  hiddenSlowdown: HIDDEN_SLOWDOWN,
  hiddenMinMs: HIDDEN_MIN_MS,
} as const;

export type PollResult = HttpResult & { consecutiveFailures: number };

export interface PollerConfig<C> {
  clock: Clock;
  fetch: FetchLike;
  random?: () => number;
  /** Between polls while all is well; while the tab is hidden, max(interval × 6, 30 s). */
  intervalMs: number;
  /**
   * The next request. Asked at each attempt because the URL follows the caller's cursor; the
   * context travels with the result (e.g. which cursor the answer belongs to).
   */
  request(): { url: string; context: C };
  onResult(result: PollResult, context: C): void;
}

/**
 * Polls one JSON route: ETag revalidation per URL, the interval while all is well, backoff (and
 * Retry-After) on errors, slower while hidden. Each attempt has an id and an AbortController;
 * a superseded attempt's result is dropped, never delivered.
 */
export class Poller<C> {
  readonly #config: PollerConfig<C>;
  #running = false;
  #hidden = false;
  #attempt = 0;
  #failures = 0;
  #timer: unknown;
  #abort: AbortController | null = null;
  #etag: { url: string; value: string } | null = null;

  constructor(config: PollerConfig<C>) {
    this.#config = config;
  }

  get running(): boolean {
    return this.#running;
  }

  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** Polls at once, then on schedule. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#failures = 0;
    void this.#poll();
  }

  stop(): void {
    this.#running = false;
    this.#cancel();
  }

  /** Catch up now (Refresh, back online, more pages waiting); supersedes an attempt in flight. */
  pollNow(): void {
    if (!this.#running) return;
    this.#cancel();
    void this.#poll();
  }

  /** Becoming visible again polls at once: the reader is back and the data may be minutes old. */
  setHidden(hidden: boolean): void {
    const wasHidden = this.#hidden;
    this.#hidden = hidden;
    if (wasHidden && !hidden) this.pollNow();
  }

  #cancel(): void {
    this.#attempt++;
    this.#abort?.abort();
    this.#abort = null;
    this.#config.clock.clearTimeout(this.#timer);
  }

  async #poll(): Promise<void> {
    const config = this.#config;
    const id = ++this.#attempt;
    const { url, context } = config.request();
    const abort = (this.#abort = new AbortController());
    const etag = this.#etag?.url === url ? this.#etag.value : null;
    const result = await getJson(config.fetch, url, { abort, etag, clock: config.clock });
    if (id !== this.#attempt) return;
    this.#abort = null;
    this.#failures = result.kind === 'failed' ? this.#failures + 1 : 0;
    if (result.kind === 'ok') this.#etag = result.etag === null ? null : { url, value: result.etag };
    const delay = this.#nextDelay(result);
    config.onResult({ ...result, consecutiveFailures: this.#failures }, context);
    // onResult may have stopped us or asked for the next page already.
    if (id === this.#attempt && this.#running)
      this.#timer = config.clock.setTimeout(() => this.#poll(), delay);
  }

  #nextDelay(result: HttpResult): number {
    const { intervalMs, random } = this.#config;
    const interval = this.#hidden ? Math.max(intervalMs * HIDDEN_SLOWDOWN, HIDDEN_MIN_MS) : intervalMs;
    if (result.kind !== 'failed') return interval;
    // Never sooner than the interval: jitter only spreads the extra wait.
    const extra = backoffDelay(this.#failures - 1, {
      baseMs: intervalMs,
      capMs: MAX_ERROR_DELAY_MS,
      random,
    });
    return Math.max(interval + extra, result.retryAfterMs ?? 0);
  }
}
