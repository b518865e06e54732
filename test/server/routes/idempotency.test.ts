import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROUTES, TaskStatusPageSchema } from '../../../protocol/index.js';
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
  const retry = await h.postStatus(task.id, agentToken, { logs: lines(1, 2), phase: 'running' }, headers);
  assert.equal(retry.status, 200);
  assert.equal(await retry.text(), firstBody);
  assert.equal(retry.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(h.events, [], 'a replay is not published again');

  const page = TaskStatusPageSchema.parse(await (await h.request(ROUTES.taskStatus(task.id))).json());
  assert.equal(page.logs.length, 2);
  assert.equal(page.task.seq, 3);
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
