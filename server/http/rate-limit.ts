import { ApiError } from './api-error.js';
import type { RateDecision } from './rate-limiter.js';
import type { Limiter } from './shared-rate-limiter.js';

/**
 * 429 `rate_limited` with Retry-After once `key` has spent its budget; returns when allowed.
 * `advice` ends the message: what was limited and what to do. No limiter: that limit is off (its
 * setting is 0).
 */
export async function enforceRateLimit(limiter: Limiter | null, key: string, advice: string): Promise<void> {
  if (!limiter) return;
  throwIfRefused(await limiter.take(key), advice);
}

/** As enforceRateLimit, for a budget spent elsewhere (failed token checks): spends nothing. */
export async function enforceSpentBudget(
  limiter: Limiter | null,
  key: string,
  advice: string,
): Promise<void> {
  if (!limiter) return;
  throwIfRefused(await limiter.peek(key), advice);
}

function throwIfRefused(decision: RateDecision, advice: string): void {
  if (decision.allowed) return;
  const seconds = decision.retryAfterSeconds;
  throw new ApiError(429, 'rate_limited', `${advice}; retry in ${seconds} s`, {
    details: { retryAfterSeconds: seconds },
    headers: { 'Retry-After': String(seconds) },
  });
}
