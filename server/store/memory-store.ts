import type { LogEntry, Task, TaskStatusPage } from '../../protocol/index.js';
import { applyUpdate, newTask } from './apply-update.js';
import { chargeLogs, DEFAULT_LOG_QUOTA, NO_USAGE, type LogQuota, type LogUsage } from './log-quota.js';
import { PAGE_MAX_BYTES, PageCollector } from './page-collector.js';
import { IdempotencyMismatchError, TaskExistsError, TaskNotFoundError } from './store-errors.js';
import type {
  AppendInput,
  AppendResult,
  NewTask,
  ReadPageInput,
  StoredTask,
  TaskStore,
} from './task-store.js';

/**
 * Idempotency answers kept per task; the oldest of that task are forgotten first. Per task, so an
 * agent flooding its own task with keys cannot evict another task's (issue 13). A retry comes
 * within moments of its write: a thousand later writes of the same task, the key is long settled.
 */
export const IDEMPOTENCY_KEYS_PER_TASK = 1_000;

export interface MemoryTaskStoreConfig {
  /** The most log a task may hold (default DEFAULT_LOG_QUOTA). */
  logQuota?: LogQuota;
  idempotencyKeysPerTask?: number;
}

interface IdempotencyAnswer {
  fingerprint: string;
  task: Task;
  fromSeq: number;
}

interface Entry {
  stored: StoredTask;
  logs: LogEntry[];
  usage: LogUsage;
  /** By Idempotency-Key, oldest first. */
  answers: Map<string, IdempotencyAnswer>;
}

/**
 * Everything in this process's memory: for tests and for `STORE=memory`. Each method runs
 * without awaiting between its read and its write, so concurrent appends to one task are
 * serialized by the event loop and `seq` stays contiguous. Each task is bounded by the log quota
 * and its idempotency answers by IDEMPOTENCY_KEYS_PER_TASK.
 */
export class MemoryTaskStore implements TaskStore {
  readonly #tasks = new Map<string, Entry>();
  readonly #latestByAgent = new Map<string, string>();
  readonly #logQuota: LogQuota;
  readonly #keysPerTask: number;

  constructor({
    logQuota = DEFAULT_LOG_QUOTA,
    idempotencyKeysPerTask = IDEMPOTENCY_KEYS_PER_TASK,
  }: MemoryTaskStoreConfig = {}) {
    this.#logQuota = logQuota;
    this.#keysPerTask = idempotencyKeysPerTask;
  }

  async createTask({ id, agentId, title, tokenHash, now }: NewTask): Promise<Task> {
    if (this.#tasks.has(id)) throw new TaskExistsError(id);
    const task = newTask(id, agentId, title, now);
    this.#tasks.set(id, { stored: { task, tokenHash }, logs: [], usage: NO_USAGE, answers: new Map() });
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
    if (idempotency) {
      const previous = entry.answers.get(idempotency.key);
      if (previous) {
        if (previous.fingerprint !== idempotency.fingerprint)
          throw new IdempotencyMismatchError(idempotency.key);
        return { task: previous.task, fromSeq: previous.fromSeq, logs: [], replayed: true };
      }
    }
    const applied = applyUpdate(entry.stored.task, update, now);
    // Before anything is stored: a refused write leaves no trace.
    entry.usage = chargeLogs(taskId, entry.usage, applied.logs, this.#logQuota);
    entry.stored = { task: applied.task, tokenHash: entry.stored.tokenHash };
    for (const line of applied.logs) entry.logs.push(line);
    if (idempotency) {
      entry.answers.set(idempotency.key, {
        fingerprint: idempotency.fingerprint,
        task: applied.task,
        fromSeq: applied.fromSeq,
      });
      if (entry.answers.size > this.#keysPerTask) {
        entry.answers.delete(entry.answers.keys().next().value as string);
      }
    }
    return { task: applied.task, fromSeq: applied.fromSeq, logs: applied.logs, replayed: false };
  }

  async readPage(
    taskId: string,
    { afterSeq, beforeSeq, limit, maxBytes = PAGE_MAX_BYTES }: ReadPageInput,
  ): Promise<TaskStatusPage | null> {
    const entry = this.#tasks.get(taskId);
    if (!entry) return null;
    const task = entry.stored.task;
    const all = entry.logs;
    const collector = new PageCollector(limit, maxBytes);
    if (afterSeq !== undefined) {
      for (let i = firstIndexAfter(all, afterSeq); i < all.length && collector.wanted > 0; i++) {
        collector.add(all[i]!);
      }
      const { lines: logs, more: hasMore } = collector.page();
      const nextAfterSeq = hasMore ? logs[logs.length - 1]!.seq : Math.max(task.seq, afterSeq);
      return { task, logs, nextAfterSeq, hasMore, hasOlder: false };
    }
    const end = beforeSeq === undefined ? all.length : firstIndexAfter(all, beforeSeq - 1);
    for (let i = end - 1; i >= 0 && collector.wanted > 0; i--) collector.add(all[i]!);
    const { lines, more: hasOlder } = collector.page();
    return { task, logs: lines.reverse(), nextAfterSeq: task.seq, hasMore: false, hasOlder };
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
