import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UpdateMessageSchema } from '../../../protocol/index.js';
import { harness, lines } from './harness.js';

test('creating a task announces it as the agent task on the bus', async () => {
  const h = harness();
  const { task } = await h.createTask({ agentId: 'agent-3' });
  assert.deepEqual(h.events, [{ type: 'agent-task', agentId: 'agent-3', task }]);
});

test('a status post publishes one update with its lines and the task after it', async () => {
  const h = harness();
  const { task, agentToken } = await h.createTask();
  await h.postStatus(task.id, agentToken, { logs: lines(1, 2) });
  h.events.length = 0;

  const res = await h.postStatus(task.id, agentToken, { phase: 'running', logs: lines(3, 4) });
  const { task: after } = (await res.json()) as { task: unknown };
  assert.equal(h.events.length, 1);
  const update = UpdateMessageSchema.parse(h.events[0]);
  assert.equal(update.taskId, task.id);
  assert.equal(update.fromSeq, 3);
  assert.deepEqual(
    update.logs.map((l) => [l.seq, l.message]),
    [
      [3, 'line 3'],
      [4, 'line 4'],
    ],
  );
  assert.deepEqual(update.task, after);
  assert.equal(update.task.seq, 5);
});

test('a refused post publishes nothing', async () => {
  const h = harness();
  const { task, agentToken } = await h.createTask();
  await h.postStatus(task.id, agentToken, { phase: 'completed' });
  h.events.length = 0;
  await h.postStatus(task.id, agentToken, { phase: 'running' });
  await h.postStatus(task.id, 'not-the-token-at-all', { phase: 'running' });
  assert.deepEqual(h.events, []);
});

test('a failing bus does not turn a stored write into an error', async () => {
  const h = harness();
  const { task, agentToken } = await h.createTask();
  h.bus.publish = () => {
    throw new Error('redis is down');
  };
  const res = await h.postStatus(task.id, agentToken, { phase: 'running' });
  assert.equal(res.status, 200);
  assert.equal((await h.store.getTask(task.id))?.task.phase, 'running');
  assert.equal(h.logged.length, 1);
  assert.match(String(h.logged[0]!.args[0]), /bus publish failed/);
});
