/**
 * Readiness for load balancers (issue 14), apart from liveness (`/healthz`): whether this instance
 * should get new connections. Not ready while it drains (from SIGTERM on, so a balancer stops
 * sending before the 1012 close), or while its store does not answer. A Redis link that is down
 * makes it degraded, not unready: the instance still serves its own sockets and writes, and if
 * every instance lost Redis at once, taking them all out would serve nobody.
 */

export type RedisLink = 'ok' | 'down' | 'not used';

export interface ReadinessReport {
  ready: boolean;
  draining: boolean;
  /** `not checked`: draining, when the answer does not depend on it. */
  store: 'ok' | 'unavailable' | 'not checked';
  redis: RedisLink;
}

export interface ReadinessChecks {
  /** A cheap request to the store; rejects when it does not answer. Absent: always ok. */
  pingStore?: () => Promise<void>;
  /** The shared bus's link, if there is one. */
  redis?: () => RedisLink;
}

/** Balancers ask every second or two per instance: one store ping a second answers them all. */
const STORE_CHECK_MS = 1_000;
/** A store that has not answered a ping in this long counts as unavailable (balancers time out too). */
const STORE_PING_TIMEOUT_MS = 1_000;

export class Readiness {
  #draining = false;
  #storeCheck: { at: number; result: Promise<boolean> } | null = null;

  constructor(
    private readonly checks: ReadinessChecks,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** From now on, not ready: the instance is about to close. */
  drain(): void {
    this.#draining = true;
  }

  async report(): Promise<ReadinessReport> {
    // Draining answers at once: a balancer must not wait on a slow store to learn it.
    const store = this.#draining ? 'not checked' : (await this.#storeOk()) ? 'ok' : 'unavailable';
    const redis = this.checks.redis?.() ?? 'not used';
    return { ready: !this.#draining && store === 'ok', draining: this.#draining, store, redis };
  }

  #storeOk(): Promise<boolean> {
    const ping = this.checks.pingStore;
    if (!ping) return Promise.resolve(true);
    const now = this.now();
    if (this.#storeCheck && now - this.#storeCheck.at < STORE_CHECK_MS) return this.#storeCheck.result;
    const result = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), STORE_PING_TIMEOUT_MS);
      ping().then(
        () => {
          clearTimeout(timer);
          resolve(true);
        },
        () => {
          clearTimeout(timer);
          resolve(false);
        },
      );
    });
    this.#storeCheck = { at: now, result };
    return result;
  }
}
