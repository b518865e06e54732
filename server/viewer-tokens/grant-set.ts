import type { ViewerGrant } from './scope.js';

/**
 * Task and agent ids one WebSocket keeps grants for. A dashboard may hand each of its panels a
 * token of its own (one task each), and one socket serves every panel of a browser (up to
 * WS_MAX_SUBSCRIPTIONS, 2,000 by default), so the bound is per id, not per token; past it, the id
 * granted longest ago is forgotten. Forgetting only refuses later subscribes of that id (the
 * client renews the refused panel's token and authorizes it again): a live subscription keeps the
 * coverage it was given.
 */
export const GRANTED_IDS_MAX = 4_096;

/** Why a subscription is refused, as the WebSocket error code says it. */
export type CoverageRefusal = 'unauthorized' | 'token_expired' | 'forbidden';

/**
 * The viewer tokens a WebSocket has authorized, indexed by the ids they name: for each, the
 * latest expiry of the tokens naming it, so a subscribe is checked in constant time however many
 * tokens the socket holds. Expired entries are kept (until forgotten) so that a refusal can say
 * `token_expired`, which tells the client to fetch a fresh token, rather than `forbidden`, which
 * tells it no token of its will do. Pure: the clock is an argument.
 */
export class GrantSet {
  /** The latest expiry of an admin grant (which covers everything); 0: none. */
  #all = 0;
  /**
   * `t:` + task id or `a:` + agent id → the latest expiry of the tokens naming it. One map for
   * both, in the order they were last granted, so the one forgotten first is the oldest overall.
   */
  readonly #ids = new Map<string, number>();
  #agents = 0;

  add(grant: ViewerGrant): void {
    if (grant.all) this.#all = Math.max(this.#all, grant.expiresAt);
    for (const taskId of grant.tasks) this.#grant(`t:${taskId}`, grant.expiresAt);
    for (const agentId of grant.agents) this.#grant(`a:${agentId}`, grant.expiresAt);
  }

  /** Until when (epoch ms) the socket's tokens cover task `taskId` of agent `agentId` (undefined: not known), or why not. */
  coverTask(taskId: string, agentId: string | undefined, nowMs: number): number | CoverageRefusal {
    const byAgent = agentId === undefined ? undefined : this.#ids.get(`a:${agentId}`);
    return this.#coverage(nowMs, this.#ids.get(`t:${taskId}`), byAgent);
  }

  /** Until when the socket's tokens cover agent `agentId` (its active task, a watch), or why not. */
  coverAgent(agentId: string, nowMs: number): number | CoverageRefusal {
    return this.#coverage(nowMs, this.#ids.get(`a:${agentId}`));
  }

  /** Whether a task not named by any token might still be covered through its agent. */
  get namesAgents(): boolean {
    return this.#all > 0 || this.#agents > 0;
  }

  /** Ids held (tasks and agents). */
  get size(): number {
    return this.#ids.size;
  }

  #grant(id: string, expiresAt: number): void {
    const held = this.#ids.get(id);
    if (held === undefined && id.startsWith('a:')) this.#agents += 1;
    // Deleted and set again: a Map iterates in insertion order, so the first is the oldest grant.
    this.#ids.delete(id);
    this.#ids.set(id, Math.max(held ?? 0, expiresAt));
    if (this.#ids.size > GRANTED_IDS_MAX) {
      const oldest = this.#ids.keys().next().value!;
      this.#ids.delete(oldest);
      if (oldest.startsWith('a:')) this.#agents -= 1;
    }
  }

  #coverage(nowMs: number, ...expiries: (number | undefined)[]): number | CoverageRefusal {
    if (this.#all === 0 && this.#ids.size === 0) return 'unauthorized';
    const until = Math.max(this.#all, ...expiries.map((expiry) => expiry ?? 0));
    if (until > nowMs) return until;
    return until > 0 ? 'token_expired' : 'forbidden';
  }
}
