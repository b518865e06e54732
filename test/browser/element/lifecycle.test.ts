import { expect, html, oneEvent } from '@open-wc/testing';
import { logLines, makeTask } from './fake-feed.js';
import { mount, part, text, useFakeFeeds } from './helpers.js';

describe('agent-task-status: feed lifecycle', () => {
  const ctx = useFakeFeeds();

  it('starts one feed for the task on connect, defaulting to the page origin and 5 s polls', async () => {
    await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    expect(ctx.feeds.made).to.have.length(1);
    const { config, starts } = ctx.feeds.last;
    expect(starts).to.equal(1);
    expect(config).to.include({
      endpoint: location.origin,
      taskId: 't-1',
      agentId: undefined,
      mode: 'auto',
      pollIntervalMs: 5000,
    });
  });

  it('passes endpoint, agent-id, mode and poll-interval to the feed', async () => {
    await mount(
      html`<agent-task-status
        agent-id="agent-7"
        endpoint="https://status.example.com"
        mode="polling"
        poll-interval="2500"
      ></agent-task-status>`,
    );
    expect(ctx.feeds.last.config).to.include({
      endpoint: 'https://status.example.com',
      taskId: undefined,
      agentId: 'agent-7',
      mode: 'polling',
      pollIntervalMs: 2500,
    });
  });

  it('makes no feed until a task-id or agent-id is set, then makes one', async () => {
    const el = await mount(html`<agent-task-status></agent-task-status>`);
    expect(ctx.feeds.made).to.have.length(0);
    expect(text(part(el, 'label'))).to.equal('No task');
    el.setAttribute('task-id', 't-9');
    await el.updateComplete;
    expect(ctx.feeds.made).to.have.length(1);
    expect(ctx.feeds.last.running).to.equal(true);
  });

  for (const [attribute, value, field, expected] of [
    ['task-id', 't-2', 'taskId', 't-2'],
    ['agent-id', 'agent-8', 'agentId', 'agent-8'],
    ['endpoint', 'https://other.example.com', 'endpoint', 'https://other.example.com'],
    ['mode', 'polling', 'mode', 'polling'],
    ['poll-interval', '9000', 'pollIntervalMs', 9000],
  ] as const) {
    it(`replaces the feed when ${attribute} changes`, async () => {
      const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
      const first = ctx.feeds.last;
      el.setAttribute(attribute, value);
      await el.updateComplete;
      expect(ctx.feeds.made).to.have.length(2);
      expect(first.running).to.equal(false);
      expect(ctx.feeds.last.running).to.equal(true);
      expect(ctx.feeds.last.config[field]).to.equal(expected);
    });
  }

  it('keeps the feed when an attribute is set to the value it already has', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    el.setAttribute('poll-interval', '5000');
    el.setAttribute('task-id', 't-1');
    await el.updateComplete;
    expect(ctx.feeds.made).to.have.length(1);
  });

  it('ignores views from a feed it has replaced', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    const first = ctx.feeds.last;
    el.taskId = 't-2';
    await el.updateComplete;
    first.emit({ task: makeTask({ id: 't-1', phase: 'failed' }) });
    await el.updateComplete;
    expect(el.task).to.equal(null);
    expect(text(part(el, 'label'))).to.equal('Connecting…');
  });

  it('stops the feed when removed from the page', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    el.remove();
    expect(ctx.feeds.last.running).to.equal(false);
    expect(ctx.feeds.last.stops).to.equal(1);
  });

  it('stops and restarts the same feed when moved elsewhere in the page, keeping what it shows', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    ctx.feeds.last.emit({ task: makeTask({ phase: 'completing' }), connectionState: 'live' });
    const elsewhere = document.createElement('section');
    document.body.append(elsewhere);
    try {
      elsewhere.append(el);
      await el.updateComplete;
      expect(ctx.feeds.made).to.have.length(1);
      expect(ctx.feeds.last).to.include({ starts: 2, stops: 1, running: true });
      expect(text(part(el, 'label'))).to.equal('Completing');
    } finally {
      elsewhere.remove();
    }
  });

  it('leaves no feed running and no timer behind after mounting and removing 100 times', async () => {
    const realSet = window.setInterval;
    const realClear = window.clearInterval;
    const live = new Set<number>();
    let made = 0;
    window.setInterval = ((fn: () => void, ms?: number) => {
      const id = realSet(fn, ms);
      live.add(id);
      made++;
      return id;
    }) as typeof window.setInterval;
    window.clearInterval = ((id?: number) => {
      if (id !== undefined) live.delete(id);
      realClear(id);
    }) as typeof window.clearInterval;
    try {
      for (let i = 0; i < 100; i++) {
        const el = document.createElement('agent-task-status');
        el.taskId = `t-${i}`;
        document.body.append(el);
        await el.updateComplete;
        ctx.feeds.last.emit({
          task: makeTask(),
          connectionState: 'reconnecting',
          nextRetryAt: Date.now() + 5000,
        });
        await el.updateComplete;
        el.remove();
      }
    } finally {
      window.setInterval = realSet;
      window.clearInterval = realClear;
    }
    expect(ctx.feeds.made).to.have.length(100);
    expect(ctx.feeds.running).to.equal(0);
    expect(ctx.feeds.made.every((f) => f.starts === 1 && f.stops === 1)).to.equal(true);
    expect(made).to.equal(100);
    expect(live.size).to.equal(0);
  });
});

