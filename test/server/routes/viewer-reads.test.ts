// Viewer tokens on the read routes (issue 13), over real HTTP: a server on port 0 with a pinned
// clock, tokens minted by the SDK against that clock.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { ROUTES, type CreateTaskResponse } from '../../../protocol/index.js';
import { mintViewerToken, type ViewerTokenScope } from '../../../sdk/viewer-token.js';
import { startServer } from '../../../server/serve.js';
import { ADMIN_TOKEN, forgeToken, claimsAt, KEYS, OLD_KEYS, T0 } from '../viewer-tokens/tokens.js';
import { errorOf, testConfig } from './harness.js';

/** A server on port 0 with `env` and the clock at T0, closed when the test ends; two tasks of two agents. */
async function serverFor(t: TestContext, env: Record<string, string> = { VIEWER_TOKEN_KEYS: KEYS }) {
  const server = await startServer({
    config: testConfig({ PORT: '0', ADMIN_TOKEN, TRUSTED_PROXIES: '127.0.0.1', ...env }),
    realtime: false,
    now: () => T0,
  });
  t.after(() => server.close());
  const read = (path: string, token?: string, headers: Record<string, string> = {}) =>
    fetch(server.url + path, {
      headers: { ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }), ...headers },
    });
  const create = async (agentId: string, id: string) => {
    const res = await fetch(server.url + ROUTES.tasks, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ agentId, id }),
    });
    assert.equal(res.status, 201);
    return (await res.json()) as CreateTaskResponse;
  };
  await create('agent-1', 'task-1');
  await create('agent-2', 'task-2');
  return { server, read, create };
}

const mint = (scope: ViewerTokenScope, nowMs = T0) => mintViewerToken(KEYS, scope, () => nowMs);
const READS = [ROUTES.taskStatus('task-1'), ROUTES.taskLogs('task-1'), ROUTES.activeTask('agent-1')];

