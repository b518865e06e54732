// What an agent has said and the server has not acknowledged yet, in order, and how it is cut into
// POSTs. Pure: no I/O, no timers (agent-task.ts sends). Zod-free, like everything in sdk/agent: it
// runs in browsers, Deno and Bun as well as Node.
import { LIMITS } from '../../protocol/constants.js';
import type { Phase } from '../../protocol/phases.js';
import type { LogLevel } from '../../protocol/task.js';

/** A status change: any of the three fields. */
export interface StatusFields {
  phase?: Phase;
  progress?: number | null;
  message?: string | null;
}

type Op =
  { kind: 'line'; level: LogLevel; message: string; at: string } | { kind: 'status'; fields: StatusFields };

/** One POST body, fixed once cut: a retry sends the same body with the same Idempotency-Key. */
export interface Batch {
  body: {
    phase?: Phase;
    progress?: number | null;
    message?: string | null;
    logs?: { level: LogLevel; message: string; at: string }[];
  };
  /** The Idempotency-Key: one per batch, reused by every retry of it. */
  key: string;
  /** How many queued operations it carries (see Outbox.delivered). */
  ops: number;
}

export interface OutboxLimits {
  /** Lines in one POST (the server takes up to LIMITS.logLinesPerPost). */
  linesPerPost: number;
  /** Bytes of the lines' JSON in one POST, well under the server's BODY_LIMIT_BYTES (256 KiB). */
  bytesPerPost: number;
  /** Lines waiting at most; past it, adding one throws OutboxFullError. */
  maxLines: number;
}

export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = {
  linesPerPost: LIMITS.logLinesPerPost,
  bytesPerPost: 128 * 1024,
  maxLines: 10_000,
};

export class OutboxFullError extends Error {
  constructor(maxLines: number) {
    super(
      `${maxLines} log lines are waiting to be sent (the server is slow or unreachable); ` +
        'await flush() before logging more, or raise maxBufferedLines',
    );
    this.name = 'OutboxFullError';
  }
}

const encoder = new TextEncoder();
/** A line's JSON besides its message: `{"level":"error","message":,"at":"…"},` */
const LINE_JSON_OVERHEAD = 64;

export class Outbox {
  readonly #limits: OutboxLimits;
  readonly #ops: Op[] = [];
  #head = 0;
  #lines = 0;
  #cut: Batch | null = null;
  /** Operations added so far, and acknowledged so far: `flush` waits for the one to reach the other. */
  #added = 0;
  #delivered = 0;
  readonly #newKey: () => string;

  constructor(limits: Partial<OutboxLimits> = {}, newKey: () => string = randomKey) {
    this.#limits = { ...DEFAULT_OUTBOX_LIMITS, ...limits };
    this.#newKey = newKey;
  }

  get added(): number {
    return this.#added;
  }

  get delivered(): number {
    return this.#delivered;
  }

  /** Lines waiting, the batch being sent included. */
  get lines(): number {
    return this.#lines;
  }

  get empty(): boolean {
    return this.#head === this.#ops.length;
  }

