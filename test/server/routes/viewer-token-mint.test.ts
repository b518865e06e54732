// POST /api/viewer-tokens (issue 13), over real HTTP with the clock pinned at T0.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { ROUTES, ViewerTokenResponseSchema, type CreateTaskResponse } from '../../../protocol/index.js';
import { startServer } from '../../../server/serve.js';
import { ADMIN_TOKEN, KEYS, OLD_KEYS, T0 } from '../viewer-tokens/tokens.js';
import { errorOf, testConfig } from './harness.js';

async function serverFor(t: TestContext, env: Record<string, string>) {
  const server = await startServer({
    config: testConfig({ PORT: '0', ...env }),
    realtime: false,
    now: () => T0,
  });
  t.after(() => server.close());
  const mint = (body: unknown, token: string | null = ADMIN_TOKEN) =>
    fetch(server.url + ROUTES.viewerTokens, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(token === null ? {} : { Authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(body),
    });
  const read = (path: string, token: string) =>
    fetch(server.url + path, { headers: { Authorization: `Bearer ${token}` } });
  return { server, mint, read };
}

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());

describe('minting viewer tokens', () => {
  test('with the admin token: 201 { token, expiresAt }, 900 s by default, never cached', async (t) => {
    const { mint } = await serverFor(t, { ADMIN_TOKEN, VIEWER_TOKEN_KEYS: KEYS });
    const res = await mint({ tasks: ['task-1'], agents: ['agent-7'] });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = ViewerTokenResponseSchema.parse(await res.json());
    assert.equal(body.expiresAt, new Date(T0 + 900_000).toISOString());
    assert.deepEqual(claimsOf(body.token), {
      aud: 'agent-task-status',
      iat: T0 / 1000,
      exp: T0 / 1000 + 900,
      tasks: ['task-1'],
      agents: ['agent-7'],
    });
    const header = JSON.parse(Buffer.from(body.token.split('.')[0]!, 'base64url').toString());
    assert.equal(header.kid, 'k2', 'the first key signs');
  });

  test('ttlSeconds sets the lifetime, and the token reads what it names', async (t) => {
    const { mint, read, server } = await serverFor(t, { ADMIN_TOKEN, VIEWER_TOKEN_KEYS: KEYS });
    const created = await fetch(server.url + ROUTES.tasks, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ agentId: 'agent-1', id: 'task-1' }),
    });
    const { task } = (await created.json()) as CreateTaskResponse;
    const res = await mint({ tasks: [task.id], ttlSeconds: 10 });
    const { token, expiresAt } = ViewerTokenResponseSchema.parse(await res.json());
    assert.equal(expiresAt, new Date(T0 + 10_000).toISOString());
    assert.equal((await read(ROUTES.taskStatus(task.id), token)).status, 200);
    assert.equal((await read(ROUTES.activeTask('agent-1'), token)).status, 403);
  });

  test('with ADMIN_TOKEN set, no token is 401 and a wrong one is 401 invalid_token', async (t) => {
    const { mint } = await serverFor(t, { ADMIN_TOKEN, VIEWER_TOKEN_KEYS: KEYS });
    const missing = await mint({ tasks: ['task-1'] }, null);
    assert.equal(missing.status, 401);
    assert.match((await errorOf(missing)).message, /ADMIN_TOKEN/);
    const wrong = await mint({ tasks: ['task-1'] }, `${ADMIN_TOKEN}x`);
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  test('open while ADMIN_TOKEN is unset, as task creation is', async (t) => {
    const { mint } = await serverFor(t, { VIEWER_TOKEN_KEYS: KEYS });
    assert.equal((await mint({ agents: ['agent-1'] }, null)).status, 201);
  });

  test('without VIEWER_TOKEN_KEYS: 403 forbidden saying to set it', async (t) => {
    const { mint } = await serverFor(t, { ADMIN_TOKEN });
    const res = await mint({ tasks: ['task-1'] });
    assert.equal(res.status, 403);
    const error = await errorOf(res);
    assert.equal(error.code, 'forbidden');
    assert.equal(error.message, 'this server has no VIEWER_TOKEN_KEYS; set it to issue viewer tokens');
  });

  test('a scope or lifetime out of bounds is 400 validation_failed', async (t) => {
    const { mint } = await serverFor(t, { ADMIN_TOKEN, VIEWER_TOKEN_KEYS: KEYS });
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `t-${i}`);
    const bodies: [unknown, RegExp][] = [
      [{}, /name 1 to 256 tasks and agents/],
      [{ tasks: [] }, /name 1 to 256 tasks and agents/],
      [{ tasks: ids(200), agents: ids(57) }, /name 1 to 256 tasks and agents/],
      [{ tasks: ['../etc'] }, /tasks\.0: task id/],
      [{ tasks: ['t'], ttlSeconds: 9 }, /ttlSeconds/],
      [{ tasks: ['t'], ttlSeconds: 86_401 }, /ttlSeconds/],
      [{ tasks: ['t'], scope: 'all' }, /scope/],
      [{ tasks: Array.from({ length: 200 }, (_, i) => `t-${i}-${'x'.repeat(60)}`) }, /over the 16384/],
    ];
    for (const [body, message] of bodies) {
      const res = await mint(body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      const error = await errorOf(res);
      assert.equal(error.code, 'validation_failed');
      assert.match(error.message, message);
    }
  });

  test('after a rotation the server verifies tokens of the old key and signs with the new one', async (t) => {
    const before = await serverFor(t, { ADMIN_TOKEN, VIEWER_TOKEN_KEYS: OLD_KEYS });
    const old = ViewerTokenResponseSchema.parse(await (await before.mint({ tasks: ['task-1'] })).json());
    const after = await serverFor(t, { ADMIN_TOKEN, VIEWER_TOKEN_KEYS: KEYS });
    const fresh = ViewerTokenResponseSchema.parse(await (await after.mint({ tasks: ['task-1'] })).json());
    // Both are accepted (task-1 does not exist here, and the tokens name it: 404, not 401/403).
    assert.equal((await after.read(ROUTES.taskStatus('task-1'), old.token)).status, 404);
    assert.equal((await after.read(ROUTES.taskStatus('task-1'), fresh.token)).status, 404);
    assert.equal((await before.read(ROUTES.taskStatus('task-1'), fresh.token)).status, 401, 'unknown kid');
  });
});
