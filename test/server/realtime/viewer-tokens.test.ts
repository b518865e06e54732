// Viewer tokens on the WebSocket (issue 13), over real sockets: `authorize`, subscriptions checked
// against the socket's tokens, and live subscriptions ended when their tokens expire. The session's
// clock is a manual one; nothing here sleeps.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseViewerTokenKeys, ROUTES, type ServerMessage } from '../../../protocol/index.js';
import { loadConfig } from '../../../server/config.js';
import { startServer } from '../../../server/serve.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import { mintViewerToken, type ViewerTokenScope } from '../../../sdk/viewer-token.js';
import { ADMIN_TOKEN, claimsAt, forgeToken, KEYS, manualClock, T0 } from '../viewer-tokens/tokens.js';
import { startRealtimeServer, TestClient } from './realtime-harness.js';

type Server = Awaited<ReturnType<typeof startRealtimeServer>>;

const VIEWER_CONFIG = { viewerTokenKeys: parseViewerTokenKeys(KEYS), adminToken: ADMIN_TOKEN };

/** Sends `authorize` with one token (or several) and returns its answer. */
async function authorize(
  client: TestClient,
  token: string | string[],
  requestId = 900,
): Promise<ServerMessage> {
  client.send({ type: 'authorize', requestId, tokens: Array.isArray(token) ? token : [token] });
  const answer = await client.next();
  assert.ok(answer.type === 'authorized' || answer.type === 'error', JSON.stringify(answer));
  assert.equal(answer.requestId, requestId);
  return answer;
}

/** Nothing more is queued for the client: a ping's pong comes next (the socket keeps order). */
async function assertNothingMore(client: TestClient): Promise<void> {
  client.send({ type: 'ping' });
  assert.deepEqual(await client.next(), { type: 'pong' });
}

