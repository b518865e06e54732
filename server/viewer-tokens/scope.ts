/**
 * What a reader may read: a verified viewer token's scope, or everything (the admin token). Pure.
 * A token covers task T when T is in its `tasks` or T's agent is in its `agents`; it covers agent A
 * (active-task, a WebSocket watch) when A is in its `agents`.
 */
export interface ViewerGrant {
  /** The admin token: every task and agent. */
  readonly all: boolean;
  readonly tasks: ReadonlySet<string>;
  readonly agents: ReadonlySet<string>;
  /** Epoch ms from which it no longer counts; Infinity for the admin token. */
  readonly expiresAt: number;
}

export const ADMIN_GRANT: ViewerGrant = {
  all: true,
  tasks: new Set(),
  agents: new Set(),
  expiresAt: Number.POSITIVE_INFINITY,
};

/** `agentId`: the task's agent when the task is known to exist; undefined when it is not. */
export function coversTask(grant: ViewerGrant, taskId: string, agentId: string | undefined): boolean {
  return grant.all || grant.tasks.has(taskId) || (agentId !== undefined && grant.agents.has(agentId));
}

export function coversAgent(grant: ViewerGrant, agentId: string): boolean {
  return grant.all || grant.agents.has(agentId);
}
