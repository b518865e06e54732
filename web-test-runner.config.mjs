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

export default {
  files: ['test/browser/**/*.test.ts'],
  nodeResolve: true,
  concurrency: 1,
  testFramework: { config: { timeout: 10000 } },
  plugins: [mockSocketEsm(), esbuildPlugin({ ts: true, target: 'es2022', tsconfig: 'tsconfig.json' })],
  browsers: [
    chromeLauncher({
      launchOptions: {
        executablePath: findChromium(),
        args: ['--headless', ...CHROMIUM_ARGS],
      },
    }),
  ],
};
