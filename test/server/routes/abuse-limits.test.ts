// The limits of issue 13 over real HTTP: per client address (creations, reads, refused tokens), the
// client taken from X-Forwarded-For only behind a trusted proxy, and the log quota per task.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { ROUTES, type CreateTaskResponse, type StatusUpdateInput } from '../../../protocol/index.js';
import { LocalTaskBus } from '../../../server/bus/local-bus.js';
import type { BusEvent } from '../../../server/bus/task-bus.js';
import { startServer } from '../../../server/serve.js';
import { errorOf, testConfig } from './harness.js';

const ADMIN = 'an-admin-token-of-some-length';

/** A server on port 0 with `env`, closed when the test ends; its bus events recorded. */
async function serverFor(t: TestContext, env: Record<string, string>) {
  const bus = new LocalTaskBus();
  const events: BusEvent[] = [];
  bus.subscribe((event) => events.push(event));
  const server = await startServer({ config: testConfig({ PORT: '0', ...env }), bus, realtime: false });
  t.after(() => server.close());

  const send = (path: string, init: RequestInit & { from?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.from) headers.set('X-Forwarded-For', init.from);
    return fetch(server.url + path, { ...init, headers });
  };
  const create = (headers: Record<string, string> = {}, from?: string) =>
    send(ROUTES.tasks, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ agentId: 'agent-1' }),
      from,
    });
  const post = (taskId: string, token: string, update: StatusUpdateInput, from?: string) =>
    send(ROUTES.taskStatus(taskId), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(update),
      from,
    });
  return { server, events, send, create, post };
}

async function assertRateLimited(res: Response, setting: string): Promise<void> {
  assert.equal(res.status, 429);
  assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
  const error = await errorOf(res);
  assert.equal(error.code, 'rate_limited');
  assert.match(error.message, new RegExp(`${setting}.*retry in \\d+ s`));
}

