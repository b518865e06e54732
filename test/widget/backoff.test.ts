import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BACKOFF, backoffDelay, retryDelay, retryTracker } from '../../widget/connection/backoff.js';
import { mulberry32 } from './helpers/prng.js';

describe('backoffDelay', () => {
  it('stays within [0, min(cap, base·2^attempt)] for every attempt', () => {
    const random = mulberry32(1);
    for (let attempt = 0; attempt <= 20; attempt++) {
      const ceiling = Math.min(30_000, 500 * 2 ** attempt);
      for (let i = 0; i < 1000; i++) {
        const delay = backoffDelay(attempt, { baseMs: 500, capMs: 30_000, random });
        assert.ok(delay >= 0 && delay <= ceiling, `attempt ${attempt}: ${delay} outside [0, ${ceiling}]`);
      }
    }
  });

  it('reaches both ends of the range when random does', () => {
    assert.equal(backoffDelay(2, { random: () => 0 }), 0);
    assert.equal(backoffDelay(2, { random: () => 0.999999 }), 2000);
    assert.equal(backoffDelay(40, { random: () => 0.999999 }), BACKOFF.capMs);
  });

  it('spreads over the whole range (full jitter): the mean is near half the ceiling', () => {
    const random = mulberry32(42);
    const draws = Array.from({ length: 1000 }, () => backoffDelay(3, { random }));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    assert.ok(Math.abs(mean - 2000) < 150, `mean ${mean} is not near 2000`);
    assert.ok(Math.min(...draws) < 200, 'nobody retried early');
    assert.ok(Math.max(...draws) > 3800, 'nobody retried late');
  });

  it('spreads 1,000 clients so no 100 ms window holds more than 5% of their first retry after a restart', () => {
    const random = mulberry32(7);
    const retries = Array.from({ length: 1000 }, () =>
      backoffDelay(0, { baseMs: BACKOFF.restartSpreadMs, random }),
    ).sort((a, b) => a - b);
    let busiest = 0;
    for (let start = 0, end = 0; start < retries.length; start++) {
      while (end < retries.length && retries[end]! < retries[start]! + 100) end++;
      busiest = Math.max(busiest, end - start);
    }
    assert.ok(busiest <= 50, `a 100 ms window holds ${busiest} of 1000 retries`);
  });
});

describe('retryDelay', () => {
  const top = { random: () => 0.999999 };

  it('keeps the retry of an attempt that failed during a restart inside the spread window', () => {
    // attempt 0: the restart close; attempt 1: the server was not listening yet.
    assert.equal(retryDelay(0, true, top), BACKOFF.restartSpreadMs);
    assert.equal(retryDelay(1, true, top), BACKOFF.restartSpreadMs);
    assert.equal(retryDelay(2, true, top), 2 * BACKOFF.restartSpreadMs);
  });

  it('uses the ordinary backoff when no restart is under way', () => {
    assert.equal(retryDelay(0, false, top), BACKOFF.baseMs);
    assert.equal(retryDelay(1, false, top), 2 * BACKOFF.baseMs);
  });
});

describe('RetryTracker', () => {
  it('counts consecutive failures and hands out growing attempt numbers', () => {
    const tracker = retryTracker(5_000);
    assert.deepEqual([tracker.down(0), tracker.down(100), tracker.down(200)], [0, 1, 2]);
    assert.equal(tracker.failures, 3);
  });

  it('keeps counting while the link flaps (up for less than stableMs)', () => {
    const tracker = retryTracker(5_000);
    let now = 0;
    for (let i = 0; i < 4; i++) {
      tracker.up(now);
      now += 4_999;
      tracker.down(now);
    }
    assert.equal(tracker.failures, 4);
  });

  it('resets the count only after the link stayed up for stableMs', () => {
    const tracker = retryTracker(5_000);
    tracker.down(0);
    tracker.down(1);
    tracker.up(10);
    assert.equal(tracker.down(5_010), 0, 'the first retry after a stable link is attempt 0');
    assert.equal(tracker.failures, 1);
  });

  it('does not reset after a link that was up but unhealthy', () => {
    const tracker = retryTracker(5_000);
    tracker.down(0);
    tracker.up(10);
    assert.equal(tracker.down(60_000, false), 1);
  });

  it('takes a restart close of a link that was up as stable, however short: a rolling restart moves it three times', () => {
    const tracker = retryTracker(5_000);
    tracker.up(0);
    for (let i = 1; i <= 5; i++) {
      assert.equal(tracker.down(i * 1_000, true, true), 0, `restart ${i}: the first retry again`);
      assert.equal(tracker.failures, 1);
      tracker.up(i * 1_000 + 100);
    }
    // A link that never came up is still a failure, restart or not.
    tracker.down(9_000, true, true);
    assert.equal(tracker.down(9_500, true, true), 1);
    assert.equal(tracker.failures, 2);
  });
});
