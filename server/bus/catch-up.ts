import type { AgentTaskMessage, UpdateMessage } from '../../protocol/index.js';
import type { TaskStore } from '../store/task-store.js';

/** Lines one catch-up carries at most; a follower further behind fills the rest by seq. */
export const CATCH_UP_LINES = 500;
/**
 * Line text one catch-up carries at most: it goes to every socket following the task at once,
 * and must stay far below a socket's outbound bound (WS_MAX_BUFFERED_BYTES, 1 MiB by default).
 */
export const CATCH_UP_MAX_BYTES = 128 * 1024;

/**
 * What a follower of `taskId` that has seen up to `afterSeq` (undefined: not known) may have
 * missed, as one update read from the store; null when there is nothing newer. Pub/sub loses
 * messages (a Redis restart, a dropped connection); the store does not, so after such a gap the
 * bus sends this. Its `fromSeq` is exact for the lines it carries: when more is missing than one
 * page, it covers the newest lines only, and clients fill the gap before them from the logs
 * route, as after any gap.
 */
export async function catchUpUpdate(
  store: TaskStore,
  taskId: string,
  afterSeq: number | undefined,
): Promise<UpdateMessage | null> {
  if (afterSeq !== undefined) {
    // Fresh: the head this instance knows is as old as the events it missed.
    const page = await store.readPage(taskId, {
      afterSeq,
      limit: CATCH_UP_LINES,
      maxBytes: CATCH_UP_MAX_BYTES,
      fresh: true,
    });
    if (!page || page.task.seq <= afterSeq) return null;
    if (!page.hasMore)
      return { type: 'update', taskId, fromSeq: afterSeq + 1, task: page.task, logs: page.logs };
  }
  const latest = await store.readPage(taskId, {
    limit: CATCH_UP_LINES,
    maxBytes: CATCH_UP_MAX_BYTES,
    fresh: true,
  });
  if (!latest || latest.task.seq === 0 || (afterSeq !== undefined && latest.task.seq <= afterSeq))
    return null;
  // Every line from the first one here to the head is in the page; without lines, only the
  // head's own event is claimed.
  const fromSeq = latest.logs[0]?.seq ?? latest.task.seq;
  return { type: 'update', taskId, fromSeq, task: latest.task, logs: latest.logs };
}

/** An agent's active task now, announced again after a gap (a client takes the same task calmly). */
export async function catchUpAgent(store: TaskStore, agentId: string): Promise<AgentTaskMessage> {
  return { type: 'agent-task', agentId, task: await store.getActiveTask(agentId) };
}
