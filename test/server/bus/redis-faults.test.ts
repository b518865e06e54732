// Faults of the Redis link one instance can meet while the others keep theirs (the cases a cold
// review of the Redis bus reproduced; each failed before its fix).
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createClient } from '@redis/client';
import type { StatusUpdate } from '../../../protocol/index.js';
import { catchUpAgent, catchUpUpdate } from '../../../server/bus/catch-up.js';
import { RedisTaskBus, type RedisBusOptions } from '../../../server/bus/redis-bus.js';
import type { BusEvent } from '../../../server/bus/task-bus.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import type { TaskStore } from '../../../server/store/task-store.js';
import { RedisLinkProxy, until } from '../../support/redis-link-proxy.js';
import { RedisServer } from '../../support/redis-server.js';
import { DynaliteFixture } from '../store/dynalite-harness.js';

const T0 = new Date('2026-11-02T10:00:00.000Z');
const quiet = { error() {}, warn() {} };

describe('the Redis bus when one instance loses its link (issue 14)', { timeout: 90_000 }, () => {
  let redis: RedisServer;
  const buses: RedisTaskBus[] = [];
  const proxies: RedisLinkProxy[] = [];
  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    await redis.close();
  });
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()));
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  });

  async function instance(store: TaskStore, url = redis.url, extra: Partial<RedisBusOptions> = {}) {
    const bus = await RedisTaskBus.connect({
      url,
      catchUp: (taskId, afterSeq) => catchUpUpdate(store, taskId, afterSeq),
      catchUpAgent: (agentId) => catchUpAgent(store, agentId),
      log: quiet,
      ...extra,
    });
    buses.push(bus);
    return bus;
  }
  async function proxy(): Promise<RedisLinkProxy> {
    const started = await RedisLinkProxy.start(redis.port);
    proxies.push(started);
    return started;
  }
  function heard(bus: RedisTaskBus): BusEvent[] {
    const events: BusEvent[] = [];
    bus.subscribe((event) => events.push(event));
    return events;
  }
  async function write(store: TaskStore, bus: RedisTaskBus, taskId: string, update: StatusUpdate) {
    const result = await store.append(taskId, { update, now: T0 });
    bus.publish({ type: 'update', taskId, fromSeq: result.fromSeq, task: result.task, logs: result.logs });
    return result;
  }
  async function shardSubscribers(channel: string): Promise<number> {
    const probe = createClient({ url: redis.url });
    await probe.connect();
    try {
      return Number((await probe.sendCommand<unknown[]>(['PUBSUB', 'SHARDNUMSUB', channel]))[1]);
    } finally {
      probe.destroy();
    }
  }
  const phaseHeard = (events: BusEvent[], taskId: string) =>
    events.filter((e) => e.type === 'update' && e.taskId === taskId).at(-1)?.task?.phase;

  it('subscribes again to a task whose SSUBSCRIBE was in flight when the link dropped', async () => {
    const store = new MemoryTaskStore();
    await store.createTask({ id: 't-1', agentId: 'ag', title: null, tokenHash: 'h', now: T0 });
    const link = await proxy();
    const a = await instance(store);
    const b = await instance(store, link.url);
    const events = heard(b);
    link.holding = true;
    const following = b.follow({ kind: 'task', id: 't-1' });
    await until('the SSUBSCRIBE written', () => link.held.toUpperCase().includes('SSUBSCRIBE'));
    link.holding = false;
    link.cut();
    await following;
    await until('b back up', () => b.state === 'up');
    await b.caughtUp();
    await until('b subscribed to t-1 again', async () => (await shardSubscribers('ats:task:t-1')) === 1);
    await write(store, a, 't-1', { phase: 'completed' });
    await until('b hears the final write', () => phaseHeard(events, 't-1') === 'completed');
  });

  it('does not stay subscribed to a task whose SUNSUBSCRIBE was in flight when the link dropped', async () => {
    const link = await proxy();
    const b = await instance(new MemoryTaskStore(), link.url);
    void b.follow({ kind: 'task', id: 't-9' });
    await b.subscribed();
    link.holding = true;
    b.unfollow({ kind: 'task', id: 't-9' });
    await until('the SUNSUBSCRIBE written', () => link.held.toUpperCase().includes('SUNSUBSCRIBE'));
    link.holding = false;
    link.cut();
    await until('b back up', () => b.state === 'up');
    await b.caughtUp();
    await until('nothing subscribed to t-9', async () => (await shardSubscribers('ats:task:t-9')) === 0);
  });

  it('keeps what it could not republish when its link drops again during the recovery', async () => {
    const store = new MemoryTaskStore();
    for (const id of ['t-1', 't-2', 't-3']) {
      await store.createTask({ id, agentId: 'ag', title: null, tokenHash: 'h', now: T0 });
    }
    const link = await proxy();
    let calls = 0;
    const a: RedisTaskBus = await instance(store, link.url, {
      catchUp: async (taskId, afterSeq) => {
        calls += 1;
        if (calls === 1) {
          // A second blip while the first recovery republishes.
          link.blocked = true;
          link.cut();
          await until('a down again', () => a.state === 'down');
          setTimeout(() => (link.blocked = false), 300);
        }
        return catchUpUpdate(store, taskId, afterSeq);
      },
    });
    const b = await instance(store);
    const events = heard(b);
    for (const id of ['t-1', 't-2', 't-3']) void b.follow({ kind: 'task', id });
    await b.subscribed();
    link.blocked = true;
    link.cut();
    await until('a down', () => a.state === 'down');
    for (const id of ['t-1', 't-2', 't-3']) await write(store, a, id, { phase: 'completed' });
    link.blocked = false;
    await until('b hears every final write, its own link never dropped', () =>
      ['t-1', 't-2', 't-3'].every((id) => phaseHeard(events, id) === 'completed'),
    );
    assert.ok(calls >= 4, `republished after the second blip too (${calls} reads)`);
  });

  it('catches up from the store itself, not from a head it knew: a final write through another instance during its blip', async () => {
    const fixture = await DynaliteFixture.start(() => T0);
    try {
      // Heads known for up to 5 s, as in production (the fixture's default clock never ages them).
      const real = { monotonicNow: () => performance.now() };
      const storeA = fixture.store(real);
      const storeB = fixture.store(real);
      await storeA.createTask({ id: 't-1', agentId: 'ag', title: null, tokenHash: 'h', now: T0 });
      const link = await proxy();
      const a = await instance(storeA);
      const b = await instance(storeB, link.url);
      const events = heard(b);
      void b.follow({ kind: 'task', id: 't-1' });
      await b.subscribed();
      await write(storeB, b, 't-1', { phase: 'running', logs: [{ level: 'info', message: 'via b' }] });
      link.blocked = true;
      link.cut();
      await until('b down', () => b.state === 'down');
      await write(storeA, a, 't-1', { phase: 'completed', logs: [{ level: 'info', message: 'via a' }] });
      link.blocked = false;
      await until('b hears the final phase', () => phaseHeard(events, 't-1') === 'completed');
    } finally {
      await fixture.close();
    }
  });

  it('brings other instances a final write whose writer died while cut off from Redis, at the next resync', async () => {
    const store = new MemoryTaskStore();
    await store.createTask({ id: 't-1', agentId: 'ag', title: null, tokenHash: 'h', now: T0 });
    const link = await proxy();
    const a = await instance(store, link.url);
    const b = await instance(store, redis.url, { resyncMs: 500 });
    const events = heard(b);
    void b.follow({ kind: 'task', id: 't-1' });
    await b.subscribed();
    await write(store, a, 't-1', { phase: 'running' });
    await until('b hears running', () => phaseHeard(events, 't-1') === 'running');
    link.blocked = true;
    link.cut();
    await until('a down', () => a.state === 'down');
    await write(store, a, 't-1', { phase: 'completed' });
    await a.close(); // gone before its link came back: nobody will republish
    await until(
      'b hears the final phase from the store',
      () => phaseHeard(events, 't-1') === 'completed',
      10_000,
    );
  });

  it('takes a Redis that stops answering as down, lets new subscriptions go on, and recovers when it answers again', async () => {
    const own = await RedisServer.start();
    try {
      const store = new MemoryTaskStore();
      await store.createTask({ id: 't-1', agentId: 'ag', title: null, tokenHash: 'h', now: T0 });
      const bus = await instance(store, own.url);
      const events = heard(bus);
      const probe = createClient({ url: own.url });
      await probe.connect();
      const pid = Number(/process_id:(\d+)/.exec(await probe.info('server'))![1]);
      probe.destroy();
      process.kill(pid, 'SIGSTOP');
      try {
        await until('seen as down', () => bus.state === 'down', 10_000);
        // A panel subscribing meanwhile still gets its snapshot (the hub awaits this).
        await bus.follow({ kind: 'task', id: 't-1' });
        assert.equal(bus.hearing('t-1'), undefined, 'it cannot vouch that it hears others meanwhile');
        await write(store, bus, 't-1', { phase: 'running' });
        assert.equal(phaseHeard(events, 't-1'), 'running', 'its own sockets still hear its writes');
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await until('up again', () => bus.state === 'up', 15_000);
      await bus.caughtUp();
      assert.ok(bus.hearing('t-1'), 'subscribed on its new links');
      // Its new links are subscribed: another instance's write reaches it.
      const other = await instance(store, own.url);
      await write(store, other, 't-1', { phase: 'completed' });
      await until("the other instance's write heard", () => phaseHeard(events, 't-1') === 'completed');
    } finally {
      await own.close();
    }
  });
});
