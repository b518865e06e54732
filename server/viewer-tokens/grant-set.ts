import type { ViewerGrant } from './scope.js';

/** Tokens one WebSocket keeps; past it, a new one evicts the kept one that expires first. */
export const GRANTS_PER_SOCKET_MAX = 32;

/** Why a subscription is refused, as the WebSocket error code says it. */
export type CoverageRefusal = 'unauthorized' | 'token_expired' | 'forbidden';

/**
 * The viewer tokens a WebSocket has authorized. Expired ones are kept (until evicted) so that a
 * refusal can say `token_expired`, which tells the client to fetch a fresh token, rather than
 * `forbidden`, which tells it no token of its will do. Pure: the clock is an argument.
 */
export class GrantSet {
  readonly #grants: ViewerGrant[] = [];

  add(grant: ViewerGrant): void {
    if (this.#grants.length >= GRANTS_PER_SOCKET_MAX) {
      let first = 0;
      this.#grants.forEach((kept, i) => {
        if (kept.expiresAt < this.#grants[first]!.expiresAt) first = i;
      });
      this.#grants.splice(first, 1);
    }
    this.#grants.push(grant);
  }

  /**
   * Until when (epoch ms) the live grants for which `covers` holds cover the thing, the latest of
   * their expiries; or why it is not covered at `nowMs`.
   */
  coverage(covers: (grant: ViewerGrant) => boolean, nowMs: number): number | CoverageRefusal {
    if (this.#grants.length === 0) return 'unauthorized';
    let until = 0;
    let expired = false;
    for (const grant of this.#grants) {
      if (!covers(grant)) continue;
      if (grant.expiresAt > nowMs) until = Math.max(until, grant.expiresAt);
      else expired = true;
    }
    if (until > 0) return until;
    return expired ? 'token_expired' : 'forbidden';
  }

  get size(): number {
    return this.#grants.length;
  }
}
