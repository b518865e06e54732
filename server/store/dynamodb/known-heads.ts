import type { Task } from '../../../protocol/index.js';
import type { LogUsage } from '../log-quota.js';
import type { BatchItem } from './items.js';

/** What the latest batch item says, without its lines (the tail Query projects these only). */
export type BatchHead = Pick<
  BatchItem,
  'sk' | 'fromSeq' | 'toSeq' | 'task' | 'idem' | 'ttl' | 'lineCount' | 'writtenAt' | 'logLines' | 'logBytes'
>;

/** A task's head as this instance last saw it confirmed: by its own write, its create, or a read. */
export interface KnownHead {
  /** The task at the head: the status item's, or the tail's when the status item lags it. */
  task: Task;
  tokenHash: string;
  /** The latest batch (null: nothing written yet): an append checks its Idempotency-Key first. */
  tail: BatchHead | null;
  /** The log the task holds as of `task` (its quota's counter). */
  usage: LogUsage;
  /**
   * The tail, when the status item had not caught up with it when this head was read (a write
   * whose status update waits, or a crashed writer's): a write after it first makes sure of its
   * IDEM item, as after a head read from the table.
   */
  lagging?: BatchHead | null;
}

export interface KnownHeadsConfig {
  /**
   * How long a head may answer reads (getTask, readPage) without asking DynamoDB: the bound on
   * how late this instance sees a write made through another one (or a token replaced there).
   */
  freshMs: number;
  /** The most tasks remembered; the least recently confirmed go first. */
  maxTasks: number;
  /** Milliseconds from a monotonic clock (performance.now), for the age of what is known. */
  now: () => number;
  /**
   * How long a head may answer reads while the bus vouches that this instance heard every write of
   * its task since the head was learned (see `hearing`). Default DEFAULT_HEAD_HEARD_MS.
   */
  heardMs?: number;
}

/**
 * What the bus says of a task (`TaskBus.hearing`): a value that stays the same for as long as every
 * write of the task reaches this instance, or undefined when it cannot say.
 */
export type Hearing = (taskId: string) => object | undefined;

/** HEAD_FRESH_MS's default: a poll every 5 s costs at most one head read per task per interval. */
export const DEFAULT_HEAD_FRESH_MS = 5_000;
/**
 * A head the bus vouches for answers reads this long (then one read confirms it again): the bound
 * for a write whose event was never sent (its instance died between the write and the publish).
 * The Redis bus's own resync of followed tasks runs as often (RESYNC_MS).
 */
export const DEFAULT_HEAD_HEARD_MS = 60_000;
/**
 * A head holds the task (its message up to 2,000 characters) and a little more: about 1 KB, at
 * worst a few KB, so a few MB in all, for the tasks active on an instance at once.
 */
export const DEFAULT_KNOWN_TASKS = 4_096;
/**
 * A head is written after for at most this long since it was confirmed. Any age is safe while the
 * slot after it cannot be freed (a write through another instance takes it, and the conditional
 * put then fails and reads), but a batch that DynamoDB's TTL deleted frees its slot: a head older
 * than the shortest TTL (a day) could take a seq again. Ten minutes is far from that.
 */
export const WRITE_MAX_AGE_MS = 10 * 60_000;

/**
 * When something was learned: `order` ranks it among everything this instance learned or forgot
 * (a counter, so two events in the same millisecond still have an order), `at` dates it for
 * freshness. A read takes its mark before it asks, a write before its status update (after its put,
 * when the update is written behind).
 */
export interface Mark {
  order: number;
  at: number;
  /** What the bus said of the task when the mark was taken (see Hearing). */
  heard?: object;
}

interface Entry {
  /** Null: forgotten at `mark`, and nothing learned before then may come back. */
  head: KnownHead | null;
  mark: Mark;
  /** When DynamoDB last told the token hash (a read, a create, a status update's answer). */
  hashMark: Mark;
}

/**
 * The heads of tasks this instance knows without asking DynamoDB (issue 15). Writes go on from a
 * known head of any age below WRITE_MAX_AGE_MS: their conditional put is the safety net, and a
 * loss drops the head and reads the true one. Reads are answered from a head only while it is
 * fresh (freshMs), so a write through another instance shows here within that bound. What is
 * known only moves forward: a head learned before a later one, or before the task was forgotten
 * (a replaced token hash, a failed write), is not taken (a read that was in flight meanwhile).
 * Bounded in count (maxTasks), least recently confirmed first out: Map keeps insertion order.
 */
export class KnownHeads {
  readonly #heads = new Map<string, Entry>();
  readonly #config: KnownHeadsConfig;
  #hearing: Hearing = () => undefined;
  #order = 0;

