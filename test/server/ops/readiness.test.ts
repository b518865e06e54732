import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { ROUTES } from '../../../protocol/index.js';
import { Readiness } from '../../../server/http/readiness.js';
import { ServerRun } from '../../support/server-process.js';

describe('readiness for load balancers (issue 14)', () => {
  it('is ready with a store that answers, degraded but ready without Redis, unready once draining', async () => {
    let redis: 'ok' | 'down' = 'ok';
    const readiness = new Readiness({ pingStore: async () => {}, redis: () => redis });
    assert.deepEqual(await readiness.report(), { ready: true, draining: false, store: 'ok', redis: 'ok' });
    redis = 'down';
    assert.deepEqual(await readiness.report(), { ready: true, draining: false, store: 'ok', redis: 'down' });
    readiness.drain();
    assert.deepEqual(await readiness.report(), {
      ready: false,
      draining: true,
      store: 'not checked',
      redis: 'down',
    });
  });

  it('is unready while the store does not answer, asking it at most once a second', async () => {
    let now = 0;
    let pings = 0;
    let up = false;
    const readiness = new Readiness(
      {
        pingStore: async () => {
          pings += 1;
          if (!up) throw new Error('unreachable');
        },
      },
      () => now,
    );
    assert.equal((await readiness.report()).store, 'unavailable');
    assert.equal((await readiness.report()).ready, false);
    assert.equal(pings, 1, 'the second check within the second reuses the first');
    up = true;
    now = 1_000;
    assert.deepEqual(await readiness.report(), {
      ready: true,
      draining: false,
      store: 'ok',
      redis: 'not used',
    });
    assert.equal(pings, 2);
  });

  it('counts a store that does not answer its ping within a second as unavailable, and answers 503 at once while draining', async () => {
    let now = 0;
    const readiness = new Readiness({ pingStore: () => new Promise(() => {}) }, () => now);
    const started = Date.now();
    assert.equal((await readiness.report()).store, 'unavailable');
    assert.ok(Date.now() - started < 3_000);
    readiness.drain();
    now = 5_000;
    const drainingStarted = Date.now();
    assert.deepEqual(await readiness.report(), {
      ready: false,
      draining: true,
      store: 'not checked',
      redis: 'not used',
    });
    assert.ok(Date.now() - drainingStarted < 100, 'no ping while draining');
  });

  describe('on SIGTERM, the real server', () => {
    const runs: ServerRun[] = [];
    after(async () => {
      for (const run of runs) await run.kill('SIGKILL');
    });

    it('answers /readyz 503 first and keeps serving, then closes its sockets with 1012', async () => {
      const run = ServerRun.start({ DRAIN_DELAY_MS: '3000', STORE: 'memory' });
      runs.push(run);
      const url = await run.listening();
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { ready: true, draining: false, store: 'ok', redis: 'not used' });

      const ws = new WebSocket(`${url.replace('http', 'ws')}${ROUTES.ws}`, { origin: url });
      await once(ws, 'open');
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      run.child.kill('SIGTERM');
      await run.waitFor(/SIGTERM: unready, closing connections in 3000 ms/);

      const draining = await fetch(`${url}/readyz`);
      assert.equal(draining.status, 503);
      assert.equal(((await draining.json()) as { draining: boolean }).draining, true);
      assert.equal((await fetch(`${url}/healthz`)).status, 200, 'alive, and still serving');
      assert.equal(ws.readyState, WebSocket.OPEN, 'its sockets stay until the delay is over');

      assert.equal(await closed, 1012);
      assert.deepEqual(await run.exited, { code: 0, signal: null });
    });
  });
});