describe('per-address limits', () => {
  test('task creations past CREATES_PER_MINUTE answer 429 with Retry-After, for that address only', async (t) => {
    const { create } = await serverFor(t, { CREATES_PER_MINUTE: '2', TRUSTED_PROXIES: '127.0.0.1' });
    assert.equal((await create({}, '203.0.113.1')).status, 201);
    assert.equal((await create({}, '203.0.113.1')).status, 201);
    await assertRateLimited(await create({}, '203.0.113.1'), 'CREATES_PER_MINUTE');
    assert.equal((await create({}, '203.0.113.2')).status, 201, 'another client is not limited');
  });

  test('a peer that is not a trusted proxy cannot choose its address with X-Forwarded-For', async (t) => {
    const { create } = await serverFor(t, { CREATES_PER_MINUTE: '1' });
    assert.equal((await create({}, '198.51.100.1')).status, 201);
    await assertRateLimited(await create({}, '198.51.100.2'), 'CREATES_PER_MINUTE');
  });

  test('behind trusted proxies the client is the nearest untrusted hop, whatever it wrote further left', async (t) => {
    const { create } = await serverFor(t, {
      CREATES_PER_MINUTE: '1',
      TRUSTED_PROXIES: '127.0.0.1,10.0.0.0/8',
    });
    assert.equal((await create({}, '203.0.113.7, 10.1.2.3')).status, 201);
    await assertRateLimited(await create({}, '192.0.2.99, 203.0.113.7, 10.9.9.9'), 'CREATES_PER_MINUTE');
    await assertRateLimited(await create({}, 'not-an-address, 203.0.113.7'), 'CREATES_PER_MINUTE');
    // An IPv6 client counts as its /64: another address of the same /64 shares the budget.
    assert.equal((await create({}, '2001:db8:1:2::1')).status, 201);
    await assertRateLimited(await create({}, '2001:db8:1:2:ffff::9'), 'CREATES_PER_MINUTE');
    assert.equal((await create({}, '2001:db8:1:3::1')).status, 201);
  });

  test('reads past READS_PER_MINUTE answer 429 with CORS headers, so a browser sees Retry-After', async (t) => {
    const { send, create } = await serverFor(t, { READS_PER_MINUTE: '3' });
    const { task } = (await (await create()).json()) as CreateTaskResponse;
    const origin = { Origin: 'http://localhost:5173' };
    assert.equal((await send(ROUTES.taskStatus(task.id), { headers: origin })).status, 200);
    assert.equal((await send(ROUTES.taskLogs(task.id), { headers: origin })).status, 200);
    assert.equal((await send(ROUTES.activeTask('agent-1'), { headers: origin })).status, 200);
    const limited = await send(ROUTES.taskStatus(task.id), { headers: origin });
    assert.equal(limited.headers.get('access-control-allow-origin'), 'http://localhost:5173');
    await assertRateLimited(limited, 'READS_PER_MINUTE');
  });

  test('past BAD_TOKENS_PER_MINUTE refused admin tokens, even the right one is answered 429 unchecked', async (t) => {
    const { create } = await serverFor(t, {
      ADMIN_TOKEN: ADMIN,
      BAD_TOKENS_PER_MINUTE: '3',
      TRUSTED_PROXIES: '127.0.0.1',
    });
    const guesser = '203.0.113.66';
    assert.equal((await create({}, guesser)).status, 401, 'no token is not a guess');
    for (let i = 0; i < 3; i++) {
      assert.equal((await create({ Authorization: `Bearer wrong-guess-number-${i}` }, guesser)).status, 401);
    }
    await assertRateLimited(
      await create({ Authorization: `Bearer ${ADMIN}` }, guesser),
      'BAD_TOKENS_PER_MINUTE',
    );
    assert.equal((await create({ Authorization: `Bearer ${ADMIN}` }, '203.0.113.67')).status, 201);
  });

  test('refused agent tokens spend the same budget, and the right agent elsewhere is unaffected', async (t) => {
    const { create, post } = await serverFor(t, { BAD_TOKENS_PER_MINUTE: '2', TRUSTED_PROXIES: '127.0.0.1' });
    const { task, agentToken } = (await (await create()).json()) as CreateTaskResponse;
    const guesser = '198.51.100.23';
    for (let i = 0; i < 2; i++) {
      assert.equal((await post(task.id, `guess-${i}`, { progress: 1 }, guesser)).status, 401);
    }
    await assertRateLimited(
      await post(task.id, agentToken, { progress: 1 }, guesser),
      'BAD_TOKENS_PER_MINUTE',
    );
    assert.equal((await post(task.id, agentToken, { progress: 2 }, '198.51.100.24')).status, 200);
  });
});

describe('the log quota over HTTP', () => {
  test('a post past TASK_LOG_MAX_LINES answers 413 log_quota_exceeded, and stores and announces nothing of it', async (t) => {
    const { create, post, send, events } = await serverFor(t, { TASK_LOG_MAX_LINES: '3' });
    const { task, agentToken } = (await (await create()).json()) as CreateTaskResponse;
    const line = (message: string) => ({ message });
    assert.equal((await post(task.id, agentToken, { logs: [line('a'), line('b')] })).status, 200);
    const published = events.length;

    const refused = await post(task.id, agentToken, { phase: 'running', logs: [line('c'), line('d')] });
    assert.equal(refused.status, 413);
    const error = await errorOf(refused);
    assert.equal(error.code, 'log_quota_exceeded');
    assert.match(
      error.message,
      /holds 2 log lines.*cap of 3 lines.*nothing of this write was stored.*new task/,
    );
    assert.deepEqual(error.details, {
      stored: { lines: 2, bytes: 2 },
      adding: { lines: 2, bytes: 2 },
      quota: { maxLines: 3, maxBytes: 64 * 1024 * 1024 },
    });
    assert.equal(events.length, published, 'nothing published');
    const page = await (await send(ROUTES.taskStatus(task.id))).json();
    assert.deepEqual([page.task.phase, page.logs.length], ['queued', 2]);

    const done = await post(task.id, agentToken, { phase: 'completed', message: 'output cut at the cap' });
    assert.equal(done.status, 200, 'a status-only post still finishes the task');
  });
});
