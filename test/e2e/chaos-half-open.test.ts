// Scenario 5, the half-open case: a panel whose socket died silently while the reader was away
// (browser offline, or the tab hidden while a laptop slept) proves the socket the moment the
// reader is back (a ping with a 3 s deadline: SocketLink.probe) and replaces it if it is dead,
// instead of trusting it for two heartbeats (50 s by default). Needs the built widget.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { Agent } from '../chaos/support/agent.js';
import { newBrowserContext, openPanels, setHidden } from '../chaos/support/browser-panels.js';
import { useChaosChromium } from './support/chaos-chromium.js';

/** Long enough for a probe of the socket (a ping with a short deadline) and a reconnect. */
const CATCH_UP_MS = 5_000;

describe('a socket that died silently while the reader was away (Chromium)', () => {
  // The default heartbeat (25 s): the watchdog alone would take up to 50 s.
  const chaos = useChaosChromium();

  async function awayAndBack(
    name: string,
    away: (page: Page) => Promise<void>,
    back: (page: Page) => Promise<void>,
  ) {
    chaos.env.proxy.drop(); // what an earlier test left stalled
    const agent = await Agent.create(() => chaos.env.server.url, `agent-${name}`);
    await agent.post(2, { phase: 'running' });
    const context = await newBrowserContext(chaos.browser);
    try {
      const [panel] = await openPanels(context, chaos.host.url, agent.taskId);
      await panel!.waitUntil((r) => r.state === 'live' && r.lines.length === 2, null, 15_000, 'live');
      await away(panel!.page);
      assert.equal(chaos.env.proxy.stall('websocket', 'both').length, 1, 'the panel had one socket');
      await agent.post(5);
      const missed = agent.acknowledgedLines;
      await back(panel!.page);
      await panel!.waitUntil(
        (r, n) => (r.lines.at(-1) ?? 0) >= n,
        missed,
        CATCH_UP_MS,
        'the missed lines shown after the reader came back',
      );
    } finally {
      await context.close();
    }
  }

  it('catches up at once when the browser is online again', async () => {
    let context: Page['context'] extends () => infer C ? C : never;
    await awayAndBack(
      'offline',
      async (page) => {
        context = page.context();
        await context.setOffline(true);
      },
      async () => context.setOffline(false),
    );
  });

  it('catches up at once when the tab is visible again', async () => {
    await awayAndBack(
      'hidden',
      (page) => setHidden(page, true),
      (page) => setHidden(page, false),
    );
  });
});