  constructor(config: KnownHeadsConfig) {
    this.#config = config;
  }

  get size(): number {
    return this.#heads.size;
  }

  /** The head to write after, if one is known (however fresh). */
  forWrite(taskId: string): KnownHead | undefined {
    return this.#within(taskId, WRITE_MAX_AGE_MS);
  }

  /**
   * The head to answer a read with: one confirmed within freshMs, or within heardMs while the bus
   * has vouched, since before the head was learned, that every write of the task reached this
   * instance (so none can have passed it unseen: a write's event drops the head, see `learn`).
   * With `tokenHash`, for checking a token: the hash told within freshMs (a token replaced
   * through another instance is no bus event).
   */
  forRead(taskId: string, { tokenHash = false } = {}): KnownHead | undefined {
    const { freshMs, heardMs = DEFAULT_HEAD_HEARD_MS } = this.#config;
    const known = this.#heads.get(taskId);
    const heard = known?.mark.heard;
    const vouched = freshMs > 0 && heard !== undefined && this.#hearing(taskId) === heard;
    const head = this.#within(taskId, vouched ? Math.max(freshMs, heardMs) : freshMs);
    if (head && tokenHash && this.#config.now() - known!.hashMark.at >= freshMs) return undefined;
    return head;
  }

  /** Where reads learn what the bus vouches for (the bus exists after the store). */
  hearFrom(hearing: Hearing): void {
    this.#hearing = hearing;
  }

  /**
   * Now, as a mark: take it before asking DynamoDB, and confirm what it answered with it. With the
   * task's id, it also holds what the bus said of the task at that moment.
   */
  mark(taskId?: string): Mark {
    const heard = taskId === undefined ? undefined : this.#hearing(taskId);
    return { order: ++this.#order, at: this.#config.now(), ...(heard ? { heard } : {}) };
  }

  /**
   * `head` was the task's head at `mark`. Not taken when something later is known (a newer mark,
   * or a head further on), or the task was forgotten after `mark`.
   */
  confirm(taskId: string, head: KnownHead, mark = this.mark(taskId)): void {
    const known = this.#heads.get(taskId);
    if (known && (mark.order < known.mark.order || head.task.seq < (known.head?.task.seq ?? 0))) return;
    this.#set(taskId, { head, mark, hashMark: mark });
  }

  /**
   * A write of this instance put `head` (its status update written behind, so DynamoDB has not
   * told the token hash): the head is known from `mark`, the hash stays what was last told.
   */
  wrote(taskId: string, head: KnownHead, mark = this.mark(taskId)): void {
    const known = this.#heads.get(taskId);
    if (known && (mark.order < known.mark.order || head.task.seq < (known.head?.task.seq ?? 0))) return;
    const told = known?.head ? { tokenHash: known.head.tokenHash, hashMark: known.hashMark } : null;
    this.#set(taskId, {
      head: told ? { ...head, tokenHash: told.tokenHash } : head,
      mark,
      hashMark: told?.hashMark ?? mark,
    });
  }

  /** DynamoDB held `tokenHash` at `mark` (a status update's answer): taken unless newer is known. */
  tokenHashAt(taskId: string, tokenHash: string, mark: Mark): void {
    const known = this.#heads.get(taskId);
    if (!known?.head || mark.order < known.hashMark.order) return;
    known.head = { ...known.head, tokenHash };
    known.hashMark = mark;
  }

  /**
   * Nothing is known any more (a write lost its slot or failed part-way, the token hash was
   * replaced), and nothing learned before now may come back.
   */
  forget(taskId: string): void {
    const mark = this.mark();
    this.#set(taskId, { head: null, mark, hashMark: mark });
  }

  #set(taskId: string, entry: Entry): void {
    if (this.#config.maxTasks <= 0) return;
    this.#heads.delete(taskId);
    this.#heads.set(taskId, entry);
    if (this.#heads.size > this.#config.maxTasks) {
      this.#heads.delete(this.#heads.keys().next().value!);
    }
  }

  #within(taskId: string, maxAgeMs: number): KnownHead | undefined {
    const known = this.#heads.get(taskId);
    if (!known) return undefined;
    const age = this.#config.now() - known.mark.at;
    // Past WRITE_MAX_AGE_MS nothing about it is of use, not even the order of a forget.
    if (age >= WRITE_MAX_AGE_MS) this.#heads.delete(taskId);
    return known.head !== null && age < WRITE_MAX_AGE_MS && age < maxAgeMs ? known.head : undefined;
  }
}
