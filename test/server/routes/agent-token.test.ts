import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import {
  AgentTokenResponseSchema,
  CreateTaskResponseSchema,
  ErrorBodySchema,
  ROUTES,
} from '../../../protocol/index.js';
import { startServer } from '../../../server/serve.js';
import { testConfig } from './harness.js';

const ADMIN_TOKEN = 'the-admin-token-of-this-test';

/** A real server; `post` sends JSON with an optional bearer token and returns status and body. */
async function serverFor(t: TestContext, env: Record<string, string> = {}) {
  const server = await startServer({ config: testConfig({ PORT: '0', ...env }), realtime: false });
  t.after(() => server.close());
  async function post(path: string, body: unknown, token?: string) {
    const res = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as unknown };
  }
  return { server, post };
}

describe('replacing an agent token (revocation)', () => {
  test('the old token is refused at once, though the verifier remembered it, and the new one works', async (t) => {
    const { post } = await serverFor(t, { ADMIN_TOKEN });
    const created = CreateTaskResponseSchema.parse(
      (await post(ROUTES.tasks, { agentId: 'agent-1', id: 't-1' }, ADMIN_TOKEN)).body,
    );
    const old = created.agentToken;
    // Accepted once, so TokenVerifier now remembers it.
    assert.equal((await post(ROUTES.taskStatus('t-1'), { progress: 10 }, old)).status, 200);

    const replaced = await post(ROUTES.taskAgentToken('t-1'), {}, ADMIN_TOKEN);
    assert.equal(replaced.status, 200);
    assert.equal(replaced.headers.get('cache-control'), 'no-store', 'shown once, like at creation');
    const { agentToken } = AgentTokenResponseSchema.parse(replaced.body);
    assert.notEqual(agentToken, old);

    const refused = await post(ROUTES.taskStatus('t-1'), { progress: 20 }, old);
    assert.equal(refused.status, 401);
    assert.equal(ErrorBodySchema.parse(refused.body).error.code, 'unauthorized');
    assert.equal((await post(ROUTES.taskStatus('t-1'), { progress: 30 }, agentToken)).status, 200);
  });

  test('needs the admin token: 401 without it or with a wrong one, 404 for an unknown task', async (t) => {
    const { post } = await serverFor(t, { ADMIN_TOKEN });
    const { agentToken } = CreateTaskResponseSchema.parse(
      (await post(ROUTES.tasks, { agentId: 'agent-1', id: 't-1' }, ADMIN_TOKEN)).body,
    );
    for (const token of [undefined, 'not-the-admin-token-at-all', agentToken]) {
      const res = await post(ROUTES.taskAgentToken('t-1'), {}, token);
      assert.equal(res.status, 401, String(token));
      assert.equal(ErrorBodySchema.parse(res.body).error.code, 'unauthorized');
    }
    const unknown = await post(ROUTES.taskAgentToken('t-unknown'), {}, ADMIN_TOKEN);
    assert.equal(unknown.status, 404);
    assert.equal(ErrorBodySchema.parse(unknown.body).error.code, 'not_found');
    assert.equal(
      (await post(ROUTES.taskStatus('t-1'), { progress: 1 }, agentToken)).status,
      200,
      'unchanged',
    );
  });

  test("without ADMIN_TOKEN nobody may replace a token (403 forbidden): the task stays its agent's", async (t) => {
    const { post } = await serverFor(t);
    const { agentToken } = CreateTaskResponseSchema.parse(
      (await post(ROUTES.tasks, { agentId: 'agent-1', id: 't-1' })).body,
    );
    const res = await post(ROUTES.taskAgentToken('t-1'), {});
    assert.equal(res.status, 403);
    const { error } = ErrorBodySchema.parse(res.body);
    assert.equal(error.code, 'forbidden');
    assert.match(error.message, /ADMIN_TOKEN/);
    assert.equal((await post(ROUTES.taskStatus('t-1'), { progress: 1 }, agentToken)).status, 200);
  });
});
