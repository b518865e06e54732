import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { StatusUpdate } from '../../../protocol/index.js';
import { idempotencySk, STATUS_SK } from '../../../server/store/dynamodb/keys.js';
import { IdempotencyMismatchError } from '../../../server/store/store-errors.js';
import { DynamoDbLocal } from '../../support/dynamodb-local.js';
import { DynamoDbLocalFixture, testClient } from './dynalite-harness.js';

// Keyed writes with transactions (issue 15), on Amazon's DynamoDB Local: the batch item and its
// IDEM item in one TransactWriteItems, so a POST with an Idempotency-Key costs 2 requests, and
// what the two-step path guaranteed (one write per key, answers replayed, crashes finished by the
// next writer) still holds.

const T0 = new Date('2026-11-02T10:00:00.000Z');
const atT0 = (): Date => T0;
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const lines = (n: number, prefix = 'line'): NonNullable<StatusUpdate['logs']> =>
  Array.from({ length: n }, (_, i) => ({ level: 'info' as const, message: `${prefix} ${i + 1}` }));

class SimulatedCrash extends Error {}

describe('keyed writes with transactions, on DynamoDB Local', { timeout: 60_000 }, () => {
  let server: DynamoDbLocal;
  let fixture: DynamoDbLocalFixture;
  before(async () => {
    server = await DynamoDbLocal.start();
  });
  after(async () => {
    await server?.close();
  });
  beforeEach(async () => {
    fixture = await DynamoDbLocalFixture.start(server, atT0);
  });
  afterEach(async () => {
    await fixture.close();
  });

  const rawItem = (taskId: string, sk: string) => fixture.rawItem(taskId, sk);
  const countedClient = () => fixture.countedClient();

  const create = (store: ReturnType<DynamoDbLocalFixture['store']>) =>
    store.createTask({ id: 't-1', agentId: 'agent-1', title: null, tokenHash: 'h', now: T0 });

  it('writes a POST with an Idempotency-Key in 2 requests, and stores its IDEM item with it', async () => {
    const counted = countedClient();
    const store = fixture.store({}, counted.client);
    await create(store);
    await store.append('t-1', { update: { logs: lines(1) }, now: at(1) });
    counted.sent.length = 0;
    const written = await store.append('t-1', {
      update: { logs: lines(2, 'keyed'), progress: 20 },
      now: at(2),
      idempotency: { key: 'k-1', fingerprint: 'f' },
    });
    assert.deepEqual(counted.sent, ['TransactWrite', 'Update'], 'no read, no separate IDEM put');
    assert.equal(written.replayed, false);
    const idem = await rawItem('t-1', idempotencySk('k-1'));
    assert.deepEqual(
      [idem?.fromSeq, (idem?.task as { seq: number }).seq],
      [written.fromSeq, written.task.seq],
    );
  });

  it('answers a retry as a replay, also once later writes hid the key from the tail, and refuses another body', async () => {
    const counted = countedClient();
    const store = fixture.store({}, counted.client);
    await create(store);
    const idempotency = { key: 'k-1', fingerprint: 'f' };
    const update = { logs: lines(3) };
    const first = await store.append('t-1', { update, now: at(1), idempotency });
    counted.sent.length = 0;
    const atOnce = await store.append('t-1', { update, now: at(2), idempotency });
    assert.deepEqual([atOnce.replayed, atOnce.fromSeq], [true, first.fromSeq]);
    assert.deepEqual(counted.sent, [], 'the key is on the tail it knows');

    await store.append('t-1', { update: { logs: lines(1, 'later') }, now: at(3) });
    counted.sent.length = 0;
    const later = await store.append('t-1', { update, now: at(4), idempotency });
    assert.deepEqual([later.replayed, later.fromSeq, later.task.seq], [true, first.fromSeq, first.task.seq]);
    assert.deepEqual(
      counted.sent,
      ['TransactWrite', 'Get'],
      "the key's condition failed, then its answer is read",
    );
    await assert.rejects(
      store.append('t-1', {
        update: { logs: lines(1, 'other') },
        now: at(5),
        idempotency: { key: 'k-1', fingerprint: 'of another body' },
      }),
      IdempotencyMismatchError,
    );
    assert.equal((await fixture.store().getTask('t-1'))?.task.seq, 4, 'the retries stored nothing');
  });

  it('answers a retry as a replay even when the task has moved past what it would now allow', async () => {
    const store = fixture.store();
    await create(store);
    const running = {
      update: { phase: 'running' as const },
      now: at(1),
      idempotency: { key: 'k1', fingerprint: 'f1' },
    };
    const first = await store.append('t-1', running);
    await store.append('t-1', {
      update: { phase: 'completed' },
      now: at(2),
      idempotency: { key: 'k2', fingerprint: 'f2' },
    });
    const retry = await store.append('t-1', running);
    assert.deepEqual(
      [retry.replayed, retry.fromSeq],
      [true, first.fromSeq],
      'not 409: the phase has moved on',
    );
    await assert.rejects(
      store.append('t-1', { ...running, idempotency: { key: 'k1', fingerprint: 'another body' } }),
      IdempotencyMismatchError,
      'and the key with another body is 422, not 409',
    );
  });

  it('stores a keyed write once when five instances get it at once', async () => {
    const stores = Array.from({ length: 5 }, () => fixture.store());
    await create(stores[0]!);
    const idempotency = { key: 'raced', fingerprint: 'f' };
    const answers = await Promise.all(
      stores.map((store) => store.append('t-1', { update: { logs: lines(2) }, now: at(1), idempotency })),
    );
    assert.equal(answers.filter((answer) => !answer.replayed).length, 1);
    assert.ok(answers.every((answer) => answer.fromSeq === 1 && answer.task.seq === 2));
    fixture.letHeadsAge();
    const page = await stores[0]!.readPage('t-1', { afterSeq: 0, limit: 10 });
    assert.deepEqual(
      page?.logs.map((line) => line.seq),
      [1, 2],
    );
  });

  it('takes a transaction its SDK resent (the answer to the first was lost) as its own write', async () => {
    const client = testClient(fixture.endpoint);
    const send = client.send.bind(client) as (command: object) => Promise<unknown>;
    client.send = (async (command: object) => {
      const out = await send(command);
      // As after a connection reset: the request reached DynamoDB, the client sends it again.
      return command.constructor.name === 'TransactWriteCommand' ? send(command) : out;
    }) as typeof client.send;
    const store = fixture.store({}, client);
    await create(store);
    const written = await store.append('t-1', {
      update: { logs: lines(2), progress: 5 },
      now: at(1),
      idempotency: { key: 'resent', fingerprint: 'f' },
    });
    assert.deepEqual([written.replayed, written.fromSeq, written.task.seq], [false, 1, 3]);
    assert.equal((await rawItem('t-1', STATUS_SK))?.seq, 3, 'finished as any write');
  });

  it('leaves a crashed keyed write whole: its retry is a replay and finishes the status item', async () => {
    const crashing = fixture.store({
      afterClaim: () => {
        throw new SimulatedCrash('died after the transaction');
      },
    });
    await create(crashing);
    const idempotency = { key: 'crashed', fingerprint: 'f' };
    const update: StatusUpdate = { phase: 'running', logs: lines(1) };
    await assert.rejects(crashing.append('t-1', { update, now: at(1), idempotency }), SimulatedCrash);
    assert.ok(await rawItem('t-1', idempotencySk('crashed')), 'the IDEM item came with the batch');
    assert.equal((await rawItem('t-1', STATUS_SK))?.phase, 'queued', 'the status update never ran');
    const retry = await fixture.store().append('t-1', { update, now: at(2), idempotency });
    assert.deepEqual([retry.replayed, retry.fromSeq, retry.task.seq], [true, 1, 2]);
    const status = await rawItem('t-1', STATUS_SK);
    assert.deepEqual([status?.phase, status?.seq], ['running', 2]);
  });

  it('completes the IDEM item of a tail written without transactions (an older instance that crashed) before writing after it', async () => {
    const older = fixture.store({
      transactions: false,
      afterClaim: () => {
        throw new SimulatedCrash('died before the IDEM item');
      },
    });
    await create(older);
    const idempotency = { key: 'old', fingerprint: 'f' };
    await assert.rejects(older.append('t-1', { update: { logs: lines(1) }, now: at(1), idempotency }));
    assert.equal(await rawItem('t-1', idempotencySk('old')), undefined);
    const store = fixture.store();
    await store.append('t-1', { update: { logs: lines(1, 'new') }, now: at(2) });
    assert.ok(await rawItem('t-1', idempotencySk('old')), 'completed by the next writer');
    const retry = await store.append('t-1', { update: { logs: lines(1) }, now: at(3), idempotency });
    assert.deepEqual([retry.replayed, retry.fromSeq], [true, 1]);
  });
});
