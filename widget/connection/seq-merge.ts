import { isTerminal } from '../../protocol/phases.js';
import type { LogsPage } from '../../protocol/http.js';
import type { LogEntry, Task } from '../../protocol/task.js';
import type { UpdateMessage } from '../../protocol/ws-messages.js';

export const MERGE_LIMITS = {
  /** Lines held while following a task; the oldest are dropped first (hasOlder turns true). */
  maxLogs: 2_000,
  /** Lines held at most once the reader asked for older pages. */
  maxLogsWithOlder: 10_000,
  /** Out-of-order updates buffered while a gap is filled; beyond this, reload from the tail. */
  maxPending: 100,
} as const;

export type MergeLimits = { [K in keyof typeof MERGE_LIMITS]: number };

/** What the caller must fetch for the merge to be whole again. */
export type MergeNeed =
  | { kind: 'none' }
  /** Events after `afterSeq` are missing: fetch forward pages from there. */
  | { kind: 'fill'; afterSeq: number }
  /**
   * Too far behind (or too much buffered) to fill page by page: the merge has forgotten its
   * cursor (it still shows what it has) and wants the tail, as for a fresh panel.
   */
  | { kind: 'reload' };

/** A snapshot, a status page or a logs page: the task is absent from the logs route. */
export type PageLike = LogsPage & { task?: Task };

const NONE: MergeNeed = { kind: 'none' };

/**
 * One task's data merged by `seq`, whatever order it arrives in and by whichever path
 * (snapshot, live update, poll, gap fill, older page). The cursor is the last event applied:
 * every event up to it is in (or was deliberately dropped as too old), none after it.
 */
export interface SeqMerge {
  /** The last event applied; null before the first page (subscribe/poll without a cursor). */
  readonly cursor: number | null;
  readonly task: Task | null;
  /** A new array whenever the lines change, so a renderer can compare by identity. */
  readonly logs: readonly LogEntry[];
  readonly hasOlder: boolean;
  readonly oldestSeq: number | null;
  /** The task is final and every event of it is in: no more live work is needed. */
  readonly complete: boolean;
  /** A newer status with no events attached (e.g. an agent's active task). */
  adoptTask(task: Task): void;
  /**
   * A page that answers a request made with `requestedAfterSeq` (null: a tail, i.e. no cursor).
   * Knowing the request matters: a forward page covers every event after it, a tail page only
   * the events from its first line on.
   */
  applyPage(page: PageLike, requestedAfterSeq: number | null): MergeNeed;
  /** A live update: applied in order, dropped when already held, buffered when ahead. */
  applyUpdate(update: UpdateMessage): MergeNeed;
  /** A backward page (GET logs?beforeSeq=…): earlier lines, prepended. Never moves the cursor. */
  prependOlder(page: LogsPage, beforeSeq: number): boolean;
  /**
   * Forget the cursor and buffered updates (so the next page is taken as a fresh tail) but keep
   * showing the task and lines until it arrives.
   */
  reset(): void;
}

