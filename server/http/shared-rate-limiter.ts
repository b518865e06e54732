import type { RateDecision, RateLimiter } from './rate-limiter.js';

/**
 * A limit shared by every instance through Redis (issue 14): without it, N instances behind a
 * balancer would each allow the whole budget, N times it in all. The same token bucket as
 * RateLimiter (burst `perMinute`, refilling at `perMinute` a minute), kept in Redis as GCRA (one
 * key per bucket: the time at which it would be full again, which is all a token bucket needs),
 * decided by one script call per request, atomic on Redis's side. While Redis cannot be asked,
 * each instance falls back to its own bucket (the limits hold per instance, as without Redis).
 */

/** What a limit needs of Redis: one command link that fails at once while it is down. */
export interface RedisCommands {
  readonly isReady: boolean;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** A limit as the routes use it: the local RateLimiter, or a shared one. */
export interface Limiter {
  take(key: string): RateDecision | Promise<RateDecision>;
  /** What `take` would answer, spending nothing. */
  peek(key: string): RateDecision | Promise<RateDecision>;
  /**
   * `peek` for a caller that cannot wait (a WebSocket `authorize`, which must apply before the
   * client's next message): a shared limit answers from what it last heard from Redis.
   */
  peekNow(key: string): RateDecision;
}

/**
 * KEYS[1]: the bucket. ARGV: ms per token, capacity, 1 to take / 0 to peek. Returns
 * {1, 0} when allowed, {0, ms until a token is there} when not. Redis's own clock, so instances'
 * clocks need not agree.
 */
const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local after = tat + interval
local allowAt = after - interval * capacity
if allowAt > now then return {0, allowAt - now} end
if ARGV[3] == '1' then redis.call('SET', KEYS[1], after, 'PX', math.ceil(after - now)) end
return {1, 0}
`;

/** Keys a shared limit remembers Redis refusing (for peekNow); the oldest go first. */
const REFUSED_KEYS_MAX = 10_000;

export class SharedRateLimiter implements Limiter {
  readonly #interval: number;
  /** Keys Redis refused, and until when (epoch ms): what peekNow knows of the shared budget. */
  readonly #refusedUntil = new Map<string, number>();
  #warned = false;

  constructor(
    private readonly name: string,
    private readonly perMinute: number,
    private readonly redis: RedisCommands,
    /** The fallback while Redis cannot be asked; its answers then stand alone. */
    private readonly local: RateLimiter,
    private readonly prefix = 'ats:',
    private readonly log: Pick<Console, 'warn'> = console,
  ) {
    this.#interval = 60_000 / perMinute;
  }

  take(key: string): Promise<RateDecision> | RateDecision {
    return this.#ask(key, true);
  }

  peek(key: string): Promise<RateDecision> | RateDecision {
    return this.#ask(key, false);
  }

  peekNow(key: string): RateDecision {
    const until = this.#refusedUntil.get(key);
    if (until !== undefined) {
      const waitMs = until - Date.now();
      if (waitMs > 0) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
      this.#refusedUntil.delete(key);
    }
    return this.local.peek(key);
  }

  #ask(key: string, take: boolean): Promise<RateDecision> | RateDecision {
    const fallback = () => (take ? this.local.take(key) : this.local.peek(key));
    if (!this.redis.isReady) return fallback();
    return this.redis
      .eval(GCRA, {
        keys: [`${this.prefix}limit:${this.name}:${key}`],
        arguments: [String(this.#interval), String(this.perMinute), take ? '1' : '0'],
      })
      .then(
        (reply) => {
          this.#warned = false;
          const [allowed, waitMs] = reply as [number, number];
          if (allowed === 1) return { allowed: true as const };
          this.#refusedUntil.delete(key);
          this.#refusedUntil.set(key, Date.now() + waitMs);
          if (this.#refusedUntil.size > REFUSED_KEYS_MAX) {
            this.#refusedUntil.delete(this.#refusedUntil.keys().next().value as string);
          }
          return { allowed: false as const, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
        },
        (error: Error) => {
          if (!this.#warned) this.log.warn(`redis: limit ${this.name} decided here alone: ${error.message}`);
          this.#warned = true;
          return fallback();
        },
      );
  }
}
