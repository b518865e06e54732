import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isConditionalCheckFailed, toStoreError } from '../../../server/store/dynamodb/errors.js';
import {
  isExpired,
  ITEM_LINES_BUDGET_BYTES,
  linesOf,
  packLines,
  storedLineBytes,
  ttlFrom,
  type StoredLine,
} from '../../../server/store/dynamodb/items.js';
import { batchSk, BATCH_SK_END, idempotencySk } from '../../../server/store/dynamodb/keys.js';
import { PhaseConflictError, StoreUnavailableError } from '../../../server/store/store-errors.js';

const AT = '2026-11-02T10:00:00.000Z';

function line(message: string): StoredLine {
  return { at: AT, level: 'info', message };
}

describe('DynamoDB keys and items', () => {
  it('orders batch keys like their seqs and keeps them apart from other items', () => {
    const keys = [1, 9, 10, 99, 100, 123_456_789].map(batchSk);
    assert.deepEqual([...keys].sort(), keys);
    assert.equal(batchSk(42), 'LOG#000000000042');
    assert.ok(keys.every((k) => k < BATCH_SK_END && k > 'IDEM#' && k < 'PART#' && k < 'STATUS'));
    assert.match(idempotencySk('x'.repeat(5000)), /^IDEM#[A-Za-z0-9_-]{43}$/);
  });

  it('packs lines in order into strings under the item budget, and reads them back', () => {
    const small = Array.from({ length: 10 }, (_, i) => line(`l${i}`));
    const [one, ...none] = packLines(small);
    assert.equal(none.length, 0);
    assert.equal(one!.count, 10);
    assert.deepEqual(linesOf({ packed: one!.packed }), small);

    const big = Array.from({ length: 500 }, (_, i) => line(`${i}`.padEnd(8000, '€')));
    const groups = packLines(big);
    assert.deepEqual(
      groups.flatMap((group) => linesOf(group)!),
      big,
      'nothing lost, nothing reordered',
    );
    for (const group of groups) {
      const bytes = Buffer.byteLength(group.packed!, 'utf8');
      assert.ok(bytes <= ITEM_LINES_BUDGET_BYTES, `${bytes} bytes`);
    }
    assert.equal(
      groups.length,
      Math.ceil(500 / Math.floor(ITEM_LINES_BUDGET_BYTES / storedLineBytes(big[0]!))),
    );
    assert.deepEqual(packLines([]), []);
  });

  it('keeps text that JSON escapes exactly, and counts its escaped bytes', () => {
    const odd = line('quote " backslash \\ nul \u0000 tab \t emoji 🎉 lone \ud800');
    const [group] = packLines([odd]);
    assert.deepEqual(linesOf(group!), [odd]);
    assert.ok(storedLineBytes(odd) >= Buffer.byteLength(group!.packed!, 'utf8'), 'at least its packed bytes');
    assert.ok(storedLineBytes(line('\u0001'.repeat(1000))) >= 6000, 'a control character is 6 bytes escaped');
  });

  it('groups the same lines as lists of maps when told not to pack (for instances before packing)', () => {
    const big = Array.from({ length: 100 }, (_, i) => line(`${i}`.padEnd(8000, '€')));
    const packed = packLines(big);
    const plain = packLines(big, undefined, { packed: false });
    assert.deepEqual(
      plain.map((group) => group.count),
      packed.map((group) => group.count),
    );
    assert.ok(plain.every((group) => group.packed === undefined && group.lines!.length === group.count));
    assert.deepEqual(
      plain.flatMap((group) => linesOf(group)!),
      big,
    );
  });

  it('reads the lines of items written before they were packed', () => {
    const lines = [line('a'), line('b')];
    assert.deepEqual(linesOf({ lines }), lines);
    assert.equal(linesOf({}), undefined, 'in parts');
  });

  it('counts UTF-8 bytes, not characters', () => {
    assert.ok(storedLineBytes(line('€'.repeat(1000))) >= 3000);
  });

  it('expires an item at its ttl second', () => {
    const now = new Date(AT);
    const ttl = ttlFrom(now, 30);
    assert.equal(ttl, Date.parse(AT) / 1000 + 30 * 86_400);
    assert.equal(isExpired({ ttl }, new Date(ttl * 1000 - 1)), false);
    assert.equal(isExpired({ ttl }, new Date(ttl * 1000)), true);
    assert.equal(isExpired({}, now), false);
  });
});

describe('DynamoDB error mapping', () => {
  function sdkError(name: string, status?: number, extra: object = {}): Error {
    return Object.assign(new Error(`${name} happened`), {
      name,
      $metadata: { httpStatusCode: status },
      ...extra,
    });
  }

  it('turns throttling, 5xx and unreachable into StoreUnavailableError with a retry hint', () => {
    for (const error of [
      sdkError('ProvisionedThroughputExceededException', 400),
      sdkError('ThrottlingException', 400),
      sdkError('InternalServerError', 500),
      sdkError('ServiceUnavailable', 503),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      sdkError('TimeoutError'),
    ]) {
      const mapped = toStoreError(error);
      assert.ok(mapped instanceof StoreUnavailableError, error.name);
      assert.ok(mapped.retryAfterSeconds >= 1);
      assert.equal(mapped.cause, error);
    }
  });

  it('leaves domain errors and programming errors as they are', () => {
    const conflict = new PhaseConflictError('completed', 'running');
    assert.equal(toStoreError(conflict), conflict);
    const validation = sdkError('ValidationException', 400);
    assert.equal(toStoreError(validation), validation);
    const missingTable = sdkError('ResourceNotFoundException', 400);
    assert.equal(toStoreError(missingTable), missingTable);
  });

  it('recognises a lost conditional write', () => {
    assert.equal(isConditionalCheckFailed(sdkError('ConditionalCheckFailedException', 400)), true);
    assert.equal(isConditionalCheckFailed(new Error('x')), false);
    assert.equal(isConditionalCheckFailed(undefined), false);
  });
});
