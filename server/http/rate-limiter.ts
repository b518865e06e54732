/** Keys remembered at most; beyond, the least recently used key is forgotten. */
export const RATE_LIMIT_KEYS_MAX = 10_000;

export interface RateLimiterConfig {
  /** Sustained requests per minute per key; also the burst a fresh key may spend at once. */
  perMinute: number;
  maxKeys?: number;
  /** Milliseconds clock, for tests. */
  now?: () => number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * A token bucket per key (here: per agent token). Smoother than a fixed window: no double burst at
 * a window edge. Memory is bounded; forgetting a key only hands it a full bucket again, and only
 * authenticated callers reach the limiter, so churning keys needs many valid tokens.
 */
export class RateLimiter {
  readonly #perMs: number;
  readonly #capacity: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor({ perMinute, maxKeys = RATE_LIMIT_KEYS_MAX, now = Date.now }: RateLimiterConfig) {
    this.#capacity = perMinute;
    this.#perMs = perMinute / 60_000;
    this.#maxKeys = maxKeys;
    this.#now = now;
  }

  take(key: string): RateDecision {
    const now = this.#now();
    const previous = this.#buckets.get(key);
    const tokens = previous
      ? Math.min(this.#capacity, previous.tokens + (now - previous.updatedAt) * this.#perMs)
      : this.#capacity;
    // Re-insert so Map order is least-recently-used first.
    this.#buckets.delete(key);
    if (tokens >= 1) {
      this.#remember(key, { tokens: tokens - 1, updatedAt: now });
      return { allowed: true };
    }
    this.#remember(key, { tokens, updatedAt: now });
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.#perMs / 1000)) };
  }

  get size(): number {
    return this.#buckets.size;
  }

  #remember(key: string, bucket: Bucket): void {
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value as string);
  }
}
