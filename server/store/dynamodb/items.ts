import type { LogEntry, LogLevel, Task } from '../../../protocol/index.js';
import type { LogUsage } from '../log-quota.js';

/**
 * The shapes of the table's items, and the pure rules for laying a write's lines out in them.
 * Key attributes are `pk` and `sk` (see ./keys.ts); everything else is plain attributes.
 */

/** `TASK#<id>` / `STATUS`: the task, its token hash, and the head as of the last status update. */
export interface StatusItem extends Task {
  pk: string;
  sk: string;
  tokenHash: string;
  /** GSI `byAgent` keys (sparse: only status items have them). */
  agentKey: string;
  createdKey: string;
  /**
   * Unique per create: when the SDK resends a create whose answer was lost, the put fails against
   * the item it wrote itself, and this tells it from a task created by someone else with that id.
   */
  createId?: string;
  /** Log lines and bytes the task holds as of `seq` (the latest write's counts; absent: none yet). */
  logLines?: number;
  logBytes?: number;
}

/** A log line as stored; its seq is its batch's `fromSeq` plus its position. */
export interface StoredLine {
  at: string;
  level: LogLevel;
  message: string;
}

/** `TASK#<id>` / `LOG#<fromSeq>`: one write (one POST): its lines and the status after it. */
export interface BatchItem {
  pk: string;
  sk: string;
  fromSeq: number;
  /** The write's last event; equals `task.seq`. */
  toSeq: number;
  /** The whole task after this write: the head, when this is the latest batch. */
  task: Task;
  lineCount: number;
  /** The lines, when they fit in this item: `packLines`' string (items written before: `lines`). */
  packed?: string;
  lines?: StoredLine[];
  /** Otherwise: staged in part items `PART#<writeId>#<n>` holding `counts[n]` lines each. */
  parts?: { writeId: string; counts: number[] };
  /** The Idempotency-Key this write answered, so a retry that finds it here replays. */
  idem?: { key: string; fingerprint: string };
  /** Epoch seconds after which the lines are gone (filtered on read; DynamoDB TTL deletes). */
  ttl: number;
  /** The writer's wall clock (epoch ms): tells a crashed writer's batch from one in progress. */
  writtenAt: number;
  /**
   * Unique per write (also names its parts). When the SDK resends a put whose answer was lost (a
   * reset, a timeout, a 5xx), the put fails against the item it wrote itself: this tells the two
   * apart from a slot taken by another writer. Items written before it was added lack it.
   */
  writeId?: string;
  /**
   * The task's log lines and bytes up to and including this write: the quota's counter, claimed
   * with the slot in the same conditional put, so no two writes can both spend the same room.
   * Items written before it was added lack it (their task counts from zero).
   */
  logLines?: number;
  logBytes?: number;
}

/** `TASK#<id>` / `PART#<writeId>#<n>`: overflow lines of a big write. */
export interface PartItem {
  pk: string;
  sk: string;
  /** As in a batch item: `packed`, or `lines` in parts written before it. */
  packed?: string;
  lines?: StoredLine[];
  ttl: number;
}

/** `TASK#<id>` / `IDEM#<hash of key>`: the answer to a write with an Idempotency-Key. */
export interface IdempotencyItem {
  pk: string;
  sk: string;
  key: string;
  fingerprint: string;
  fromSeq: number;
  task: Task;
  ttl: number;
}

/**
 * Budget for the lines of one item. DynamoDB's limit is 400 KB per item; the rest of a batch item
 * (keys, task snapshot, idempotency key) stays far below the remaining 100 KB, and 1 MB Query pages
 * still hold three such items.
 */
export const ITEM_LINES_BUDGET_BYTES = 300_000;

/**
 * A line as stored: `[at, level, message]` in JSON. An item holds its lines as one string of these
 * (`packed`), not as a list of maps: DynamoDB bills about the same bytes either way, but a list of
 * 50 maps of 3 attributes costs the SDK and dynalite far more to convert and check than one
 * string (dynalite took 21,500 such lines/s in 50-line puts, and 34,000 packed, on this machine).
 */
function encodeLine({ at, level, message }: StoredLine): string {
  return JSON.stringify([at, level, message]);
}

/**
 * What a line costs an item, in either form: its escaped UTF-8 bytes in a `packed` string, plus
 * enough for the attribute names and list and map overhead of the older form (`lines`).
 */
export function storedLineBytes(line: StoredLine): number {
  return Buffer.byteLength(encodeLine(line), 'utf8') + LINE_OVERHEAD_BYTES;
}

const LINE_OVERHEAD_BYTES = 24;

/** The lines of one item: `packed` (and how many), or, in the older form, `lines`. */
export interface LineGroup {
  packed?: string;
  lines?: StoredLine[];
  count: number;
}

/**
 * Lines, in order, in groups that each fit the budget (a group holds at least one line), packed
 * into one string each, or with `packed: false` as lists of maps: what a version before packing
 * reads (`DYNAMODB_PACKED_LINES`).
 */
export function packLines(
  lines: readonly StoredLine[],
  budget = ITEM_LINES_BUDGET_BYTES,
  { packed = true }: { packed?: boolean } = {},
): LineGroup[] {
  const groups: LineGroup[] = [];
  let encoded: string[] = [];
  let plain: StoredLine[] = [];
  let bytes = 0;
  const close = () =>
    groups.push(
      packed
        ? { packed: `[${encoded.join(',')}]`, count: encoded.length }
        : { lines: plain, count: plain.length },
    );
  for (const line of lines) {
    const text = encodeLine(line);
    const size = Buffer.byteLength(text, 'utf8') + LINE_OVERHEAD_BYTES;
    if (encoded.length > 0 && bytes + size > budget) {
      close();
      encoded = [];
      plain = [];
      bytes = 0;
    }
    encoded.push(text);
    plain.push(line);
    bytes += size;
  }
  if (encoded.length > 0) close();
  return groups;
}

/** The lines an item (batch or part) holds, in either form; undefined: none here (in parts). */
export function linesOf(item: { packed?: string; lines?: StoredLine[] }): StoredLine[] | undefined {
  if (item.packed === undefined) return item.lines;
  return (JSON.parse(item.packed) as [string, LogLevel, string][]).map(([at, level, message]) => ({
    at,
    level,
    message,
  }));
}

export function toStoredLine({ at, level, message }: LogEntry): StoredLine {
  return { at, level, message };
}

export function toLogEntry(line: StoredLine, seq: number): LogEntry {
  return { seq, at: line.at, level: line.level, message: line.message };
}

/** The public task out of a status item (drops keys and the token hash). */
export function taskOfStatusItem(item: StatusItem): Task {
  return {
    id: item.id,
    agentId: item.agentId,
    title: item.title,
    phase: item.phase,
    progress: item.progress,
    message: item.message,
    seq: item.seq,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
  };
}

/** The log a status or batch item says its task holds. */
export function usageOf(item: { logLines?: number; logBytes?: number }): LogUsage {
  return { lines: item.logLines ?? 0, bytes: item.logBytes ?? 0 };
}

/** A TTL attribute value: epoch seconds. */
export function ttlFrom(now: Date, days: number): number {
  return Math.floor(now.getTime() / 1000) + Math.round(days * 86_400);
}

export function isExpired(item: { ttl?: number }, now: Date): boolean {
  return item.ttl !== undefined && item.ttl <= Math.floor(now.getTime() / 1000);
}
