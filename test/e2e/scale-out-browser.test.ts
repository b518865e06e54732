// Issue 14 in Chromium: the built widget on a host page, its panels following a task through
// HAProxy in front of three instances on one dynalite server and one Redis (scripts/cluster), while
// an agent posts through the balancer: one instance is killed (SIGKILL), then all three restart
// one at a time (SIGTERM), then Redis restarts. Every panel ends with exactly the stored log, never
// shows a gap or a duplicate on the way, and never says "Real-time updates unavailable".
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startTestCluster } from '../chaos/support/test-cluster.js';
import { Agent } from '../chaos/support/agent.js';
import {
  endWithStoredLog,
  newBrowserContext,
  openPanels,
  startChaosHost,
  type BrowserPanel,
} from '../chaos/support/browser-panels.js';
import { until } from '../chaos/support/log-checks.js';
import { launchChromium } from './support/browser.js';

const BROWSERS = 3;
const PANELS_PER_BROWSER = 2;
const LINES_PER_SECOND = 10;

describe(
  'panels in Chromium through HAProxy, three instances and Redis (issue 14)',
  { timeout: 240_000 },
  () => {
    let cluster: Awaited<ReturnType<typeof startTestCluster>>;
    let host: Awaited<ReturnType<typeof startChaosHost>>;
    let browser: Browser;
    let agent: Agent | undefined;

    before(async () => {
      cluster = await startTestCluster();
      host = await startChaosHost(() => cluster.url);
      browser = await launchChromium();
    });
    after(async () => {
      agent?.dispose();
      await browser?.close();
      await host?.close();
      await cluster?.dispose();
    });

    it('ends with every stored line in every panel through an instance killed, a rolling restart and a Redis restart', async () => {
      agent = await Agent.create(() => cluster.url, 'agent-cluster-browser');
      await agent.post(2, { phase: 'running' });
      const panels: BrowserPanel[] = [];
      for (let i = 0; i < BROWSERS; i++) {
        panels.push(
          ...(await openPanels(await newBrowserContext(browser), host.url, agent.taskId, PANELS_PER_BROWSER)),
        );
      }
      await Promise.all(
        panels.map((panel, i) =>
          panel.waitUntil((r, n) => r.state === 'live' && r.lines.length === n, 2, 30_000, `panel ${i} live`),
        ),
      );
      agent.start(LINES_PER_SECOND);
      const flowing = async () => {
        const from = agent!.acknowledgedLines;
        await until(() => agent!.acknowledgedLines >= from + LINES_PER_SECOND, 20_000, 'the stream flowing');
      };

      await flowing();
      await cluster.instances[2]!.stop('SIGKILL');
      await flowing();
      await cluster.instances[2]!.start();
      const rollFrom = Date.now();
      for (let i = 0; i < cluster.instances.length; i++) await cluster.rollInstance(i);
      const rollUntil = Date.now();
      await flowing();
      await cluster.redis.stop('SIGKILL');
      await flowing();
      await cluster.redis.start();
      await flowing();

      const { readings } = await endWithStoredLog(agent, panels);
      readings.forEach((reading, i) => {
        const fellBack = reading.states.filter(
          (s) => s.at >= rollFrom && s.at <= rollUntil && (s.state === 'polling' || s.state === 'offline'),
        );
        assert.deepEqual(
          fellBack,
          [],
          `panel ${i} said "Real-time updates unavailable" during the rolling restart`,
        );
      });
    });
  },
);