describe('agent-task-status: properties and events', () => {
  const ctx = useFakeFeeds();

  it('exposes the latest task and connection state as properties', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    expect(el.task).to.equal(null);
    expect(el.connectionState).to.equal('connecting');
    const task = makeTask({ phase: 'starting' });
    ctx.feeds.last.emit({ task, connectionState: 'live' });
    expect(el.task).to.equal(task);
    expect(el.connectionState).to.equal('live');
  });

  it('fires a bubbling, composed agent-task-status-change with the task and the previous one', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    const first = makeTask({ phase: 'starting' });
    let heard = oneEvent(document, 'agent-task-status-change');
    ctx.feeds.last.emit({ task: first });
    let event = await heard;
    expect(event.target === el, 'dispatched by the element').to.equal(true);
    expect(event.bubbles).to.equal(true);
    expect(event.composed).to.equal(true);
    expect(event.detail).to.deep.equal({ task: first, previous: null });

    const second = makeTask({ phase: 'running', progress: 5, seq: 2 });
    heard = oneEvent(el, 'agent-task-status-change');
    ctx.feeds.last.emit({ task: second });
    event = await heard;
    expect(event.detail.task).to.equal(second);
    expect(event.detail.previous).to.equal(first);
  });

  it('fires no status change for log lines alone', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    ctx.feeds.last.emit({ task: makeTask() });
    let count = 0;
    el.addEventListener('agent-task-status-change', () => count++);
    ctx.feeds.last.emit({ task: makeTask({ seq: 5 }), logs: logLines(2, 4) });
    ctx.feeds.last.emit({ task: makeTask({ message: 'new message', seq: 6 }) });
    expect(count).to.equal(1);
  });

  it('fires a bubbling, composed agent-task-connection-change with from and to', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    const seen: Array<{ from: string; to: string }> = [];
    const record = (e: CustomEvent<{ from: string; to: string }>) => seen.push(e.detail);
    document.addEventListener('agent-task-connection-change', record);
    try {
      const heard = oneEvent(el, 'agent-task-connection-change');
      ctx.feeds.last.emit({ connectionState: 'live' });
      const event = await heard;
      expect(event.bubbles).to.equal(true);
      expect(event.composed).to.equal(true);
      ctx.feeds.last.emit({ connectionState: 'live', task: makeTask() });
      ctx.feeds.last.emit({ connectionState: 'reconnecting', nextRetryAt: Date.now() + 1000 });
      ctx.feeds.last.emit({ connectionState: 'polling', nextRetryAt: null });
    } finally {
      document.removeEventListener('agent-task-connection-change', record);
    }
    expect(seen).to.deep.equal([
      { from: 'connecting', to: 'live' },
      { from: 'live', to: 'reconnecting' },
      { from: 'reconnecting', to: 'polling' },
    ]);
  });
});
