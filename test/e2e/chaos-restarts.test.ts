// Issue 5, scenario 1, in Chromium with the built widget: 20 panels follow a task while its agent
// posts 20 lines a second, and the server is killed with SIGKILL and started again three times,
// on the same port and DATA_DIR (embedded DynamoDB), behind a TCP proxy. The panels are spread
// the ways a browser can hold them: 5 browsers (contexts, one WebSocket each), each with 2 tabs
// sharing that socket, each tab with 2 panels. Every panel must end with exactly the stored log:
// no gap, no duplicate, at the end or at any render on the way.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { Agent } from '../chaos/support/agent.js';
import {
  endWithStoredLog,
  newBrowserContext,
  openPanels,
  startChaosHost,
  type BrowserPanel,
} from '../chaos/support/browser-panels.js';
import { until } from '../chaos/support/log-checks.js';
import { ServerProcess } from '../chaos/support/server-process.js';
import { TcpProxy } from '../chaos/support/tcp-proxy.js';
import { launchChromium } from './support/browser.js';

const BROWSERS = 5;
const TABS_PER_BROWSER = 2;
const PANELS_PER_TAB = 2;
const PANELS = BROWSERS * TABS_PER_BROWSER * PANELS_PER_TAB;
const RESTARTS = 3;
const LINES_PER_SECOND = 20;

describe('20 panels in Chromium (5 browsers × 2 tabs × 2 panels) while the server is SIGKILLed and restarted 3 times', () => {
  const server = new ServerProcess();
  let proxy: TcpProxy;
  let host: Awaited<ReturnType<typeof startChaosHost>>;
  let browser: Browser;
  let agent: Agent;
  const panels: BrowserPanel[] = [];

  before(async () => {
    await server.start();
    proxy = await TcpProxy.start({ port: server.port });
    host = await startChaosHost(() => proxy.url);
    browser = await launchChromium();
    agent = await Agent.create(() => server.url, 'agent-sigkill');
  });

  after(async () => {
    agent?.dispose();
    await browser?.close();
    await host?.close();
    await proxy?.close();
    await server.dispose();
  });

  it('ends with every stored line in every panel, once and in order', async () => {
    const started = Date.now();
    await agent.post(2, { phase: 'running' });
    const contexts = await Promise.all(Array.from({ length: BROWSERS }, () => newBrowserContext(browser)));
    for (const context of contexts) {
      for (let tab = 0; tab < TABS_PER_BROWSER; tab++) {
        panels.push(...(await openPanels(context, host.url, agent.taskId, PANELS_PER_TAB)));
      }
    }
    assert.equal(panels.length, PANELS);
    await Promise.all(
      panels.map((panel, i) =>
        panel.waitUntil((r, n) => r.state === 'live' && r.lines.length === n, 2, 30_000, `panel ${i} live`),
      ),
    );
    agent.start(LINES_PER_SECOND);

    const catchUps: number[] = [];
    for (let restart = 1; restart <= RESTARTS; restart++) {
      // A second of the stream, then the kill: posts in flight die with the process.
      const from = agent.acknowledgedLines;
      await until(() => agent.acknowledgedLines >= from + LINES_PER_SECOND, 10_000, 'the stream flowing');
      const exit = await server.kill('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');
      const killedAt = Date.now();
      const acknowledgedBeforeKill = agent.acknowledgedLines;
      await server.start();
      // Every panel catches up past what was acknowledged before the kill.
      await Promise.all(
        panels.map((panel, i) =>
          panel.waitUntil(
            (r, n) => (r.lines.at(-1) ?? 0) >= n,
            acknowledgedBeforeKill,
            30_000,
            `panel ${i} caught up after restart ${restart}`,
          ),
        ),
      );
      catchUps.push(Date.now() - killedAt);
    }

    const { stored, readings } = await endWithStoredLog(agent, panels);
    const polled = readings.filter((r) => r.states.some((s) => s.state === 'polling')).length;
    console.log(
      `restarts: ${stored.length} lines, ${RESTARTS} SIGKILLs, every panel caught up ${catchUps.map((ms) => `${ms} ms`).join(', ')} after each kill; ` +
        `${agent.failedAttempts} failed post attempts; ${polled}/${PANELS} panels polled at some point; ` +
        `${proxy.counters.upgradesPassed} WebSocket connections; ${Date.now() - started} ms`,
    );
  });
});
