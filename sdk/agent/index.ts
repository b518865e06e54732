// The agent SDK: put any program's progress in a panel. Only `fetch`: Node 20+, Deno, Bun, browsers.
//
//   const task = await createTask({ baseUrl: 'http://localhost:8787', agentId: 'nightly', title: 'eval' });
//   task.phase('running');
//   task.log('loaded 1,200 cases');
//   task.progress(40);
//   task.status({ phase: 'completed', progress: 100 });
//   await task.close(); // resolves once everything above is stored
import { ROUTES } from '../../protocol/routes.js';
import { backoffDelay } from '../../widget/connection/backoff.js';
import { AgentTask, AgentTaskError, errorOf, type AgentTaskOptions } from './agent-task.js';

export { AgentTask, AgentTaskError, type AgentTaskOptions } from './agent-task.js';
export { OutboxFullError, type StatusFields } from './outbox.js';

export interface CreateTaskOptions extends AgentTaskOptions {
  agentId: string;
  title?: string;
  /** Your own task id; the server makes one (`t_…`) when absent. */
  id?: string;
  /** The server's ADMIN_TOKEN, when it has one. */
  adminToken?: string;
}

/**
 * Creates a task and returns its handle (with the agent token, shown once). Retried only when
 * nothing can have been created: a 429, or a connection refused. Any other failure throws (a 503
 * included: the store may have stored the task before failing), since a retry could leave a
 * second task, the first one's token never known.
 */
export async function createTask(options: CreateTaskOptions): Promise<AgentTask> {
  const { agentId, title, id, adminToken, ...taskOptions } = options;
  const send = options.fetch ?? globalThis.fetch.bind(globalThis);
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await send(new URL(ROUTES.tasks, options.baseUrl), {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          ...(adminToken ? { Authorization: `Bearer ${adminToken}` } : {}),
        },
        body: JSON.stringify({ agentId, ...(title ? { title } : {}), ...(id ? { id } : {}) }),
      });
    } catch (error) {
      if (!refused(error) || attempt >= 5) throw error;
      await sleep(backoffDelay(attempt, CREATE_BACKOFF));
      continue;
    }
    if (response.status === 201) {
      const { task, agentToken } = (await response.json()) as { task: { id: string }; agentToken: string };
      return new AgentTask(task.id, agentToken, taskOptions);
    }
    const { code, message } = await errorOf(response);
    const retryAfter = Number(response.headers.get('retry-after'));
    if (response.status === 429 && attempt < 5) {
      await sleep(retryAfter > 0 ? retryAfter * 1000 : backoffDelay(attempt, CREATE_BACKOFF));
      continue;
    }
    throw new AgentTaskError(
      `creating the task: ${response.status} ${code}: ${message}`,
      response.status,
      code,
    );
  }
}

/** A task created elsewhere (by a backend, by `agent-task-status create`): its id and agent token. */
export function openTask(options: AgentTaskOptions & { taskId: string; agentToken: string }): AgentTask {
  const { taskId, agentToken, ...taskOptions } = options;
  return new AgentTask(taskId, agentToken, taskOptions);
}

/** The connection was refused: nothing reached the server. */
function refused(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string } } | null)?.cause;
  return cause?.code === 'ECONNREFUSED';
}

/** The same full-jitter backoff as a task's batches (many agents starting at once spread out). */
const CREATE_BACKOFF = { baseMs: 250, capMs: 10_000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
