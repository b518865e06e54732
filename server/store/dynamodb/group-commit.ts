import { applyUpdate, type AppliedUpdate } from '../apply-update.js';
import { chargeLogs, type LogQuota, type LogUsage } from '../log-quota.js';
import { LogQuotaExceededError, PhaseConflictError } from '../store-errors.js';
import type { AppendInput } from '../task-store.js';
import type { Task } from '../../../protocol/index.js';
import { ITEM_LINES_BUDGET_BYTES, storedLineBytes } from './items.js';

/**
 * Group commit (issue 15): writes to one task that queue behind the one in flight on this
 * instance go to DynamoDB together, as one batch item (one put, one status update), and each
 * still gets its own answer. Pure rules here; the store owns the queue and the I/O.
 *
 * What may share a batch item follows from how it stores lines: without their seq, a line's seq
 * being the batch's `fromSeq` plus its position. So every member but the last adds log lines only
 * (a change of phase, progress or message takes a seq after its lines, which would leave a hole
 * in that numbering); a write with an Idempotency-Key goes alone (its answer is looked up, and
 * kept, per key); and the lines of a group fit one item, so a group is never split into parts.
 */

/** Writes at most in one group: bounds how long the first waits for the last to be applied. */
export const GROUP_MAX_WRITES = 64;

/** The lines of `update` as they will count against an item's budget (`at` at its longest). */
export function updateLineBytes(update: AppendInput['update']): number {
  let bytes = 0;
  for (const line of update.logs ?? []) {
    bytes += storedLineBytes({ at: '+000000-01-01T00:00:00.000Z', level: line.level, message: line.message });
  }
  return bytes;
}

function changesStatus(update: AppendInput['update']): boolean {
  return update.phase !== undefined || update.progress !== undefined || update.message !== undefined;
}

/**
 * How many of `waiting` (in arrival order, the first of them next in turn) to write together:
 * always the first, then each next one while it may follow the previous (see above).
 */
export function groupSize(waiting: readonly AppendInput[], budgetBytes = ITEM_LINES_BUDGET_BYTES): number {
  if (waiting.length === 0) return 0;
  let bytes = updateLineBytes(waiting[0]!.update);
  let size = 1;
  while (size < waiting.length && size < GROUP_MAX_WRITES) {
    const previous = waiting[size - 1]!;
    const next = waiting[size]!;
    if (previous.idempotency || next.idempotency || changesStatus(previous.update)) break;
    bytes += updateLineBytes(next.update);
    if (bytes > budgetBytes) break;
    size += 1;
  }
  return size;
}

/** One member's outcome: its own events, or the error that refused it (nothing of it stored). */
export type MemberOutcome = AppliedUpdate | PhaseConflictError | LogQuotaExceededError;

export interface GroupWrite extends AppliedUpdate {
  /** The task's log usage after the whole group. */
  usage: LogUsage;
}

/**
 * Applies each member in turn to the head, as if each were written alone in that order. A member
 * refused (its phase change, or its lines past the quota) takes no seq and the rest go on without
 * it. `write`: the whole group's events as one write, or null when none took a seq.
 */
export function applyGroup(
  taskId: string,
  head: { task: Task; usage: LogUsage },
  members: readonly AppendInput[],
  quota: LogQuota,
): { outcomes: MemberOutcome[]; write: GroupWrite | null } {
  const outcomes: MemberOutcome[] = [];
  const logs: AppliedUpdate['logs'] = [];
  let task = head.task;
  let usage = head.usage;
  for (const { update, now } of members) {
    try {
      const applied = applyUpdate(task, update, now);
      usage = chargeLogs(taskId, usage, applied.logs, quota);
      outcomes.push(applied);
      task = applied.task;
      logs.push(...applied.logs);
    } catch (error) {
      if (!(error instanceof PhaseConflictError || error instanceof LogQuotaExceededError)) throw error;
      outcomes.push(error);
    }
  }
  if (task.seq === head.task.seq) return { outcomes, write: null };
  const fromSeq = head.task.seq + 1;
  // The rule of groupSize, checked where it matters: line i has seq fromSeq + i, and at most one
  // status event follows them.
  const statusEvents = task.seq - fromSeq + 1 - logs.length;
  if (statusEvents > 1 || logs.some((line, index) => line.seq !== fromSeq + index)) {
    throw new Error(`a group of ${members.length} writes to task "${taskId}" left a hole in its seqs`);
  }
  return { outcomes, write: { task, logs, fromSeq, usage } };
}
