import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, OPEN_EVERY_LOGS_SECTION } from './support/browser.js';
import { E2eServer, startHostPage } from './support/e2e-server.js';

const TABS = 3;
const PANELS = 5;

/** The lines every panel of a page shows (by the number in "line-N"), and its connection state. */
function panelsOf(page: Page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('agent-task-status')].map((el) => ({
      taskId: el.getAttribute('task-id'),
      state: (el as HTMLElement & { connectionState: string }).connectionState,
      lines: [...el.shadowRoot!.querySelectorAll('[part~="log-line"]')].map((li) =>
        Number(/line-(\d+)/.exec(li.textContent ?? '')?.[1] ?? -1),
      ),
    })),
  );
}

/** Waits until every panel of the page shows exactly lines 1..n, in order. */
async function allShow(page: Page, n: number): Promise<void> {
  await page.waitForFunction(
    ({ n, panels }) => {
      const els = [...document.querySelectorAll('agent-task-status')];
      return (
        els.length === panels &&
        els.every((el) => {
          const seen = [...el.shadowRoot!.querySelectorAll('[part~="log-line"]')].map((li) =>
            Number(/line-(\d+)/.exec(li.textContent ?? '')?.[1] ?? -1),
          );
          return seen.length === n && seen.every((line, i) => line === i + 1);
        })
      );
    },
    { n, panels: PANELS },
    { timeout: 15_000 },
  );
}

