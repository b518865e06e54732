import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_ARGS, findChromium } from '../../../scripts/find-chromium.mjs';

/** Debian's Chromium, headless, with the flags this machine needs (TOOLCHAIN.md). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: findChromium(),
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/**
 * An init script that opens the logs section of every panel as soon as it shows one, as a reader
 * would: a panel renders its lines only once its section has been opened (log-list.ts).
 */
export const OPEN_EVERY_LOGS_SECTION = `setInterval(() => {
  for (const el of document.querySelectorAll('agent-task-status')) {
    const details = el.shadowRoot?.querySelector('details[part~="logs"]');
    if (details && !details.dataset.openedByTest) {
      details.dataset.openedByTest = '1';
      details.open = true;
    }
  }
}, 20);`;
