import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/browser.js';
import { E2eServer, startHostPage } from './support/e2e-server.js';

/** What the panel shows, read from its shadow DOM (as a person would see it). */
async function panelState(page: Page) {
  return page.evaluate(() => {
    const el = document.querySelector('agent-task-status') as HTMLElement & { connectionState: string };
    const root = el.shadowRoot!;
    return {
      connectionState: el.connectionState,
      label: root.querySelector('[part~="label"]')?.textContent?.trim() ?? '',
      banner: root.querySelector('[part~="banner"]')?.textContent?.replace(/\s+/g, ' ').trim() ?? '',
      lines: [...root.querySelectorAll('[part~="log-line"]')].map(
        (li) => /line-(\d+)/.exec(li.textContent ?? '')?.[1] ?? '?',
      ),
    };
  });
}

describe('the panel, end to end with the real server and the built file', () => {
  const server = new E2eServer();
  let host: Awaited<ReturnType<typeof startHostPage>>;
  let browser: Browser;

  before(async () => {
    await server.start();
    host = await startHostPage(
      (api) => `<!doctype html><html lang="en"><title>host</title>
        <script type="module" src="${api}/agent-task-status.js"></script>
        <agent-task-status endpoint="${api}"></agent-task-status>`,
      () => server.url,
    );
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await host?.close();
    await server.stop();
  });

  async function openPanel(taskId: string): Promise<Page> {
    const page = await browser.newPage();
    page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
    await page.goto(host.url);
    await page.evaluate(
      (id) => document.querySelector('agent-task-status')!.setAttribute('task-id', id),
      taskId,
    );
    await page.waitForFunction(
      () =>
        (document.querySelector('agent-task-status') as unknown as { connectionState: string })
          .connectionState === 'live',
    );
    // Open the logs section, as a person would, to see the lines.
    await page.locator('agent-task-status [part~="logs-summary"]').click();
    return page;
  }

  it('shows what the agent posts, live, without a reload', async () => {
    const { task, token } = await server.createTask();
    const page = await openPanel(task.id);
    await server.post(task.id, token, {
      phase: 'running',
      progress: 40,
      logs: [{ message: 'line-1' }, { message: 'line-2' }],
    });
    await page.waitForFunction(() => {
      const root = document.querySelector('agent-task-status')!.shadowRoot!;
      return root.querySelectorAll('[part~="log-line"]').length === 2;
    });
    const state = await panelState(page);
    assert.match(state.label, /running/i);
    assert.deepEqual(state.lines, ['1', '2']);
    const progress = await page
      .locator('agent-task-status [role="progressbar"]')
      .getAttribute('aria-valuenow');
    assert.equal(progress, '40');
    await page.close();
  });

  it('shows Reconnecting while the server is down, then is live again with every line exactly once', async () => {
    const { task, token } = await server.createTask();
    const page = await openPanel(task.id);
    await server.post(task.id, token, {
      phase: 'running',
      logs: [1, 2, 3].map((n) => ({ message: `line-${n}` })),
    });
    await page.waitForFunction(
      () =>
        document.querySelector('agent-task-status')!.shadowRoot!.querySelectorAll('[part~="log-line"]')
          .length === 3,
    );

    await server.stop();
    await page.waitForFunction(() => {
      const banner = document
        .querySelector('agent-task-status')!
        .shadowRoot!.querySelector('[part~="banner"]');
      return /reconnecting/i.test(banner?.textContent ?? '');
    });
    assert.equal((await panelState(page)).connectionState, 'reconnecting');

    await server.start();
    await server.post(task.id, token, { logs: [4, 5, 6].map((n) => ({ message: `line-${n}` })) });
    await server.post(task.id, token, { progress: 90, logs: [{ message: 'line-7' }] });
    await page.waitForFunction(
      () => {
        const el = document.querySelector('agent-task-status') as HTMLElement & { connectionState: string };
        return (
          el.connectionState === 'live' && el.shadowRoot!.querySelectorAll('[part~="log-line"]').length >= 7
        );
      },
      undefined,
      { timeout: 30_000 },
    );
    // New lines after the reconnect arrive over the socket too.
    await server.post(task.id, token, { phase: 'completed', logs: [{ message: 'line-8' }] });
    await page.waitForFunction(
      () =>
        document.querySelector('agent-task-status')!.shadowRoot!.querySelectorAll('[part~="log-line"]')
          .length >= 8,
    );
    const state = await panelState(page);
    assert.deepEqual(state.lines, ['1', '2', '3', '4', '5', '6', '7', '8']);
    assert.match(state.label, /completed/i);
    await page.close();
  });
});
