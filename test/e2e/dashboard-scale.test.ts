// Dashboards of hundreds of panels against the real server, in Chromium (issue 12): a page of
// 500 panels and three tabs of 300 go live on one WebSocket, stay live across a server restart,
// and show what is posted afterwards; a task asked twice before its answer, and a store that
// cannot serve a subscription for a while, leave the panels live.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { LINK } from '../../widget/connection/socket-link.js';
import { MemoryTaskStore } from '../../server/store/memory-store.js';
import { StoreUnavailableError } from '../../server/store/store-errors.js';
import type { ReadPageInput } from '../../server/store/task-store.js';
import { launchChromium } from './support/browser.js';
import { E2eServer, startHostPage } from './support/e2e-server.js';

/** A memory store whose snapshot reads can be held back, or refused as if DynamoDB were down. */
class ControlledStore extends MemoryTaskStore {
  /** Reads wait for this (when set) before they run. */
  gate: Promise<void> | null = null;
  /** Task ids whose reads fail with StoreUnavailableError. */
  readonly down = new Set<string>();
  /** Reads waiting at the gate. */
  held = 0;

  override async readPage(taskId: string, input: ReadPageInput) {
    if (this.gate) {
      this.held += 1;
      await this.gate;
      this.held -= 1;
    }
    if (this.down.has(taskId)) throw new StoreUnavailableError('the store is down (test)');
    return super.readPage(taskId, input);
  }
}

/** A dashboard's panels: `tasks=a,b`, or `from=N&count=M` over the given ids. */
function dashboardHtml(api: string, query: URLSearchParams, ids: string[]): string {
  const from = Number(query.get('from') ?? 0);
  const shown = query.get('tasks')?.split(',') ?? ids.slice(from, from + Number(query.get('count') ?? 1e9));
  return `<!doctype html><html lang="en"><title>dashboard</title>
    <script type="module" src="${api}/agent-task-status.js"></script>
    ${shown.map((id) => `<agent-task-status endpoint="${api}" task-id="${id}"></agent-task-status>`).join('')}`;
}

/** Waits until every panel of the page is in `state`; returns how long that took. */
async function allIn(page: Page, state: string, timeoutMs = 20_000): Promise<number> {
  const started = Date.now();
  await page.waitForFunction(
    (state) =>
      [...document.querySelectorAll('agent-task-status')].every(
        (el) => (el as HTMLElement & { connectionState: string }).connectionState === state,
      ),
    state,
    { timeout: timeoutMs, polling: 100 },
  );
  return Date.now() - started;
}

/** Waits until every panel of the page shows `message` as its latest message. */
async function allShowMessage(page: Page, message: string): Promise<void> {
  await page.waitForFunction(
    (message) =>
      [...document.querySelectorAll('agent-task-status')].every(
        (el) => (el as HTMLElement & { task: { message: string | null } | null }).task?.message === message,
      ),
    message,
    { timeout: 20_000, polling: 100 },
  );
}

/** The connection state of each panel of the page, in document order. */
const statesOf = (page: Page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('agent-task-status')].map(
      (el) => (el as HTMLElement & { connectionState: string }).connectionState,
    ),
  );

/** Records every panel state any panel of the page entered, from its first script on. */
const RECORD_STATES = () => {
  const seen = new Set<string>();
  (window as unknown as { statesSeen: Set<string> }).statesSeen = seen;
  document.addEventListener('agent-task-connection-change', (event) => {
    seen.add((event.target as HTMLElement & { connectionState: string }).connectionState);
  });
};

/**
 * Records each WebSocket the page opens: when, when its first message (the hello) arrived, and
 * how it ended (who closed it, with which code), so a test that finds more sockets than it
 * expects can say why.
 */
