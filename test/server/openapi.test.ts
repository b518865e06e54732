// The OpenAPI document (issue 16): a valid OpenAPI 3.1 document, naming exactly the routes the app
// mounts, and true to what the server answers: every route is called over real HTTP, provoking
// the answers a test easily can (not 429, 503 or a full log quota), each one checked to be listed
// for its route and its body against the documented schema.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { ROUTES } from '../../protocol/index.js';
import { createApp } from '../../server/app.js';
import { LocalTaskBus } from '../../server/bus/local-bus.js';
import { openApiDocument } from '../../server/openapi/openapi-document.js';
import { startServer, type RunningServer } from '../../server/serve.js';
import { MemoryTaskStore } from '../../server/store/memory-store.js';
import { testConfig } from './routes/harness.js';
import { ADMIN_TOKEN, KEYS } from './viewer-tokens/tokens.js';

interface Operation {
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
}
type Paths = Record<string, Record<string, Operation>>;

const document = openApiDocument() as { openapi: string; paths: Paths };

describe('the OpenAPI document (issue 16)', { timeout: 60_000 }, () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(structuredClone(document));
    assert.equal(document.openapi, '3.1.0');
    assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
  });

  it('documents every route the app mounts, and no other', () => {
    const app = createApp({
      store: new MemoryTaskStore(),
      bus: new LocalTaskBus(),
      config: testConfig(),
      // Any object: the app only checks that there is a WebSocket side, to mount the 426 route.
      realtime: {} as never,
    });
    const mounted = new Set(
      app.routes
        // Middleware (ALL) and CORS preflights (OPTIONS) are not operations; the static files are
        // under a wildcard, documented by the widget's path.
        .filter((route) => route.method !== 'ALL' && route.method !== 'OPTIONS' && !route.path.includes('*'))
        .map((route) => `${route.method.toLowerCase()} ${route.path.replace(/:(\w+)/g, '{$1}')}`),
    );
    // The 426 of the WebSocket route is registered as the read routes' task id parameter (app.ts).
    assert.ok(mounted.delete(`get ${ROUTES.tasks}/{id}`));
    mounted.add(`get ${ROUTES.ws}`);
    mounted.add(`get ${ROUTES.widget}`);
    const documented = new Set(
      Object.entries(document.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((method) => `${method} ${path}`),
      ),
    );
    assert.deepEqual([...documented].sort(), [...mounted].sort());
  });

  describe('against the real server', () => {
    let server: RunningServer;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);

    before(async () => {
      server = await startServer({
        config: testConfig({ PORT: '0', ADMIN_TOKEN, VIEWER_TOKEN_KEYS: KEYS }),
      });
    });
    after(async () => {
      await server?.close();
    });

    /**
     * Sends the request and checks the answer against the document: its status is listed for the
     * operation, and a JSON body matches the schema given for that status.
     */
    async function call(
      method: 'get' | 'post',
      documentedPath: string,
      path: string,
      init: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
    ): Promise<{ status: number; body: unknown; headers: Headers }> {
      const headers: Record<string, string> = { ...init.headers };
      if (init.token) headers.authorization = `Bearer ${init.token}`;
      if (init.body !== undefined) headers['content-type'] ??= 'application/json';
      const response = await fetch(server.url + path, {
        method: method.toUpperCase(),
        headers,
        body:
          init.body === undefined
            ? undefined
            : typeof init.body === 'string'
              ? init.body
              : JSON.stringify(init.body),
      });
      const text = await response.text();
      const operation = document.paths[documentedPath]?.[method];
      assert.ok(operation, `${method} ${documentedPath} is documented`);
      const answer = operation.responses[String(response.status)];
      assert.ok(
        answer,
        `${method} ${documentedPath} answered ${response.status}, which the document does not list: ${text}`,
      );
      const schema = answer.content?.['application/json']?.schema;
      let body: unknown = text;
      if (schema) {
        body = JSON.parse(text);
        const valid = ajv.validate(schema, body);
        assert.ok(valid, `${method} ${path} ${response.status}: ${ajv.errorsText()} in ${text}`);
      }
      return { status: response.status, body, headers: response.headers };
    }

    it('gives the answers the document lists, with the bodies it describes', async () => {
      const tasks = ROUTES.tasks;
      const statusPath = '/api/agent-tasks/{id}/status';
      const logsPath = '/api/agent-tasks/{id}/logs';
      const tokenPath = '/api/agent-tasks/{id}/agent-token';
      const activePath = '/api/agents/{agentId}/active-task';

      assert.equal((await call('post', tasks, tasks, { body: { agentId: 'a-1' } })).status, 401);
      const created = await call('post', tasks, tasks, {
        token: ADMIN_TOKEN,
        body: { agentId: 'a-1', id: 't-1', title: 'nightly' },
      });
      assert.equal(created.status, 201);
      const agentToken = (created.body as { agentToken: string }).agentToken;
      assert.equal(
        (await call('post', tasks, tasks, { token: ADMIN_TOKEN, body: { agentId: 'a-1', id: 't-1' } }))
          .status,
        409,
      );
      assert.equal(
        (await call('post', tasks, tasks, { token: ADMIN_TOKEN, body: { agentId: '' } })).status,
        400,
      );
      assert.equal(
        (
          await call('post', tasks, tasks, {
            token: ADMIN_TOKEN,
            body: 'agentId=a',
            headers: { 'content-type': 'text/plain' },
          })
        ).status,
        415,
      );
      assert.equal(
        (
          await call('post', tasks, tasks, {
            token: ADMIN_TOKEN,
            body: { agentId: 'a', title: 'x'.repeat(400_000) },
          })
        ).status,
        413,
      );

      const post = (body: unknown, headers: Record<string, string> = {}, token = agentToken) =>
        call('post', statusPath, ROUTES.taskStatus('t-1'), { token, body, headers });
      assert.equal(
        (await post({ phase: 'running', progress: 10, logs: [{ message: 'hello' }] })).status,
        200,
      );
      const keyed = { message: 'once', logs: [{ level: 'warn', message: 'kept once' }] };
      assert.equal((await post(keyed, { 'idempotency-key': 'k-1' })).status, 200);
      const replay = await post(keyed, { 'idempotency-key': 'k-1' });
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.equal((await post({ message: 'other' }, { 'idempotency-key': 'k-1' })).status, 422);
      assert.equal((await post({ phase: 'queued' })).status, 409);
      assert.equal((await post({})).status, 400);
      assert.equal((await post({ progress: 1 }, {}, 'not-the-token')).status, 401);

      const read = (
        documented: string,
        path: string,
        headers: Record<string, string> = {},
        token = ADMIN_TOKEN,
      ) => call('get', documented, path, { token, headers });
      const page = await read(statusPath, `${ROUTES.taskStatus('t-1')}?afterSeq=0`);
      assert.equal(page.status, 200);
      const etag = page.headers.get('etag')!;
      assert.equal(
        (await read(statusPath, `${ROUTES.taskStatus('t-1')}?afterSeq=0`, { 'if-none-match': etag })).status,
        304,
      );
      assert.equal((await read(statusPath, `${ROUTES.taskStatus('t-1')}?afterSeq=-1`)).status, 400);
      assert.equal((await read(statusPath, ROUTES.taskStatus('nope'))).status, 404);
      assert.equal((await call('get', statusPath, ROUTES.taskStatus('t-1'))).status, 401);
      const minted = await call('post', ROUTES.viewerTokens, ROUTES.viewerTokens, {
        token: ADMIN_TOKEN,
        body: { tasks: ['other-task'] },
      });
      assert.equal(minted.status, 201);
      const otherTask = (minted.body as { token: string }).token;
      assert.equal((await read(statusPath, ROUTES.taskStatus('t-1'), {}, otherTask)).status, 403);
      assert.equal(
        (await call('post', ROUTES.viewerTokens, ROUTES.viewerTokens, { token: ADMIN_TOKEN, body: {} }))
          .status,
        400,
      );
      assert.equal((await read(logsPath, `${ROUTES.taskLogs('t-1')}?limit=2`)).status, 200);
      assert.equal((await read(activePath, ROUTES.activeTask('a-1'))).status, 200);
      assert.equal((await read(activePath, ROUTES.activeTask('nobody'))).status, 404);

      assert.equal(
        (await call('post', tokenPath, ROUTES.taskAgentToken('t-1'), { token: ADMIN_TOKEN })).status,
        200,
      );
      assert.equal(
        (await call('post', tokenPath, ROUTES.taskAgentToken('nope'), { token: ADMIN_TOKEN })).status,
        404,
      );
      assert.equal((await post({ progress: 20 })).status, 401, 'the replaced token');

      assert.equal((await call('get', ROUTES.ws, ROUTES.ws)).status, 426);
      for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
        assert.equal((await call('get', path, path)).status, 200, path);
      }
      assert.equal((await call('get', ROUTES.widget, ROUTES.widget)).status, 404, 'not built in this test');
      const served = await call('get', '/openapi.json', '/openapi.json');
      assert.deepEqual(served.body, JSON.parse(JSON.stringify(document)), 'the server serves this document');
    });
  });
});