  /** Whether what waits already fills a POST (send now rather than after the batching delay). */
  get full(): boolean {
    let lines = 0;
    for (let i = this.#head; i < this.#ops.length; i++) {
      if (this.#ops[i]!.kind === 'status') return true;
      if (++lines >= this.#limits.linesPerPost) return true;
    }
    return false;
  }

  /**
   * A log line; one longer than the server takes (LIMITS.logLineChars) goes as several lines, in
   * order, none lost. Throws OutboxFullError past `maxLines` waiting.
   */
  addLine(level: LogLevel, message: string, at: Date): void {
    const pieces = splitLine(message);
    if (this.#lines + pieces.length > this.#limits.maxLines) throw new OutboxFullError(this.#limits.maxLines);
    const when = at.toISOString();
    for (const piece of pieces) this.#push({ kind: 'line', level, message: piece, at: when });
    this.#lines += pieces.length;
  }

  addStatus(fields: StatusFields): void {
    checkStatus(fields);
    // A field given as undefined is not given: it must not undo an earlier change when merged.
    const given = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
    this.#push({ kind: 'status', fields: given });
  }

  /**
   * The batch to send: the same one until `acknowledge`. Lines in order, then at most one status
   * change, since the server gives a POST's status change the seq after its lines (a line said
   * after a status change goes in the next POST). Consecutive status changes merge, the later
   * field winning, but never two phases: each phase a panel passes through is posted.
   */
  next(): Batch | null {
    if (this.#cut) return this.#cut;
    if (this.empty) return null;
    const logs: NonNullable<Batch['body']['logs']> = [];
    let bytes = 0;
    let i = this.#head;
    for (; i < this.#ops.length; i++) {
      const op = this.#ops[i]!;
      if (op.kind !== 'line') break;
      // As sent: JSON escapes quotes and backslashes (2 bytes) and control characters (6).
      const size = encoder.encode(JSON.stringify(op.message)).length + LINE_JSON_OVERHEAD;
      if (
        logs.length === this.#limits.linesPerPost ||
        (logs.length > 0 && bytes + size > this.#limits.bytesPerPost)
      )
        break;
      logs.push({ level: op.level, message: op.message, at: op.at });
      bytes += size;
    }
    const status: StatusFields = {};
    if (logs.length < this.#limits.linesPerPost && i < this.#ops.length) {
      for (; i < this.#ops.length; i++) {
        const op = this.#ops[i]!;
        if (op.kind !== 'status' || (op.fields.phase !== undefined && status.phase !== undefined)) break;
        Object.assign(status, op.fields);
      }
    }
    this.#cut = {
      body: { ...status, ...(logs.length > 0 ? { logs } : {}) },
      key: this.#newKey(),
      ops: i - this.#head,
    };
    return this.#cut;
  }

  /** The server stored the batch `next` returned. */
  acknowledge(): void {
    const cut = this.#cut;
    if (!cut) return;
    this.#cut = null;
    this.#head += cut.ops;
    this.#delivered += cut.ops;
    this.#lines -= cut.body.logs?.length ?? 0;
    // Compact now and then, not on every batch.
    if (this.#head > 1024 && this.#head * 2 > this.#ops.length) {
      this.#ops.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /**
   * The batch being sent, without its lines (the server refused them: the task's log is full):
   * null when it had nothing else. Its key is new, since its body is.
   */
  withoutLines(): Batch | null {
    const cut = this.#cut;
    if (!cut?.body.logs) return cut;
    const { logs, ...status } = cut.body;
    this.#lines -= logs.length;
    if (Object.keys(status).length === 0) {
      this.#cut = { body: {}, key: cut.key, ops: cut.ops };
      return null;
    }
    this.#cut = { body: status, key: this.#newKey(), ops: cut.ops };
    return this.#cut;
  }

  /**
   * The server refused the batch being sent as too large (its BODY_LIMIT_BYTES is below ours): it
   * is cut again, with half the byte budget, and a new key (nothing of it was stored).
   */
  shrink(): void {
    this.#cut = null;
    this.#limits.bytesPerPost = Math.max(1, Math.floor(this.#limits.bytesPerPost / 2));
  }

  /** Drops everything waiting (the server refused for good); returns how many operations. */
  discard(): number {
    const dropped = this.#ops.length - this.#head;
    this.#ops.length = 0;
    this.#head = 0;
    this.#lines = 0;
    this.#cut = null;
    return dropped;
  }

  #push(op: Op): void {
    this.#ops.push(op);
    this.#added += 1;
  }
}

/** Pieces of at most LIMITS.logLineChars UTF-16 units, never splitting a surrogate pair. */
export function splitLine(message: string, max: number = LIMITS.logLineChars): string[] {
  if (message.length === 0) return [' '];
  const pieces: string[] = [];
  for (let start = 0; start < message.length;) {
    let end = Math.min(start + max, message.length);
    const last = message.charCodeAt(end - 1);
    if (end < message.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    pieces.push(message.slice(start, end));
    start = end;
  }
  return pieces;
}

function checkStatus({ phase, progress, message }: StatusFields): void {
  if (phase === undefined && progress === undefined && message === undefined)
    throw new TypeError('a status change needs a phase, a progress or a message');
  if (progress !== undefined && progress !== null && !(progress >= 0 && progress <= 100))
    throw new RangeError(`progress must be a number from 0 to 100, got ${progress}`);
  if (typeof message === 'string' && message.length > LIMITS.messageChars)
    throw new RangeError(
      `a message takes at most ${LIMITS.messageChars} characters; put longer text in a log line`,
    );
}

function randomKey(): string {
  // Everywhere this runs (Node 20, Deno, Bun, browsers in secure contexts); a plain page over
  // http has no randomUUID, and a key only has to be unique per task, so Math.random will do.
  return (
    globalThis.crypto?.randomUUID?.() ?? `k-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
  );
}
