// The polling fallback's code is its own file, loaded on demand (widget/connection/on-demand.ts),
// and the fallback is needed when the server cannot be reached: exactly when that file cannot be
// fetched either. Found by the 3-restart chaos test in CI (a panel stuck "offline" for 30 s after
// the server was back: every tab had tried to load the polling code while the server was down, and
// only the socket's backoff could bring it back). In Chromium with the built widget, against the
// real server behind a proxy that takes the server away entirely (as a host that is down).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BrowserContext } from 'playwright-core';
import { Agent, lineNumber } from '../chaos/support/agent.js';
import {
  describeReading,
  isExactly,
  newBrowserContext,
  openPanels,
} from '../chaos/support/browser-panels.js';
import { useChaosChromium } from './support/chaos-chromium.js';

const POLL_INTERVAL_MS = 1_000;
/**
 * A failed poll (or a failed load of the polling code) waits the interval plus a jittered
 * backoff from it; after the few failures of these outages, well under this.
 */
const CAUGHT_UP_WITHIN_MS = 20_000;

/**
 * Whether the page has fetched the polling code (its chunk is named after http-parts.ts); a
 * failed fetch has an entry too, with status 0.
 */
const HAS_POLLING_CODE = () =>
  performance
    .getEntriesByType('resource')
    .some(
      (entry) =>
        /\/http-parts-[\w-]+\.js$/.test(entry.name) &&
        (entry as PerformanceResourceTiming).responseStatus === 200,
    );

describe('the polling code through an outage (Chromium)', () => {
  const chaos = useChaosChromium();

  async function withContext<T>(run: (context: BrowserContext) => Promise<T>): Promise<T> {
    const context = await newBrowserContext(chaos.browser);
    try {
      return await run(context);
    } finally {
      await context.close();
      chaos.env.proxy.unreachable(false);
      chaos.env.proxy.refuseUpgrades(false);
    }
  }

  it('a live panel fetches it while the server answers, and polls through an outage that outlasts its socket', async () => {
    const agent = await Agent.create(() => chaos.env.server.url, 'agent-outage-live');
    try {
      await agent.post(2, { phase: 'running' });
      await withContext(async (context) => {
        const [panel] = await openPanels(context, chaos.host.url, agent.taskId, 1, {
          'poll-interval': String(POLL_INTERVAL_MS),
        });
        await panel!.waitUntil((r) => r.state === 'live' && r.lines.length === 2, null, 15_000, 'live');
        // Fetched in the background once live, before anything failed.
        await panel!.page.waitForFunction(HAS_POLLING_CODE, null, { timeout: 5_000 });

        chaos.env.proxy.unreachable(true);
        await agent.post(3);
        // The socket's attempts fail, the panel falls back, its polls fail too.
        await panel!.waitUntil((r) => r.state === 'offline', null, 15_000, 'offline');
        // The server is back, but not its WebSocket: only polling can bring the lines.
        chaos.env.proxy.refuseUpgrades('close');
        chaos.env.proxy.unreachable(false);
        const back = Date.now();
        const reading = await panel!.waitUntil(
          (r, n) => r.state === 'polling' && r.lines.length === n,
          5,
          CAUGHT_UP_WITHIN_MS,
          'caught up by polling',
        );
        assert.ok(isExactly(reading.lines, 5), describeReading(reading));
        assert.deepEqual(reading.violations, []);
        console.log(
          `outage of a live panel: caught up by polling ${Date.now() - back} ms after the server was back`,
        );
      });
    } finally {
      agent.dispose();
    }
  });

  it('a panel that could not load it while the server was unreachable loads it again, and polls, once the server is back', async () => {
    const agent = await Agent.create(() => chaos.env.server.url, 'agent-outage-start');
    try {
      await agent.post(2, { phase: 'running' });
      await withContext(async (context) => {
        // The page and the widget's main file load; then the server goes before the panel starts.
        const [panel] = await openPanels(
          context,
          chaos.host.url,
          agent.taskId,
          1,
          { mode: 'polling', 'poll-interval': String(POLL_INTERVAL_MS) },
          () => chaos.env.proxy.unreachable(true),
        );
        await panel!.waitUntil((r) => r.state === 'offline', null, 15_000, 'offline');
        assert.equal(
          await panel!.page.evaluate(HAS_POLLING_CODE),
          false,
          'the polling code could not be fetched',
        );

        chaos.env.proxy.unreachable(false);
        const back = Date.now();
        const reading = await panel!.waitUntil(
          (r, n) => r.state === 'polling' && r.lines.length === n,
          2,
          CAUGHT_UP_WITHIN_MS,
          'polling once the server is back',
        );
        assert.deepEqual(
          reading.lines.map((n) => n),
          (await agent.stored()).lines.map((line) => lineNumber(line.message)),
        );
        console.log(`outage at start: polling ${Date.now() - back} ms after the server was back`);
      });
    } finally {
      agent.dispose();
    }
  });
});
