import { expect, html } from '@open-wc/testing';
import { AgentTaskStatus } from '../../../widget/agent-task-status/agent-task-status.js';
import { PROBLEMS } from '../../../widget/connection/task-feed.js';
import { makeTask } from './fake-feed.js';
import { has, mount, part, text, useFakeFeeds } from './helpers.js';

/** Replaces window.setInterval/clearInterval to see which timers the element leaves running. */
function spyIntervals() {
  const realSet = window.setInterval;
  const realClear = window.clearInterval;
  const active = new Map<number, () => void>();
  let made = 0;
  window.setInterval = ((fn: () => void, ms?: number) => {
    const id = realSet(fn, ms);
    active.set(id, fn);
    made++;
    return id;
  }) as typeof window.setInterval;
  window.clearInterval = ((id?: number) => {
    if (id !== undefined) active.delete(id);
    realClear(id);
  }) as typeof window.clearInterval;
  return {
    active,
    get made() {
      return made;
    },
    restore() {
      window.setInterval = realSet;
      window.clearInterval = realClear;
    },
  };
}

describe('agent-task-status: connection banners (AC7.6)', () => {
  const ctx = useFakeFeeds();
  let timers: ReturnType<typeof spyIntervals>;
  beforeEach(() => (timers = spyIntervals()));
  afterEach(() => timers.restore());

  async function live() {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    ctx.feeds.last.emit({ task: makeTask(), connectionState: 'live' });
    await el.updateComplete;
    return el;
  }

  it('shows no banner while live', async () => {
    const el = await live();
    expect(has(el, 'banner')).to.equal(false);
  });

  it('says "Reconnecting…" with a countdown to the next retry while reconnecting', async () => {
    const el = await live();
    ctx.feeds.last.emit({ connectionState: 'reconnecting', nextRetryAt: Date.now() + 4000 });
    await el.updateComplete;
    expect(text(part(el, 'banner'))).to.match(/^Reconnecting… retrying in 4 s Retry now$/);
  });

  it('counts down each second with a timer that runs only while reconnecting', async () => {
    const el = await live();
    expect(timers.made).to.equal(0);
    const t0 = Date.now();
    ctx.feeds.last.emit({ connectionState: 'reconnecting', nextRetryAt: t0 + 4000 });
    await el.updateComplete;
    expect(timers.active.size).to.equal(1);

    const realNow = Date.now;
    try {
      Date.now = () => t0 + 1500;
      [...timers.active.values()][0]!();
      await el.updateComplete;
      expect(text(part(el, 'banner'))).to.contain('retrying in 3 s');
      Date.now = () => t0 + 4200;
      [...timers.active.values()][0]!();
      await el.updateComplete;
      expect(text(part(el, 'banner'))).to.contain('retrying now');
    } finally {
      Date.now = realNow;
    }

    ctx.feeds.last.emit({ connectionState: 'live', nextRetryAt: null });
    await el.updateComplete;
    expect(timers.active.size).to.equal(0);
    expect(has(el, 'banner')).to.equal(false);
  });

  it('clears the countdown timer when removed while reconnecting', async () => {
    const el = await live();
    ctx.feeds.last.emit({ connectionState: 'reconnecting', nextRetryAt: Date.now() + 4000 });
    await el.updateComplete;
    expect(timers.active.size).to.equal(1);
    el.remove();
    expect(timers.active.size).to.equal(0);
  });

  it('skips the wait with "Retry now"', async () => {
    const el = await live();
    ctx.feeds.last.emit({ connectionState: 'reconnecting', nextRetryAt: Date.now() + 8000 });
    await el.updateComplete;
    const button = part<HTMLButtonElement>(el, 'retry-button')!;
    expect(button.tagName).to.equal('BUTTON');
    expect(text(button)).to.equal('Retry now');
    button.click();
    expect(ctx.feeds.last.retries).to.equal(1);
  });

  it('says real-time updates are unavailable while polling, with the interval and a Refresh button', async () => {
    const el = await mount(
      html`<agent-task-status task-id="t-1" mode="polling" poll-interval="3000"></agent-task-status>`,
    );
    ctx.feeds.last.emit({
      task: makeTask(),
      connectionState: 'polling',
      problem: 'Real-time updates unavailable',
    });
    await el.updateComplete;
    const banner = text(part(el, 'banner'));
    expect(banner).to.contain('Real-time updates unavailable.');
    expect(banner).to.contain('checking every 3 s');
    expect(banner.split('Real-time updates unavailable').length - 1, 'said once').to.equal(1);
    part<HTMLButtonElement>(el, 'refresh-button')!.click();
    expect(ctx.feeds.last.refreshes).to.equal(1);
    expect(has(el, 'retry-button')).to.equal(false);
  });

  it('heads the polling banner with why it polls, such as the live-update limit', async () => {
    const el = await live();
    ctx.feeds.last.emit({ connectionState: 'polling', problem: PROBLEMS.overLimit });
    await el.updateComplete;
    const banner = text(part(el, 'banner'));
    expect(banner).to.contain(`${PROBLEMS.overLimit}.`);
    expect(banner).to.contain('Polling — checking every');
  });

  it('says real-time updates are unavailable when offline, with the reason and a Refresh button', async () => {
    const el = await live();
    ctx.feeds.last.emit({ connectionState: 'offline', problem: 'The browser is offline.' });
    await el.updateComplete;
    const banner = text(part(el, 'banner'));
    expect(banner).to.contain('Real-time updates unavailable.');
    expect(banner).to.contain('The browser is offline.');
    part<HTMLButtonElement>(el, 'refresh-button')!.click();
    expect(ctx.feeds.last.refreshes).to.equal(1);
  });

  it('announces phase and connection changes politely, but not log lines', async () => {
    const el = await live();
    const region = el.shadowRoot!.querySelector('[role="status"]')!;
    expect(region.getAttribute('aria-live')).to.equal('polite');
    expect(text(region)).to.equal('Status: Running.');

    ctx.feeds.last.emit({ connectionState: 'reconnecting', nextRetryAt: Date.now() + 1000 });
    await el.updateComplete;
    expect(text(region)).to.equal('Connection lost. Reconnecting…');

    ctx.feeds.last.emit({ connectionState: 'live', nextRetryAt: null });
    await el.updateComplete;
    expect(text(region)).to.equal('Live updates resumed.');

    ctx.feeds.last.emit({
      logs: [{ seq: 2, at: '2026-11-24T12:00:00.000Z', level: 'info', message: 'hello' }],
      task: makeTask({ progress: 10, seq: 2 }),
    });
    await el.updateComplete;
    expect(text(region)).to.equal('Live updates resumed.');

    ctx.feeds.last.emit({ task: makeTask({ phase: 'completed', seq: 3 }) });
    await el.updateComplete;
    expect(text(region)).to.equal('Status: Completed.');
  });
});

