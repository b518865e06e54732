import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createClient } from '@redis/client';
import { ROUTES } from '../../../protocol/index.js';
import { RateLimiter } from '../../../server/http/rate-limiter.js';
import { SharedRateLimiter, type RedisCommands } from '../../../server/http/shared-rate-limiter.js';
import { startServer, type RunningServer } from '../../../server/serve.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import { testConfig } from '../routes/harness.js';
import { RedisServer } from '../../support/redis-server.js';

const quiet = { warn() {} };

describe('limits shared by every instance through Redis (issue 14)', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  const clients: { destroy(): void }[] = [];

  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    for (const client of clients) client.destroy();
    await redis.close();
  });
  afterEach(async () => {
    await redis.resume();
  });

  /** One instance's link to Redis, failing at once while Redis is down, as the bus's is. */
  async function link(): Promise<RedisCommands> {
    const client = createClient({
      url: redis.url,
      disableOfflineQueue: true,
      socket: { reconnectStrategy: () => 50 },
    });
    client.on('error', () => {});
    await client.connect();
    clients.push(client);
    return client;
  }

  function limiter(name: string, commands: RedisCommands, perMinute = 6) {
    return new SharedRateLimiter(name, perMinute, commands, new RateLimiter({ perMinute }), 'test:', quiet);
  }

  it('spends one budget from every instance: the seventh take of six a minute is refused wherever it lands', async () => {
    const [a, b] = [limiter('posts', await link()), limiter('posts', await link())];
    for (let i = 0; i < 6; i++) {
      assert.deepEqual(await (i % 2 ? a : b).take('token-1'), { allowed: true }, `take ${i + 1}`);
    }
    const refusedA = await a.take('token-1');
    const refusedB = await b.take('token-1');
    assert.equal(refusedA.allowed, false);
    assert.equal(refusedB.allowed, false);
    assert.ok(!refusedA.allowed && refusedA.retryAfterSeconds >= 1 && refusedA.retryAfterSeconds <= 10);
    assert.deepEqual(await a.take('token-2'), { allowed: true }, 'another key has its own budget');
    // peek spends nothing; peekNow answers from the refusal it heard.
    assert.equal((await b.peek('token-2')).allowed, true);
    assert.equal(b.peekNow('token-1').allowed, false);
  });

  it('falls back to each instance deciding alone while Redis is down, and shares again once it is back', async () => {
    const commands = await link();
    const a = limiter('reads', commands, 2);
    assert.equal((await a.take('k')).allowed, true);
    await redis.stop();
    const deadline = Date.now() + 5_000;
    while (commands.isReady && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(commands.isReady, false);
    // The local bucket (2 a minute) decides alone.
    assert.equal((await a.take('k')).allowed, true);
    assert.equal((await a.take('k')).allowed, true);
    assert.equal((await a.take('k')).allowed, false);
  });

  describe('two real servers on one Redis', () => {
    let store: MemoryTaskStore;
    let servers: RunningServer[] = [];
    before(async () => {
      store = new MemoryTaskStore();
      const env = { PORT: '0', REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: '4' };
      const log = { error() {}, warn() {} };
      servers = [
        await startServer({ config: testConfig(env), store, log, realtime: false }),
        await startServer({ config: testConfig(env), store, log, realtime: false }),
      ];
    });
    after(async () => {
      for (const server of servers) await server.close();
      await store.close();
    });

    it('answer 429 to the fifth post of a token limited to four a minute, although no instance saw more than three', async () => {
      await redis.resume();
      const [a, b] = servers as [RunningServer, RunningServer];
      const created = await fetch(a.url + ROUTES.tasks, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agentId: 'limited' }),
      });
      const { task, agentToken } = (await created.json()) as { task: { id: string }; agentToken: string };
      const post = (server: RunningServer) =>
        fetch(server.url + ROUTES.taskStatus(task.id), {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${agentToken}` },
          body: JSON.stringify({ progress: 1 }),
        });
      const statuses = [];
      for (const server of [a, b, a, b, a]) statuses.push((await post(server)).status);
      assert.deepEqual(statuses, [200, 200, 200, 200, 429]);
    });
  });
});