describe('viewer tokens on the WebSocket', () => {
  const clock = manualClock();
  let server: Server;
  const clients: TestClient[] = [];
  const connect = async () => {
    const client = await TestClient.connect(server.wsUrl);
    clients.push(client);
    return client;
  };
  const mint = (scope: ViewerTokenScope) => mintViewerToken(KEYS, scope, clock.now);

  before(async () => {
    server = await startRealtimeServer({ config: VIEWER_CONFIG, now: clock.now });
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.close();
  });

  test('without a token, a subscribe and a watch are refused unauthorized, and nothing of them is sent', async () => {
    const task = await server.createTask();
    const client = await connect();
    const requestId = client.subscribe(task.id);
    const refused = await client.expect('error');
    assert.deepEqual(
      { code: refused.code, requestId: refused.requestId, taskId: refused.taskId },
      { code: 'unauthorized', requestId, taskId: task.id },
    );
    assert.match(refused.message, /authorize/);
    client.watchAgent('agent-1');
    const watch = await client.expect('error');
    assert.deepEqual([watch.code, watch.agentId], ['unauthorized', 'agent-1']);
    await server.post(task.id, { message: 'unseen' });
    await server.createTask(undefined, 'agent-1');
    await assertNothingMore(client);
  });

  test('a forged token is refused unauthorized, and gives no access', async () => {
    const task = await server.createTask();
    const client = await connect();
    const forged = forgeToken(
      { alg: 'HS256', kid: 'k2' },
      claimsAt(clock.now(), { tasks: [task.id] }),
      'x'.repeat(40),
    );
    const answer = await authorize(client, forged);
    assert.ok(answer.type === 'error');
    assert.equal(answer.code, 'unauthorized');
    for (const token of ['garbage', forgeToken({ alg: 'none' }, claimsAt(clock.now()), '', 'none')]) {
      const again = await authorize(client, token);
      assert.equal(again.type === 'error' && again.code, 'unauthorized');
    }
    client.subscribe(task.id);
    assert.equal((await client.expect('error')).code, 'unauthorized');
  });

  test('an expired token is answered token_expired; a subscription only it covered is refused token_expired', async () => {
    const task = await server.createTask();
    const client = await connect();
    const stale = mintViewerToken(KEYS, { tasks: [task.id], ttlSeconds: 10 }, () => clock.now() - 10_000);
    const answer = await authorize(client, stale);
    assert.equal(answer.type === 'error' && answer.code, 'token_expired');

    const shortLived = mint({ tasks: [task.id], ttlSeconds: 10 });
    assert.deepEqual(await authorize(client, shortLived, 7), {
      type: 'authorized',
      requestId: 7,
      expiresAt: clock.now() + 10_000,
    });
    clock.advance(10_000);
    client.subscribe(task.id);
    const refused = await client.expect('error');
    assert.deepEqual([refused.code, refused.taskId], ['token_expired', task.id]);
  });

  test('a token of another scope: forbidden, for a task, an agent and a task that does not exist', async () => {
    const task = await server.createTask(undefined, 'agent-other');
    const client = await connect();
    await authorize(client, mint({ tasks: ['not-this-one'], agents: ['not-this-agent'] }));
    client.subscribe(task.id);
    assert.deepEqual(await client.expect('error').then((e) => [e.code, e.taskId]), ['forbidden', task.id]);
    client.watchAgent('agent-other');
    assert.deepEqual(await client.expect('error').then((e) => [e.code, e.agentId]), [
      'forbidden',
      'agent-other',
    ]);
    client.subscribe('no-such-task');
    assert.equal((await client.expect('error')).code, 'forbidden', 'no oracle of which ids exist');
    client.subscribe('not-this-one');
    assert.equal((await client.expect('error')).code, 'not_found', 'named by the token: the holder may know');
    await server.post(task.id, { message: 'unseen' });
    await assertNothingMore(client);
  });

  test("an agent-scoped token reads the agent's tasks and follows the agent", async () => {
    const task = await server.createTask(undefined, 'agent-scoped');
    const client = await connect();
    // Not awaited: an authorize sent before a subscribe always applies to it.
    client.send({ type: 'authorize', requestId: 1, tokens: [mint({ agents: ['agent-scoped'] })] });
    client.subscribe(task.id, 0);
    client.watchAgent('agent-scoped');
    assert.equal((await client.expect('authorized')).requestId, 1);
    // Each is answered on its own, in either order (the task's agent is read before its snapshot).
    const answers = [await client.next(), await client.next()];
    const snapshot = answers.find((m) => m.type === 'snapshot');
    const agentTask = answers.find((m) => m.type === 'agent-task');
    assert.equal(snapshot?.type === 'snapshot' && snapshot.taskId, task.id, JSON.stringify(answers));
    assert.equal(agentTask?.type === 'agent-task' && agentTask.task?.id, task.id, JSON.stringify(answers));
    await server.post(task.id, { message: 'seen' });
    assert.equal((await client.expect('update')).task.message, 'seen');
    const next = await server.createTask(undefined, 'agent-scoped');
    assert.equal((await client.expect('agent-task')).task?.id, next.id);
  });

  test('the admin token reads everything and never expires', async () => {
    const task = await server.createTask(undefined, 'agent-admin');
    const client = await connect();
    assert.deepEqual(await authorize(client, ADMIN_TOKEN, 3), {
      type: 'authorized',
      requestId: 3,
      expiresAt: null,
    });
    client.subscribe(task.id, 0);
    await client.expect('snapshot');
    clock.advance(365 * 86_400_000);
    await server.post(task.id, { message: 'a year on' });
    assert.equal((await client.expect('update')).task.message, 'a year on');
  });

  test('a refreshed token extends a live subscription: no event lost or repeated, then expiry ends it', async () => {
    const task = await server.createTask();
    const client = await connect();
    const bystander = await connect();
    await authorize(client, mint({ tasks: [task.id], ttlSeconds: 60 }));
    await authorize(bystander, mint({ tasks: [task.id], ttlSeconds: 3600 }));
    client.subscribe(task.id, 0);
    bystander.subscribe(task.id, 0);
    await client.expect('snapshot');
    await bystander.expect('snapshot');
    const seqs: number[] = [];
    const receive = async () => {
      const update = await client.expect('update');
      seqs.push(...update.logs.map((line) => line.seq));
      assert.equal((await bystander.expect('update')).task.seq, update.task.seq);
    };

    await server.post(task.id, { logs: [{ message: 'one' }] });
    await receive();
    clock.advance(30_000);
    const refreshed = mint({ tasks: [task.id], ttlSeconds: 60 });
    assert.equal((await authorize(client, refreshed)).type, 'authorized');
    clock.advance(40_000); // past the first token's expiry, before the second's
    await server.post(task.id, { logs: [{ message: 'two' }] });
    await receive();
    await server.post(task.id, { logs: [{ message: 'three' }] });
    await receive();
    assert.deepEqual(seqs, [1, 2, 3], 'every event once, in order');

    clock.advance(20_000); // past the second token's expiry
    await server.post(task.id, { logs: [{ message: 'four' }] });
    const ended = await client.expect('error');
    assert.deepEqual(
      { code: ended.code, taskId: ended.taskId, requestId: ended.requestId },
      { code: 'token_expired', taskId: task.id, requestId: undefined },
    );
    assert.match(ended.message, /authorize a fresh one and subscribe again from your cursor/);
    await server.post(task.id, { logs: [{ message: 'five' }] });
    await assertNothingMore(client);
    // The bystander, on a longer token, hears everything.
    assert.deepEqual(
      [await bystander.expect('update'), await bystander.expect('update')].map((u) => u.logs[0]?.message),
      ['four', 'five'],
    );

    // Authorize afresh and resubscribe from the cursor: the missed lines come in the snapshot.
    await authorize(client, mint({ tasks: [task.id], ttlSeconds: 60 }));
    client.subscribe(task.id, 3);
    assert.deepEqual(
      (await client.expect('snapshot')).logs.map((line) => line.message),
      ['four', 'five'],
    );
  });

  test('an agent watch ends with token_expired when its token expires', async () => {
    const client = await connect();
    await authorize(client, mint({ agents: ['agent-expiring'], ttlSeconds: 10 }));
    client.watchAgent('agent-expiring');
    assert.equal((await client.expect('agent-task')).task, null);
    clock.advance(10_000);
    await server.createTask(undefined, 'agent-expiring');
    const ended = await client.expect('error');
    assert.deepEqual(
      [ended.code, ended.agentId, ended.requestId],
      ['token_expired', 'agent-expiring', undefined],
    );
    await server.createTask(undefined, 'agent-expiring');
    await assertNothingMore(client);
  });
});

