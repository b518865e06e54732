import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { LIMITS, type TaskStatusPage } from '../../../protocol/index.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import type { ReadPageInput, TaskStore } from '../../../server/store/task-store.js';
import { startRealtimeServer, TEST_REALTIME_CONFIG, TestClient } from './realtime-harness.js';

type Server = Awaited<ReturnType<typeof startRealtimeServer>>;

describe('realtime hub', () => {
  let server: Server;
  before(async () => {
    server = await startRealtimeServer();
  });
  after(() => server.close());

  it('sends a subscriber the snapshot and then each posted update', async () => {
    const task = await server.createTask();
    await server.post(task.id, { phase: 'starting', logs: [{ message: 'booting' }] });
    const client = await TestClient.connect(server.wsUrl);
    client.subscribe(task.id, 0);
    const snapshot = await client.expect('snapshot');
    assert.equal(snapshot.task.phase, 'starting');
    assert.deepEqual(
      snapshot.logs.map((l) => l.message),
      ['booting'],
    );
    assert.equal(snapshot.nextAfterSeq, 2);

    await server.post(task.id, {
      phase: 'running',
      progress: 10,
      logs: [{ message: 'step 1' }, { message: 'step 2' }],
    });
    const update = await client.expect('update');
    assert.equal(update.fromSeq, 3);
    assert.equal(update.task.seq, 5);
    assert.equal(update.task.phase, 'running');
    assert.deepEqual(
      update.logs.map((l) => [l.seq, l.message]),
      [
        [3, 'step 1'],
        [4, 'step 2'],
      ],
    );
    client.close();
  });

  it('sends a fresh subscriber (no cursor) the latest lines only', async () => {
    const task = await server.createTask();
    const lines = Array.from({ length: 250 }, (_, i) => ({ message: `line ${i + 1}` }));
    await server.post(task.id, { logs: lines });
    const client = await TestClient.connect(server.wsUrl);
    client.subscribe(task.id);
    const snapshot = await client.expect('snapshot');
    assert.equal(snapshot.logs.length, 200);
    assert.equal(snapshot.logs.at(-1)?.message, 'line 250');
    assert.equal(snapshot.hasOlder, true);
    assert.equal(snapshot.nextAfterSeq, 250);
    client.close();
  });

  it('delivers each task only to its own subscribers', async () => {
    const a = await server.createTask();
    const b = await server.createTask();
    const clientA = await TestClient.connect(server.wsUrl);
    const clientB = await TestClient.connect(server.wsUrl);
    clientA.subscribe(a.id, 0);
    clientB.subscribe(b.id, 0);
    await clientA.expect('snapshot');
    await clientB.expect('snapshot');

    await server.post(b.id, { message: 'for B' });
    await server.post(a.id, { message: 'for A' });
    // Per-socket order is preserved, so had B's update reached A it would come first.
    assert.equal((await clientA.expect('update')).task.message, 'for A');
    assert.equal((await clientB.expect('update')).task.message, 'for B');
    clientA.close();
    clientB.close();
  });

  it('gives a resubscribe with a cursor exactly the missed events, in order', async () => {
    const task = await server.createTask();
    const first = await TestClient.connect(server.wsUrl);
    first.subscribe(task.id, 0);
    await first.expect('snapshot');
    await server.post(task.id, { phase: 'running', logs: [{ message: 'a' }] });
    const seen = await first.expect('update');
    const cursor = seen.task.seq;
    first.close();
    await first.closed;

    await server.post(task.id, { logs: [{ message: 'b' }, { message: 'c' }] });
    await server.post(task.id, { progress: 50, logs: [{ message: 'd' }] });

    const again = await TestClient.connect(server.wsUrl);
    again.subscribe(task.id, cursor);
    const snapshot = await again.expect('snapshot');
    assert.deepEqual(
      snapshot.logs.map((l) => l.message),
      ['b', 'c', 'd'],
    );
    assert.equal(snapshot.logs[0]?.seq, cursor + 1);
    assert.equal(snapshot.task.progress, 50);
    assert.equal(snapshot.nextAfterSeq, snapshot.task.seq);
    again.close();
  });

  it('answers an unknown task with a not_found error', async () => {
    const client = await TestClient.connect(server.wsUrl);
    client.subscribe('no-such-task');
    const error = await client.expect('error');
    assert.equal(error.code, 'not_found');
    assert.equal(error.taskId, 'no-such-task');
    client.close();
  });

  it('stops sending a task after unsubscribe', async () => {
    const task = await server.createTask();
    const other = await server.createTask();
    const client = await TestClient.connect(server.wsUrl);
    client.subscribe(task.id, 0);
    client.subscribe(other.id, 0);
    await client.expect('snapshot');
    await client.expect('snapshot');
    client.send({ type: 'unsubscribe', tasks: [task.id] });
    client.send({ type: 'ping' });
    await client.expect('pong'); // the unsubscribe has been handled
    await server.post(task.id, { message: 'unseen' });
    await server.post(other.id, { message: 'seen' });
    assert.equal((await client.expect('update')).task.message, 'seen');
    client.close();
  });

  it('tells agent watchers the active task now and when a new one starts', async () => {
    const client = await TestClient.connect(server.wsUrl);
    client.watchAgent('agent-watch');
    const none = await client.expect('agent-task');
    assert.equal(none.task, null);
    const task = await server.createTask('watched-1', 'agent-watch');
    const next = await client.expect('agent-task');
    assert.equal(next.task?.id, task.id);
    client.close();
  });

  it('answers malformed JSON with an error and keeps serving everyone', async () => {
    const task = await server.createTask();
    const bad = await TestClient.connect(server.wsUrl);
    const good = await TestClient.connect(server.wsUrl);
    good.subscribe(task.id, 0);
    await good.expect('snapshot');

    bad.send('{not json');
    const error = await bad.expect('error');
    assert.equal(error.code, 'invalid_message');
    assert.match(error.message, /not valid JSON/);
    bad.send({ type: 'launch-missiles' });
    assert.equal((await bad.expect('error')).code, 'invalid_message');
    bad.subscribe('../etc/passwd');
    assert.match((await bad.expect('error')).message, /taskId/);

    await server.post(task.id, { message: 'still here' });
    assert.equal((await good.expect('update')).task.message, 'still here');
    bad.send({ type: 'ping' });
    await bad.expect('pong');
    bad.close();
    good.close();
  });

  it('closes a socket that sends a binary frame with 1003', async () => {
    const client = await TestClient.connect(server.wsUrl);
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.equal((await client.closed).code, 1003);
  });

  it('refuses more subscriptions than the per-socket limit', async () => {
    const client = await TestClient.connect(server.wsUrl);
    const tasks = await Promise.all(Array.from({ length: 11 }, () => server.createTask()));
    for (const task of tasks) client.subscribe(task.id, 0);
    const messages = await Promise.all(tasks.map(() => client.next()));
    const errors = messages.filter((m) => m.type === 'error');
    assert.equal(messages.filter((m) => m.type === 'snapshot').length, 10);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.type === 'error' && errors[0].code, 'too_many_subscriptions');
    client.close();
  });

  it('subscribes many tasks and an agent in one message, answering each with its request id', async () => {
    const tasks = await Promise.all(Array.from({ length: 6 }, () => server.createTask()));
    const client = await TestClient.connect(server.wsUrl);
    client.send({
      type: 'subscribe',
      requestId: 41,
      tasks: tasks.map((task, i) => (i % 2 === 0 ? { taskId: task.id } : { taskId: task.id, afterSeq: 0 })),
      agents: ['agent-batch'],
    });
    const answers = await Promise.all(Array.from({ length: 7 }, () => client.next()));
    assert.deepEqual(
      answers
        .filter((m) => m.type === 'snapshot')
        .map((m) => m.type === 'snapshot' && m.taskId)
        .sort(),
      tasks.map((task) => task.id).sort(),
    );
    const agent = answers.find((m) => m.type === 'agent-task');
    assert.equal(agent?.type === 'agent-task' && agent.agentId, 'agent-batch');
    for (const answer of answers) assert.equal((answer as { requestId?: number }).requestId, 41);
    client.close();
  });

  it('refuses the tasks of a batch past the per-socket limit one by one, and keeps the socket', async () => {
    const tasks = await Promise.all(Array.from({ length: 12 }, () => server.createTask()));
    const client = await TestClient.connect(server.wsUrl);
    client.send({ type: 'subscribe', requestId: 7, tasks: tasks.map((task) => ({ taskId: task.id })) });
    const answers = await Promise.all(tasks.map(() => client.next()));
    const refused = answers.filter((m) => m.type === 'error');
    assert.equal(
      answers.filter((m) => m.type === 'snapshot').length,
      TEST_REALTIME_CONFIG.maxSubscriptionsPerSocket,
    );
    assert.deepEqual(
      refused.map((m) => m.type === 'error' && [m.code, m.requestId, m.taskId]),
      tasks.slice(10).map((task) => ['too_many_subscriptions', 7, task.id]),
    );
    assert.match((refused[0] as { message: string }).message, /WS_MAX_SUBSCRIPTIONS/);
    client.send({ type: 'ping' });
    await client.expect('pong');
    await server.post(tasks[0]!.id, { message: 'still live' });
    assert.equal((await client.expect('update')).task.message, 'still live');
    client.close();
  });

  it('answers the latest subscribe of a task with its request id, whatever came before', async () => {
    const task = await server.createTask();
    await server.post(task.id, { logs: [{ message: 'a' }, { message: 'b' }] });
    const client = await TestClient.connect(server.wsUrl);
    const first = client.subscribe(task.id, 0);
    const second = client.subscribe(task.id, 1);
    let answer = await client.expect('snapshot');
    // The first read may finish before the second subscribe arrives, or be dropped for it.
    if (answer.requestId === first) answer = await client.expect('snapshot');
    assert.equal(answer.requestId, second);
    assert.deepEqual(
      answer.logs.map((l) => l.message),
      ['b'],
    );
    client.send({ type: 'ping' });
    await client.expect('pong');
    client.close();
  });

  it('refuses a subscribe of more than one batch, or of nothing, with invalid_message', async () => {
    const client = await TestClient.connect(server.wsUrl);
    const tasks = Array.from({ length: LIMITS.subscribeBatch + 1 }, (_, i) => ({ taskId: `t-${i}` }));
    client.send({ type: 'subscribe', requestId: 1, tasks });
    assert.equal((await client.expect('error')).code, 'invalid_message');
    client.send({ type: 'subscribe', requestId: 2, tasks: [] });
    assert.match((await client.expect('error')).message, /1 to 128 tasks and agents/);
    client.close();
  });

  it('closes a client that loops, sending more than 50 messages a second, with 1008', async () => {
    const client = await TestClient.connect(server.wsUrl);
    for (let i = 0; i < 60; i++) client.send({ type: 'ping' });
    const closed = await client.closed;
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /messages per second/);
  });

  it('refuses an upgrade from a disallowed Origin with 403 and no 101', async () => {
    const ws = new WebSocket(server.wsUrl, { origin: 'https://evil.example' });
    const [, response] = (await once(ws, 'unexpected-response')) as [
      unknown,
      import('node:http').IncomingMessage,
    ];
    assert.equal(response.statusCode, 403);
    response.resume();
  });

  it('accepts an upgrade without Origin (non-browser clients)', async () => {
    const client = await TestClient.connect(server.wsUrl, { origin: undefined as unknown as string });
    client.send({ type: 'ping' });
    await client.expect('pong');
    client.close();
  });
});

