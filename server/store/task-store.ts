import type { LogEntry, StatusUpdate, Task, TaskStatusPage } from '../../protocol/index.js';

/** A task as stored: its public status plus the hash of its agent token (never the token). */
export interface StoredTask {
  task: Task;
  tokenHash: string;
}

export interface NewTask {
  id: string;
  agentId: string;
  title: string | null;
  tokenHash: string;
  now: Date;
}

export interface AppendInput {
  /** Already validated against StatusUpdateSchema (defaults applied). */
  update: StatusUpdate;
  now: Date;
  /** A retry with the same key returns the first answer and writes nothing. */
  idempotency?: { key: string; fingerprint: string };
}

export interface AppendResult {
  /** The task after the write (for a replay: as it was after the first write). */
  task: Task;
  /** The first seq this write took; `task.seq` is the last. */
  fromSeq: number;
  /** The log lines this write stored, in seq order (empty for a replay). */
  logs: LogEntry[];
  /** True when an Idempotency-Key matched an earlier write: nothing new was stored. */
  replayed: boolean;
}

/** `afterSeq`: forward from it; `beforeSeq`: the lines just before it; neither: the latest lines. */
export interface ReadPageInput {
  afterSeq?: number;
  beforeSeq?: number;
  limit: number;
  /** Line text the page holds at most (default PAGE_MAX_BYTES); it then stops early (see PageCollector). */
  maxBytes?: number;
  /**
   * Read the head from the store itself, not from what this instance knows (a store that keeps
   * known heads, see learn): for a reader that may have missed events through another instance.
   */
  fresh?: boolean;
}

/**
 * Where tasks, their status and their log lines live. Implementations must keep, per task:
 * - `seq` contiguous (no holes) and never reused, also with several writers (server instances);
 * - events visible in order: whoever has seen event N never later finds a new event below N;
 * - a phase change checked against the stored phase in the same conditional write.
 * Errors are the classes of ./store-errors.ts.
 */
export interface TaskStore {
  /** Throws TaskExistsError when the id is taken. */
  createTask(input: NewTask): Promise<Task>;
  /**
   * `forTokenCheck`: the token hash is checked against what it returns, so a store answering from
   * known heads returns one no staler than its bound for tokens (HEAD_FRESH_MS).
   */
  getTask(taskId: string, options?: { forTokenCheck?: boolean }): Promise<StoredTask | null>;
  /**
   * Throws TaskNotFoundError, PhaseConflictError, IdempotencyMismatchError, and
   * LogQuotaExceededError when the lines would take the task past its log quota (nothing stored).
   */
  append(taskId: string, input: AppendInput): Promise<AppendResult>;
  /**
   * The task now and a page of its log lines (see LogsPageSchema). The task is read first and only
   * lines up to its `seq` are returned, so `nextAfterSeq` never skips an event. Null: no task.
   */
  readPage(taskId: string, input: ReadPageInput): Promise<TaskStatusPage | null>;
  /**
   * Replaces the task's agent token hash: the old token stops working at the next request on this
   * instance, and on the others within HEAD_FRESH_MS (the DynamoDB store answers from the heads it
   * knows for that long; 0: every request reads the hash from here). Throws TaskNotFoundError.
   */
  replaceTokenHash(taskId: string, tokenHash: string): Promise<void>;
  /**
   * A write seen on the bus, possibly made through another instance: a store that answers reads
   * from the heads it knows drops one older than `task`, so a subscriber's snapshot never lags
   * the events it was sent.
   */
  learn?(task: Task): void;
  /**
   * Forget what this instance knows of the task's head (a store that keeps known heads): its
   * events reach this instance only from now on, so what it knew may be older than events it never
   * heard. Reads go to the store until one made after this confirms the head.
   */
  forget?(taskId: string): void;
  /**
   * Where to ask whether every write of a task reaches this instance (`TaskBus.hearing`): a store
   * with known heads then answers reads from them longer, with no request while nothing changes.
   */
  hearFrom?(hearing: (taskId: string) => object | undefined): void;
  /** One cheap request, for readiness (rejects when the store does not answer). Absent: nothing to ask. */
  ping?(): Promise<void>;
  /** The agent's most recently created task, or null. */
  getActiveTask(agentId: string): Promise<Task | null>;
  close(): Promise<void>;
}