// A string, not a function: the test's transpiler would add helpers (`__name`) the page lacks.
const RECORD_SOCKETS = `{
  const trail = [];
  window.socketTrail = trail;
  const Native = WebSocket;
  const at = () => Math.round(performance.now()) + ' ms';
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      const n = trail.length;
      trail.push('#' + n + ' created ' + at());
      let messages = 0;
      let last = '';
      this.addEventListener('message', () => {
        if (messages++ === 0) trail.push('#' + n + ' hello ' + at());
        last = at();
      });
      this.addEventListener('close', (e) =>
        trail.push('#' + n + ' closed ' + e.code + ' ' + at() + ' after ' + messages + ' messages, the last ' + last),
      );
      window.socketMessages = () => '#' + n + ': ' + messages + ' messages, the last ' + last;
    }
    close(code, reason) {
      trail.push('closed by the page with ' + code + ' ' + at());
      super.close(code, reason);
    }
  };
}`;

const socketTrail = (page: Page) =>
  page.evaluate(() => {
    const { socketTrail, socketMessages } = window as unknown as {
      socketTrail: string[];
      socketMessages?: () => string;
    };
    return [...socketTrail, socketMessages?.(), `now ${Math.round(performance.now())} ms`].join('; ');
  });

const statesSeen = (page: Page) =>
  page.evaluate(() => [...(window as unknown as { statesSeen: Set<string> }).statesSeen].sort());