describe('viewer-token expiry on a quiet task', () => {
  test('the heartbeat tick ends a subscription whose token expired, with no event needed', async (t) => {
    const clock = manualClock();
    const server = await startRealtimeServer({
      config: { ...VIEWER_CONFIG, heartbeatMs: 100 },
      now: clock.now,
    });
    t.after(() => server.close());
    const task = await server.createTask();
    const client = await TestClient.connect(server.wsUrl);
    t.after(() => client.close());
    await authorize(client, mintViewerToken(KEYS, { tasks: [task.id], ttlSeconds: 10 }, clock.now));
    client.subscribe(task.id);
    await client.expect('snapshot');
    clock.advance(10_000);
    // The next tick (within 100 ms) ends it.
    const ended = await client.expect('error');
    assert.deepEqual([ended.code, ended.taskId], ['token_expired', task.id]);
  });
});

describe('authorize without VIEWER_TOKEN_KEYS', () => {
  test('is answered authorized with expiresAt null, and reads stay public', async (t) => {
    const server = await startRealtimeServer();
    t.after(() => server.close());
    const task = await server.createTask();
    const client = await TestClient.connect(server.wsUrl);
    t.after(() => client.close());
    assert.deepEqual(await authorize(client, 'anything-at-all', 5), {
      type: 'authorized',
      requestId: 5,
      expiresAt: null,
    });
    client.subscribe(task.id);
    await client.expect('snapshot');
  });

  test('a token over 16 KiB is an invalid message', async (t) => {
    const server = await startRealtimeServer({ config: { maxPayloadBytes: 64 * 1024 } });
    t.after(() => server.close());
    const client = await TestClient.connect(server.wsUrl);
    t.after(() => client.close());
    client.send({ type: 'authorize', requestId: 1, tokens: ['x'.repeat(16 * 1024 + 1)] });
    const error = await client.expect('error');
    assert.equal(error.code, 'invalid_message');
    assert.match(error.message, /token/);
  });
});

