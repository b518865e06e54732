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

export interface MergeResult {
  /** The task, the lines or hasOlder changed. */
  changed: boolean;
  need: MergeNeed;
}

/** A snapshot, a status page or a logs page: the task is absent from the logs route. */
export type PageLike = LogsPage & { task?: Task };

const NONE: MergeNeed = { kind: 'none' };

/**
 * One task's data merged by `seq`, whatever order it arrives in and by whichever path
 * (snapshot, live update, poll, gap fill, older page). The cursor is the last event applied:
 * every event up to it is in (or was deliberately dropped as too old), none after it.
 */
export class SeqMerge {
  readonly #limits: MergeLimits;
  #cursor: number | null = null;
  #task: Task | null = null;
  #logs: readonly LogEntry[] = [];
  #hasOlder = false;
  /** Updates that arrived ahead of the cursor, sorted by fromSeq. */
  #pending: UpdateMessage[] = [];
  #capacity: number;

  constructor(limits: Partial<MergeLimits> = {}) {
    this.#limits = { ...MERGE_LIMITS, ...limits };
    this.#capacity = this.#limits.maxLogs;
  }

  /** The last event applied; null before the first page (subscribe/poll without a cursor). */
  get cursor(): number | null {
    return this.#cursor;
  }

  get task(): Task | null {
    return this.#task;
  }

  /** A new array whenever the lines change, so a renderer can compare by identity. */
  get logs(): readonly LogEntry[] {
    return this.#logs;
  }

  get hasOlder(): boolean {
    return this.#hasOlder;
  }

  get oldestSeq(): number | null {
    return this.#logs[0]?.seq ?? null;
  }

  /** The task is final and every event of it is in: no more live work is needed. */
  get complete(): boolean {
    const task = this.#task;
    return (
      task !== null &&
      isTerminal(task.phase) &&
      this.#cursor !== null &&
      this.#cursor >= task.seq &&
      this.#pending.length === 0
    );
  }

  /** A newer status with no events attached (e.g. an agent's active task). */
  adoptTask(task: Task): boolean {
    const held = this.#task;
    if (held !== null && held.id === task.id && task.seq <= held.seq) return false;
    this.#task = task;
    return true;
  }

  /**
   * A page that answers a request made with `requestedAfterSeq` (null: a tail, i.e. no cursor).
   * Knowing the request matters: a forward page covers every event after it, a tail page only
   * the events from its first line on.
   */
  applyPage(page: PageLike, requestedAfterSeq: number | null): MergeResult {
    let changed = page.task !== undefined && this.adoptTask(page.task);
    if (this.#cursor === null) {
      this.#cursor = requestedAfterSeq ?? page.nextAfterSeq;
      this.#logs = page.logs.slice();
      // A forward page from a cursor says nothing of the lines before it; assume there are some.
      this.#hasOlder = requestedAfterSeq === null ? page.hasOlder : page.hasOlder || requestedAfterSeq > 0;
      this.#cursor = Math.max(this.#cursor, page.nextAfterSeq);
      this.#trim();
      changed = true;
    } else {
      const cursor = this.#cursor;
      if (!this.#joins(page, requestedAfterSeq, cursor)) return { changed, need: this.#fill() };
      changed = this.#append(page.logs) || changed;
      this.#cursor = Math.max(cursor, page.nextAfterSeq);
    }
    changed = this.#drain() || changed;
    const gap = page.hasMore || this.#pending.length > 0;
    return { changed, need: gap ? this.#fill() : NONE };
  }

  /** A live update: applied in order, dropped when already held, buffered when ahead. */
  applyUpdate(update: UpdateMessage): MergeResult {
    const changed = this.adoptTask(update.task);
    const cursor = this.#cursor;
    // Before the first snapshot there is nothing to join to; the snapshot will drain it.
    if (cursor === null) return { changed, need: this.#buffer(update) ? NONE : this.#reload() };
    if (update.task.seq <= cursor) return { changed, need: NONE };
    if (update.fromSeq > cursor + 1) {
      return { changed, need: this.#buffer(update) ? this.#fill() : this.#reload() };
    }
    this.#applyInOrder(update);
    this.#drain();
    return { changed: true, need: this.#pending.length > 0 ? this.#fill() : NONE };
  }

  /** A backward page (GET logs?beforeSeq=…): earlier lines, prepended. Never moves the cursor. */
  prependOlder(page: LogsPage, beforeSeq: number): boolean {
    const limit = Math.min(beforeSeq, this.oldestSeq ?? Infinity);
    const older = page.logs.filter((line) => line.seq < limit);
    if (older.length === 0 && page.hasOlder === this.#hasOlder) return false;
    // The reader is going through history: live lines must not push it away at the usual bound.
    this.#capacity = this.#limits.maxLogsWithOlder;
    this.#logs = [...older, ...this.#logs];
    this.#hasOlder = page.hasOlder;
    this.#trim();
    return true;
  }

  /**
   * Forget the cursor and buffered updates (so the next page is taken as a fresh tail) but keep
   * showing the task and lines until it arrives.
   */
  reset(): void {
    this.#cursor = null;
    this.#pending = [];
    this.#capacity = this.#limits.maxLogs;
  }

  #joins(page: PageLike, requestedAfterSeq: number | null, cursor: number): boolean {
    if (requestedAfterSeq !== null) return requestedAfterSeq <= cursor;
    // A tail reaches back to its first line only; it joins if that line is next to ours, or
    // if it has no earlier lines at all (then it holds every line of the task).
    const first = page.logs[0];
    if (first === undefined || !page.hasOlder) return !page.hasOlder;
    return first.seq <= cursor + 1;
  }

  #applyInOrder(update: UpdateMessage): void {
    this.#append(update.logs);
    this.#cursor = Math.max(this.#cursor ?? 0, update.task.seq);
  }

  #append(lines: readonly LogEntry[]): boolean {
    const cursor = this.#cursor ?? 0;
    const fresh = lines.filter((line) => line.seq > cursor);
    if (fresh.length === 0) return false;
    this.#logs = [...this.#logs, ...fresh];
    this.#trim();
    return true;
  }

  #trim(): void {
    if (this.#logs.length <= this.#capacity) return;
    this.#logs = this.#logs.slice(this.#logs.length - this.#capacity);
    this.#hasOlder = true;
  }

  /** Applies the buffered updates that now join the cursor; drops those already covered. */
  #drain(): boolean {
    let changed = false;
    while (this.#pending.length > 0 && this.#cursor !== null) {
      const next = this.#pending[0]!;
      if (next.task.seq <= this.#cursor) {
        this.#pending.shift();
      } else if (next.fromSeq <= this.#cursor + 1) {
        this.#pending.shift();
        this.#applyInOrder(next);
        changed = true;
      } else {
        break;
      }
    }
    return changed;
  }

  /** False when the buffer is full (it is then emptied: the caller reloads). */
  #buffer(update: UpdateMessage): boolean {
    if (this.#pending.length >= this.#limits.maxPending) {
      this.#pending = [];
      return false;
    }
    const at = this.#pending.findIndex((p) => p.fromSeq > update.fromSeq);
    if (at === -1) this.#pending.push(update);
    else this.#pending.splice(at, 0, update);
    return true;
  }

  #fill(): MergeNeed {
    const cursor = this.#cursor!;
    // Paging through more lines than we would keep only to drop them: take the tail instead.
    if (this.#task !== null && this.#task.seq - cursor > this.#limits.maxLogs) return this.#reload();
    return { kind: 'fill', afterSeq: cursor };
  }

  #reload(): MergeNeed {
    this.reset();
    return { kind: 'reload' };
  }
}