describe('dashboards of hundreds of panels', () => {
  const store = new ControlledStore();
  const server = new E2eServer({}, store);
  /** The server the dashboard's panels talk to. */
  let api = server;
  let dashboard: Awaited<ReturnType<typeof startHostPage>>;
  let browser: Browser;
  const tasks: { id: string; token: string }[] = [];

  before(async () => {
    await server.start();
    dashboard = await startHostPage(
      (apiUrl, query) =>
        dashboardHtml(
          apiUrl,
          query,
          tasks.map((task) => task.id),
        ),
      () => api.url,
    );
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await dashboard?.close();
    await server.stop();
  });

  async function createTasks(count: number): Promise<void> {
    while (tasks.length < count) {
      const { task, token } = await server.createTask('dashboard-agent');
      tasks.push({ id: task.id, token });
    }
  }

  /** Posts `message` to the first `count` tasks, a few at a time. */
  async function postToAll(count: number, message: string): Promise<void> {
    for (let i = 0; i < count; i += 20) {
      await Promise.all(tasks.slice(i, i + 20).map(({ id, token }) => server.post(id, token, { message })));
    }
  }

  async function openTab(context: BrowserContext, query: string, sockets: Page[]): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
    page.on('websocket', () => sockets.push(page));
    await page.addInitScript(RECORD_STATES);
    await page.addInitScript({ content: RECORD_SOCKETS });
    await page.goto(`${dashboard.url}?${query}`);
    return page;
  }

  async function restartServer(): Promise<void> {
    await server.stop();
    await server.start();
  }

  it('a page of 500 panels goes live on one WebSocket, and again after a server restart, and shows every update', async () => {
    await createTasks(500);
    const context = await browser.newContext();
    try {
      const sockets: Page[] = [];
      const page = await openTab(context, 'count=500', sockets);
      const tookMs = await allIn(page, 'live');
      console.log(`500 panels live ${tookMs} ms after load; sockets: ${await socketTrail(page)}`);
      assert.equal(sockets.length, 1, `one WebSocket for the page: ${await socketTrail(page)}`);
      assert.equal(await server.metric('agent_task_status_ws_subscriptions'), 500);
      await postToAll(500, 'before the restart');
      await allShowMessage(page, 'before the restart');
      assert.deepEqual(
        (await statesSeen(page)).filter((state) => state !== 'connecting'),
        ['live'],
        'never polling, never refused',
      );

      await restartServer();
      const backMs = await allIn(page, 'live');
      console.log(`500 panels live again ${backMs} ms after the restart`);
      await postToAll(500, 'after the restart');
      await allShowMessage(page, 'after the restart');
      assert.equal(await server.metric('agent_task_status_ws_connections'), 1);
      assert.equal(await server.metric('agent_task_status_ws_subscriptions'), 500);
    } finally {
      await context.close();
    }
  });

  it('three tabs of 300 panels share one WebSocket, all live, also after a server restart', async () => {
    await createTasks(900);
    const context = await browser.newContext();
    try {
      const sockets: Page[] = [];
      const tabs: Page[] = [];
      for (let tab = 0; tab < 3; tab++)
        tabs.push(await openTab(context, `from=${tab * 300}&count=300`, sockets));
      for (const tab of tabs) await allIn(tab, 'live');
      const trails = await Promise.all(
        tabs.map((tab, i) => socketTrail(tab).then((trail) => `tab ${i}: ${trail}`)),
      );
      assert.equal(sockets.length, 1, `one WebSocket for the whole browser: ${trails.join(' | ')}`);
      assert.equal(await server.metric('agent_task_status_ws_subscriptions'), 900);
      for (const tab of tabs) assert.ok(!(await statesSeen(tab)).includes('polling'), 'no tab polled');

      await restartServer();
      for (const tab of tabs) await allIn(tab, 'live');
      await postToAll(900, 'posted to 900 tasks');
      for (const tab of tabs) await allShowMessage(tab, 'posted to 900 tasks');
      assert.equal(await server.metric('agent_task_status_ws_connections'), 1);
    } finally {
      await context.close();
    }
  });

  it('a task asked twice before its answer keeps its socket: every answer is paired with its request', async () => {
    await createTasks(1);
    // A heartbeat longer than the time run below, so only the answer timeout could fire in it.
    const quiet = new E2eServer({ HEARTBEAT_MS: '60000' }, store);
    await quiet.start();
    api = quiet;
    const context = await browser.newContext();
    let release = () => {};
    try {
      const sockets: Page[] = [];
      const page = await context.newPage();
      page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
      page.on('websocket', () => sockets.push(page));
      // The page's timers are the test's: the 10 s answer timeout passes without waiting for it.
      await page.clock.install();
      store.gate = new Promise((resolve) => (release = resolve));
      await page.goto(`${dashboard.url}?tasks=${tasks[0]!.id}`);
      await until(() => store.held === 1);
      // A second panel of the same task joins while the first one's snapshot is still being read:
      // the stream is asked again, so two subscribes of the task are in flight on one socket.
      await page.evaluate(() => {
        const first = document.querySelector('agent-task-status')!;
        const twin = first.cloneNode() as HTMLElement;
        document.body.append(twin);
      });
      await until(() => store.held === 2);
      store.gate = null;
      release();
      await allIn(page, 'live');
      await page.clock.runFor(LINK.answerTimeoutMs + 1_000);
      await quiet.post(tasks[0]!.id, tasks[0]!.token, { message: 'both panels' });
      await allShowMessage(page, 'both panels');
      assert.equal(sockets.length, 1, 'the socket was never torn down as unanswered');
      assert.equal(await page.evaluate(() => document.querySelectorAll('agent-task-status').length), 2);
    } finally {
      store.gate = null;
      release();
      await context.close();
      api = server;
      await quiet.stop();
    }
  });

  it('a subscription the store cannot serve polls meanwhile, and goes live once the store is back', async () => {
    await createTasks(2);
    const [healthy, troubled] = tasks;
    const context = await browser.newContext();
    try {
      const sockets: Page[] = [];
      store.down.add(troubled!.id);
      const page = await openTab(context, `tasks=${healthy!.id},${troubled!.id}`, sockets);
      // Its polls fail too (503): polling, then offline after a few.
      await until(async () => ['polling', 'offline'].includes((await statesOf(page))[1]!));
      assert.equal((await statesOf(page))[0], 'live', 'the other panel stays live');
      store.down.delete(troubled!.id);
      await allIn(page, 'live');
      await postToAll(2, 'store back');
      await allShowMessage(page, 'store back');
      assert.equal(sockets.length, 1, 'on the same socket throughout');
    } finally {
      store.down.clear();
      await context.close();
    }
  });
});

/** Polls `check` every 20 ms until it holds; fails after 10 s. */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, 'timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