/** A closure, not a class: its state minifies to one-letter names (issue 7, the size budget). */
export function seqMerge(limits: Partial<MergeLimits> = {}): SeqMerge {
  const { maxLogs, maxLogsWithOlder, maxPending } = { ...MERGE_LIMITS, ...limits };
  let cursor: number | null = null;
  let task: Task | null = null;
  let logs: readonly LogEntry[] = [];
  let hasOlder = false;
  /** Updates that arrived ahead of the cursor, sorted by fromSeq. */
  let pending: UpdateMessage[] = [];
  let capacity = maxLogs;

  const oldestSeq = () => logs[0]?.seq ?? null;

  function adoptTask(next: Task): void {
    if (task === null || task.id !== next.id || next.seq > task.seq) task = next;
  }

  function joins(page: PageLike, requestedAfterSeq: number | null, at: number): boolean {
    if (requestedAfterSeq !== null) return requestedAfterSeq <= at;
    // A tail reaches back to its first line only; it joins if that line is next to ours, or
    // if it has no earlier lines at all (then it holds every line of the task).
    const first = page.logs[0];
    if (first === undefined || !page.hasOlder) return !page.hasOlder;
    return first.seq <= at + 1;
  }

  function applyInOrder(update: UpdateMessage): void {
    append(update.logs);
    cursor = Math.max(cursor ?? 0, update.task.seq);
  }

  function append(lines: readonly LogEntry[]): void {
    const at = cursor ?? 0;
    const fresh = lines.filter((line) => line.seq > at);
    // Unchanged lines keep their array, so a renderer comparing by identity sees no change.
    if (fresh.length === 0) return;
    logs = [...logs, ...fresh];
    trim();
  }

  function trim(): void {
    if (logs.length <= capacity) return;
    logs = logs.slice(logs.length - capacity);
    hasOlder = true;
  }

  /** Applies the buffered updates that now join the cursor; drops those already covered. */
  function drain(): void {
    for (let next; (next = pending[0]) && cursor !== null; pending.shift()) {
      if (next.task.seq > cursor) {
        if (next.fromSeq > cursor + 1) break;
        applyInOrder(next);
      }
    }
  }

  /** False when the buffer is full (it is then emptied: the caller reloads). */
  function buffer(update: UpdateMessage): boolean {
    if (pending.length >= maxPending) {
      pending = [];
      return false;
    }
    const at = pending.findIndex((p) => p.fromSeq > update.fromSeq);
    pending.splice(at < 0 ? pending.length : at, 0, update);
    return true;
  }

  function fill(): MergeNeed {
    const at = cursor!;
    // Paging through more lines than we would keep only to drop them: take the tail instead.
    if (task !== null && task.seq - at > maxLogs) return reload();
    return { kind: 'fill', afterSeq: at };
  }

  function reset(): void {
    cursor = null;
    pending = [];
    capacity = maxLogs;
  }

  function reload(): MergeNeed {
    reset();
    return { kind: 'reload' };
  }

  return {
    get cursor() {
      return cursor;
    },
    get task() {
      return task;
    },
    get logs() {
      return logs;
    },
    get hasOlder() {
      return hasOlder;
    },
    get oldestSeq() {
      return oldestSeq();
    },
    get complete() {
      return (
        task !== null &&
        isTerminal(task.phase) &&
        cursor !== null &&
        cursor >= task.seq &&
        pending.length === 0
      );
    },
    adoptTask,
    reset,

    applyPage(page, requestedAfterSeq) {
      if (page.task) adoptTask(page.task);
      if (cursor === null) {
        logs = page.logs.slice();
        // A forward page from a cursor says nothing of the lines before it; assume there are some.
        hasOlder = requestedAfterSeq === null ? page.hasOlder : page.hasOlder || requestedAfterSeq > 0;
        cursor = Math.max(requestedAfterSeq ?? 0, page.nextAfterSeq);
        trim();
      } else {
        if (!joins(page, requestedAfterSeq, cursor)) return fill();
        append(page.logs);
        cursor = Math.max(cursor, page.nextAfterSeq);
      }
      drain();
      return page.hasMore || pending.length > 0 ? fill() : NONE;
    },

    applyUpdate(update) {
      adoptTask(update.task);
      // Before the first snapshot there is nothing to join to; the snapshot will drain it.
      if (cursor === null) return buffer(update) ? NONE : reload();
      if (update.task.seq <= cursor) return NONE;
      if (update.fromSeq > cursor + 1) return buffer(update) ? fill() : reload();
      applyInOrder(update);
      drain();
      return pending.length > 0 ? fill() : NONE;
    },

    prependOlder(page, beforeSeq) {
      const limit = Math.min(beforeSeq, oldestSeq() ?? Infinity);
      const older = page.logs.filter((line) => line.seq < limit);
      if (older.length === 0 && page.hasOlder === hasOlder) return false;
      // The reader is going through history: live lines must not push it away at the usual bound.
      capacity = maxLogsWithOlder;
      logs = [...older, ...logs];
      hasOlder = page.hasOlder;
      trim();
      return true;
    },
  };
}
