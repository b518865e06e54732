// Defaults for reconnecting; see backoffDelay and RetryTracker. Plain constants, which the
// bundler inlines (an object's properties it cannot); BACKOFF gathers them for tests and docs.
export const BASE_MS = 500;
export const CAP_MS = 30_000;
/**
 * After a restart (close 1012/1013) every client reconnects at once. Spreading the first retry
 * over this window keeps any 100 ms slice under 5% of them (1,000 clients: about 2%).
 */
export const RESTART_SPREAD_MS = 5_000;
/** A link must stay up this long before its retry count resets (a flapping server cannot reset it). */
export const STABLE_MS = 5_000;

export const BACKOFF = {
  baseMs: BASE_MS,
  capMs: CAP_MS,
  restartSpreadMs: RESTART_SPREAD_MS,
  stableMs: STABLE_MS,
} as const;

export interface BackoffConfig {
  baseMs?: number;
  capMs?: number;
  /** Uniform in [0, 1); tests pass a seeded PRNG. */
  random?: () => number;
}

/**
 * "Full jitter" (AWS Architecture Blog, Exponential Backoff And Jitter): uniform in
 * [0, min(cap, base·2^attempt)]. Spreading over the whole range, not around a centre, is what
 * keeps clients that failed together from retrying together.
 */
export function backoffDelay(attempt: number, config: BackoffConfig = {}): number {
  const { baseMs = BASE_MS, capMs = CAP_MS, random = Math.random } = config;
  return Math.round(random() * Math.min(capMs, baseMs * 2 ** Math.max(0, attempt)));
}

/**
 * The delay before retry `attempt`, `restarting` after a restart close (1012/1013) until a server
 * says hello. The retry of an attempt that failed because the server was not listening yet draws
 * from the same spread window instead of twice it: a client that tried in the first milliseconds
 * still gets in within about RESTART_SPREAD_MS, not 10 s later. Attempts after that grow as usual.
 */
export function retryDelay(attempt: number, restarting: boolean, config: BackoffConfig = {}): number {
  return restarting
    ? backoffDelay(Math.max(0, attempt - 1), { ...config, baseMs: RESTART_SPREAD_MS })
    : backoffDelay(attempt, config);
}

/**
 * Counts consecutive failed attempts. The count resets only when a link that came up stayed up
 * for `stableMs`; a link that opens and drops at once keeps counting, so it still reaches the
 * fallback threshold and its delays keep growing.
 */
export interface RetryTracker {
  /** Consecutive failures so far (0 after a stable link). */
  readonly failures: number;
  /** The link became usable at `now`. */
  up(now: number): void;
  /**
   * The link (or an attempt) failed at `now`. `healthy: false` says it failed at its job even
   * though it was up (e.g. no answer to a subscribe), so uptime does not count. `restarted`: the
   * server closed a link that was up because it restarts (1012): not the link failing, so it
   * counts as stable however short (a rolling restart moves a socket several times).
   * Returns the attempt number to compute the next delay with (0 for the first retry).
   */
  down(now: number, healthy?: boolean, restarted?: boolean): number;
  reset(): void;
}

/** A closure, not a class: its state minifies to one-letter names (issue 7, the size budget). */
export function retryTracker(stableMs: number = STABLE_MS): RetryTracker {
  let failures = 0;
  let upSince: number | null = null;
  return {
    get failures() {
      return failures;
    },
    up(now) {
      upSince = now;
    },
    down(now, healthy = true, restarted) {
      if (healthy && upSince !== null && (restarted || now - upSince >= stableMs)) failures = 0;
      upSince = null;
      return failures++;
    },
    reset() {
      failures = 0;
      upSince = null;
    },
  };
}
