// Issue 5, scenario 3, in Chromium with the built widget: the WebSocket path breaks (the proxy
// drops the socket and refuses every new upgrade, first with 503, then by hanging up) while the
// agent keeps posting. The panel must be polling within 5 s, and once upgrades pass again, live
// within one backoff cycle, with no gap and no duplicate at either switch.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent, lineNumber } from '../chaos/support/agent.js';
import {
  describeReading,
  newBrowserContext,
  openPanels,
  type BrowserPanel,
} from '../chaos/support/browser-panels.js';
import type { Refusal } from '../chaos/support/tcp-proxy.js';
import { useChaosChromium } from './support/chaos-chromium.js';

const LINES_PER_SECOND = 20;
const POLLING_WITHIN_MS = 5_000;
/** widget/connection/backoff.ts: full jitter in [0, min(cap, base·2^attempt)]. */
const BACKOFF = { baseMs: 500, capMs: 30_000 };
/** A link must stay up this long before a drop counts as a first failure again (BACKOFF.stableMs). */
const STABLE_MS = 5_000;
/** Opening the socket and answering the subscribe, on a busy 2-core machine. */
const CONNECT_SLACK_MS = 1_500;

describe('upgrades refused, then allowed again (Chromium)', () => {
  let agent: Agent;
  let panel: BrowserPanel;

  // Hooks of a kind run in the order they are added: the agent stops before the server closes,
  // and starts once it is up.
  after(() => agent?.dispose());
  const chaos = useChaosChromium();
  before(async () => {
    agent = await Agent.create(() => chaos.env.server.url, 'agent-refused');
  });

  /** The panel's connection states since `since` (epoch ms; page and test share the clock). */
  async function statesSince(since: number) {
    return (await panel.read()).states.filter((s) => s.at >= since);
  }

  async function refuseThenAllow(refusal: Refusal) {
    // Live and stable first (live for longer than STABLE_MS by the page's own clock, not by a
    // count of lines, which a busy machine delivers in bursts), so the drop is a first failure.
    const liveFrom = agent.acknowledgedLines;
    await panel.waitUntil(
      (r, { line, stableMs }) =>
        r.state === 'live' &&
        (r.lines.at(-1) ?? 0) >= line &&
        Date.now() - (r.states.at(-1)?.at ?? Infinity) > stableMs,
      { line: liveFrom + 1, stableMs: STABLE_MS + CONNECT_SLACK_MS },
      STABLE_MS + 15_000,
      'live and stable',
    );

    chaos.env.proxy.refuseUpgrades(refusal);
    const droppedAt = Date.now();
    assert.equal(chaos.env.proxy.drop('websocket'), 1, 'the panel had one socket');
    const polling = await panel.waitUntil((r) => r.state === 'polling', null, 15_000, 'polling');
    const pollingAt = polling.states.find((s) => s.state === 'polling' && s.at >= droppedAt)!.at;
    assert.ok(
      pollingAt - droppedAt <= POLLING_WITHIN_MS,
      `polling ${pollingAt - droppedAt} ms after the socket broke (${refusal})`,
    );
    assert.ok(chaos.env.proxy.counters.upgradesRefused > 0);
    // New lines arrive by polling.
    const polledFrom = agent.acknowledgedLines;
    await panel.waitUntil(
      (r, n) => r.state === 'polling' && (r.lines.at(-1) ?? 0) >= n,
      polledFrom + 5,
      15_000,
      'lines while polling',
    );

    const refused = chaos.env.proxy.counters.upgradesRefused - refusedBefore;
    refusedBefore = chaos.env.proxy.counters.upgradesRefused;
    chaos.env.proxy.refuseUpgrades(false);
    const allowedAt = Date.now();
    // The drop was attempt 0 and each refusal one more: the retry now pending waits at most
    // base·2^refused (capped). One such cycle, and the socket is back.
    const cycle = Math.min(BACKOFF.capMs, BACKOFF.baseMs * 2 ** refused);
    const live = await panel.waitUntil(
      (r) => r.state === 'live',
      null,
      cycle + CONNECT_SLACK_MS + 5_000,
      'live again',
    );
    const liveAt = live.states.find((s) => s.state === 'live' && s.at >= allowedAt)!.at;
    assert.ok(
      liveAt - allowedAt <= cycle + CONNECT_SLACK_MS,
      `live ${liveAt - allowedAt} ms after upgrades passed again; one backoff cycle after ${refused} refusals is ${cycle} ms`,
    );
    const path = (await statesSince(droppedAt)).map((s) => s.state).join(' → ');
    return { polling: pollingAt - droppedAt, live: liveAt - allowedAt, refused, cycle, path };
  }
  let refusedBefore = 0;

  it('polls within 5 s and is live within one backoff cycle, with every line once', async () => {
    const started = Date.now();
    await agent.post(2, { phase: 'running' });
    const context = await newBrowserContext(chaos.browser);
    panel = (await openPanels(context, chaos.host.url, agent.taskId, 1, { 'poll-interval': '2000' }))[0]!;
    await panel!.waitUntil((r) => r.state === 'live' && r.lines.length === 2, null, 15_000, 'live');
    agent.start(LINES_PER_SECOND);

    const with503 = await refuseThenAllow('503');
    const hangingUp = await refuseThenAllow('close');

    await agent.stop();
    await agent.post(1, { phase: 'completed' });
    const truth = await agent.stored();
    const stored = truth.lines.map((line) => lineNumber(line.message));
    await panel.waitUntil(
      (r, n) => r.phase === 'completed' && r.lines.length >= n,
      stored.length,
      15_000,
      'complete',
    );
    const reading = await panel.read();
    assert.deepEqual(reading.violations, [], `a gap or a duplicate was shown: ${describeReading(reading)}`);
    assert.deepEqual(reading.lines, stored, `the panel differs from the store: ${describeReading(reading)}`);
    for (const [name, round] of [
      ['503', with503],
      ['hang-up', hangingUp],
    ] as const) {
      console.log(
        `upgrades refused (${name}): polling after ${round.polling} ms; ${round.refused} upgrades refused; ` +
          `live ${round.live} ms after they passed again (cycle ${round.cycle} ms); ${round.path}`,
      );
    }
    console.log(`upgrades refused: ${stored.length} lines, ${Date.now() - started} ms`);
  });
});
