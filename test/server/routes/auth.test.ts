import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ROUTES } from '../../../protocol/index.js';
import { errorOf, harness } from './harness.js';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';

describe('agent tokens on status posts', () => {
  test('a post without an Authorization header answers 401 with a Bearer challenge', async () => {
    const h = harness();
    const { task } = await h.createTask();
    const res = await h.postJson(ROUTES.taskStatus(task.id), { phase: 'running' });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
    const error = await errorOf(res);
    assert.equal(error.code, 'unauthorized');
    assert.match(error.message, /Authorization: Bearer <agentToken>/);
  });

  test('a malformed Authorization header answers 401', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    for (const header of [`Basic ${agentToken}`, 'Bearer', `Bearer ${agentToken} extra`]) {
      const res = await h.postJson(
        ROUTES.taskStatus(task.id),
        { phase: 'running' },
        { Authorization: header },
      );
      assert.equal(res.status, 401, header);
    }
  });

  test('a wrong token answers 401 invalid_token and changes nothing', async () => {
    const h = harness();
    const { task } = await h.createTask();
    const res = await h.postStatus(task.id, 'a-made-up-token-that-is-well-formed', { phase: 'running' });
    assert.equal(res.status, 401);
    assert.equal((await errorOf(res)).code, 'unauthorized');
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.equal((await h.store.getTask(task.id))?.task.phase, 'queued');
  });

  test("task A's token is refused on task B", async () => {
    const h = harness();
    const a = await h.createTask({ agentId: 'agent-1', id: 'task-a' });
    await h.createTask({ agentId: 'agent-1', id: 'task-b' });
    const res = await h.postStatus('task-b', a.agentToken, { phase: 'running' });
    assert.equal(res.status, 401);
    assert.match((await errorOf(res)).message, /not valid for task "task-b"/);
    assert.equal((await h.store.getTask('task-b'))?.task.phase, 'queued');
    // ...and still works on its own task.
    assert.equal((await h.postStatus('task-a', a.agentToken, { phase: 'running' })).status, 200);
  });

  test("task A's token, once it has worked on task A, is still refused on task B", async () => {
    const h = harness();
    const a = await h.createTask({ agentId: 'agent-1', id: 'task-a' });
    await h.createTask({ agentId: 'agent-1', id: 'task-b' });
    assert.equal((await h.postStatus('task-a', a.agentToken, { phase: 'running' })).status, 200);
    assert.equal((await h.postStatus('task-a', a.agentToken, { progress: 5 })).status, 200);
    const res = await h.postStatus('task-b', a.agentToken, { phase: 'running' });
    assert.equal(res.status, 401);
    assert.equal((await h.store.getTask('task-b'))?.task.phase, 'queued');
  });

  test('the store keeps the sha256 of the token, never the token', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    const stored = await h.store.getTask(task.id);
    assert.match(stored!.tokenHash, /^[0-9a-f]{64}$/);
    assert.equal(JSON.stringify(stored).includes(agentToken), false);
  });
});

describe('the admin token on task creation', () => {
  test('without ADMIN_TOKEN anyone may create a task', async () => {
    const h = harness();
    assert.equal((await h.postJson(ROUTES.tasks, { agentId: 'agent-1' })).status, 201);
  });

  test('with ADMIN_TOKEN a create without it answers 401', async () => {
    const h = harness({ env: { ADMIN_TOKEN } });
    const res = await h.postJson(ROUTES.tasks, { agentId: 'agent-1' });
    assert.equal(res.status, 401);
    assert.match((await errorOf(res)).message, /ADMIN_TOKEN/);
    assert.deepEqual(h.events, []);
  });

  test('with ADMIN_TOKEN a wrong token answers 401 invalid_token', async () => {
    const h = harness({ env: { ADMIN_TOKEN } });
    const res = await h.postJson(
      ROUTES.tasks,
      { agentId: 'agent-1' },
      { Authorization: `Bearer ${ADMIN_TOKEN}x` },
    );
    assert.equal(res.status, 401);
    assert.equal((await errorOf(res)).code, 'unauthorized');
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  test('with ADMIN_TOKEN the right token creates the task', async () => {
    const h = harness({ env: { ADMIN_TOKEN } });
    const res = await h.postJson(
      ROUTES.tasks,
      { agentId: 'agent-1' },
      { Authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    assert.equal(res.status, 201);
  });

  test('the admin token is not an agent token', async () => {
    const h = harness({ env: { ADMIN_TOKEN } });
    const { task } = await h.createTask({ agentId: 'agent-1' }, { Authorization: `Bearer ${ADMIN_TOKEN}` });
    const res = await h.postStatus(task.id, ADMIN_TOKEN, { phase: 'running' });
    assert.equal(res.status, 401);
  });
});
