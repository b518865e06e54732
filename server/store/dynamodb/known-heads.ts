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
  task: Task;
  tokenHash: string;
  /** The latest batch (null: nothing written yet): an append checks its Idempotency-Key first. */
  tail: BatchHead | null;
  /** The log the task holds as of `task` (its quota's counter). */
  usage: LogUsage;
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
}

/** HEAD_FRESH_MS's default: a poll every 5 s costs at most one head read per task per interval. */
export const DEFAULT_HEAD_FRESH_MS = 5_000;
export const DEFAULT_KNOWN_TASKS = 10_000;
/**
 * A head is written after for at most this long since it was confirmed. Any age is safe while the
 * slot after it cannot be freed (a write through another instance takes it, and the conditional
 * put then fails and reads), but a batch that DynamoDB's TTL deleted frees its slot: a head older
 * than the shortest TTL (a day) could take a seq again. Ten minutes is far from that.
 */
const WRITE_MAX_AGE_MS = 10 * 60_000;

/**
 * The heads of tasks this instance knows without asking DynamoDB (issue 15). Writes go on from a
 * known head of any age below WRITE_MAX_AGE_MS: their conditional put is the safety net, and a
 * loss drops the head and reads the true one. Reads are answered from a head only while it is
 * fresh (freshMs), so a write through another instance shows here within that bound. Bounded in
 * count (maxTasks), least recently confirmed first out: Map keeps insertion order.
 */
export class KnownHeads {
  readonly #heads = new Map<string, { head: KnownHead; at: number }>();
  readonly #config: KnownHeadsConfig;

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

  /** The head to answer a read with, if it was confirmed within freshMs. */
  forRead(taskId: string): KnownHead | undefined {
    return this.#within(taskId, this.#config.freshMs);
  }

  /** `head` is the task's head as of `at` (by default now): a read started then, or a write just done. */
  confirm(taskId: string, head: KnownHead, at = this.#config.now()): void {
    if (this.#config.maxTasks <= 0) return;
    this.#heads.delete(taskId);
    this.#heads.set(taskId, { head, at });
    if (this.#heads.size > this.#config.maxTasks) {
      this.#heads.delete(this.#heads.keys().next().value!);
    }
  }

  /** Nothing is known any more (a write lost its slot, or failed half-way). */
  forget(taskId: string): void {
    this.#heads.delete(taskId);
  }

  #within(taskId: string, maxAgeMs: number): KnownHead | undefined {
    const known = this.#heads.get(taskId);
    if (!known) return undefined;
    const age = this.#config.now() - known.at;
    if (age < WRITE_MAX_AGE_MS && age < maxAgeMs) return known.head;
    if (age >= WRITE_MAX_AGE_MS) this.#heads.delete(taskId);
    return undefined;
  }
}
