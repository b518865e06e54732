import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LIMITS } from '../../protocol/constants.js';
import { Outbox, OutboxFullError, splitLine } from '../../sdk/agent/outbox.js';

const AT = new Date('2026-11-02T10:00:00.000Z');
let keys = 0;
const outbox = (limits = {}) => new Outbox(limits, () => `key-${++keys}`);

describe('the agent outbox: what goes in which POST', () => {
  it('sends lines, then the status change said after them, in one POST; a line after a status change waits for the next', () => {
    const box = outbox();
    box.addLine('info', 'a', AT);
    box.addLine('warn', 'b', AT);
    box.addStatus({ progress: 10 });
    box.addStatus({ message: 'half way', progress: 50 });
    box.addLine('info', 'c', AT);
    const first = box.next()!;
    assert.deepEqual(first.body, {
      progress: 50,
      message: 'half way',
      logs: [
        { level: 'info', message: 'a', at: AT.toISOString() },
        { level: 'warn', message: 'b', at: AT.toISOString() },
      ],
    });
    assert.equal(first.ops, 4);
    assert.equal(box.next(), first, 'the same batch, with the same key, until acknowledged');
    box.acknowledge();
    assert.deepEqual(
      box.next()!.body.logs?.map((line) => line.message),
      ['c'],
    );
    assert.notEqual(box.next()!.key, first.key);
  });

  it('never merges two phases: each phase a panel passes through is posted', () => {
    const box = outbox();
    box.addStatus({ phase: 'running' });
    box.addStatus({ progress: 100 });
    box.addStatus({ phase: 'completed' });
    assert.deepEqual(box.next()!.body, { phase: 'running', progress: 100 });
    box.acknowledge();
    assert.deepEqual(box.next()!.body, { phase: 'completed' });
  });

  it('cuts POSTs at the line count and at a byte budget counted as sent (escaped JSON)', () => {
    // A one-character line costs 67 bytes: 3 of JSON ("1") and 64 for its level, time and braces.
    const box = outbox({ linesPerPost: 3, bytesPerPost: 3 * 67 });
    for (const message of ['1', '2', '3', '4', '1234567890', '9']) box.addLine('info', message, AT);
    assert.equal(box.full, true);
    const sizes: number[] = [];
    for (let batch = box.next(); batch; batch = box.next()) {
      sizes.push(batch.body.logs!.length);
      box.acknowledge();
    }
    assert.deepEqual(sizes, [3, 2, 1]);
    assert.equal(box.delivered, 6);
    assert.equal(box.lines, 0);
    assert.equal(box.empty, true);

    // Quotes are two bytes each once escaped: two lines of 30 of them pass 3 × 67 bytes together.
    const quoted = outbox({ bytesPerPost: 3 * 67 });
    quoted.addLine('info', '"'.repeat(30), AT);
    quoted.addLine('info', '"'.repeat(30), AT);
    assert.equal(quoted.next()!.body.logs!.length, 1);
  });

  it('drops the lines of a refused batch and keeps its status change, under a new key', () => {
    const box = outbox();
    box.addLine('info', 'a', AT);
    box.addStatus({ phase: 'completed' });
    const first = box.next()!;
    const statusOnly = box.withoutLines()!;
    assert.deepEqual(statusOnly.body, { phase: 'completed' });
    assert.notEqual(statusOnly.key, first.key);
    assert.equal(box.lines, 0);
    box.acknowledge();
    assert.equal(box.delivered, 2);
    box.addLine('info', 'b', AT);
    box.next();
    assert.equal(box.withoutLines(), null, 'nothing else: the batch is simply dropped');
  });

  it('keeps an earlier field when a later change gives it as undefined', () => {
    const box = outbox();
    box.addStatus({ progress: 100 });
    box.addStatus({ phase: 'completed', progress: undefined });
    assert.deepEqual(box.next()!.body, { progress: 100, phase: 'completed' });
  });

  it('splits a line longer than the server takes, keeping every character and surrogate pairs whole', () => {
    const long = 'x'.repeat(LIMITS.logLineChars - 1) + '😀' + 'y'.repeat(10);
    const pieces = splitLine(long);
    assert.equal(pieces.join(''), long);
    assert.ok(pieces.every((piece) => piece.length <= LIMITS.logLineChars));
    assert.equal(pieces[0]!.length, LIMITS.logLineChars - 1, 'the pair moved whole to the next piece');
    assert.deepEqual(splitLine(''), [' '], 'an empty line is kept as a blank one');
  });

  it('refuses a line past the bound with a clear error, and keeps what it holds', () => {
    const box = outbox({ maxLines: 2 });
    box.addLine('info', 'a', AT);
    box.addLine('info', 'b', AT);
    assert.throws(() => box.addLine('info', 'c', AT), OutboxFullError);
    assert.throws(() => box.addLine('info', 'c', AT), /2 log lines are waiting to be sent/);
    assert.equal(box.lines, 2);
  });

  it('refuses status values the server would refuse, at once', () => {
    const box = outbox();
    assert.throws(() => box.addStatus({ progress: 101 }), RangeError);
    assert.throws(() => box.addStatus({}), TypeError);
    assert.throws(() => box.addStatus({ message: 'm'.repeat(LIMITS.messageChars + 1) }), RangeError);
    assert.equal(box.empty, true);
  });
});
