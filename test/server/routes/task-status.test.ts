import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  LogsPageSchema,
  ROUTES,
  TaskStatusPageSchema,
  TaskSchema,
  type TaskStatusPage,
} from '../../../protocol/index.js';
import { errorOf, harness, lines } from './harness.js';

describe('task status routes', () => {
  test('a created task can be posted to and read back', async () => {
    const h = harness({ now: () => Date.parse('2026-01-02T03:04:05.000Z') });
    const created = await h.createTask({ agentId: 'agent-7', title: 'Refactor the parser', id: 't-42' });
    assert.equal(created.task.id, 't-42');
    assert.equal(created.task.phase, 'queued');
    assert.match(created.agentToken, /^[A-Za-z0-9_-]{43}$/);

    const posted = await h.postStatus('t-42', created.agentToken, {
      phase: 'running',
      progress: 40,
      message: 'Parsing',
      logs: [{ message: 'started' }, { level: 'warn', message: 'slow disk' }],
    });
    assert.equal(posted.status, 200);
    const { task } = (await posted.json()) as { task: unknown };
    assert.deepEqual(TaskSchema.parse(task), {
      ...created.task,
      phase: 'running',
      progress: 40,
      message: 'Parsing',
      seq: 3,
      updatedAt: '2026-01-02T03:04:05.000Z',
    });

    const read = await h.request(ROUTES.taskStatus('t-42'));
    assert.equal(read.status, 200);
    const page = TaskStatusPageSchema.parse(await read.json());
    assert.equal(page.task.seq, 3);
    assert.deepEqual(
      page.logs.map((l) => [l.seq, l.level, l.message]),
      [
        [1, 'info', 'started'],
        [2, 'warn', 'slow disk'],
      ],
    );
    assert.equal(page.nextAfterSeq, 3);
  });

  test('a task created without an id gets a generated one and a Location header', async () => {
    const h = harness();
    const res = await h.postJson(ROUTES.tasks, { agentId: 'agent-1' });
    assert.equal(res.status, 201);
    const { task } = (await res.json()) as { task: { id: string } };
    assert.match(task.id, /^t_[a-z2-7]{16}$/);
    assert.equal(res.headers.get('location'), ROUTES.taskStatus(task.id));
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  test('creating a task whose id is taken answers 409 task_exists', async () => {
    const h = harness();
    await h.createTask({ agentId: 'agent-1', id: 'dup' });
    const res = await h.postJson(ROUTES.tasks, { agentId: 'agent-2', id: 'dup' });
    assert.equal(res.status, 409);
    assert.equal((await errorOf(res)).code, 'task_exists');
  });

  test('afterSeq returns exactly the lines after it', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    await h.postStatus(task.id, agentToken, { logs: lines(1, 3) });
    await h.postStatus(task.id, agentToken, { logs: lines(4, 5) });
    const res = await h.request(`${ROUTES.taskStatus(task.id)}?afterSeq=3`);
    const page = TaskStatusPageSchema.parse(await res.json());
    assert.deepEqual(
      page.logs.map((l) => l.message),
      ['line 4', 'line 5'],
    );
    assert.equal(page.nextAfterSeq, 5);
    assert.equal(page.hasMore, false);
  });

  test('a poller gets 304 while nothing changed and the new page once something did', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    await h.postStatus(task.id, agentToken, { logs: lines(1, 2) });
    const url = `${ROUTES.taskStatus(task.id)}?afterSeq=2`;

    const first = await h.request(url);
    const etag = first.headers.get('etag');
    assert.ok(etag, 'the page carries an ETag');
    assert.equal(first.headers.get('cache-control'), 'no-cache');

    const again = await h.request(url, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get('etag'), etag);
    assert.equal(await again.text(), '');

    await h.postStatus(task.id, agentToken, { logs: lines(3, 3) });
    const changed = await h.request(url, { headers: { 'If-None-Match': etag } });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.get('etag'), etag);
    const page = (await changed.json()) as TaskStatusPage;
    assert.deepEqual(
      page.logs.map((l) => l.message),
      ['line 3'],
    );
  });

  test('the ETag depends on the query, so another cursor is not a 304', async () => {
    const h = harness();
    const { task } = await h.createTask();
    const etag = (await h.request(`${ROUTES.taskStatus(task.id)}?afterSeq=0`)).headers.get('etag')!;
    const other = await h.request(`${ROUTES.taskStatus(task.id)}?afterSeq=0&limit=5`, {
      headers: { 'If-None-Match': etag },
    });
    assert.equal(other.status, 200);
  });

  test('logs page forward with nextAfterSeq and backward with beforeSeq', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    await h.postStatus(task.id, agentToken, { logs: lines(1, 7) });

    const forward1 = LogsPageSchema.parse(
      await (await h.request(`${ROUTES.taskLogs(task.id)}?afterSeq=0&limit=3`)).json(),
    );
    assert.deepEqual(
      forward1.logs.map((l) => l.seq),
      [1, 2, 3],
    );
    assert.equal(forward1.hasMore, true);
    const forward2 = LogsPageSchema.parse(
      await (
        await h.request(`${ROUTES.taskLogs(task.id)}?afterSeq=${forward1.nextAfterSeq}&limit=10`)
      ).json(),
    );
    assert.deepEqual(
      forward2.logs.map((l) => l.seq),
      [4, 5, 6, 7],
    );
    assert.equal(forward2.hasMore, false);

    const tail = LogsPageSchema.parse(await (await h.request(`${ROUTES.taskLogs(task.id)}?limit=3`)).json());
    assert.deepEqual(
      tail.logs.map((l) => l.seq),
      [5, 6, 7],
    );
    assert.equal(tail.hasOlder, true);
    const older = LogsPageSchema.parse(
      await (await h.request(`${ROUTES.taskLogs(task.id)}?beforeSeq=5&limit=3`)).json(),
    );
    assert.deepEqual(
      older.logs.map((l) => l.seq),
      [2, 3, 4],
    );
    assert.equal(older.hasOlder, true);
  });

  test('the logs route answers without the task', async () => {
    const h = harness();
    const { task } = await h.createTask();
    const body = (await (await h.request(ROUTES.taskLogs(task.id))).json()) as Record<string, unknown>;
    assert.equal('task' in body, false);
    assert.deepEqual(Object.keys(body).sort(), ['hasMore', 'hasOlder', 'logs', 'nextAfterSeq']);
  });

  test('reading an unknown task answers 404 on both read routes', async () => {
    const h = harness();
    for (const path of [ROUTES.taskStatus('nope'), ROUTES.taskLogs('nope')]) {
      const res = await h.request(path);
      assert.equal(res.status, 404, path);
      assert.equal((await errorOf(res)).code, 'not_found');
    }
  });

  test('a bad cursor query answers 400 validation_failed', async () => {
    const h = harness();
    const { task } = await h.createTask();
    const res = await h.request(`${ROUTES.taskLogs(task.id)}?afterSeq=1&beforeSeq=3`);
    assert.equal(res.status, 400);
    const error = await errorOf(res);
    assert.equal(error.code, 'validation_failed');
    assert.match(error.message, /afterSeq or beforeSeq/);
  });

  test("the active-task route answers the agent's latest task, or 404 when it has none", async () => {
    const h = harness();
    const none = await h.request(ROUTES.activeTask('agent-9'));
    assert.equal(none.status, 404);
    assert.equal((await errorOf(none)).code, 'not_found');

    await h.createTask({ agentId: 'agent-9', id: 'first' });
    await h.createTask({ agentId: 'agent-9', id: 'second' });
    const res = await h.request(ROUTES.activeTask('agent-9'));
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { task: { id: string } }).task.id, 'second');
  });

  test('moving the phase backward answers 409 naming the current phase', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    await h.postStatus(task.id, agentToken, { phase: 'running' });
    const res = await h.postStatus(task.id, agentToken, { phase: 'starting' });
    assert.equal(res.status, 409);
    const error = await errorOf(res);
    assert.equal(error.code, 'phase_conflict');
    assert.match(error.message, /"running"/);
    assert.deepEqual(error.details, { currentPhase: 'running', requestedPhase: 'starting' });
  });

  test('after a terminal phase any further phase answers 409', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    assert.equal((await h.postStatus(task.id, agentToken, { phase: 'completed' })).status, 200);
    for (const phase of ['running', 'failed', 'cancelled'] as const) {
      const res = await h.postStatus(task.id, agentToken, { phase });
      assert.equal(res.status, 409, phase);
      assert.deepEqual((await errorOf(res)).details, { currentPhase: 'completed', requestedPhase: phase });
    }
  });

  test("posting to an unknown task answers 401 as for another task's token: no oracle of task ids", async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    const other = await h.createTask();
    const missing = await h.postStatus('missing-task', agentToken, { phase: 'running' });
    const wrong = await h.postStatus(other.task.id, agentToken, { phase: 'running' });
    assert.equal(missing.status, 401);
    assert.equal(wrong.status, 401);
    assert.equal((await errorOf(missing)).code, 'unauthorized');
    assert.equal((await errorOf(wrong)).code, 'unauthorized');
    assert.equal((await h.postStatus(task.id, agentToken, { phase: 'running' })).status, 200);
  });
});
