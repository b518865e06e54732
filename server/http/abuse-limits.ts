import type { IncomingMessage } from 'node:http';
import type { BlockList } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import type { Config } from '../config.js';
import type { AppEnv } from './app-env.js';
import { addressKey, clientAddress, peerClientAddress, trustedProxies } from './client-address.js';
import { enforceRateLimit, enforceSpentBudget } from './rate-limit.js';
import { RateLimiter } from './rate-limiter.js';

/**
 * The limits per client address (issue 13), one token bucket each, built once per app from the
 * config; a limit set to 0 is null (off). Agent tokens have their own limit (RATE_LIMIT_PER_MINUTE).
 */
export class AbuseLimits {
  readonly #creates: RateLimiter | null;
  readonly #reads: RateLimiter | null;
  readonly #authFailures: RateLimiter | null;
  readonly #proxies: BlockList | null;
  /** Middleware: task creations per address (CREATES_PER_MINUTE). */
  readonly limitCreates: MiddlewareHandler<AppEnv>;
  /** Middleware: reads per address (READS_PER_MINUTE). */
  readonly limitReads: MiddlewareHandler<AppEnv>;

  constructor(config: Config, now: () => number) {
    const limiter = (perMinute: number) => (perMinute > 0 ? new RateLimiter({ perMinute, now }) : null);
    this.#creates = limiter(config.createsPerMinute);
    this.#reads = limiter(config.readsPerMinute);
    this.#authFailures = limiter(config.badTokensPerMinute);
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
    return {
      spent: () => limiter !== null && !limiter.peek(key).allowed,
      refused: () => this.recordAuthFailure(key),
    };
  }

  /**
   * 429 while this address has spent its budget of refused tokens (BAD_TOKENS_PER_MINUTE):
   * called before a token is checked, so a guesser out of budget learns nothing more.
   */
  checkAuthBudget(key: string): void {
    enforceSpentBudget(
      this.#authFailures,
      key,
      'too many refused tokens from this address (BAD_TOKENS_PER_MINUTE); check the token you send',
    );
  }

  /** Spends from that budget: a token was refused. */
  recordAuthFailure(key: string): void {
    this.#authFailures?.take(key);
  }

  #perAddress(limiter: RateLimiter | null, advice: string): MiddlewareHandler<AppEnv> {
    const limits = this;
    return async function limitPerAddress(c, next) {
      enforceRateLimit(limiter, limits.clientKey(c), advice);
      await next();
    };
  }
}