describe('viewer tokens on the read routes', () => {
  test('without VIEWER_TOKEN_KEYS reads stay public, and a sent token is ignored', async (t) => {
    const { read } = await serverFor(t, {});
    for (const path of READS) {
      assert.equal((await read(path)).status, 200, path);
      assert.equal((await read(path, 'not-a-viewer-token')).status, 200, path);
    }
  });

  test('no token: 401 unauthorized with a Bearer challenge and how to get a token', async (t) => {
    const { read } = await serverFor(t);
    for (const path of READS) {
      const res = await read(path);
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="agent-task-status"');
      const error = await errorOf(res);
      assert.equal(error.code, 'unauthorized');
      assert.match(error.message, /Authorization: Bearer <token>.*POST \/api\/viewer-tokens/);
    }
  });

  test('an expired token: 401 token_expired, with error_description="token expired"', async (t) => {
    const { read } = await serverFor(t);
    const expired = mint({ tasks: ['task-1'], agents: ['agent-1'], ttlSeconds: 60 }, T0 - 60_000);
    for (const path of READS) {
      const res = await read(path, expired);
      assert.equal(res.status, 401, path);
      assert.equal(
        res.headers.get('www-authenticate'),
        'Bearer realm="agent-task-status", error="invalid_token", error_description="token expired"',
      );
      const error = await errorOf(res);
      assert.equal(error.code, 'token_expired');
      assert.match(error.message, /expired/);
    }
  });

  test('a token scoped to another task: 403 forbidden naming the task', async (t) => {
    const { read } = await serverFor(t);
    const token = mint({ tasks: ['task-2'] });
    for (const path of [ROUTES.taskStatus('task-1'), ROUTES.taskLogs('task-1')]) {
      const res = await read(path, token);
      assert.equal(res.status, 403, path);
      const error = await errorOf(res);
      assert.equal(error.code, 'forbidden');
      assert.match(error.message, /this viewer token does not cover task "task-1"/);
    }
    assert.equal((await read(ROUTES.taskStatus('task-2'), token)).status, 200);
    assert.equal((await read(ROUTES.activeTask('agent-2'), token)).status, 403, 'a task is not its agent');
  });

  test("a token scoped to another agent: 403 for that agent's tasks and its active task", async (t) => {
    const { read } = await serverFor(t);
    const token = mint({ agents: ['agent-2'] });
    for (const path of READS) assert.equal((await read(path, token)).status, 403, path);
    const res = await read(ROUTES.activeTask('agent-1'), token);
    assert.match((await errorOf(res)).message, /does not cover agent "agent-1"/);
  });

  test('an agent-scoped token reads every task of the agent, new ones included, and its active task', async (t) => {
    const { read, create } = await serverFor(t);
    const token = mint({ agents: ['agent-1'] });
    for (const path of READS) assert.equal((await read(path, token)).status, 200, path);
    await create('agent-1', 'task-3');
    assert.equal((await read(ROUTES.taskStatus('task-3'), token)).status, 200);
    const active = await read(ROUTES.activeTask('agent-1'), token);
    assert.equal(((await active.json()) as CreateTaskResponse).task.id, 'task-3');
  });

  test('a task that does not exist: 403 unless the token names it, whose holder gets the 404', async (t) => {
    const { read } = await serverFor(t);
    const byAgent = await read(ROUTES.taskStatus('no-such-task'), mint({ agents: ['agent-1'] }));
    assert.equal(byAgent.status, 403, 'no oracle of which ids exist');
    const named = await read(ROUTES.taskStatus('no-such-task'), mint({ tasks: ['no-such-task'] }));
    assert.equal(named.status, 404);
    assert.equal((await errorOf(named)).code, 'not_found');
  });

  test('a forged token: 401 unauthorized, invalid_token', async (t) => {
    const { read } = await serverFor(t);
    const forged = forgeToken(
      { alg: 'HS256', kid: 'k2' },
      claimsAt(T0),
      'a-guessed-secret-of-32-characters-x',
    );
    const none = forgeToken({ alg: 'none', kid: 'k2' }, claimsAt(T0), '', 'none');
    for (const token of [forged, none, 'not-a-jwt-at-all']) {
      const res = await read(ROUTES.taskStatus('task-1'), token);
      assert.equal(res.status, 401, token);
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      const error = await errorOf(res);
      assert.equal(error.code, 'unauthorized');
      assert.match(error.message, /not valid for this server/);
    }
  });

  test('the admin token reads everything', async (t) => {
    const { read } = await serverFor(t);
    for (const path of [...READS, ROUTES.taskStatus('task-2'), ROUTES.activeTask('agent-2')]) {
      assert.equal((await read(path, ADMIN_TOKEN)).status, 200, path);
    }
  });

  test('a token of the older key still reads during a rotation; ETag revalidation still answers 304', async (t) => {
    const { read } = await serverFor(t);
    const token = mintViewerToken(OLD_KEYS, { tasks: ['task-1'] }, () => T0);
    const first = await read(ROUTES.taskStatus('task-1'), token);
    assert.equal(first.status, 200);
    const etag = first.headers.get('etag')!;
    assert.equal((await read(ROUTES.taskStatus('task-1'), token, { 'If-None-Match': etag })).status, 304);
    const stranger = await read(ROUTES.taskStatus('task-1'), undefined, { 'If-None-Match': etag });
    assert.equal(stranger.status, 401, 'a 304 is a read too');
  });

  test('refused tokens spend BAD_TOKENS_PER_MINUTE, then even a good token is 429; expired ones spend nothing', async (t) => {
    const { read } = await serverFor(t, { VIEWER_TOKEN_KEYS: KEYS, BAD_TOKENS_PER_MINUTE: '2' });
    const from = (address: string) => ({ 'X-Forwarded-For': address });
    const good = mint({ tasks: ['task-1'] });
    const expired = mint({ tasks: ['task-1'], ttlSeconds: 10 }, T0 - 10_000);
    const path = ROUTES.taskStatus('task-1');
    for (let i = 0; i < 3; i++) {
      assert.equal((await read(path, expired, from('203.0.113.5'))).status, 401);
    }
    assert.equal((await read(path, undefined, from('203.0.113.5'))).status, 401, 'no token is not a guess');
    assert.equal((await read(path, good, from('203.0.113.5'))).status, 200);
    for (let i = 0; i < 2; i++) {
      assert.equal((await read(path, `forged.token.${i}`, from('203.0.113.5'))).status, 401);
    }
    const limited = await read(path, good, from('203.0.113.5'));
    assert.equal(limited.status, 429);
    assert.match(limited.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    assert.match((await errorOf(limited)).message, /BAD_TOKENS_PER_MINUTE/);
    assert.equal((await read(path, good, from('203.0.113.6'))).status, 200, 'another address is served');
  });

  test('CORS: the preflight allows Authorization and needs no token; a 401 carries the CORS headers', async (t) => {
    const { read, server } = await serverFor(t);
    const origin = 'http://localhost:5173';
    const preflight = await fetch(server.url + ROUTES.taskStatus('task-1'), {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'authorization, if-none-match',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/);
    const refused = await read(ROUTES.taskStatus('task-1'), undefined, { Origin: origin });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), origin);
  });
});
