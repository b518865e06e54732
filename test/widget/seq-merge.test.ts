import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogsPage } from '../../protocol/http.js';
import type { LogEntry } from '../../protocol/task.js';
import type { UpdateMessage } from '../../protocol/ws-messages.js';
import { seqMerge, type MergeNeed, type SeqMerge } from '../../widget/connection/seq-merge.js';
import { line, lines, page, seqs, task, update } from './helpers/fixtures.js';
import { mulberry32 } from './helpers/prng.js';

/** A fresh panel's first page: the tail, all events up to `seq`. */
function started(seq: number, limits?: Parameters<typeof seqMerge>[0]): SeqMerge {
  const merge = seqMerge(limits);
  merge.applyPage(page(lines(1, seq), seq), null);
  return merge;
}

describe('SeqMerge: snapshots and pages', () => {
  it('takes a fresh tail as is: its lines, its cursor and whether older lines exist', () => {
    const merge = seqMerge();
    const result = merge.applyPage(page(lines(51, 60), 61, { hasOlder: true }), null);
    assert.deepEqual(result, { kind: 'none' });
    assert.deepEqual(
      seqs(merge.logs),
      lines(51, 60).map((l) => l.seq),
    );
    assert.equal(merge.cursor, 61);
    assert.equal(merge.hasOlder, true);
    assert.equal(merge.task?.seq, 61);
  });

  it('resumes from its cursor: a forward page adds only what is new', () => {
    const merge = started(10);
    const result = merge.applyPage(page(lines(11, 14), 15), 10);
    assert.deepEqual(result, { kind: 'none' });
    assert.deepEqual(
      seqs(merge.logs),
      lines(1, 14).map((l) => l.seq),
    );
    assert.equal(merge.cursor, 15, 'the status-only event 15 is covered by nextAfterSeq');
  });

  it('drops lines it already holds when a page overlaps (a lower cursor answered)', () => {
    const merge = started(10);
    merge.applyPage(page(lines(6, 12), 12), 5);
    assert.deepEqual(
      seqs(merge.logs),
      lines(1, 12).map((l) => l.seq),
    );
  });

  it('asks to page on from the new cursor when a page says hasMore', () => {
    const merge = started(10);
    const result = merge.applyPage(page(lines(11, 20), 50, { nextAfterSeq: 20, hasMore: true }), 10);
    assert.deepEqual(result, { kind: 'fill', afterSeq: 20 });
    assert.equal(merge.complete, false);
  });

  it('does not skip events when a tail does not reach back to its cursor: it asks for a fill', () => {
    const merge = started(10);
    const result = merge.applyPage(page(lines(31, 40), 40, { hasOlder: true }), null);
    assert.deepEqual(result, { kind: 'fill', afterSeq: 10 });
    assert.equal(merge.cursor, 10);
    assert.deepEqual(
      seqs(merge.logs),
      lines(1, 10).map((l) => l.seq),
    );
    assert.equal(merge.task?.seq, 40, 'the newer status is shown meanwhile');
  });

  it('joins a tail that reaches back to its cursor, or that holds every line of the task', () => {
    const near = started(10);
    near.applyPage(page(lines(11, 20), 20, { hasOlder: true }), null);
    assert.equal(near.cursor, 20);
    const whole = started(10);
    whole.applyPage(page([line(3), line(15)], 16, { hasOlder: false }), null);
    assert.deepEqual(seqs(whole.logs), [...lines(1, 10).map((l) => l.seq), 15]);
    assert.equal(whole.cursor, 16);
  });

  it('does not join a forward page asked from beyond its cursor', () => {
    const merge = started(10);
    const result = merge.applyPage(page(lines(21, 25), 25), 20);
    assert.deepEqual(result, { kind: 'fill', afterSeq: 10 });
    assert.equal(merge.cursor, 10);
  });

  it('never moves the status backwards when an older page arrives late', () => {
    const merge = started(10);
    merge.applyUpdate(update(11, 12, 'completing'));
    merge.applyPage(page([], 10), 10);
    assert.equal(merge.task?.phase, 'completing');
    assert.equal(merge.task?.seq, 12);
  });
});

