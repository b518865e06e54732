import type { LogEntry, Task, TaskStatusPage } from '../../protocol/index.js';
import { applyUpdate, newTask } from './apply-update.js';
import { IdempotencyMismatchError, TaskExistsError, TaskNotFoundError } from './store-errors.js';
import type {
  AppendInput,
  AppendResult,
  NewTask,
  ReadPageInput,
  StoredTask,
  TaskStore,
} from './task-store.js';

/** Idempotency answers kept per store; the oldest are forgotten first. */
const IDEMPOTENCY_ENTRIES_MAX = 10_000;

interface Entry {
  stored: StoredTask;
  logs: LogEntry[];
}

/**
 * Everything in this process's memory: for tests and for `STORE=memory`. Each method runs
 * without awaiting between its read and its write, so concurrent appends to one task are
 * serialized by the event loop and `seq` stays contiguous.
 */
export class MemoryTaskStore implements TaskStore {
  readonly #tasks = new Map<string, Entry>();
  readonly #latestByAgent = new Map<string, string>();
  readonly #idempotency = new Map<string, { fingerprint: string; task: Task; fromSeq: number }>();

  async createTask({ id, agentId, title, tokenHash, now }: NewTask): Promise<Task> {
    if (this.#tasks.has(id)) throw new TaskExistsError(id);
    const task = newTask(id, agentId, title, now);
    this.#tasks.set(id, { stored: { task, tokenHash }, logs: [] });
    this.#latestByAgent.set(agentId, id);
    return task;
  }

  async getTask(taskId: string): Promise<StoredTask | null> {
    return this.#tasks.get(taskId)?.stored ?? null;
  }

  async replaceTokenHash(taskId: string, tokenHash: string): Promise<void> {
    const entry = this.#tasks.get(taskId);
    if (!entry) throw new TaskNotFoundError(taskId);
    entry.stored = { task: entry.stored.task, tokenHash };
  }

  async append(taskId: string, { update, now, idempotency }: AppendInput): Promise<AppendResult> {
    const entry = this.#tasks.get(taskId);
    if (!entry) throw new TaskNotFoundError(taskId);
    const idemKey = idempotency && `${taskId}\u0000${idempotency.key}`;
    if (idemKey) {
      const previous = this.#idempotency.get(idemKey);
      if (previous) {
        if (previous.fingerprint !== idempotency.fingerprint)
          throw new IdempotencyMismatchError(idempotency.key);
        return { task: previous.task, fromSeq: previous.fromSeq, logs: [], replayed: true };
      }
    }
    const applied = applyUpdate(entry.stored.task, update, now);
    entry.stored = { task: applied.task, tokenHash: entry.stored.tokenHash };
    for (const line of applied.logs) entry.logs.push(line);
    if (idemKey) {
      this.#idempotency.set(idemKey, {
        fingerprint: idempotency.fingerprint,
        task: applied.task,
        fromSeq: applied.fromSeq,
      });
      if (this.#idempotency.size > IDEMPOTENCY_ENTRIES_MAX) {
        this.#idempotency.delete(this.#idempotency.keys().next().value as string);
      }
    }
    return { task: applied.task, fromSeq: applied.fromSeq, logs: applied.logs, replayed: false };
  }

  async readPage(
    taskId: string,
    { afterSeq, beforeSeq, limit }: ReadPageInput,
  ): Promise<TaskStatusPage | null> {
    const entry = this.#tasks.get(taskId);
    if (!entry) return null;
    const task = entry.stored.task;
    const all = entry.logs;
    if (afterSeq !== undefined) {
      const start = firstIndexAfter(all, afterSeq);
      const logs = all.slice(start, start + limit);
      const hasMore = start + limit < all.length;
      const nextAfterSeq = hasMore ? logs[logs.length - 1]!.seq : Math.max(task.seq, afterSeq);
      return { task, logs, nextAfterSeq, hasMore, hasOlder: false };
    }
    const end = beforeSeq === undefined ? all.length : firstIndexAfter(all, beforeSeq - 1);
    const start = Math.max(0, end - limit);
    return { task, logs: all.slice(start, end), nextAfterSeq: task.seq, hasMore: false, hasOlder: start > 0 };
  }

  async getActiveTask(agentId: string): Promise<Task | null> {
    const id = this.#latestByAgent.get(agentId);
    return id === undefined ? null : (this.#tasks.get(id)?.stored.task ?? null);
  }

  async close(): Promise<void> {}
}

/** Binary search: logs are sorted by seq. */
function firstIndexAfter(logs: readonly LogEntry[], afterSeq: number): number {
  let lo = 0;
  let hi = logs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (logs[mid]!.seq <= afterSeq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
