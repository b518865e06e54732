// Viewer tokens end to end (issue 13): the built widget in Chromium against the real server with
// VIEWER_TOKEN_KEYS set. A panel whose token expires mid-stream gets a fresh one from its
// tokenProvider and goes on with every line once and no banner; a panel without a token, with a
// forged one, or with one for another task is refused over the WebSocket, over polling, and
// through another tab's socket, and says so.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { mintViewerToken } from '../../sdk/viewer-token.js';
import { launchChromium, OPEN_EVERY_LOGS_SECTION } from './support/browser.js';
import { E2eServer, startHostPage } from './support/e2e-server.js';

const KEYS = 'e2e:correct-horse-battery-staple-0123456789';

interface PanelSpec {
  task: string;
  token?: string;
  mode?: 'polling';
}

/** What each panel of the page shows: its state and the numbers of its "line-N" lines. */
const panelsOf = (page: Page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('agent-task-status')].map((el) => ({
      state: (el as HTMLElement & { connectionState: string }).connectionState,
      lines: [...el.shadowRoot!.querySelectorAll('[part~="log-line"]')].map((li) =>
        Number(/line-(\d+)/.exec(li.textContent ?? '')?.[1] ?? -1),
      ),
      message: el.shadowRoot!.querySelector('[part~="message"]')?.textContent?.trim() ?? '',
    })),
  );

/** Every connection state any panel entered, from the page's first script on. */
const RECORD_STATES = `window.statesSeen = new Set();
document.addEventListener('agent-task-connection-change', (event) => window.statesSeen.add(event.detail.to));`;

describe('viewer tokens, end to end', () => {
  /** How far the server's clock is ahead of the real one: a test moves it past a token's expiry. */
  let serverAhead = 0;
  const serverNow = () => Date.now() + serverAhead;
  const server = new E2eServer({ VIEWER_TOKEN_KEYS: KEYS }, undefined, serverNow);
  let host: Awaited<ReturnType<typeof startHostPage>>;
  let browser: Browser;

  before(async () => {
    await server.start();
    host = await startHostPage(
      (api, query) => {
        const panels = JSON.parse(query.get('panels') ?? '[]') as PanelSpec[];
        return `<!doctype html><html lang="en"><title>viewer tokens</title>
        <script type="module" src="${api}/agent-task-status.js"></script>
        ${panels
          .map(
            (p) =>
              `<agent-task-status endpoint="${api}" task-id="${p.task}"${p.token ? ` access-token="${p.token}"` : ''}${p.mode ? ` mode="${p.mode}" poll-interval="1000"` : ''}></agent-task-status>`,
          )
          .join('')}`;
      },
      () => server.url,
    );
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await host?.close();
    await server.stop();
  });

  const mint = (scope: { tasks?: string[]; agents?: string[] }, ttlSeconds = 600) =>
    mintViewerToken(KEYS, { ...scope, ttlSeconds }, serverNow);

  async function openPage(context: BrowserContext, panels: PanelSpec[]): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
    await page.addInitScript({ content: OPEN_EVERY_LOGS_SECTION });
    await page.addInitScript({ content: RECORD_STATES });
    await page.goto(`${host.url}?panels=${encodeURIComponent(JSON.stringify(panels))}`);
    return page;
  }

  const until = (page: Page, check: string) =>
    page.waitForFunction(check, undefined, { timeout: 15_000, polling: 50 });

  it('a token that expires mid-stream is renewed through tokenProvider: every line once, no banner, no refusal', async () => {
    const { task, token } = await server.createTask('renewing-agent');
    const context = await browser.newContext();
    try {
      let minted = 0;
      await context.exposeFunction('mintForPanel', () => {
        minted += 1;
        return mint({ tasks: [task.id] });
      });
      const page = await openPage(context, [{ task: task.id, token: mint({ tasks: [task.id] }) }]);
      await page.evaluate(() => {
        const el = document.querySelector('agent-task-status') as HTMLElement & {
          tokenProvider: () => Promise<string>;
        };
        el.tokenProvider = () =>
          (window as unknown as { mintForPanel: () => Promise<string> }).mintForPanel();
      });
      await server.post(task.id, token, {
        phase: 'running',
        logs: [1, 2, 3].map((n) => ({ message: `line-${n}` })),
      });
      await until(
        page,
        `document.querySelector('agent-task-status').shadowRoot.querySelectorAll('[part~="log-line"]').length === 3`,
      );

      // The server's clock passes the token's expiry: the next event finds the subscription lapsed,
      // and the server drops it with token_expired news instead of sending the line.
      serverAhead = 601_000;
      await server.post(task.id, token, { logs: [{ message: 'line-4' }] });
      await until(
        page,
        `document.querySelector('agent-task-status').shadowRoot.querySelectorAll('[part~="log-line"]').length === 4`,
      );
      await server.post(task.id, token, { logs: [{ message: 'line-5' }] });
      await until(
        page,
        `document.querySelector('agent-task-status').shadowRoot.querySelectorAll('[part~="log-line"]').length === 5`,
      );

      const [panel] = await panelsOf(page);
      assert.deepEqual(panel!.lines, [1, 2, 3, 4, 5], 'every line once, in order');
      assert.equal(panel!.state, 'live');
      assert.equal(minted, 1, 'one fresh token, asked when the server said the old one expired');
      const seen = await page.evaluate(() => [
        ...(window as unknown as { statesSeen: Set<string> }).statesSeen,
      ]);
      assert.deepEqual(seen, ['live'], 'never reconnecting, polling or unauthorized');
    } finally {
      serverAhead = 0;
      await context.close();
    }
  });

  it('refuses a panel without a token, with a forged one or one for another task, live or polling, and says so', async () => {
    const readable = await server.createTask('reader-agent');
    const secret = await server.createTask('secret-agent');
    await server.post(secret.task.id, secret.token, { message: 'db password=hunter2' });
    const valid = mint({ tasks: [readable.task.id] });
    const forged = `${valid.slice(0, -4)}AAAA`;
    const other = mint({ tasks: [readable.task.id] });
    const context = await browser.newContext();
    try {
      const page = await openPage(context, [
        { task: readable.task.id, token: valid },
        { task: secret.task.id },
        { task: secret.task.id, token: forged },
        { task: secret.task.id, token: other },
        { task: secret.task.id, mode: 'polling' },
        { task: secret.task.id, token: other, mode: 'polling' },
      ]);
      await until(
        page,
        `[...document.querySelectorAll('agent-task-status')].every((el, i) => el.connectionState === (i === 0 ? 'live' : 'unauthorized'))`,
      );
      const panels = await panelsOf(page);
      for (const refused of panels.slice(1)) {
        assert.equal(refused.message, 'Not authorized to view this task.');
        assert.doesNotMatch(JSON.stringify(refused), /hunter2/);
      }

      // Another tab of the same browser goes through this tab's socket (it leads): still refused.
      const follower = await openPage(context, [{ task: secret.task.id, token: other }]);
      await until(follower, `document.querySelector('agent-task-status').connectionState === 'unauthorized'`);
      assert.equal(await server.metric('agent_task_status_ws_connections'), 1, 'one socket for both tabs');
      assert.doesNotMatch(JSON.stringify(await panelsOf(follower)), /hunter2/);
    } finally {
      await context.close();
    }
  });
});
