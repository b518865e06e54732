// Two full servers behind one Redis, each with its own DynamoDB store object (as separate
// instances have), or sharing one, with one instance's Redis link cut: what a socket is sent.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROUTES, type ServerMessage } from '../../../protocol/index.js';
import { startServer, type RunningServer } from '../../../server/serve.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import { RedisLinkProxy, until } from '../../support/redis-link-proxy.js';
import { RedisServer } from '../../support/redis-server.js';
import { TestClient } from '../realtime/realtime-harness.js';
import { testConfig } from '../routes/harness.js';
import { DynaliteFixture } from '../store/dynalite-harness.js';

const quiet = { error() {}, warn() {} };
const headers = { 'content-type': 'application/json', host: 'localhost' };
const wsUrl = (server: RunningServer) => `${server.url.replace('http', 'ws')}${ROUTES.ws}`;
type Update = Extract<ServerMessage, { type: 'update' }>;
type Snapshot = Extract<ServerMessage, { type: 'snapshot' }>;

async function createTask(server: RunningServer, agentId: string) {
  const response = await fetch(server.url + ROUTES.tasks, {
    method: 'POST',
    headers,
    body: JSON.stringify({ agentId }),
  });
  assert.equal(response.status, 201);
  return (await response.json()) as { task: { id: string }; agentToken: string };
}

async function post(server: RunningServer, id: string, token: string, body: unknown) {
  const response = await fetch(`${server.url}${ROUTES.taskStatus(id)}`, {
    method: 'POST',
    headers: { ...headers, authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return JSON.parse(text) as { task: { seq: number; phase: string } };
}

/** Every message the client gets from now on, and a way to wait for one. */
function record(client: TestClient) {
  const messages: ServerMessage[] = [];
  client.ws.on('message', (data) => messages.push(JSON.parse(String(data)) as ServerMessage));
  return {
    messages,
    next: async <T extends ServerMessage>(what: string, test: (m: ServerMessage) => boolean): Promise<T> => {
      await until(what, () => messages.some(test), 15_000);
      return messages.find(test) as T;
    },
  };
}

describe('what a socket gets from instances sharing one Redis (issue 14)', { timeout: 90_000 }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    await redis?.close();
  });
  const env = (url: string) => ({ PORT: '0', REDIS_URL: url, ALLOWED_ORIGINS: 'http://localhost:*' });

  it("gives every socket that starts following a task on an instance a snapshot from the store, not from a head it knew before another instance's write", async () => {
    const fixture = await DynaliteFixture.start(() => new Date());
    // Heads known for up to 5 s, as in production.
    const real = { monotonicNow: () => performance.now() };
    const a = await startServer({
      config: testConfig(env(redis.url)),
      store: fixture.store(real),
      log: quiet,
    });
    const b = await startServer({
      config: testConfig(env(redis.url)),
      store: fixture.store(real),
      log: quiet,
    });
    try {
      const { task, agentToken } = await createTask(a, 'agent-x');
      await post(b, task.id, agentToken, { phase: 'running', logs: [{ message: 'through b' }] });
      const done = await post(a, task.id, agentToken, {
        phase: 'completed',
        logs: [{ message: 'through a' }],
      });
      // Two sockets at the same moment: the second subscribes while the first's read is in flight.
      const clients = [
        await TestClient.connect(wsUrl(b), { headers: { host: 'localhost' } }),
        await TestClient.connect(wsUrl(b), { headers: { host: 'localhost' } }),
      ];
      try {
        const recorded = clients.map(record);
        for (const client of clients) client.subscribe(task.id);
        for (const [i, got] of recorded.entries()) {
          const snapshot = await got.next<Snapshot>(
            `socket ${i + 1}'s snapshot`,
            (m) => m.type === 'snapshot',
          );
          assert.equal(snapshot.task.phase, 'completed', `socket ${i + 1}`);
          assert.equal(snapshot.task.seq, done.task.seq, `socket ${i + 1}`);
        }
      } finally {
        for (const client of clients) client.ws.close();
      }
    } finally {
      await a.close();
      await b.close();
      await fixture.close();
    }
  });

  for (const lineSize of [10, 7_000]) {
    it(`sends a socket only what it lacks after its instance's Redis link comes back (lines of ${lineSize} characters), and keeps it open`, async () => {
      const store = new MemoryTaskStore();
      const link = await RedisLinkProxy.start(redis.port);
      const a = await startServer({ config: testConfig(env(redis.url)), store, log: quiet });
      const b = await startServer({ config: testConfig(env(link.url)), store, log: quiet });
      try {
        const { task, agentToken } = await createTask(a, 'agent-y');
        for (let k = 0; k < 6; k++) {
          await post(a, task.id, agentToken, {
            phase: 'running',
            logs: Array.from({ length: 30 }, (_, i) => ({
              message: `line ${k}-${i} ${'z'.repeat(lineSize)}`,
            })),
          });
        }
        const client = await TestClient.connect(wsUrl(b), { headers: { host: 'localhost' } });
        try {
          const got = record(client);
          client.subscribe(task.id, 0);
          const snapshot = await got.next<Snapshot>('the snapshot', (m) => m.type === 'snapshot');
          link.blocked = true;
          link.cut();
          const written = await post(a, task.id, agentToken, { logs: [{ message: 'during the blip' }] });
          link.blocked = false;
          await got.next(
            'the write made during the blip',
            (m) => m.type === 'update' && m.task.seq >= written.task.seq,
          );
          const updates = got.messages.filter((m): m is Update => m.type === 'update');
          for (const update of updates) {
            assert.ok(
              update.fromSeq > snapshot.nextAfterSeq,
              `update from ${update.fromSeq} repeats what the snapshot sent`,
            );
            assert.ok(update.logs.every((line) => line.seq >= update.fromSeq));
          }
          assert.equal(client.ws.readyState, client.ws.OPEN, 'the socket is still open');
        } finally {
          client.ws.close();
        }
      } finally {
        await a.close();
        await b.close();
        await link.close();
      }
    });
  }
});
