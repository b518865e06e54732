// Property-based fuzzing (fast-check) of every HTTP route and every WebSocket message type against
// the real server over real sockets (issue 13). Each property asserts: no 5xx but a documented
// 503, every HTTP error is `{ error: { code, message } }` with a code of README's table, WebSocket
// errors and closes are documented ones, the server stays up, and a bystander client subscribed to
// a task receives every update of it after each run.
//
// Runs with a fresh seed each time; FUZZ_SEED=<n> replays one (fast-check prints the seed and the
// path of a failure, and the seed is logged at the start).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import {
  ErrorBodySchema,
  PHASES,
  ROUTES,
  ServerMessageSchema,
  type CreateTaskResponse,
} from '../../../protocol/index.js';
import { mintViewerToken } from '../../../sdk/viewer-token.js';
import { startServer, type RunningServer } from '../../../server/serve.js';
import { TestClient } from '../realtime/realtime-harness.js';
import { testConfig } from '../routes/harness.js';
import { KEYS } from '../viewer-tokens/tokens.js';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const HTTP_RUNS = 1000;
const WS_RUNS = 300;

/** The codes of README's errors table: the only ones an answer may carry. */
const DOCUMENTED_CODES = new Set(
  [
    ...readFileSync(new URL('../../../README.md', import.meta.url), 'utf8').matchAll(
      /^\| \d{3} +\| `([a-z_]+)`/gm,
    ),
  ].map((match) => match[1]!),
);
const DOCUMENTED_503 = new Set(['store_unavailable', 'server_busy', 'realtime_unavailable']);
/** Close codes the README documents (1005/1006: the peer closed without a code, or the socket dropped). */
const DOCUMENTED_CLOSES = new Set([1000, 1001, 1003, 1005, 1006, 1008, 1009, 1012, 1013]);
/** The trusted proxy is the test itself: each run names its client in X-Forwarded-For. */
const BYSTANDER_ADDRESS = '192.0.2.1';
/**
 * Reads need viewer tokens (VIEWER_TOKEN_KEYS is set), so the fuzz reaches the token checks; the
 * well-formed reads carry a token covering the fuzzer's agent and the bystander's task, and the
 * bystander authorizes one on its socket. A day long: the run is far shorter.
 */
const viewerToken = (scope: { tasks?: string[]; agents?: string[] }) =>
  mintViewerToken(KEYS, { ...scope, ttlSeconds: 86_400 });

/** Printable ASCII only: what fetch accepts in a header value. */
const headerText = fc.string({ maxLength: 60 }).map((s) => s.replace(/[^\x20-\x7e]/g, ''));
const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', ' ', '..', '.', 'ws', 't-1', 'a'.repeat(300), '\u0000', 'é', '☃', '💥'),
);