describe('realtime limits and liveness', () => {
  it('closes only the socket that sends an oversized frame (1009)', async () => {
    const server = await startRealtimeServer({ config: { maxPayloadBytes: 1024 } });
    const task = await server.createTask();
    const big = await TestClient.connect(server.wsUrl);
    const other = await TestClient.connect(server.wsUrl);
    other.subscribe(task.id, 0);
    await other.expect('snapshot');
    big.subscribe('x'.repeat(4096));
    assert.equal((await big.closed).code, 1009);
    await server.post(task.id, { message: 'unaffected' });
    assert.equal((await other.expect('update')).task.message, 'unaffected');
    other.close();
    await server.close();
  });

  it('terminates a peer that never answers pings', async () => {
    const server = await startRealtimeServer({ config: { heartbeatMs: 50 } });
    const silent = await TestClient.connect(server.wsUrl, { autoPong: false });
    const [silentServerSide] = server.realtime.wss.clients;
    const healthy = await TestClient.connect(server.wsUrl);
    const { code } = await silent.closed;
    assert.equal(code, 1006, 'terminated without a close frame');
    if (silentServerSide!.readyState !== WebSocket.CLOSED) await once(silentServerSide!, 'close');
    assert.equal(healthy.ws.readyState, WebSocket.OPEN, 'a peer that answers pings stays');
    assert.equal(server.realtime.stats().connections, 1);
    healthy.close();
    await server.close();
  });

  it('cuts off a consumer that stops reading, with 1013 (try again later), and keeps its buffer bounded', async () => {
    const maxBufferedBytes = 256 * 1024;
    const server = await startRealtimeServer({ config: { maxBufferedBytes } });
    const task = await server.createTask();
    const slow = await TestClient.connect(server.wsUrl);
    slow.subscribe(task.id, 0);
    await slow.expect('snapshot');
    const [serverSide] = server.realtime.wss.clients;
    // Stop reading: the kernel buffers fill, then the server's per-socket buffer.
    const socket = (slow.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    const line = 'x'.repeat(7_000);
    let posts = 0;
    while (server.realtime.stats().subscriptions > 0 && posts < 1_000) {
      await server.post(task.id, { logs: Array.from({ length: 20 }, () => ({ message: line })) });
      posts += 1;
      assert.ok(
        serverSide!.bufferedAmount <= maxBufferedBytes,
        `buffer grew to ${serverSide!.bufferedAmount}`,
      );
    }
    assert.equal(server.realtime.stats().subscriptions, 0, `still subscribed after ${posts} posts of 140 KB`);
    socket.resume();
    const { code } = await slow.closed;
    // The close frame may be stuck behind the full buffer: then the peer sees only the cut (1006).
    assert.ok(code === 1013 || code === 1006, `closed with ${code}`);
    await server.close();
  });

  it('streams events committed while the snapshot is being read, once and in order', async () => {
    const store = new MemoryTaskStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reads = 0;
    const slowStore: TaskStore = {
      createTask: (input) => store.createTask(input),
      getTask: (taskId) => store.getTask(taskId),
      append: (taskId, input) => store.append(taskId, input),
      replaceTokenHash: (taskId, tokenHash) => store.replaceTokenHash(taskId, tokenHash),
      getActiveTask: (agentId) => store.getActiveTask(agentId),
      close: () => store.close(),
      async readPage(taskId: string, input: ReadPageInput): Promise<TaskStatusPage | null> {
        reads += 1;
        const page = await store.readPage(taskId, input);
        await gate;
        return page;
      },
    };
    const server = await startRealtimeServer({ store: slowStore });
    const task = await server.createTask();
    await server.post(task.id, { logs: [{ message: 'before' }] });
    const client = await TestClient.connect(server.wsUrl);
    client.subscribe(task.id, 0);
    while (reads === 0) await new Promise((resolve) => setImmediate(resolve));
    // Committed after the snapshot's read, before it is sent.
    await server.post(task.id, { logs: [{ message: 'during' }] });
    release();
    const snapshot = await client.expect('snapshot');
    assert.deepEqual(
      snapshot.logs.map((l) => l.message),
      ['before'],
    );
    const update = await client.expect('update');
    assert.deepEqual(
      update.logs.map((l) => l.message),
      ['during'],
    );
    client.close();
    await server.close();
  });

  it('tells every client to come back with 1012 when closing for a restart', async () => {
    const server = await startRealtimeServer();
    const a = await TestClient.connect(server.wsUrl);
    const b = await TestClient.connect(server.wsUrl);
    await server.realtime.close(1012);
    assert.equal((await a.closed).code, 1012);
    assert.equal((await b.closed).code, 1012);
    await server.close();
  });
});

describe('realtime operator switches', () => {
  it('answers upgrades with 503 while refusing, and accepts again after', async () => {
    const server = await startRealtimeServer();
    server.realtime.refuseUpgrades(true);
    const ws = new WebSocket(server.wsUrl, { origin: 'http://localhost:5173' });
    const [, response] = (await once(ws, 'unexpected-response')) as [
      unknown,
      import('node:http').IncomingMessage,
    ];
    assert.equal(response.statusCode, 503);
    assert.equal(response.headers['retry-after'], '5');
    response.resume();
    server.realtime.refuseUpgrades(false);
    const client = await TestClient.connect(server.wsUrl);
    client.send({ type: 'ping' });
    await client.expect('pong');
    server.realtime.dropConnections();
    assert.equal((await client.closed).code, 1012);
    await server.close();
  });
});
