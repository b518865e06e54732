import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROUTES, TaskStatusPageSchema } from '../../../protocol/index.js';
import type { BusEvent } from '../../../server/bus/task-bus.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import { StoreUnavailableError } from '../../../server/store/store-errors.js';
import { errorOf, harness, lines } from './harness.js';

test('a retry with the same Idempotency-Key returns the same answer and stores once', async () => {
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const h = harness({ now: () => clock });
  const { task, agentToken } = await h.createTask();
  const headers = { 'Idempotency-Key': 'post-1' };
  const first = await h.postStatus(task.id, agentToken, { phase: 'running', logs: lines(1, 2) }, headers);
  const firstBody = await first.text();
  h.events.length = 0;

  clock += 60_000;
  const announced = nextEvent(h);
  const retry = await h.postStatus(task.id, agentToken, { logs: lines(1, 2), phase: 'running' }, headers);
  assert.equal(retry.status, 200);
  assert.equal(await retry.text(), firstBody);
  assert.equal(retry.headers.get('idempotent-replayed'), 'true');
  const event = await announced;
  assert.ok(event.type === 'update');
  assert.deepEqual(
    [event.fromSeq, event.task.seq, event.logs.map((line) => line.seq)],
    [1, 3, [1, 2]],
    'announced again from the store, exact: clients that have it drop it by seq',
  );

  const page = TaskStatusPageSchema.parse(await (await h.request(ROUTES.taskStatus(task.id))).json());
  assert.equal(page.logs.length, 2);
  assert.equal(page.task.seq, 3);
});

/** The next event on the harness's bus. */
function nextEvent(h: ReturnType<typeof harness>): Promise<BusEvent> {
  return new Promise((resolve) => {
    const stop = h.bus.subscribe((event) => {
      stop();
      resolve(event);
    });
  });
}

test('a write stored but answered 503 (its status update failed) is announced when its retry is replayed', async () => {
  // As the DynamoDB store does when its status update fails after the write's item was put.
  class StoredThenFailed extends MemoryTaskStore {
    failNext = true;
    override async append(...args: Parameters<MemoryTaskStore['append']>) {
      const result = await super.append(...args);
      if (!this.failNext) return result;
      this.failNext = false;
      throw new StoreUnavailableError('the status update failed', 5);
    }
  }
  const store = new StoredThenFailed();
  const h = harness({ store });
  const { task, agentToken } = await h.createTask();
  h.events.length = 0;
  const headers = { 'Idempotency-Key': 'stored-then-503' };
  const update = { phase: 'running' as const, logs: lines(1, 3) };
  assert.equal((await h.postStatus(task.id, agentToken, update, headers)).status, 503);
  assert.deepEqual(h.events, [], 'nothing announced: the route saw a failure');
  const announced = nextEvent(h);
  const retry = await h.postStatus(task.id, agentToken, update, headers);
  assert.equal(retry.headers.get('idempotent-replayed'), 'true');
  const event = await announced;
  assert.ok(event.type === 'update');
  assert.deepEqual(
    event.logs.map((line) => line.message),
    ['line 1', 'line 2', 'line 3'],
  );
  assert.equal(event.task.phase, 'running');
});

test('the same Idempotency-Key with a different body answers 422', async () => {
  const h = harness();
  const { task, agentToken } = await h.createTask();
  const headers = { 'Idempotency-Key': 'post-1' };
  await h.postStatus(task.id, agentToken, { progress: 10 }, headers);
  const res = await h.postStatus(task.id, agentToken, { progress: 20 }, headers);
  assert.equal(res.status, 422);
  assert.equal((await errorOf(res)).code, 'idempotency_mismatch');
  assert.equal((await h.store.getTask(task.id))?.task.progress, 10);
});

test('without an Idempotency-Key the same body is stored twice', async () => {
  const h = harness();
  const { task, agentToken } = await h.createTask();
  await h.postStatus(task.id, agentToken, { logs: lines(1, 1) });
  await h.postStatus(task.id, agentToken, { logs: lines(1, 1) });
  assert.equal((await h.store.getTask(task.id))?.task.seq, 2);
});

test('an Idempotency-Key that is not 1-200 visible ASCII characters answers 400', async () => {
  const h = harness();
  const { task, agentToken } = await h.createTask();
  for (const key of ['has space', 'x'.repeat(201)]) {
    const res = await h.postStatus(task.id, agentToken, { progress: 1 }, { 'Idempotency-Key': key });
    assert.equal(res.status, 400, key);
    assert.match((await errorOf(res)).message, /Idempotency-Key/);
  }
});
