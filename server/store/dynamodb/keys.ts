import { createHash } from 'node:crypto';

/**
 * The single table's key design (see ./README.md). Every item of a task shares the partition
 * `TASK#<id>`, so one strongly consistent Query sees all of them in sort-key order.
 */

/** Seqs are zero-padded so that the string sort key orders like the number. */
const SEQ_DIGITS = 12;

export const STATUS_SK = 'STATUS';
export const BATCH_SK_PREFIX = 'LOG#';
/** The first sort key after every batch key: `LOG$` > `LOG#<digits>` (`$` follows `#`). */
export const BATCH_SK_END = 'LOG$';

export function taskPk(taskId: string): string {
  return `TASK#${taskId}`;
}

/** A write's batch item is keyed by the first seq it takes; claiming that key claims the slot. */
export function batchSk(fromSeq: number): string {
  return `${BATCH_SK_PREFIX}${String(fromSeq).padStart(SEQ_DIGITS, '0')}`;
}

/** Overflow lines of a big write, staged before its batch item claims a slot (see README). */
export function partSk(writeId: string, index: number): string {
  return `PART#${writeId}#${String(index).padStart(4, '0')}`;
}

/**
 * Idempotency-Key values are client text of any length and alphabet; the sort key holds a hash of
 * it (sort keys are limited to 1 KB) and the item keeps the key itself.
 */
export function idempotencySk(key: string): string {
  return `IDEM#${createHash('sha256').update(key).digest('base64url')}`;
}

/** Sparse GSI `byAgent`: only task status items carry these two attributes. */
export const BY_AGENT_INDEX = 'byAgent';

export function agentKey(agentId: string): string {
  return `AGENT#${agentId}`;
}

/** Newest first when sorted descending; the task id breaks a tie of equal timestamps. */
export function createdKey(createdAt: string, taskId: string): string {
  return `${createdAt}#${taskId}`;
}
