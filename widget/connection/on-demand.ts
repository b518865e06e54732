import type { FetchLike, GetOptions, HttpResult } from './http-get.js';
import { POLL_FAILURES_BEFORE_OFFLINE } from './link-state.js';
import type { Poller, PollerConfig } from './poller.js';

/**
 * The HTTP parts (polls, log pages), kept out of the main file for its size budget. They are
 * fetched the first time a panel needs them, or as soon as one is live (task-feed.ts): polling is
 * the fallback for a server that cannot be reached, and then it cannot serve this file either. A
 * failed load is tried again on the next need: Chromium retries a dynamic import that failed
 * (checked); other browsers may keep the failure until the page reloads.
 */
let loaded: typeof import('./http-parts.js') | undefined;
export const httpParts = async () => (loaded ??= await import('./http-parts.js'));

/** No answer: as a request that got none (network down, or the HTTP parts could not load). */
const NO_ANSWER: HttpResult = { kind: 'failed', status: null, retryAfterMs: null };

/** http-get.ts's getJson, loaded on demand; never throws. */
export async function getJsonOnDemand(
  fetch: FetchLike,
  url: string,
  options: GetOptions,
): Promise<HttpResult> {
  try {
    return await (await httpParts()).getJson(fetch, url, options);
  } catch {
    return NO_ANSWER;
  }
}

/**
 * poller.ts's poller, its code loaded when it first starts; what it is told before then is kept.
 * When the code cannot load, the server did not serve our own file: the panel says it is
 * unreachable at once, and the load is tried again as a failed poll would be (after the interval
 * and a growing jittered wait), or at once when a poll is asked for (Refresh, back online).
 */
export function pollerOnDemand<C>(config: PollerConfig<C>): Poller {
  const { clock } = config;
  let real: Poller | null = null;
  let running = false;
  let hidden = false;
  let failures = 0;
  let timer: unknown;

  function ready({ poller }: typeof import('./http-parts.js')): void {
    real ??= poller(config);
    real.setHidden(hidden);
    if (running) real.start();
  }

  function load(): void {
    clock.clearTimeout(timer);
    // Once loaded, at once: a poller started then polls in the same tick, as one that was never split off.
    if (loaded) return ready(loaded);
    httpParts().then(ready, () => {
      if (!running || real) return;
      const consecutiveFailures = Math.max(++failures, POLL_FAILURES_BEFORE_OFFLINE);
      config.onResult({ ...NO_ANSWER, consecutiveFailures }, config.request().context);
      const { intervalMs, random } = config;
      timer = clock.setTimeout(
        load,
        intervalMs + config.backoff(failures - 1, { baseMs: intervalMs, random }),
      );
    });
  }

  return {
    get running() {
      return running;
    },
    get consecutiveFailures() {
      return real?.consecutiveFailures ?? 0;
    },
    start() {
      running = true;
      if (real) real.start();
      else load();
    },
    stop() {
      running = false;
      clock.clearTimeout(timer);
      real?.stop();
    },
    pollNow() {
      if (real) real.pollNow();
      else if (running) load();
    },
    setHidden(next) {
      hidden = next;
      real?.setHidden(next);
    },
  };
}
