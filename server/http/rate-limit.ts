import { ApiError } from './api-error.js';
import type { RateLimiter } from './rate-limiter.js';

/**
 * 429 `rate_limited` with Retry-After once an agent token has spent its budget; returns when
 * allowed. Called after the token is checked (its key is the token's hash), so strangers cannot
 * drain an agent's budget. No limiter: limiting is off (RATE_LIMIT_PER_MINUTE=0).
 */
export function enforceRateLimit(limiter: RateLimiter | null, key: string): void {
  if (!limiter) return;
  const decision = limiter.take(key);
  if (!decision.allowed) {
    throw new ApiError(
      429,
      'rate_limited',
      `too many status posts for this task; retry in ${decision.retryAfterSeconds} s, or batch log lines into fewer posts`,
      {
        details: { retryAfterSeconds: decision.retryAfterSeconds },
        headers: { 'Retry-After': String(decision.retryAfterSeconds) },
      },
    );
  }
}
