import type { LogEntry } from '../../protocol/index.js';
import { LogQuotaExceededError } from './store-errors.js';

/**
 * The most log a task may hold (issue 13): lines and bytes of line text (UTF-8). Counted over the
 * task's life, expired lines included, so an agent cannot outrun the cap by waiting for a TTL.
 */
export interface LogQuota {
  maxLines: number;
  maxBytes: number;
}

/** What a task has stored so far; carried forward by every write. */
export interface LogUsage {
  lines: number;
  bytes: number;
}

/**
 * The defaults of TASK_LOG_MAX_LINES / TASK_LOG_MAX_BYTES: 50 times the few thousand lines a long
 * agent run logs, and 64 MiB, about 100,000 lines of 670 bytes; an agent flooding at its rate limit
 * (600 posts of 500 lines a minute) reaches it in well under a minute instead of filling the disk.
 */
export const DEFAULT_LOG_QUOTA: LogQuota = { maxLines: 100_000, maxBytes: 64 * 1024 * 1024 };

export const NO_USAGE: LogUsage = { lines: 0, bytes: 0 };

/** The bytes a line counts for, in the quota and in a page's byte budget: its text in UTF-8. */
export function lineBytes(line: { message: string }): number {
  return Buffer.byteLength(line.message, 'utf8');
}

/**
 * The usage after storing `logs`, or LogQuotaExceededError when it would pass the quota. A write
 * without lines always passes: an agent at its cap can still finish its task.
 */
export function chargeLogs(
  taskId: string,
  usage: LogUsage,
  logs: readonly LogEntry[],
  quota: LogQuota,
): LogUsage {
  if (logs.length === 0) return usage;
  let bytes = 0;
  for (const line of logs) bytes += lineBytes(line);
  const after = { lines: usage.lines + logs.length, bytes: usage.bytes + bytes };
  if (after.lines > quota.maxLines || after.bytes > quota.maxBytes) {
    throw new LogQuotaExceededError(taskId, usage, { lines: logs.length, bytes }, quota);
  }
  return after;
}
