import type { backoffDelay } from './backoff.js';
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
  /**
   * backoff.ts's, passed in rather than imported: the poller is loaded on demand
   * (http-parts.ts), and a module it shared with the main file would become a file of its own.
   */
  backoff: typeof backoffDelay;
  /** Between polls while all is well; while the tab is hidden, max(interval × 6, 30 s). */
  intervalMs: number;
  /**
   * The next request. Asked at each attempt because the URL follows the caller's cursor; the
   * context travels with the result (e.g. which cursor the answer belongs to); `token`, a viewer
   * token, goes in the Authorization header.
   */
  request(): { url: string; context: C; token?: string | null };
  onResult(result: PollResult, context: C): void;
}

export interface Poller {
  readonly running: boolean;
  readonly consecutiveFailures: number;
  /** Polls at once, then on schedule. */
  start(): void;
  stop(): void;
  /** Catch up now (Refresh, back online, more pages waiting); supersedes an attempt in flight. */
  pollNow(): void;
  /** Becoming visible again polls at once: the reader is back and the data may be minutes old. */
  setHidden(hidden: boolean): void;
}

/**
 * Polls one JSON route: ETag revalidation per URL, the interval while all is well, backoff (and
 * Retry-After) on errors, slower while hidden. Each attempt has an id and an AbortController;
 * a superseded attempt's result is dropped, never delivered. A closure, not a class: its state
 * minifies to one-letter names (issue 7, the size budget).
 */
export function poller<C>(config: PollerConfig<C>): Poller {
  const { clock } = config;
  let running = false;
  let hidden = false;
  let attempt = 0;
  let failures = 0;
  let timer: unknown;
  let abort: AbortController | null = null;
  let etag: { url: string; value: string } | null = null;

  function cancel(): void {
    attempt++;
    abort?.abort();
    abort = null;
    clock.clearTimeout(timer);
  }

  async function poll(): Promise<void> {
    const id = ++attempt;
    const { url, context, token } = config.request();
    const mine = (abort = new AbortController());
    const result = await getJson(config.fetch, url, {
      abort: mine,
      etag: etag?.url === url ? etag.value : null,
      token,
      clock,
    });
    if (id !== attempt) return;
    abort = null;
    failures = result.kind === 'failed' ? failures + 1 : 0;
    if (result.kind === 'ok') etag = result.etag === null ? null : { url, value: result.etag };
    const delay = nextDelay(result);
    config.onResult({ ...result, consecutiveFailures: failures }, context);
    // onResult may have stopped us or asked for the next page already.
    if (id === attempt && running) timer = clock.setTimeout(poll, delay);
  }

  function nextDelay(result: HttpResult): number {
    const { intervalMs, random } = config;
    const interval = hidden ? Math.max(intervalMs * HIDDEN_SLOWDOWN, HIDDEN_MIN_MS) : intervalMs;
    if (result.kind !== 'failed') return interval;
    // Never sooner than the interval: jitter only spreads the extra wait.
    const extra = config.backoff(failures - 1, { baseMs: intervalMs, capMs: MAX_ERROR_DELAY_MS, random });
    return Math.max(interval + extra, result.retryAfterMs ?? 0);
  }

  const self: Poller = {
    get running() {
      return running;
    },
    get consecutiveFailures() {
      return failures;
    },
    start() {
      if (running) return;
      running = true;
      failures = 0;
      void poll();
    },
    stop() {
      running = false;
      cancel();
    },
    pollNow() {
      if (!running) return;
      cancel();
      void poll();
    },
    setHidden(next) {
      const wasHidden = hidden;
      hidden = next;
      if (wasHidden && !next) self.pollNow();
    },
  };
  return self;
}
