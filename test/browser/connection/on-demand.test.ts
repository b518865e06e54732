// The HTTP parts loaded on demand (on-demand.ts). Deliberately not using harness.ts, which loads
// them up front: here the first poller of the page is started before its code is there.
import { expect } from '@open-wc/testing';
import { backoffDelay } from '../../../widget/connection/backoff.js';
import { getJsonOnDemand, httpParts, pollerOnDemand } from '../../../widget/connection/on-demand.js';
import type { PollResult } from '../../../widget/connection/poller.js';
import { FakeClock } from '../../widget/helpers/fake-clock.js';
import { FakeFetch } from '../../widget/helpers/fake-fetch.js';

describe('the HTTP parts, loaded on demand', () => {
  it('a poller told to start, and hidden, before its code is loaded polls once it is, as told', async () => {
    const clock = new FakeClock();
    const fetch = new FakeFetch(() => ({ status: 200, body: { ok: true } }));
    const results: PollResult[] = [];
    const poller = pollerOnDemand<null>({
      clock,
      fetch: fetch.fetch,
      backoff: backoffDelay,
      intervalMs: 1_000,
      request: () => ({ url: 'http://on-demand.test/a', context: null, token: 'token-a' }),
      onResult: (result) => results.push(result),
    });
    const stopped = pollerOnDemand<null>({
      clock,
      fetch: fetch.fetch,
      backoff: backoffDelay,
      intervalMs: 1_000,
      request: () => ({ url: 'http://on-demand.test/b', context: null }),
      onResult: (result) => results.push(result),
    });
    poller.setHidden(true);
    poller.start();
    stopped.start();
    stopped.stop();
    expect(poller.running).to.equal(true);
    expect(fetch.requests).to.have.length(0, 'nothing can be asked before the code is there');

    await httpParts();
    await new Promise((resolve) => setTimeout(resolve));
    expect(fetch.requests.map((r) => r.url.pathname)).to.deep.equal(['/a'], 'the stopped one never polls');
    expect(fetch.requests[0]!.headers.authorization).to.equal('Bearer token-a');
    expect(results.map((r) => r.kind)).to.deep.equal(['ok']);
    // Hidden: the next poll waits max(interval × 6, 30 s), not the interval.
    clock.advance(1_000);
    expect(fetch.requests).to.have.length(1);
    clock.advance(29_000);
    expect(fetch.requests).to.have.length(2);
    poller.stop();
  });

  it('gets a JSON page through the loaded code, never throwing', async () => {
    const fetch = new FakeFetch((url) =>
      url.pathname === '/page' ? { status: 200, body: { lines: 3 } } : 'network-error',
    );
    const options = { abort: new AbortController(), clock: new FakeClock() };
    const ok = await getJsonOnDemand(fetch.fetch, 'http://on-demand.test/page', options);
    expect(ok).to.deep.equal({ kind: 'ok', body: { lines: 3 }, etag: null });
    const failed = await getJsonOnDemand(fetch.fetch, 'http://on-demand.test/gone', {
      abort: new AbortController(),
      clock: new FakeClock(),
    });
    expect(failed).to.deep.equal({ kind: 'failed', status: null, retryAfterMs: null });
  });
});
