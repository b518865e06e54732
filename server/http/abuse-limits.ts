import type { IncomingMessage } from 'node:http';
import type { BlockList } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import type { Config } from '../config.js';
import type { AppEnv } from './app-env.js';
import { addressKey, clientAddress, peerClientAddress, trustedProxies } from './client-address.js';
import { enforceRateLimit, enforceSpentBudget } from './rate-limit.js';
import { RateLimiter } from './rate-limiter.js';
import { SharedRateLimiter, type Limiter, type RedisCommands } from './shared-rate-limiter.js';

/**
 * The limits per client address (issue 13), one token bucket each, built once per app from the
 * config; a limit set to 0 is null (off). Agent tokens have their own limit (RATE_LIMIT_PER_MINUTE).
 */
export class AbuseLimits {
  readonly #creates: Limiter | null;
  readonly #reads: Limiter | null;
  readonly #authFailures: Limiter | null;
  /** Posts per agent token (RATE_LIMIT_PER_MINUTE); null: off. */
  readonly agentPosts: Limiter | null;
  readonly #proxies: BlockList | null;
  /** Middleware: task creations per address (CREATES_PER_MINUTE). */
  readonly limitCreates: MiddlewareHandler<AppEnv>;
  /** Middleware: reads per address (READS_PER_MINUTE). */
  readonly limitReads: MiddlewareHandler<AppEnv>;

  /**
   * `redis`: with several instances (REDIS_URL), each limit is one budget shared by all of them
   * (shared-rate-limiter.ts), not one per instance.
   */
  constructor(config: Config, now: () => number, redis?: RedisCommands) {
    const limiter = (name: string, perMinute: number): Limiter | null => {
      if (perMinute <= 0) return null;
      const local = new RateLimiter({ perMinute, now });
      return redis ? new SharedRateLimiter(name, perMinute, redis, local) : local;
    };
    this.#creates = limiter('creates', config.createsPerMinute);
    this.#reads = limiter('reads', config.readsPerMinute);
    this.#authFailures = limiter('bad-tokens', config.badTokensPerMinute);
    this.agentPosts = limiter('agent-posts', config.rateLimitPerMinute);
    this.#proxies = trustedProxies(config.trustedProxies);
    this.limitCreates = this.#perAddress(
      this.#creates,
      'too many tasks created from this address (CREATES_PER_MINUTE)',
    );
    this.limitReads = this.#perAddress(
      this.#reads,
      'too many reads from this address (READS_PER_MINUTE); poll less often, or use the WebSocket',
    );
  }

  /** The key this request is limited by: its client's address (see clientAddress, addressKey). */
  clientKey(c: Context): string {
    return addressKey(clientAddress(c, this.#proxies));
  }

  /**
   * The budget of refused tokens (BAD_TOKENS_PER_MINUTE) of a WebSocket upgrade's client address:
   * the socket's `authorize` messages spend from the same budget as the HTTP routes.
   */
  tokenBudgetOf(req: IncomingMessage): { spent(): boolean; refused(): void } {
    const forwarded = req.headers['x-forwarded-for'];
    const key = addressKey(
      peerClientAddress(
        req.socket.remoteAddress,
        Array.isArray(forwarded) ? forwarded.join(',') : forwarded,
        this.#proxies,
      ),
    );
    const limiter = this.#authFailures;
    // Answered at once (an `authorize` applies before the socket's next message): a shared
    // budget from what Redis last said; the spending itself reaches Redis in the background.
    return {
      spent: () => limiter !== null && !limiter.peekNow(key).allowed,
      refused: () => void this.recordAuthFailure(key),
    };
  }

  /**
   * 429 while this address has spent its budget of refused tokens (BAD_TOKENS_PER_MINUTE):
   * called before a token is checked, so a guesser out of budget learns nothing more.
   */
  checkAuthBudget(key: string): Promise<void> {
    return enforceSpentBudget(
      this.#authFailures,
      key,
      'too many refused tokens from this address (BAD_TOKENS_PER_MINUTE); check the token you send',
    );
  }

  /** Spends from that budget: a token was refused. */
  async recordAuthFailure(key: string): Promise<void> {
    await this.#authFailures?.take(key);
  }

  #perAddress(limiter: Limiter | null, advice: string): MiddlewareHandler<AppEnv> {
    const limits = this;
    return async function limitPerAddress(c, next) {
      await enforceRateLimit(limiter, limits.clientKey(c), advice);
      await next();
    };
  }
}
