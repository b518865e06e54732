import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RateLimiter } from '../../../server/http/rate-limiter.js';
import { errorOf, harness } from './harness.js';

describe('rate limiting status posts', () => {
  test('posts past the per-token budget answer 429 with Retry-After', async () => {
    const clock = 1_000_000;
    const h = harness({ env: { RATE_LIMIT_PER_MINUTE: '2' }, now: () => clock });
    const { task, agentToken } = await h.createTask();
    assert.equal((await h.postStatus(task.id, agentToken, { progress: 1 })).status, 200);
    assert.equal((await h.postStatus(task.id, agentToken, { progress: 2 })).status, 200);
    const limited = await h.postStatus(task.id, agentToken, { progress: 3 });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '30');
    assert.equal((await errorOf(limited)).code, 'rate_limited');
    assert.equal((await h.store.getTask(task.id))?.task.progress, 2);
  });

  test('each agent token has its own budget, and it refills with time', async () => {
    let clock = 1_000_000;
    const h = harness({ env: { RATE_LIMIT_PER_MINUTE: '1' }, now: () => clock });
    const a = await h.createTask({ agentId: 'agent-1' });
    const b = await h.createTask({ agentId: 'agent-2' });
    assert.equal((await h.postStatus(a.task.id, a.agentToken, { progress: 1 })).status, 200);
    assert.equal((await h.postStatus(a.task.id, a.agentToken, { progress: 2 })).status, 429);
    assert.equal((await h.postStatus(b.task.id, b.agentToken, { progress: 1 })).status, 200);
    clock += 60_000;
    assert.equal((await h.postStatus(a.task.id, a.agentToken, { progress: 2 })).status, 200);
  });

  test('refused callers do not spend an agent budget', async () => {
    const h = harness({ env: { RATE_LIMIT_PER_MINUTE: '1' }, now: () => 0 });
    const { task, agentToken } = await h.createTask();
    for (let i = 0; i < 3; i++) await h.postStatus(task.id, 'someone-elses-token', { progress: 1 });
    assert.equal((await h.postStatus(task.id, agentToken, { progress: 1 })).status, 200);
  });

  test('RATE_LIMIT_PER_MINUTE=0 turns limiting off', async () => {
    const h = harness({ env: { RATE_LIMIT_PER_MINUTE: '0' } });
    const { task, agentToken } = await h.createTask();
    for (let i = 0; i < 5; i++) {
      assert.equal((await h.postStatus(task.id, agentToken, { progress: i })).status, 200);
    }
  });
});

describe('RateLimiter', () => {
  test('allows a burst of perMinute, then one more per 60/perMinute seconds', () => {
    let clock = 0;
    const limiter = new RateLimiter({ perMinute: 6, now: () => clock });
    for (let i = 0; i < 6; i++) assert.equal(limiter.take('k').allowed, true);
    assert.deepEqual(limiter.take('k'), { allowed: false, retryAfterSeconds: 10 });
    clock += 10_000;
    assert.equal(limiter.take('k').allowed, true);
    assert.equal(limiter.take('k').allowed, false);
  });

  test('peek tells what take would answer and spends nothing', () => {
    let clock = 0;
    const limiter = new RateLimiter({ perMinute: 2, now: () => clock });
    for (let i = 0; i < 5; i++) assert.deepEqual(limiter.peek('k'), { allowed: true });
    limiter.take('k');
    limiter.take('k');
    assert.deepEqual(limiter.peek('k'), { allowed: false, retryAfterSeconds: 30 });
    clock += 30_000;
    assert.deepEqual(limiter.peek('k'), { allowed: true });
  });

  test('remembers at most maxKeys keys, forgetting the least recently used', () => {
    const limiter = new RateLimiter({ perMinute: 1, maxKeys: 2, now: () => 0 });
    limiter.take('a');
    limiter.take('b');
    limiter.take('a');
    limiter.take('c');
    assert.equal(limiter.size, 2);
    assert.equal(limiter.take('a').allowed, false, 'a was used recently and is still limited');
    assert.equal(limiter.take('b').allowed, true, 'b was forgotten, so it starts with a full bucket');
  });
});