describe('viewer tokens at dashboard scale, and against guessers', () => {
  test('one authorize carries a token per panel, and each panel is served by its own', async (t) => {
    const clock = manualClock();
    const server = await startRealtimeServer({ config: VIEWER_CONFIG, now: clock.now });
    t.after(() => server.close());
    const tasks = await Promise.all([1, 2, 3].map(() => server.createTask()));
    const client = await TestClient.connect(server.wsUrl);
    t.after(() => client.close());
    const tokens = tasks.map((task) => mintViewerToken(KEYS, { tasks: [task.id] }, clock.now));
    assert.equal((await authorize(client, tokens, 4)).type, 'authorized');
    for (const task of tasks) client.subscribe(task.id);
    const served = new Set<string>();
    for (let i = 0; i < tasks.length; i++) served.add((await client.expect('snapshot')).taskId);
    assert.deepEqual([...served].sort(), tasks.map((task) => task.id).sort());
  });

  test('a task no token names is refused before the server reads it or holds its events', async (t) => {
    const clock = manualClock();
    const reads: string[] = [];
    const store = new (class extends MemoryTaskStore {
      override readPage(...args: Parameters<MemoryTaskStore['readPage']>) {
        reads.push(`page ${args[0]}`);
        return super.readPage(...args);
      }
      override getTask(taskId: string) {
        reads.push(`head ${taskId}`);
        return super.getTask(taskId);
      }
    })();
    const server = await startRealtimeServer({ config: VIEWER_CONFIG, now: clock.now, store });
    t.after(() => server.close());
    const mine = await server.createTask();
    const theirs = await server.createTask();
    const client = await TestClient.connect(server.wsUrl);
    t.after(() => client.close());
    await authorize(client, mintViewerToken(KEYS, { tasks: [mine.id] }, clock.now));
    client.subscribe(theirs.id);
    assert.equal((await client.expect('error')).code, 'forbidden');
    assert.deepEqual(reads, [], 'neither its head nor a page was read');
    await server.post(theirs.id, { message: 'secret' });
    await assertNothingMore(client);
  });

  test("refused tokens spend the address's budget, shared with HTTP: past it the socket is closed and reads answer 429", async (t) => {
    const server = await startServer({
      config: loadConfig({
        PORT: '0',
        STORE: 'memory',
        STATIC_DIR: '/nonexistent',
        VIEWER_TOKEN_KEYS: KEYS,
        BAD_TOKENS_PER_MINUTE: '2',
      }),
    });
    t.after(() => server.close());
    const client = await TestClient.connect(server.url.replace('http', 'ws') + ROUTES.ws);
    t.after(() => client.close());
    const forged = (n: number) => `${mintViewerToken(KEYS, { tasks: ['t-1'] }).slice(0, -6)}AAAA${n}A`;
    assert.equal((await authorize(client, [forged(1), forged(2)])).type, 'error');
    client.send({ type: 'authorize', requestId: 2, tokens: [forged(3)] });
    const closed = await client.closed;
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /BAD_TOKENS_PER_MINUTE/);
    const read = await fetch(`${server.url}${ROUTES.taskStatus('t-1')}`, {
      headers: { authorization: `Bearer ${forged(4)}` },
    });
    assert.equal(read.status, 429);
    await read.body?.cancel();
  });
});
