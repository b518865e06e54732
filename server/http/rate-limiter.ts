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
 * A token bucket per key (an agent token, or a client address: see abuse-limits.ts). Smoother than
 * a fixed window: no double burst at a window edge. Memory is bounded; forgetting a key only hands
 * it a full bucket again, so churning keys needs many valid tokens, or many addresses (an IPv6
 * client counts as its /64).
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
    const tokens = this.#tokens(key, now);
    // Re-insert so Map order is least-recently-used first.
    this.#buckets.delete(key);
    if (tokens >= 1) {
      this.#remember(key, { tokens: tokens - 1, updatedAt: now });
      return { allowed: true };
    }
    this.#remember(key, { tokens, updatedAt: now });
    return this.#refused(tokens);
  }

  /**
   * What `take` would answer, spending nothing: for budgets spent only on failure (failed token
   * checks), asked before the check so a caller out of budget gets no further guess.
   */
  peek(key: string): RateDecision {
    const tokens = this.#tokens(key, this.#now());
    return tokens >= 1 ? { allowed: true } : this.#refused(tokens);
  }

  peekNow(key: string): RateDecision {
    return this.peek(key);
  }

  #tokens(key: string, now: number): number {
    const previous = this.#buckets.get(key);
    return previous
      ? Math.min(this.#capacity, previous.tokens + (now - previous.updatedAt) * this.#perMs)
      : this.#capacity;
  }

  #refused(tokens: number): RateDecision {
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