describe('fuzzing the HTTP API and the WebSocket', () => {
  let server: RunningServer;
  let bystander: TestClient;
  let bystanderTask: CreateTaskResponse;
  let fuzzTask: CreateTaskResponse;
  let readerToken: string;
  let ticks = 0;

  async function createTask(agentId: string): Promise<CreateTaskResponse> {
    const res = await fetch(server.url + ROUTES.tasks, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': BYSTANDER_ADDRESS },
      body: JSON.stringify({ agentId }),
    });
    assert.equal(res.status, 201);
    return (await res.json()) as CreateTaskResponse;
  }

  /** The server is up, and the bystander hears the next update of its task. */
  async function assertBystanderServed(): Promise<void> {
    const message = `tick ${++ticks}`;
    const res = await fetch(server.url + ROUTES.taskStatus(bystanderTask.task.id), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${bystanderTask.agentToken}`,
        'X-Forwarded-For': BYSTANDER_ADDRESS,
      },
      body: JSON.stringify({ message, logs: [{ message }] }),
    });
    assert.equal(res.status, 200, `the bystander's agent is served: ${await res.text()}`);
    for (;;) {
      const update = await bystander.next();
      assert.notEqual(update.type, 'error', JSON.stringify(update));
      if (update.type === 'update' && update.task.message === message) break;
    }
  }

  /** A real static folder (a file at the top, one below), so the fuzz reaches the static route's files. */
  const staticDir = mkdtempSync(path.join(tmpdir(), 'ats-fuzz-static-'));
  mkdirSync(path.join(staticDir, 'demo'));
  writeFileSync(path.join(staticDir, 'agent-task-status.js'), 'export {};\n');
  writeFileSync(path.join(staticDir, 'demo', 'index.html'), '<!doctype html><title>demo</title>\n');

  before(async () => {
    console.log(`fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
    server = await startServer({
      config: testConfig({
        PORT: '0',
        STATIC_DIR: staticDir,
        TRUSTED_PROXIES: '127.0.0.1',
        // Deep enough into the status route that the fuzz reaches bodies, not only 429s.
        RATE_LIMIT_PER_MINUTE: '100000',
        WS_MAX_SUBSCRIPTIONS: '50',
        VIEWER_TOKEN_KEYS: KEYS,
      }),
      log: { error: (...args: unknown[]) => console.error(...args), warn: () => {} },
    });
    bystanderTask = await createTask('bystander');
    fuzzTask = await createTask('fuzzer');
    readerToken = viewerToken({ tasks: [bystanderTask.task.id], agents: ['fuzzer'] });
    bystander = await TestClient.connect(server.url.replace('http', 'ws') + ROUTES.ws);
    bystander.send({
      type: 'authorize',
      requestId: 0,
      tokens: [viewerToken({ tasks: [bystanderTask.task.id] })],
    });
    await bystander.expect('authorized');
    bystander.subscribe(bystanderTask.task.id);
    await bystander.expect('snapshot');
  });

  after(async () => {
    bystander?.close();
    await server?.close();
    rmSync(staticDir, { recursive: true, force: true });
  });

  test('every HTTP route answers fuzzed methods, paths, queries, headers and bodies with a documented answer', async () => {
    const segment = fc.oneof(
      anyText.map(encodeURIComponent),
      fc.constantFrom(
        '%00',
        '%ZZ',
        '%2e%2e',
        '..%2f..%2fetc',
        '%F0%9F',
        fuzzTask.task.id,
        bystanderTask.task.id,
      ),
    );
    const path = fc.oneof(
      fc.constant(ROUTES.tasks),
      segment.map((s) => `${ROUTES.tasks}/${s}/status`),
      segment.map((s) => `${ROUTES.tasks}/${s}/logs`),
      segment.map((s) => `${ROUTES.tasks}/${s}`),
      segment.map((s) => `/api/agents/${s}/active-task`),
      fc.constantFrom(
        ROUTES.ws,
        ROUTES.viewerTokens,
        '/healthz',
        '/metrics',
        '/',
        ROUTES.widget,
        '/demo/',
        '/demo/api/chaos',
      ),
      segment.map((s) => `/${s}`),
      segment.map((s) => `/demo/${s}`),
      segment.map((s) => `${ROUTES.widget}/${s}`),
      segment.map((s) => `/api/${s}`),
    );
    const query = fc.array(
      fc.tuple(
        fc.constantFrom('afterSeq', 'beforeSeq', 'limit', 'x', ''),
        fc.oneof(
          fc.integer({ min: -5, max: 2000 }).map(String),
          fc.constantFrom('1e3', '0x10', 'NaN', '1.5', '99999999999999999999', '', ' 1'),
          anyText,
        ),
      ),
      { maxLength: 3 },
    );
    /** Mostly `valid`, sometimes anything: deep enough to reach the store, wide enough to break it. */
    const mostly = <T>(valid: fc.Arbitrary<T>) =>
      fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: fc.oneof(anyText, fc.jsonValue()), weight: 1 });
    const logLine = fc.record(
      {
        level: mostly(fc.constantFrom('debug', 'info', 'warn', 'error')),
        message: fc.oneof(
          { arbitrary: fc.string({ minLength: 1, maxLength: 80 }), weight: 8 },
          { arbitrary: fc.constant('m'.repeat(8001)), weight: 1 },
          { arbitrary: fc.constant(''), weight: 1 },
        ),
        at: mostly(fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
      },
      { requiredKeys: ['message'] },
    );
    const statusBody = fc
      .record(
        {
          phase: mostly(fc.constantFrom(...PHASES)),
          progress: mostly(fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(null), fc.double())),
          message: mostly(fc.oneof(fc.string({ maxLength: 80 }), fc.constant(null))),
          logs: mostly(fc.array(logLine, { maxLength: 5 })),
          extra: fc.jsonValue(),
        },
        { requiredKeys: [], noNullPrototype: true },
      )
      .map(({ extra, ...known }) =>
        // An unknown key refuses the whole body: keep it to about one body in ten.
        JSON.stringify(known).length % 10 === 0 ? { ...known, extra } : known,
      );
    const createBody = fc.record(
      { agentId: fc.oneof(anyText, fc.constant('fuzz-agent')), title: anyText, id: anyText },
      { requiredKeys: [] },
    );
    const mintBody = fc.record(
      {
        tasks: fc.oneof(
          fc.array(anyText, { maxLength: 3 }),
          fc.array(fc.constant('t-1'), { maxLength: 300 }),
        ),
        agents: fc.array(fc.oneof(anyText, fc.constant('fuzzer')), { maxLength: 3 }),
        ttlSeconds: fc.oneof(fc.integer({ min: -1, max: 100_000 }), fc.double(), anyText),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      fc.constant(undefined),
      mintBody.map((b) => JSON.stringify(b)),
      statusBody.map((b) => JSON.stringify(b)),
      createBody.map((b) => JSON.stringify(b)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      anyText,
      fc.uint8Array({ maxLength: 64 }),
      fc.constant('x'.repeat(300 * 1024)),
    );
    const authorization = fc.oneof(
      fc.constant(undefined),
      // Never the bystander's token: a fuzzed post could finish its task.
      fc.constant(`Bearer ${fuzzTask.agentToken}`),
      fc.constant(`Bearer ${readerToken}`),
      fc.constant(`Bearer ${readerToken.slice(0, -2)}xy`),
      headerText.map((t) => `Bearer ${t}`),
      headerText,
      fc.constant('Basic dXNlcjpwYXNz'),
    );
    const optionalHeader = (values: fc.Arbitrary<string>) => fc.option(values, { nil: undefined });
    const request = fc.record({
      method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
      path,
      query,
      body,
      client: fc.integer({ min: 0, max: 255 }),
      headers: fc.record({
        authorization,
        'content-type': optionalHeader(
          fc.oneof(
            fc.constantFrom(
              'application/json',
              'text/plain',
              'application/json; charset=utf-16',
              'multipart/form-data',
            ),
            headerText,
          ),
        ),
        'if-none-match': optionalHeader(fc.oneof(fc.constantFrom('*', 'W/"1"'), headerText)),
        'idempotency-key': optionalHeader(headerText),
        origin: optionalHeader(fc.constantFrom('http://localhost:5173', 'https://evil.example', 'null')),
        'access-control-request-method': optionalHeader(fc.constantFrom('GET', 'POST', 'DELETE')),
        'x-forwarded-for': fc.option(headerText, { nil: '' }),
      }),
    });

    // Random requests rarely get past auth and validation: a share of runs are well-formed posts
    // and reads of real tasks, with fuzzed bodies and queries.
    const statusPost = fc.record({
      method: fc.constant('POST'),
      path: fc.constant(ROUTES.taskStatus(fuzzTask.task.id)),
      query: fc.constant([] as [string, string][]),
      body: statusBody.map((b) => JSON.stringify(b)),
      client: fc.integer({ min: 0, max: 255 }),
      headers: fc.record({
        authorization: fc.constant(`Bearer ${fuzzTask.agentToken}`),
        'content-type': fc.constant('application/json'),
        'idempotency-key': optionalHeader(fc.oneof(fc.constantFrom('k1', 'k2'), headerText)),
      }),
    });
    const read = fc.record({
      method: fc.constant('GET'),
      path: fc.constantFrom(
        ROUTES.taskStatus(fuzzTask.task.id),
        ROUTES.taskLogs(fuzzTask.task.id),
        ROUTES.taskLogs(bystanderTask.task.id),
        ROUTES.activeTask('fuzzer'),
      ),
      query,
      body: fc.constant(undefined),
      client: fc.integer({ min: 0, max: 255 }),
      headers: fc.record({
        // Mostly a token covering these reads; sometimes another scope, an expired one, or none.
        authorization: fc.oneof(
          { arbitrary: fc.constant(`Bearer ${readerToken}`), weight: 6 },
          {
            arbitrary: fc.constantFrom(
              `Bearer ${viewerToken({ tasks: ['someone-else'] })}`,
              `Bearer ${mintViewerToken(KEYS, { agents: ['fuzzer'], ttlSeconds: 10 }, () => Date.now() - 60_000)}`,
              undefined,
            ),
            weight: 1,
          },
        ),
        'if-none-match': optionalHeader(fc.oneof(fc.constantFrom('*', 'W/"1"'), headerText)),
        origin: optionalHeader(fc.constantFrom('http://localhost:5173', 'https://evil.example')),
      }),
    });
    const anyRequest = fc.oneof(
      { arbitrary: request, weight: 3 },
      { arbitrary: statusPost, weight: 1 },
      { arbitrary: read, weight: 1 },
    );

    await fc.assert(
      fc.asyncProperty(anyRequest, async ({ method, path, query, body, client, headers }) => {
        const url = new URL(server.url + path);
        for (const [key, value] of query) url.searchParams.append(key, value);
        const sent = new Headers();
        const given: Record<string, string | undefined> = headers;
        for (const [name, value] of Object.entries(given)) if (value !== undefined) sent.set(name, value);
        // Whatever the client wrote, the trusted proxy (this test) appends the peer it saw.
        sent.set(
          'x-forwarded-for',
          [given['x-forwarded-for'], `198.51.100.${client}`].filter(Boolean).join(', '),
        );
        const res = await fetch(url, {
          method,
          headers: sent,
          body: method === 'GET' || method === 'HEAD' ? undefined : body,
        });
        const text = await res.text();
        const where = `${method} ${url.pathname}${url.search} → ${res.status} ${text.slice(0, 300)}`;
        if (res.status >= 400 && method !== 'HEAD') {
          let parsed: unknown;
          assert.doesNotThrow(() => (parsed = JSON.parse(text)), `an error is JSON: ${where}`);
          const { error } = ErrorBodySchema.parse(parsed);
          assert.ok(DOCUMENTED_CODES.has(error.code), `README documents ${error.code}: ${where}`);
          assert.ok(error.message.length > 0, where);
          if (res.status >= 500) {
            assert.ok(res.status === 503 && DOCUMENTED_503.has(error.code), `no 5xx: ${where}`);
          }
        }
        assert.ok(res.status < 500 || res.status === 503, `no 5xx: ${where}`);
        await assertBystanderServed();
      }),
      { seed: SEED, numRuns: HTTP_RUNS },
    );
  });

  test('every WebSocket message type, valid-ish or garbage, gets a documented answer or close', async () => {
    const taskId = fc.oneof(
      fc.constantFrom(fuzzTask.task.id, bystanderTask.task.id, 'missing'),
      anyText,
      fc.integer(),
    );
    const agentId = fc.oneof(fc.constantFrom('fuzzer', 'bystander', 'nobody'), anyText, fc.constant(null));
    const ids = <T>(item: fc.Arbitrary<T>) =>
      fc.option(
        fc.oneof(fc.array(item, { maxLength: 4 }), fc.array(item, { minLength: 129, maxLength: 130 })),
        {
          nil: undefined,
        },
      );
    const requestId = fc.oneof(fc.nat(), fc.integer({ min: -3, max: -1 }), fc.double(), anyText);
    const subscribe = fc.record(
      {
        type: fc.constant('subscribe'),
        requestId,
        tasks: ids(
          fc.record(
            { taskId, afterSeq: fc.oneof(fc.integer({ min: -2, max: 50 }), fc.double(), anyText) },
            { requiredKeys: ['taskId'] },
          ),
        ),
        agents: ids(agentId),
        extra: fc.jsonValue(),
      },
      { requiredKeys: ['type'] },
    );
    const unsubscribe = fc.record(
      { type: fc.constant('unsubscribe'), tasks: ids(taskId), agents: ids(agentId) },
      { requiredKeys: ['type'] },
    );
    const authorize = fc.record(
      {
        type: fc.constant('authorize'),
        requestId,
        tokens: fc.oneof(
          fc.array(
            fc.oneof(
              fc.constantFrom(
                readerToken,
                viewerToken({ agents: ['nobody'] }),
                `${readerToken.slice(0, -2)}xy`,
                mintViewerToken(KEYS, { tasks: ['t-1'], ttlSeconds: 10 }, () => Date.now() - 60_000),
                'x'.repeat(16 * 1024 + 1),
                '',
              ),
              anyText,
              fc.integer(),
            ),
            { maxLength: 4 },
          ),
          fc.constant(Array.from({ length: 129 }, () => readerToken)),
          anyText,
        ),
        extra: fc.jsonValue(),
      },
      { requiredKeys: ['type', 'tokens'] },
    );
    const frame = fc.oneof(
      fc
        .oneof(subscribe, unsubscribe, authorize, fc.constant({ type: 'ping' }), fc.record({ type: anyText }))
        .map((m) => JSON.stringify(m)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      anyText,
      fc.uint8Array({ minLength: 1, maxLength: 32 }).map((bytes) => Buffer.from(bytes)),
      fc.constant('"' + 'x'.repeat(70 * 1024) + '"'),
    );

    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 6 }), async (frames) => {
        const client = await TestClient.connect(server.url.replace('http', 'ws') + ROUTES.ws);
        try {
          for (const f of frames) client.ws.send(f);
          client.send({ type: 'ping' });
          const closed = client.closed.then((close) => ({ close }));
          for (;;) {
            const next = await Promise.race([client.next().then((message) => ({ message })), closed]);
            if ('close' in next) {
              assert.ok(
                DOCUMENTED_CLOSES.has(next.close.code),
                `close ${next.close.code} ${next.close.reason}`,
              );
              break;
            }
            const message = ServerMessageSchema.parse(next.message);
            if (message.type === 'error') assert.notEqual(message.code, 'internal', JSON.stringify(message));
            if (message.type === 'pong') break;
          }
        } finally {
          if (client.ws.readyState === WebSocket.OPEN) client.close();
        }
        await assertBystanderServed();
      }),
      { seed: SEED, numRuns: WS_RUNS },
    );
  });
});
