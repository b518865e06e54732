import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from '../../widget/connection/backoff.js';
import { parseRetryAfter } from '../../widget/connection/http-get.js';
import { poller as makePoller, POLLING, type PollResult } from '../../widget/connection/poller.js';
import { FakeClock, settle } from './helpers/fake-clock.js';
import { FakeFetch, type Reply } from './helpers/fake-fetch.js';
import { mulberry32 } from './helpers/prng.js';

const URL_A = 'http://status.test/api/agent-tasks/t-1/status?afterSeq=5';

function setup(route: (url: URL, headers: Record<string, string>) => Reply | 'hang' | 'network-error') {
  const clock = new FakeClock();
  const fetch = new FakeFetch(route);
  const results: PollResult[] = [];
  let url = URL_A;
  const poller = makePoller<string>({
    clock,
    fetch: fetch.fetch,
    random: mulberry32(3),
    backoff: backoffDelay,
    intervalMs: 1_000,
    request: () => ({ url, context: url }),
    onResult: (result) => results.push(result),
  });
  return { clock, fetch, results, poller, setUrl: (next: string) => (url = next) };
}

const OK: Reply = { status: 200, body: { ok: true }, headers: { etag: '"v1"' } };

describe('Poller', () => {
  it('polls at once on start, then every interval', async () => {
    const { clock, fetch, results, poller } = setup(() => OK);
    poller.start();
    await settle();
    assert.equal(fetch.requests.length, 1);
    assert.equal(results[0]?.kind, 'ok');
    clock.advance(999);
    await settle();
    assert.equal(fetch.requests.length, 1);
    clock.advance(1);
    await settle();
    assert.equal(fetch.requests.length, 2);
    poller.stop();
  });

  it('revalidates with the ETag of the same URL and reports 304 as not-modified', async () => {
    const { clock, fetch, results, poller } = setup((_url, headers) =>
      headers['if-none-match'] === '"v1"' ? { status: 304 } : OK,
    );
    poller.start();
    await settle();
    clock.advance(1_000);
    await settle();
    assert.equal(fetch.requests[1]?.headers['if-none-match'], '"v1"');
    assert.equal(results[1]?.kind, 'not-modified');
    poller.stop();
  });

  it('does not send an ETag to a different URL (the cursor moved)', async () => {
    const { clock, fetch, poller, setUrl } = setup(() => OK);
    poller.start();
    await settle();
    setUrl('http://status.test/api/agent-tasks/t-1/status?afterSeq=9');
    clock.advance(1_000);
    await settle();
    assert.equal(fetch.requests[1]?.headers['if-none-match'], undefined);
    poller.stop();
  });

  it('backs off on errors, never sooner than the interval, and counts consecutive failures', async () => {
    const { clock, results, poller } = setup(() => ({ status: 500 }));
    poller.start();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      await settle();
      delays.push(clock.runNext());
    }
    await settle();
    assert.ok(
      delays.every((d) => d >= 1_000),
      `${delays}`,
    );
    assert.ok(
      delays.every((d) => d <= 1_000 + POLLING.maxErrorDelayMs),
      `${delays}`,
    );
    assert.ok(
      delays.slice(3).some((d) => d > 2_000),
      `the delay never grew: ${delays}`,
    );
    assert.deepEqual(
      results.map((r) => r.consecutiveFailures),
      [1, 2, 3, 4, 5, 6, 7],
    );
    poller.stop();
  });

  for (const status of [429, 503]) {
    it(`waits as long as Retry-After asks on ${status}`, async () => {
      const { clock, fetch, poller } = setup(() => ({ status, headers: { 'retry-after': '120' } }));
      poller.start();
      await settle();
      assert.equal(clock.nextDelay(), 120_000);
      clock.advance(119_999);
      await settle();
      assert.equal(fetch.requests.length, 1);
      poller.stop();
    });
  }

  it('resets the failure count after a success', async () => {
    let fail = true;
    const { clock, results, poller } = setup(() => (fail ? 'network-error' : OK));
    poller.start();
    await settle();
    fail = false;
    clock.runNext();
    await settle();
    assert.deepEqual(
      results.map((r) => [r.kind, r.consecutiveFailures]),
      [
        ['failed', 1],
        ['ok', 0],
      ],
    );
    assert.equal(poller.consecutiveFailures, 0);
    poller.stop();
  });

  it('polls more slowly while hidden and catches up at once when visible again', async () => {
    const { clock, fetch, poller } = setup(() => OK);
    poller.setHidden(true);
    poller.start();
    await settle();
    assert.equal(clock.nextDelay(), POLLING.hiddenMinMs, 'max(1 s × 6, 30 s)');
    clock.advance(10_000);
    await settle();
    assert.equal(fetch.requests.length, 1);
    poller.setHidden(false);
    await settle();
    assert.equal(fetch.requests.length, 2);
    assert.equal(clock.nextDelay(), 1_000);
    poller.stop();
  });

  it('aborts the request in flight on stop, leaves no timer, and drops its late result', async () => {
    const { clock, fetch, results, poller } = setup(() => 'hang');
    poller.start();
    await settle();
    assert.equal(fetch.inFlight, 1);
    poller.stop();
    await settle();
    assert.equal(fetch.requests[0]?.aborted, true);
    assert.equal(fetch.inFlight, 0);
    assert.equal(clock.pending, 0);
    assert.deepEqual(results, []);
  });

  it('drops the result of an attempt superseded by pollNow', async () => {
    let calls = 0;
    const late: ((reply: Reply) => void)[] = [];
    const clock = new FakeClock();
    const results: string[] = [];
    const poller = makePoller<number>({
      clock,
      backoff: backoffDelay,
      // A fetch that ignores abort, so the first answer really arrives after the second.
      fetch: () =>
        new Promise<Response>((resolve) => {
          const n = ++calls;
          late.push((reply) =>
            resolve({
              status: reply.status,
              ok: true,
              headers: new Headers(),
              json: async () => n,
            } as Response),
          );
        }),
      intervalMs: 1_000,
      request: () => ({ url: URL_A, context: calls + 1 }),
      onResult: (result, context) => results.push(`${result.kind}:${context}`),
    });
    poller.start();
    poller.pollNow();
    late[1]!({ status: 200 });
    await settle();
    late[0]!({ status: 200 });
    await settle();
    assert.deepEqual(results, ['ok:2']);
    poller.stop();
    assert.equal(clock.pending, 0);
  });

  it('gives up on a request that does not answer in time and counts it as a failure', async () => {
    const { clock, fetch, results, poller } = setup(() => 'hang');
    poller.start();
    await settle();
    clock.advance(POLLING.requestTimeoutMs);
    await settle();
    assert.equal(fetch.requests[0]?.aborted, true);
    assert.equal(results[0]?.kind, 'failed');
    poller.stop();
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates, and ignores anything else', () => {
    const now = Date.parse('2026-11-24T12:00:00Z');
    assert.equal(parseRetryAfter('7', now), 7_000);
    assert.equal(parseRetryAfter('Tue, 24 Nov 2026 12:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('soon', now), null);
    assert.equal(parseRetryAfter(null, now), null);
  });
});
