import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { loadConfig } from '../../server/config.js';
import { DEMO_CSP } from '../../server/http/security-headers.js';
import { startServer, type RunningServer } from '../../server/serve.js';
import { launchChromium } from './support/browser.js';

/** Each panel's connection state and whether it shows a task, read from the page. */
function panelsOf() {
  return [...document.querySelectorAll('agent-task-status')].map((el) => ({
    state: (el as HTMLElement & { connectionState: string }).connectionState,
    hasTask: (el as HTMLElement & { task: unknown }).task !== null,
  }));
}

describe('the demo page under its Content Security Policy', () => {
  let server: RunningServer;
  let browser: Browser;

  before(async () => {
    // The real demo: the built page and widget from dist/, the simulated agents, the controls.
    server = await startServer({
      config: loadConfig({ PORT: '0', STORE: 'memory', DEMO: '1', HEARTBEAT_MS: '1000' }),
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('goes live, polls and runs its controls with no CSP violation', async () => {
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    page.on('pageerror', (error) => violations.push(`page error: ${error.message}`));
    await page.exposeFunction('reportViolation', (text: string) => violations.push(text));
    await page.addInitScript(() => {
      document.addEventListener(
        'securitypolicyviolation',
        (event) =>
          (window as unknown as { reportViolation(text: string): void }).reportViolation(
            `${event.violatedDirective} blocked ${event.blockedURI}`,
          ),
        true,
      );
    });

    const response = await page.goto(`${server.url}/`);
    assert.equal(response?.headers()['content-security-policy'], DEMO_CSP);
    // Every panel shows a task: by agent over the WebSocket (live), in polling mode, and by task id.
    await page.waitForFunction(() => {
      const panels = [...document.querySelectorAll('agent-task-status')].map((el) => ({
        state: (el as HTMLElement & { connectionState: string }).connectionState,
        hasTask: (el as HTMLElement & { task: unknown }).task !== null,
      }));
      return (
        panels.length === 4 && panels.every((p) => p.hasTask && (p.state === 'live' || p.state === 'polling'))
      );
    });
    const panels = await page.evaluate(panelsOf);
    assert.deepEqual(
      panels.map((p) => p.state),
      ['live', 'live', 'polling', 'live'],
    );

    // A control: a same-origin POST from the page's script, then the panels reconnect.
    await page.click('#drop');
    await page.waitForFunction(() =>
      /Dropped \d+ WebSocket/.test(document.querySelector('#control-status')!.textContent ?? ''),
    );
    await page.waitForFunction(() =>
      [...document.querySelectorAll('agent-task-status')]
        .filter((el) => el.getAttribute('mode') !== 'polling')
        .every((el) => (el as HTMLElement & { connectionState: string }).connectionState === 'live'),
    );
    assert.deepEqual(violations, []);
  });
});
