// Browser tests run in Debian's Chromium (no browser downloads here); see TOOLCHAIN.md.
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { chromeLauncher } from '@web/test-runner-chrome';
import { CHROMIUM_ARGS, findChromium } from './scripts/find-chromium.mjs';

/** mock-socket only ships a UMD `main`; point the browser at its ES build. */
function mockSocketEsm() {
  return {
    name: 'mock-socket-esm',
    resolveImport({ source }) {
      if (source === 'mock-socket') return '/node_modules/mock-socket/dist/mock-socket.es.mjs';
    },
  };
}

/**
 * `emulate-forced-colors` (true/false): @web/test-runner-commands' emulateMedia knows
 * forced-colors only under Playwright; with the Chrome launcher it goes through CDP.
 */
function forcedColors() {
  // One CDP session per page, kept: an emulation ends with the session that set it.
  const sessions = new WeakMap();
  return {
    name: 'emulate-forced-colors',
    async executeCommand({ command, payload, session }) {
      if (command !== 'emulate-forced-colors') return undefined;
      const page = session.browser.getPage(session.id);
      if (!sessions.has(page)) sessions.set(page, await page.createCDPSession());
      await sessions.get(page).send('Emulation.setEmulatedMedia', {
        features: [{ name: 'forced-colors', value: payload ? 'active' : 'none' }],
      });
      return true;
    },
  };
}

export default {
  files: ['test/browser/**/*.test.ts'],
  nodeResolve: true,
  concurrency: 1,
  testFramework: { config: { timeout: 10000 } },
  plugins: [
    mockSocketEsm(),
    forcedColors(),
    esbuildPlugin({ ts: true, target: 'es2022', tsconfig: 'tsconfig.json' }),
  ],
  browsers: [
    chromeLauncher({
      launchOptions: {
        executablePath: findChromium(),
        args: ['--headless', ...CHROMIUM_ARGS],
      },
    }),
  ],
};
