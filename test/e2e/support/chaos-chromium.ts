import { after, before } from 'node:test';
import type { Browser } from 'playwright-core';
import { startChaosHost } from '../../chaos/support/browser-panels.js';
import { startProxiedServer, type ProxiedServer } from '../../chaos/support/in-process-server.js';
import { launchChromium } from './browser.js';

export interface ChaosChromium {
  /** The real server and the fault-injecting proxy in front of it. */
  env: ProxiedServer;
  /** A host page on another origin that loads the built widget, pointed at the proxy. */
  host: Awaited<ReturnType<typeof startChaosHost>>;
  browser: Browser;
}

/**
 * Registers the suite's before/after hooks for the chaos scenarios in Chromium: the fields are
 * set once the suite's `before` hooks have run, and everything is closed, browser first, after.
 */
export function useChaosChromium(): ChaosChromium {
  const chaos = {} as ChaosChromium;
  before(async () => {
    chaos.env = await startProxiedServer();
    chaos.host = await startChaosHost(() => chaos.env.proxy.url);
    chaos.browser = await launchChromium();
  });
  after(async () => {
    await chaos.browser?.close();
    await chaos.host?.close();
    await chaos.env?.close();
  });
  return chaos;
}
