import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROUTES, type ServerMessage } from '../../../protocol/index.js';
import { startServer, type RunningServer } from '../../../server/serve.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import { TestClient } from '../realtime/realtime-harness.js';
import { testConfig } from '../routes/harness.js';
import { RedisServer } from '../../support/redis-server.js';

const quiet = { error() {}, warn() {} };

/** Two server instances on one store and one Redis, over real HTTP and real WebSockets. */
describe('two instances behind one Redis (issue 14)', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  let store: MemoryTaskStore;
  let a: RunningServer;
  let b: RunningServer;

  before(async () => {
    redis = await RedisServer.start();
    store = new MemoryTaskStore();
    const env = { PORT: '0', REDIS_URL: redis.url, ALLOWED_ORIGINS: 'http://localhost:*' };
    a = await startServer({ config: testConfig(env), store, log: quiet });
    b = await startServer({ config: testConfig(env), store, log: quiet });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await store?.close();
    await redis?.close();
  });

  const wsUrl = (server: RunningServer) => `${server.url.replace('http', 'ws')}${ROUTES.ws}`;
  const headers = { 'content-type': 'application/json', host: 'localhost' };

  async function createTask(server: RunningServer, agentId: string) {
    const response = await fetch(server.url + ROUTES.tasks, {
      method: 'POST',
      headers,
      body: JSON.stringify({ agentId }),
    });
    assert.equal(response.status, 201);
    return (await response.json()) as { task: { id: string }; agentToken: string };
  }

  async function nextOf(client: TestClient, type: ServerMessage['type']): Promise<ServerMessage> {
    for (;;) {
      const message = await client.next();
      if (message.type === type) return message;
    }
  }

  it('carries a POST to one instance to a socket on the other', async () => {
    const { task, agentToken } = await createTask(a, 'agent-x');
    const client = await TestClient.connect(wsUrl(b), { headers: { host: 'localhost' } });
    try {
      client.subscribe(task.id);
      await nextOf(client, 'snapshot');
      const posted = await fetch(`${a.url}${ROUTES.taskStatus(task.id)}`, {
        method: 'POST',
        headers: { ...headers, authorization: `Bearer ${agentToken}` },
        body: JSON.stringify({ phase: 'running', logs: [{ message: 'through a, heard on b' }] }),
      });
      assert.equal(posted.status, 200);
      const update = await nextOf(client, 'update');
      assert.equal(update.type === 'update' && update.logs[0]?.message, 'through a, heard on b');
      assert.equal(update.type === 'update' && update.task.phase, 'running');
    } finally {
      client.ws.close();
    }
  });

  it('lets an agent-id panel on one instance follow a task created through the other', async () => {
    const client = await TestClient.connect(wsUrl(b), { headers: { host: 'localhost' } });
    try {
      client.watchAgent('agent-y');
      const first = await nextOf(client, 'agent-task');
      assert.equal(first.type === 'agent-task' && first.task, null, 'no task yet');
      const { task } = await createTask(a, 'agent-y');
      const next = await nextOf(client, 'agent-task');
      assert.equal(next.type === 'agent-task' && next.task?.id, task.id);
    } finally {
      client.ws.close();
    }
  });
});
