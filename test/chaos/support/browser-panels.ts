// The real widget (dist/agent-task-status.js) in Chromium on a host page of another origin, with
// a watcher inside the page that records every panel's connection states and flags, at every
// render, a gap or a duplicate among the lines shown. Panels of one page share one WebSocket, and
// so do the tabs of one browser context (BroadcastChannel); separate contexts are separate browsers.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { OPEN_EVERY_LOGS_SECTION } from '../../e2e/support/browser.js';
import { lineNumber, type Agent } from './agent.js';

/** A host page on another origin (localhost vs 127.0.0.1) that loads the widget from `api()`. */
export async function startChaosHost(api: () => string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const panels = Number(new URL(req.url ?? '/', 'http://host').searchParams.get('panels') ?? 1);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><title>chaos host</title>
      <script type="module" src="${api()}/agent-task-status.js"></script>
      ${`<agent-task-status endpoint="${api()}"></agent-task-status>`.repeat(panels)}`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface PanelReading {
  state: string;
  phase: string | null;
  /** The agent's line numbers ("line-N") shown, in order. */
  lines: number[];
  /** Every state the panel went through, with the page's Date.now(). */
  states: { state: string; at: number }[];
  /** Gaps and duplicates seen at any render. */
  violations: string[];
  banner: string;
}

export interface BrowserPanel {
  readonly context: BrowserContext;
  readonly page: Page;
  read(): Promise<PanelReading>;
  /**
   * Waits until the panel satisfies `predicate`, which runs in the page (so it may use nothing
   * but its arguments).
   */
  waitUntil<A>(
    predicate: (reading: PanelReading, arg: A) => boolean,
    arg: A,
    timeoutMs: number,
    what: string,
  ): Promise<PanelReading>;
}

declare global {
  interface Window {
    __chaos?: { states: { state: string; at: number }[]; violations: string[] }[];
  }
}

/** A new browser context (a separate browser, as far as the page can tell). */
export async function newBrowserContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext();
  // tsx compiles these test files with esbuild's keepNames, which wraps inner functions in
  // `__name(...)`; functions sent to the page carry that call with them.
  await context.addInitScript({ content: 'globalThis.__name = (fn) => fn;' });
  return context;
}

/** Opens a tab in `context` with `count` panels showing `taskId`. */
export async function openPanels(
  context: BrowserContext,
  hostUrl: string,
  taskId: string,
  count = 1,
  attributes: Record<string, string> = {},
  /** Runs once the page has loaded the widget, before its panels are given their task. */
  beforeFollow?: () => void | Promise<void>,
): Promise<BrowserPanel[]> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.addInitScript({ content: OPEN_EVERY_LOGS_SECTION });
  await page.addInitScript({ content: RECORD_NETWORK });
  await page.goto(`${hostUrl}?panels=${count}`);
  await page.waitForFunction(() => customElements.get('agent-task-status') !== undefined);
  await beforeFollow?.();
  await page.evaluate(
    ({ taskId, attributes }) => {
      const elements = [...document.querySelectorAll('agent-task-status')] as (HTMLElement & {
        connectionState: string;
        updateComplete: Promise<unknown>;
      })[];
      window.__chaos = elements.map((el) => {
        const watch = { states: [{ state: el.connectionState, at: Date.now() }], violations: [] as string[] };
        el.addEventListener('agent-task-connection-change', (event) => {
          watch.states.push({ state: (event as CustomEvent<{ to: string }>).detail.to, at: Date.now() });
        });
        const check = () => {
          const lines = [...el.shadowRoot!.querySelectorAll('[part~="log-line"]')].map((li) =>
            Number(/line-(\d+)/.exec(li.textContent ?? '')?.[1] ?? -1),
          );
          for (let i = 1; i < lines.length; i++) {
            if (lines[i] !== lines[i - 1]! + 1 && watch.violations.length < 20) {
              watch.violations.push(`line ${lines[i]} after line ${lines[i - 1]} (${lines.length} shown)`);
            }
          }
        };
        for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, value);
        el.setAttribute('task-id', taskId);
        void el.updateComplete.then(() => {
          new MutationObserver(check).observe(el.shadowRoot!, {
            childList: true,
            subtree: true,
            characterData: true,
          });
        });
        return watch;
      });
    },
    { taskId, attributes },
  );

  return Array.from({ length: count }, (_, index): BrowserPanel => {
    const read = async (): Promise<PanelReading> => {
      const reading = await page.evaluate(readInPage, index);
      if (errors.length > 0) reading.violations.push(...errors.map((e) => `page error: ${e}`));
      return reading;
    };
    return {
      context,
      page,
      read,
      async waitUntil(predicate, arg, timeoutMs, what) {
        try {
          await page.waitForFunction(
            ({ source, reader, index, arg }) => {
              const test = new Function(`return (${source})`)() as (r: unknown, a: unknown) => boolean;
              const readNow = new Function(`return (${reader})`)() as (i: number) => unknown;
              return test(readNow(index), arg);
            },
            { source: predicate.toString(), reader: readInPageSource, index, arg },
            { timeout: timeoutMs, polling: 50 },
          );
        } catch (error) {
          const last = await read().catch(() => null);
          throw new Error(
            `${what}: not within ${timeoutMs} ms; last: ${describeReading(last)}; ${await browserNetwork(context)}`,
            {
              cause: error,
            },
          );
        }
        return read();
      },
    };
  });
}

/**
 * Records, with epoch times (the test's clock), each WebSocket the page opens (created, first
 * message, closed with which code) and each fetch (the path, the status or the failure), the last
 * 200 of them: a panel that did not catch up in time then says what its tab tried meanwhile. A
 * follower tab tries nothing itself (the leader tab of its browser holds the socket and the polls).
 */
// A string, not a function: the test's transpiler would add helpers (`__name`) the page lacks.
const RECORD_NETWORK = `{
  const trail = [];
  window.__networkTrail = trail;
  const note = (what) => {
    trail.push(Date.now() + ' ' + what);
    if (trail.length > 200) trail.shift();
  };
  const Native = WebSocket;
  let sockets = 0;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      const n = sockets++;
      let messages = 0;
      note('ws#' + n + ' created');
      this.addEventListener('message', () => messages++ === 0 && note('ws#' + n + ' hello'));
      this.addEventListener('close', (e) => note('ws#' + n + ' closed ' + e.code + ' after ' + messages + ' messages'));
    }
    close(code, reason) {
      note('ws closed by the page with ' + code);
      super.close(code, reason);
    }
  };
  const nativeFetch = window.fetch.bind(window);
  window.fetch = (input, init) => {
    const path = new URL(typeof input === 'string' ? input : input.url, location.href).pathname;
    return nativeFetch(input, init).then(
      (res) => (note('GET ' + path + ' ' + res.status), res),
      (error) => (note('GET ' + path + ' failed: ' + error.message), Promise.reject(error)),
    );
  };
}`;

/** The page's network trail (RECORD_NETWORK), oldest first. */
export async function networkTrail(page: Page): Promise<string> {
  const trail = await page.evaluate(
    () => (window as unknown as { __networkTrail?: string[] }).__networkTrail ?? [],
  );
  return trail.length === 0 ? 'nothing' : trail.join('; ');
}

/** Every tab's network trail in `context` (a browser), for a failure message. */
export async function browserNetwork(context: BrowserContext): Promise<string> {
  const trails = await Promise.all(
    context.pages().map((tab, i) =>
      networkTrail(tab).then(
        (trail) => `tab ${i}: ${trail}`,
        () => `tab ${i}: unreadable`,
      ),
    ),
  );
  return `network at ${Date.now()}: ${trails.join(' | ')}`;
}

/** Runs in the page: what the `index`th panel shows now. */
function readInPage(index: number): PanelReading {
  const el = document.querySelectorAll('agent-task-status')[index] as HTMLElement & {
    connectionState: string;
    task: { phase: string } | null;
  };
  const root = el.shadowRoot!;
  return {
    state: el.connectionState,
    phase: el.task?.phase ?? null,
    lines: [...root.querySelectorAll('[part~="log-line"]')].map((li) =>
      Number(/line-(\d+)/.exec(li.textContent ?? '')?.[1] ?? -1),
    ),
    states: window.__chaos?.[index]?.states ?? [],
    violations: [...(window.__chaos?.[index]?.violations ?? [])],
    banner: root.querySelector('[part~="banner"]')?.textContent?.replace(/\s+/g, ' ').trim() ?? '',
  };
}
const readInPageSource = readInPage.toString();

export function describeReading(reading: PanelReading | null): string {
  if (!reading) return 'unreadable';
  return JSON.stringify({
    state: reading.state,
    phase: reading.phase,
    lines: reading.lines.length,
    first: reading.lines[0],
    last: reading.lines.at(-1),
    violations: reading.violations.slice(0, 3),
    banner: reading.banner,
    states: reading.states.map((s) => s.state).join('→'),
  });
}

/** Lines 1..n in order, nothing else. */
export function isExactly(lines: readonly number[], n: number): boolean {
  return lines.length === n && lines.every((line, i) => line === i + 1);
}

/** Makes the page hidden or visible as a browser would: document.hidden and visibilitychange. */
export async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((hidden) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
    Object.defineProperty(document, 'visibilityState', {
      configurable: true,
      get: () => (hidden ? 'hidden' : 'visible'),
    });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/**
 * Ends a chaos run: stops the agent, completes its task, and checks that the store holds every
 * acknowledged line once, in order, and that every panel ends showing exactly those lines, with no
 * gap or duplicate seen at any render. Returns the stored line numbers and each panel's reading.
 */
export async function endWithStoredLog(
  agent: Agent,
  panels: readonly BrowserPanel[],
): Promise<{ stored: number[]; readings: PanelReading[] }> {
  await agent.stop();
  await agent.post(1, { phase: 'completed' });
  const truth = await agent.stored();
  const stored = truth.lines.map((line) => lineNumber(line.message));
  assert.deepEqual(
    stored,
    Array.from({ length: agent.linesQueued }, (_, i) => i + 1),
    'the store holds every acknowledged line once, in order',
  );
  await Promise.all(
    panels.map((panel, i) =>
      panel.waitUntil(
        (r, n) => r.phase === 'completed' && r.lines.length >= n,
        stored.length,
        30_000,
        `panel ${i} complete`,
      ),
    ),
  );
  const readings = await Promise.all(panels.map((panel) => panel.read()));
  readings.forEach((reading, i) => {
    assert.deepEqual(
      reading.violations,
      [],
      `panel ${i} showed a gap or a duplicate: ${describeReading(reading)}`,
    );
    assert.deepEqual(reading.lines, stored, `panel ${i} differs from the store: ${describeReading(reading)}`);
  });
  return { stored, readings };
}