describe('tabs of one browser share one WebSocket per endpoint', () => {
  const server = new E2eServer();
  let host: Awaited<ReturnType<typeof startHostPage>>;
  let browser: Browser;
  /** The panels the host page shows, set by each test before it opens its tabs. */
  let taskIds: string[] = [];

  before(async () => {
    await server.start();
    host = await startHostPage(
      (api) => `<!doctype html><html lang="en"><title>dashboard</title>
        <script type="module" src="${api}/agent-task-status.js"></script>
        ${taskIds.map((id) => `<agent-task-status endpoint="${api}" task-id="${id}"></agent-task-status>`).join('\n')}`,
      () => server.url,
    );
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await host?.close();
    await server.stop();
  });

  const metric = (name: string) => server.metric(name);

  /** Polls /metrics (as a dashboard would) until `check` holds; fails after the deadline. */
  async function untilMetric(name: string, check: (value: number) => boolean, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    let value = await metric(name);
    while (!check(value)) {
      assert.ok(Date.now() < deadline, `${name} is still ${value}`);
      await delay(25);
      value = await metric(name);
    }
    return value;
  }

  /** Tasks with the agent's tokens, shown by every tab's panels. */
  async function createTasks(): Promise<{ id: string; token: string }[]> {
    const tasks = [];
    for (let i = 0; i < PANELS; i++) {
      const { task, token } = await server.createTask();
      tasks.push({ id: task.id, token });
    }
    taskIds = tasks.map((t) => t.id);
    return tasks;
  }

  async function postLines(tasks: { id: string; token: string }[], from: number, to: number) {
    for (const { id, token } of tasks) {
      const logs = [];
      for (let n = from; n <= to; n++) logs.push({ message: `line-${n}` });
      await server.post(id, token, { logs });
    }
  }

  /** Opens a tab of the dashboard and records which tab opened which WebSocket. */
  async function openTab(context: BrowserContext, sockets: Page[]): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
    page.on('websocket', () => sockets.push(page));
    await page.addInitScript({ content: OPEN_EVERY_LOGS_SECTION });
    await page.goto(host.url);
    await page.waitForFunction(
      (panels) => {
        const els = [...document.querySelectorAll('agent-task-status')];
        return (
          els.length === panels &&
          els.every((el) => (el as HTMLElement & { connectionState: string }).connectionState === 'live')
        );
      },
      PANELS,
      { timeout: 15_000 },
    );
    return page;
  }

  it('three tabs of five panels: one WebSocket, every panel live; the leader closes, another takes over without a missed line', async () => {
    await untilMetric('agent_task_status_ws_connections', (n) => n === 0);
    const tasks = await createTasks();
    const context = await browser.newContext();
    try {
      const sockets: Page[] = [];
      const tabs: Page[] = [];
      for (let i = 0; i < TABS; i++) tabs.push(await openTab(context, sockets));

      assert.equal(sockets.length, 1, 'one WebSocket in the whole browser');
      assert.equal(await metric('agent_task_status_ws_connections'), 1);
      assert.equal(await metric('agent_task_status_ws_subscriptions'), PANELS, 'one per task, not per panel');

      await postLines(tasks, 1, 3);
      for (const tab of tabs) await allShow(tab, 3);
      assert.ok((await metric('agent_task_status_ws_delivered_total')) >= PANELS);

      const leader = sockets[0]!;
      const followers = tabs.filter((tab) => tab !== leader);
      const closedAt = Date.now();
      await leader.close();
      // Lines posted while no tab holds the socket come with the new leader's resubscribe.
      await postLines(tasks, 4, 6);
      await untilMetric('agent_task_status_ws_connections', (n) => n === 1 && sockets.length === 2);
      const tookOver = Date.now() - closedAt;
      assert.ok(tookOver < 1_500, `took over in ${tookOver} ms`);
      console.log(`takeover after the leader closed: ${tookOver} ms`);
      const newLeader = sockets[1]!;
      assert.ok(followers.includes(newLeader), 'a remaining tab took over');
      await postLines(tasks, 7, 8);
      for (const tab of followers) await allShow(tab, 8);
      for (const tab of followers) {
        for (const panel of await panelsOf(tab)) assert.equal(panel.state, 'live', `${panel.taskId}`);
      }
      assert.equal(sockets.length, 2, 'still one socket at a time');
      assert.equal(await metric('agent_task_status_ws_connections'), 1);
    } finally {
      await context.close();
    }
  });

  it('a leader that hears the page-lifecycle freeze event hands the socket over at once, and catches up on resume', async () => {
    await untilMetric('agent_task_status_ws_connections', (n) => n === 0);
    const tasks = await createTasks();
    const context = await browser.newContext();
    try {
      const sockets: Page[] = [];
      const tabs: Page[] = [];
      for (let i = 0; i < 2; i++) tabs.push(await openTab(context, sockets));
      const [leader, follower] = sockets[0] === tabs[0] ? [tabs[0]!, tabs[1]!] : [tabs[1]!, tabs[0]!];
      await postLines(tasks, 1, 2);
      for (const tab of tabs) await allShow(tab, 2);

      // Chromium fires `freeze` on a background tab it is about to freeze (page lifecycle). Here
      // the event is dispatched by hand: this headless Chromium ignores CDP's
      // Page.setWebLifecycleState. The tab keeps running, so this proves the hand-over and the
      // catch-up, not the freezing itself.
      await leader.evaluate(() => document.dispatchEvent(new Event('freeze')));
      await untilMetric('agent_task_status_ws_connections', (n) => n === 1 && sockets.length === 2);
      assert.equal(sockets[1], follower, 'the other tab took over');
      await postLines(tasks, 3, 4);
      await allShow(follower, 4);

      await leader.evaluate(() => document.dispatchEvent(new Event('resume')));
      await allShow(leader, 4);
      await postLines(tasks, 5, 5);
      for (const tab of tabs) await allShow(tab, 5);
      assert.equal(sockets.length, 2, 'the resumed tab follows: no socket of its own');
      assert.equal(await metric('agent_task_status_ws_connections'), 1);
    } finally {
      await context.close();
    }
  });

  it('a browser without BroadcastChannel still works, with one socket per tab', async () => {
    await untilMetric('agent_task_status_ws_connections', (n) => n === 0);
    const tasks = await createTasks();
    const context = await browser.newContext();
    await context.addInitScript(() => {
      delete (window as { BroadcastChannel?: unknown }).BroadcastChannel;
    });
    try {
      const sockets: Page[] = [];
      const tabs: Page[] = [];
      for (let i = 0; i < TABS; i++) tabs.push(await openTab(context, sockets));
      assert.equal(await tabs[0]!.evaluate(() => 'BroadcastChannel' in window), false);

      assert.deepEqual(
        tabs.map((tab) => sockets.filter((p) => p === tab).length),
        [1, 1, 1],
        'each tab has its own socket, shared by its panels',
      );
      assert.equal(await metric('agent_task_status_ws_connections'), TABS);
      await postLines(tasks, 1, 2);
      for (const tab of tabs) await allShow(tab, 2);
    } finally {
      await context.close();
    }
  });
});
