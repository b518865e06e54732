// Where Chromium is: CHROME_PATH, else Debian's /usr/bin/chromium. Shared by the browser tests
// and the end-to-end tests; scripts/ensure-deps.sh installs it when it is missing.
import { existsSync } from 'node:fs';

/**
 * Flags Chromium needs here: root needs --no-sandbox; the rest keep it from dialling out on a
 * closed network and from filling /dev/shm (TOOLCHAIN.md). Headless is set by each launcher.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function findChromium() {
  const fromEnv = process.env.CHROME_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROME_PATH=${fromEnv} does not exist`);
    return fromEnv;
  }
  const found = CANDIDATES.find((path) => existsSync(path));
  if (!found) {
    throw new Error('Chromium not found: run `sudo apt-get install -y chromium` or set CHROME_PATH');
  }
  return found;
}
