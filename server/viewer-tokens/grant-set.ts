import type { ViewerGrant } from './scope.js';

/**
 * Task and agent ids one WebSocket keeps grants for. A dashboard may hand each of its panels a
 * token of its own (one task each), and one socket serves every panel of a browser (up to
 * WS_MAX_SUBSCRIPTIONS, 2,000 by default), so the bound is per id, not per token; past it, the id
 * granted longest ago is forgotten. Forgetting only refuses later subscribes of that id (the
 * client then authorizes its token again): a live subscription keeps the coverage it was given.
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
  readonly #tasks = new Map<string, number>();
  readonly #agents = new Map<string, number>();

  add(grant: ViewerGrant): void {
    if (grant.all) this.#all = Math.max(this.#all, grant.expiresAt);
    for (const taskId of grant.tasks) this.#grant(this.#tasks, taskId, grant.expiresAt);
    for (const agentId of grant.agents) this.#grant(this.#agents, agentId, grant.expiresAt);
  }

  /** Until when (epoch ms) the socket's tokens cover task `taskId` of agent `agentId` (undefined: the task is not known), or why not. */
  coverTask(taskId: string, agentId: string | undefined, nowMs: number): number | CoverageRefusal {
    const byAgent = agentId === undefined ? undefined : this.#agents.get(agentId);
    return this.#coverage(nowMs, this.#tasks.get(taskId), byAgent);
  }

  /** Until when the socket's tokens cover agent `agentId` (its active task, a watch), or why not. */
  coverAgent(agentId: string, nowMs: number): number | CoverageRefusal {
    return this.#coverage(nowMs, this.#agents.get(agentId));
  }

  /** Ids held (tasks and agents). */
  get size(): number {
    return this.#tasks.size + this.#agents.size;
  }

  #grant(ids: Map<string, number>, id: string, expiresAt: number): void {
    const latest = Math.max(ids.get(id) ?? 0, expiresAt);
    // Deleted and set again: a Map iterates in insertion order, so the first is the oldest grant.
    ids.delete(id);
    ids.set(id, latest);
    if (this.size > GRANTED_IDS_MAX) ids.delete(ids.keys().next().value!);
  }

  #coverage(nowMs: number, ...expiries: (number | undefined)[]): number | CoverageRefusal {
    if (this.#all === 0 && this.size === 0) return 'unauthorized';
    const until = Math.max(this.#all, ...expiries.map((expiry) => expiry ?? 0));
    if (until > nowMs) return until;
    return until > 0 ? 'token_expired' : 'forbidden';
  }
}
