// What "nothing lost" means, as assertions: a panel's lines are exactly the stored lines, in seq
// order, none missing, none twice.
import assert from 'node:assert/strict';
import type { LogEntry } from '../../../protocol/index.js';

export interface ShownLine {
  seq: number;
  message: string;
}

/** The panel ends with every stored line, once, in order (and nothing else). */
export function assertSameLog(who: string, shown: readonly ShownLine[], stored: readonly LogEntry[]): void {
  const seqs = shown.map((line) => line.seq);
  const duplicates = seqs.filter((seq, i) => seqs.indexOf(seq) !== i);
  assert.deepEqual(duplicates, [], `${who}: duplicated seqs`);
  const storedSeqs = new Set(stored.map((line) => line.seq));
  const shownSeqs = new Set(seqs);
  const missing = stored.filter((line) => !shownSeqs.has(line.seq)).map((line) => line.seq);
  const extra = seqs.filter((seq) => !storedSeqs.has(seq));
  assert.deepEqual(
    { missing: missing.slice(0, 20), missingCount: missing.length, extra: extra.slice(0, 20) },
    { missing: [], missingCount: 0, extra: [] },
    `${who}: lines missing or not stored`,
  );
  assert.deepEqual(
    shown.map((line) => `${line.seq}:${line.message}`),
    stored.map((line) => `${line.seq}:${line.message}`),
    `${who}: lines out of order or changed`,
  );
}

/**
 * Every set of lines a panel ever showed was one unbroken run of the stored lines: at no moment
 * (across every switch of transport) did it show a gap, a duplicate or a line out of order.
 */
export function assertAlwaysContiguous(
  who: string,
  shown: readonly (readonly number[])[],
  stored: readonly LogEntry[],
): void {
  const index = new Map(stored.map((line, i) => [line.seq, i]));
  shown.forEach((seqs, n) => {
    if (seqs.length === 0) return;
    const first = index.get(seqs[0]!);
    assert.ok(first !== undefined, `${who}: view ${n} starts with seq ${seqs[0]}, which is not stored`);
    seqs.forEach((seq, i) => {
      assert.equal(
        stored[first + i]?.seq,
        seq,
        `${who}: view ${n} shows seq ${seq} where the store has ${stored[first + i]?.seq} (a gap or a duplicate)`,
      );
    });
  });
}

/** Resolves when `probe` returns true, checking every `everyMs`; rejects after `timeoutMs`. */
export async function until(
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  everyMs = 20,
): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`not ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