describe('SeqMerge: live updates', () => {
  it('applies updates in order and moves the cursor to each task.seq', () => {
    const merge = started(10);
    assert.deepEqual(merge.applyUpdate(update(11, 12)), { kind: 'none' });
    merge.applyUpdate(update(13, 13));
    assert.equal(merge.cursor, 13);
    assert.deepEqual(
      seqs(merge.logs),
      lines(1, 13).map((l) => l.seq),
    );
  });

  it('drops an update it already holds, and the held lines of an overlapping one', () => {
    const merge = started(10);
    const held = merge.logs;
    assert.deepEqual(merge.applyUpdate(update(9, 10)), { kind: 'none' });
    assert.equal(merge.logs, held, 'the same array: nothing to render');
    merge.applyUpdate(update(9, 12));
    assert.deepEqual(
      seqs(merge.logs),
      lines(1, 12).map((l) => l.seq),
    );
  });

  it('buffers an update beyond a gap, asks for a fill from the cursor, and applies it after', () => {
    const merge = started(10);
    const result = merge.applyUpdate(update(14, 15));
    assert.deepEqual(result, { kind: 'fill', afterSeq: 10 });
    assert.equal(merge.cursor, 10);
    assert.deepEqual(
      seqs(merge.logs),
      lines(1, 10).map((l) => l.seq),
    );

    const filled = merge.applyPage(
      { logs: lines(11, 13), nextAfterSeq: 13, hasMore: false, hasOlder: false },
      10,
    );
    assert.deepEqual(filled, { kind: 'none' });
    assert.equal(merge.cursor, 15);
    assert.deepEqual(
      seqs(merge.logs),
      lines(1, 15).map((l) => l.seq),
    );
  });

  it('puts reordered updates back in seq order once the gap closes', () => {
    const merge = started(10);
    merge.applyUpdate(update(15, 16));
    merge.applyUpdate(update(13, 14));
    merge.applyUpdate(update(11, 12));
    assert.equal(merge.cursor, 16);
    assert.deepEqual(
      seqs(merge.logs),
      lines(1, 16).map((l) => l.seq),
    );
  });

  it('buffers updates that arrive before the first snapshot and drains them after it', () => {
    const merge = seqMerge();
    merge.applyUpdate(update(11, 12));
    merge.applyPage(page(lines(1, 10), 10), null);
    assert.equal(merge.cursor, 12);
    assert.deepEqual(
      seqs(merge.logs),
      lines(1, 12).map((l) => l.seq),
    );
  });

  it('reloads from the tail when the out-of-order buffer overflows', () => {
    const merge = started(10, { maxPending: 2 });
    merge.applyUpdate(update(20, 20));
    merge.applyUpdate(update(22, 22));
    const result = merge.applyUpdate(update(24, 24));
    assert.deepEqual(result, { kind: 'reload' });
    assert.equal(merge.cursor, null, 'the next page is taken as a fresh tail');
    assert.deepEqual(
      seqs(merge.logs),
      lines(1, 10).map((l) => l.seq),
      'still shown until then',
    );
    merge.applyPage(page(lines(15, 24), 24, { hasOlder: true }), null);
    assert.deepEqual(
      seqs(merge.logs),
      lines(15, 24).map((l) => l.seq),
    );
    assert.equal(merge.hasOlder, true);
  });

  it('reloads instead of paging through more lines than it would keep', () => {
    const merge = started(10, { maxLogs: 50 });
    assert.deepEqual(merge.applyUpdate(update(100, 100)), { kind: 'reload' });
  });

  it('never misses or repeats an event across duplicated, reordered and lost deliveries', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const random = mulberry32(seed);
      const server = new TruthServer(random, 300);
      const merge = seqMerge();
      const serve = (result: MergeNeed): void => {
        if (result.kind === 'fill') {
          const afterSeq = result.afterSeq;
          serve(merge.applyPage(server.forward(afterSeq, 7), afterSeq));
        } else if (result.kind === 'reload') {
          serve(merge.applyPage(server.tail(20), null));
        }
      };
      serve(merge.applyPage(server.tail(5, 40), null));
      for (const message of server.deliveries(40)) serve(merge.applyUpdate(message));
      serve(merge.applyPage(server.forward(merge.cursor!, 1000), merge.cursor));
      const held = seqs(merge.logs);
      assert.equal(merge.cursor, 300, `seed ${seed}`);
      assert.deepEqual(
        held,
        [...new Set(held)].sort((a, b) => a - b),
        `seed ${seed}: duplicates or disorder`,
      );
      const expected = server.lineSeqs().filter((s) => s >= (held[0] ?? Infinity));
      assert.deepEqual(held, expected, `seed ${seed}: a line is missing`);
    }
  });
});

