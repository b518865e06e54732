import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { createClient } from '@redis/client';
import type { StatusUpdate } from '../../../protocol/index.js';
import { catchUpAgent, catchUpUpdate } from '../../../server/bus/catch-up.js';
import { RedisTaskBus } from '../../../server/bus/redis-bus.js';
import type { BusEvent } from '../../../server/bus/task-bus.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import { RedisServer } from '../../support/redis-server.js';

const T0 = new Date('2026-11-02T10:00:00.000Z');
const quiet = { error() {}, warn() {} };

/** The events a bus delivers here, and a way to wait for one that matches. */
class Heard {
  readonly events: BusEvent[] = [];
  #wake: (() => void)[] = [];

  constructor(bus: RedisTaskBus) {
    bus.subscribe((event) => {
      this.events.push(event);
      for (const wake of this.#wake.splice(0)) wake();
    });
  }

  async until(what: string, test: (events: BusEvent[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this.events)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; heard ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The log lines heard for a task, merged by seq as a client does, and the highest seq covered. */
  log(taskId: string): { lines: Map<number, string>; seq: number } {
    const lines = new Map<number, string>();
    let seq = 0;
    for (const event of this.events) {
      if (event.type !== 'update' || event.taskId !== taskId) continue;
      for (const line of event.logs) lines.set(line.seq, line.message);
      seq = Math.max(seq, event.task.seq);
    }
    return { lines, seq };
  }
}

async function until(what: string, test: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function lines(n: number, prefix: string): StatusUpdate {
  return {
    logs: Array.from({ length: n }, (_, i) => ({ level: 'info' as const, message: `${prefix} ${i + 1}` })),
  };
}

describe('the Redis bus between instances (issue 14)', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  let store: MemoryTaskStore;
  const buses: RedisTaskBus[] = [];

  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    await redis.close();
  });
  beforeEach(async () => {
    await redis.resume();
    store = new MemoryTaskStore();
  });
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()));
    await store.close();
  });

  /** One instance's bus, caught up from the shared store. */
  async function instance(): Promise<RedisTaskBus> {
    const bus = await RedisTaskBus.connect({
      url: redis.url,
      catchUp: (taskId, afterSeq) => catchUpUpdate(store, taskId, afterSeq),
      catchUpAgent: (agentId) => catchUpAgent(store, agentId),
      log: quiet,
    });
    buses.push(bus);
    return bus;
  }

  async function createTask(id: string, agentId = 'agent-1') {
    return store.createTask({ id, agentId, title: null, tokenHash: 'h', now: T0 });
  }

  /** A write through the store, announced on `bus` as the route does. */
  async function write(bus: RedisTaskBus, taskId: string, update: StatusUpdate) {
    const result = await store.append(taskId, { update, now: T0 });
    bus.publish({ type: 'update', taskId, fromSeq: result.fromSeq, task: result.task, logs: result.logs });
    return result;
  }

  it('delivers a write on one instance to another that follows its task, once, and at once to its own', async () => {
    const [a, b] = [await instance(), await instance()];
    const [heardA, heardB] = [new Heard(a), new Heard(b)];
    await createTask('t-1');
    b.follow({ kind: 'task', id: 't-1' });
    a.follow({ kind: 'task', id: 't-1' });
    await b.subscribed();
    const written = await write(a, 't-1', lines(2, 'a'));
    assert.equal(heardA.events.length, 1, 'its own listeners hear it before Redis does');
    await heardB.until('the write on b', (events) => events.length === 1);
    assert.deepEqual(heardB.events[0], {
      type: 'update',
      taskId: 't-1',
      fromSeq: written.fromSeq,
      task: written.task,
      logs: written.logs,
    });
    // A second write proves the first did not come back to a as a duplicate meanwhile.
    await write(a, 't-1', lines(1, 'b'));
    await heardB.until('the second write on b', (events) => events.length === 2);
    assert.equal(heardA.events.length, 2);
  });

  it('fetches only the channels of the tasks and agents its sockets follow', async () => {
    const [a, b] = [await instance(), await instance()];
    const heardB = new Heard(b);
    await createTask('t-1');
    await createTask('t-2');
    b.follow({ kind: 'task', id: 't-1' });
    const probe = createClient({ url: redis.url });
    await probe.connect();
    try {
      const subscribers = async (channel: string) =>
        Number((await probe.sendCommand<unknown[]>(['PUBSUB', 'SHARDNUMSUB', channel]))[1]);
      await b.subscribed();
      await write(a, 't-2', lines(1, 'not followed'));
      await write(a, 't-1', lines(1, 'followed'));
      await heardB.until('the followed write', (events) => events.length === 1);
      assert.equal((heardB.events[0] as { taskId: string }).taskId, 't-1');
      assert.equal(await subscribers('ats:task:t-1'), 1);
      assert.equal(await subscribers('ats:task:t-2'), 0);
      b.unfollow({ kind: 'task', id: 't-1' });
      const deadline = Date.now() + 5_000;
      while ((await subscribers('ats:task:t-1')) !== 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(await subscribers('ats:task:t-1'), 0, 'unsubscribed after the last follower');
    } finally {
      probe.destroy();
    }
  });

  it("carries an agent's new task to an instance following the agent", async () => {
    const [a, b] = [await instance(), await instance()];
    const heardB = new Heard(b);
    b.follow({ kind: 'agent', id: 'agent-7' });
    await b.subscribed();
    const task = await createTask('t-9', 'agent-7');
    const event: BusEvent = { type: 'agent-task', agentId: 'agent-7', task };
    a.publish(event);
    await heardB.until('the new task on b', (events) => events.length > 0);
    assert.deepEqual(heardB.events[0], event);
  });

  it('drops a message on its channel that is not a bus event, and goes on', async () => {
    const b = await instance();
    const heardB = new Heard(b);
    const a = await instance();
    await createTask('t-1');
    b.follow({ kind: 'task', id: 't-1' });
    const probe = createClient({ url: redis.url });
    await probe.connect();
    try {
      await b.subscribed();
      await probe.sPublish('ats:task:t-1', '{"origin":"x","event":{"type":"update","taskId":"t-1"}}');
      await probe.sPublish('ats:task:t-1', 'not json');
      await write(a, 't-1', lines(1, 'real'));
      await heardB.until('a real write after the garbage', (events) => events.length > 0);
      assert.ok(heardB.events.every((event) => event.type === 'update' && event.logs.length === 1));
    } finally {
      probe.destroy();
    }
  });

  it('loses nothing across a Redis restart: each follower ends with the stored log, caught up from the store', async () => {
    const [a, b] = [await instance(), await instance()];
    const heardB = new Heard(b);
    await createTask('t-1');
    b.follow({ kind: 'task', id: 't-1' });
    await b.subscribed();
    await write(a, 't-1', lines(1, 'before'));
    await heardB.until('b hearing', (events) => events.length > 0);

    await redis.stop();
    await until('both see Redis gone', () => a.state === 'down' && b.state === 'down');
    // Written (and acknowledged) while Redis is down: a cannot publish them.
    for (let i = 0; i < 5; i++) await write(a, 't-1', lines(3, `during ${i}`));
    await redis.resume();
    await until('both back', () => a.state === 'up' && b.state === 'up');
    await Promise.all([a.caughtUp(), b.caughtUp()]);
    await write(a, 't-1', lines(1, 'after'));

    const head = (await store.readPage('t-1', { afterSeq: 0, limit: 1_000 }))!;
    await heardB.until('b at the head', () => heardB.log('t-1').seq === head.task.seq);
    const { lines: heard } = heardB.log('t-1');
    const stored = new Map(head.logs.map((line) => [line.seq, line.message]));
    const firstHeard = Math.min(...heard.keys());
    // From its first event on, b holds every stored line: none lost (duplicates merge by seq).
    for (const [seq, message] of stored)
      if (seq >= firstHeard) assert.equal(heard.get(seq), message, `line ${seq}`);
    assert.equal(heard.size, [...stored.keys()].filter((seq) => seq >= firstHeard).length);
  });

  it('vouches that it hears a task only from an acknowledged subscription on links that stayed up', async () => {
    const a = await instance();
    await createTask('t-1');
    assert.equal(a.hearing('t-1'), undefined, 'not followed: writes through others are unheard');
    await a.follow({ kind: 'task', id: 't-1' });
    const heard = a.hearing('t-1');
    assert.ok(heard, 'subscribed: every write of the task is published to it');
    assert.equal(a.hearing('t-1'), heard, 'the same word while nothing was missed');

    await redis.stop();
    await until('down', () => a.state === 'down');
    assert.equal(a.hearing('t-1'), undefined, 'events are lost while the link is down');
    await redis.resume();
    await until('up', () => a.state === 'up');
    await a.caughtUp();
    const after = a.hearing('t-1');
    assert.ok(after, 'resubscribed');
    assert.notEqual(after, heard, 'a new word: what it vouched for before the gap is not vouched for');

    a.unfollow({ kind: 'task', id: 't-1' });
    assert.equal(a.hearing('t-1'), undefined);
  });

  it('stops at start with one clear line when Redis cannot be reached', async () => {
    await redis.stop();
    await assert.rejects(
      RedisTaskBus.connect({
        url: redis.url,
        catchUp: async () => null,
        catchUpAgent: async (agentId) => ({ type: 'agent-task', agentId, task: null }),
        log: quiet,
      }),
      (error: Error) =>
        /^REDIS_URL redis:\/\/127\.0\.0\.1:\d+\/?: cannot connect/.test(error.message) &&
        !error.message.includes('\n'),
    );
  });
});