describe('agent-task-status: viewer tokens (issue 13)', () => {
  const ctx = useFakeFeeds();

  it('hands its access-token to the feed, and a new one to the running feed without remaking it', async () => {
    const el = await mount(
      html`<agent-task-status task-id="t-1" access-token="token-a"></agent-task-status>`,
    );
    const feed = ctx.feeds.last;
    expect(feed.config.accessToken).to.equal('token-a');
    el.setAttribute('access-token', 'token-b');
    await el.updateComplete;
    expect(ctx.feeds.last).to.equal(feed, 'the stream goes on');
    expect(feed.tokens).to.deep.equal(['token-b']);
  });

  it('asks the tokenProvider set on it when the feed asks, even one set after the feed was made', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    expect(await ctx.feeds.last.config.tokenProvider!()).to.equal(null, 'none set: none to give');
    el.tokenProvider = async () => 'from-the-host';
    expect(await ctx.feeds.last.config.tokenProvider!()).to.equal('from-the-host');
  });

  it('keeps a tokenProvider set before the element upgraded', async () => {
    const tag = `ats-late-${Math.random().toString(36).slice(2)}`;
    const el = document.createElement(tag) as AgentTaskStatus;
    const provider = async () => 'early';
    el.tokenProvider = provider;
    el.setAttribute('task-id', 't-1');
    document.body.append(el);
    customElements.define(tag, class extends AgentTaskStatus {});
    await el.updateComplete;
    expect(el.tokenProvider).to.equal(provider);
    expect(await ctx.feeds.last.config.tokenProvider!()).to.equal('early');
    el.remove();
  });

  it('says it is not authorized, in its message and label, and announces it', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    ctx.feeds.last.emit({ connectionState: 'unauthorized', problem: PROBLEMS.unauthorized });
    await el.updateComplete;
    expect(text(part(el, 'label'))).to.equal('Not authorized');
    expect(text(part(el, 'message'))).to.equal(`${PROBLEMS.unauthorized}.`);
    expect(has(el, 'banner')).to.equal(false);
    expect(el.connectionState).to.equal('unauthorized');
    expect(text(el.shadowRoot!.querySelector('[role="status"]'))).to.equal('Not authorized.');
  });
});