describe('SeqMerge: bounds and older pages', () => {
  it('keeps the latest maxLogs lines and says older ones exist', () => {
    const merge = started(10, { maxLogs: 10 });
    assert.equal(merge.hasOlder, false);
    merge.applyUpdate(update(11, 13));
    assert.deepEqual(
      seqs(merge.logs),
      lines(4, 13).map((l) => l.seq),
    );
    assert.equal(merge.hasOlder, true);
  });

  it('prepends an older page without moving the cursor or the status', () => {
    const merge = seqMerge();
    merge.applyPage(page(lines(51, 60), 60, { hasOlder: true }), null);
    const older: LogsPage = { logs: lines(41, 51), nextAfterSeq: 99, hasMore: false, hasOlder: false };
    assert.equal(merge.prependOlder(older, 51), true);
    assert.deepEqual(
      seqs(merge.logs),
      lines(41, 60).map((l) => l.seq),
    );
    assert.equal(merge.hasOlder, false);
    assert.equal(merge.cursor, 60, "a backward page's nextAfterSeq is not a cursor");
  });

  it('keeps lines the reader loaded when live lines arrive, up to the larger bound', () => {
    const merge = seqMerge({ maxLogs: 10, maxLogsWithOlder: 25 });
    merge.applyPage(page(lines(41, 50), 50, { hasOlder: true }), null);
    merge.prependOlder({ logs: lines(31, 40), nextAfterSeq: 50, hasMore: false, hasOlder: true }, 41);
    merge.applyUpdate(update(51, 55));
    assert.deepEqual(
      seqs(merge.logs),
      lines(31, 55).map((l) => l.seq),
    );
    merge.applyUpdate(update(56, 60));
    assert.equal(merge.logs.length, 25);
    assert.equal(merge.logs[0]?.seq, 36);
  });
});

describe('SeqMerge: completion', () => {
  it('is complete once the task is terminal and every event is in', () => {
    const merge = started(10);
    merge.applyUpdate(update(12, 13, 'completed'));
    assert.equal(merge.task?.phase, 'completed');
    assert.equal(merge.complete, false, 'event 11 is still missing');
    merge.applyPage({ logs: [line(11)], nextAfterSeq: 11, hasMore: false, hasOlder: false }, 10);
    assert.equal(merge.complete, true);
  });

  it('is not complete for a running task, however far the cursor', () => {
    const merge = started(10);
    assert.equal(merge.complete, false);
    merge.adoptTask(task(10, 'failed'));
    assert.equal(merge.complete, false, 'same seq: not adopted, a status only moves with seq');
    merge.adoptTask(task(11, 'failed'));
    assert.equal(merge.complete, false, 'event 11 is not applied yet');
  });
});

/**
 * The store's truth for one task: events 1..n, most of them log lines, grouped into writes.
 * Serves pages with the memory store's semantics and delivers the writes out of order,
 * duplicated and partly lost.
 */
class TruthServer {
  readonly #random: () => number;
  readonly #n: number;
  readonly #lines: LogEntry[] = [];
  readonly #writes: UpdateMessage[] = [];

  constructor(random: () => number, n: number) {
    this.#random = random;
    this.#n = n;
    let from = 1;
    while (from <= n) {
      const to = Math.min(n, from + Math.floor(random() * 4));
      const logs = lines(from, to).filter(() => random() < 0.8);
      this.#lines.push(...logs);
      const phase = to === n ? 'completed' : 'running';
      this.#writes.push({ type: 'update', taskId: 't-1', fromSeq: from, task: task(to, phase), logs });
      from = to + 1;
    }
  }

  lineSeqs(): number[] {
    return seqs(this.#lines);
  }

  /** The tail as of the last write at or before event `upTo` (default: all). */
  tail(limit: number, upTo = this.#n) {
    const at = this.#writes.filter((w) => w.task.seq <= upTo).at(-1)!.task;
    const visible = this.#lines.filter((l) => l.seq <= at.seq);
    const start = Math.max(0, visible.length - limit);
    return {
      task: at,
      logs: visible.slice(start),
      nextAfterSeq: at.seq,
      hasMore: false,
      hasOlder: start > 0,
    };
  }

  forward(afterSeq: number, limit: number): LogsPage {
    const after = this.#lines.filter((l) => l.seq > afterSeq);
    const logs = after.slice(0, limit);
    const hasMore = after.length > limit;
    return { logs, nextAfterSeq: hasMore ? logs[logs.length - 1]!.seq : this.#n, hasMore, hasOlder: false };
  }

  /** The writes after event `from`, shuffled locally, some twice, some lost. */
  deliveries(from: number): UpdateMessage[] {
    const out = this.#writes.filter((w) => w.task.seq > from && this.#random() > 0.1);
    for (let i = 0; i < out.length; i++) {
      if (this.#random() < 0.3) {
        const j = Math.min(out.length - 1, i + 1 + Math.floor(this.#random() * 3));
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      if (this.#random() < 0.1) out.splice(i + 1, 0, out[i]!);
    }
    return out;
  }
}
