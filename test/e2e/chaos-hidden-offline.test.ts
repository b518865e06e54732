// Issue 5, scenario 5, in Chromium with the built widget: a tab hidden then visible again, and a
// browser offline then online again. Whatever the panel missed meanwhile must show at once when
// the reader is back (well before the next poll or retry would bring it), with no gap and no
// duplicate.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { Agent, lineNumber } from '../chaos/support/agent.js';
import {
  describeReading,
  newBrowserContext,
  openPanels,
  setHidden,
  type BrowserPanel,
} from '../chaos/support/browser-panels.js';
import { useChaosChromium } from './support/chaos-chromium.js';

/** "At once": a fraction of the poll interval and of any backoff the panel could be waiting on. */
const AT_ONCE_MS = 1_500;
const POLL_INTERVAL_MS = 10_000;

describe('hidden then visible, offline then online (Chromium)', () => {
  const chaos = useChaosChromium();

  async function finish(agent: Agent, panel: BrowserPanel, nudge?: () => Promise<void>): Promise<number> {
    await agent.post(1, { phase: 'completed' });
    await nudge?.();
    const truth = await agent.stored();
    const stored = truth.lines.map((line) => lineNumber(line.message));
    await panel.waitUntil(
      (r, n) => r.phase === 'completed' && r.lines.length >= n,
      stored.length,
      15_000,
      'complete',
    );
    const reading = await panel.read();
    assert.deepEqual(reading.violations, [], `a gap or a duplicate was shown: ${describeReading(reading)}`);
    assert.deepEqual(reading.lines, stored, `the panel differs from the store: ${describeReading(reading)}`);
    return stored.length;
  }

  it('a polling panel catches up at once when its tab becomes visible again', async () => {
    const agent = await Agent.create(() => chaos.env.server.url, 'agent-hidden');
    await agent.post(2, { phase: 'running' });
    // No WebSocket: the panel polls every 10 s, and every 60 s while hidden.
    chaos.env.proxy.refuseUpgrades('503');
    let context: BrowserContext | undefined;
    try {
      context = await newBrowserContext(chaos.browser);
      const [panel] = await openPanels(context, chaos.host.url, agent.taskId, 1, {
        'poll-interval': String(POLL_INTERVAL_MS),
      });
      await panel!.waitUntil((r) => r.state === 'polling' && r.lines.length === 2, null, 15_000, 'polling');

      await setHidden(panel!.page, true);
      await agent.post(5);
      const missed = agent.acknowledgedLines;
      assert.ok(((await panel!.read()).lines.at(-1) ?? 0) < missed, 'the hidden panel has not polled yet');
      const shownAt = Date.now();
      await setHidden(panel!.page, false);
      const reading = await panel!.waitUntil(
        (r, n) => (r.lines.at(-1) ?? 0) >= n,
        missed,
        AT_ONCE_MS,
        'the missed lines shown at once after becoming visible',
      );
      const caughtUp = Date.now() - shownAt;
      assert.equal(reading.state, 'polling');
      // The reader asks for the final status rather than wait 10 s for the next poll.
      const lines = await finish(agent, panel!, () =>
        panel!.page.locator('agent-task-status [part~="refresh-button"]').click(),
      );
      console.log(
        `hidden → visible (polling every ${POLL_INTERVAL_MS} ms): caught up in ${caughtUp} ms; ${lines} lines`,
      );
    } finally {
      chaos.env.proxy.refuseUpgrades(false);
      await context?.close();
    }
  });

  /**
   * A live panel; the browser goes offline and the path to the server breaks as `breakPath`
   * says; lines are posted; the browser comes back online (and the path with it).
   */
  async function offlineThenOnline(name: string, breakPath: () => number) {
    const agent = await Agent.create(() => chaos.env.server.url, `agent-${name}`);
    await agent.post(2, { phase: 'running' });
    const context = await newBrowserContext(chaos.browser);
    try {
      const [panel] = await openPanels(context, chaos.host.url, agent.taskId, 1, {
        'poll-interval': String(POLL_INTERVAL_MS),
      });
      await panel!.waitUntil((r) => r.state === 'live' && r.lines.length === 2, null, 15_000, 'live');

      await context.setOffline(true);
      assert.equal(breakPath(), 1, 'the panel had one socket');
      await panel!.waitUntil((r) => r.state === 'offline', null, 5_000, 'offline shown');
      await agent.post(5);
      await agent.post(5);
      const missed = agent.acknowledgedLines;
      assert.ok(((await panel!.read()).lines.at(-1) ?? 0) < missed, 'nothing reaches an offline panel');
      const onlineAt = Date.now();
      chaos.env.proxy.resume();
      await context.setOffline(false);
      const reading = await panel!.waitUntil(
        (r, n) => (r.lines.at(-1) ?? 0) >= n,
        missed,
        AT_ONCE_MS,
        'the missed lines shown at once after going online',
      );
      const caughtUp = Date.now() - onlineAt;
      await panel!.waitUntil((r) => r.state === 'live', null, 10_000, 'live again');
      const lines = await finish(agent, panel!);
      console.log(
        `offline → online (${name}): caught up in ${caughtUp} ms (${reading.states.map((s) => s.state).join(' → ')}); ${lines} lines`,
      );
    } finally {
      await context.close();
    }
  }

  it('a live panel whose connection was reset while offline catches up at once when online again', async () => {
    await offlineThenOnline('reset', () => chaos.env.proxy.drop('websocket'));
  });
});
