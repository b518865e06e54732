import { expect, html } from '@open-wc/testing';
import { emulateMedia, executeServerCommand } from '@web/test-runner-commands';
import type { AgentTaskStatus } from '../../../widget/agent-task-status/agent-task-status.js';
import type { FeedView } from '../../../widget/connection/task-feed-types.js';
import { logLines, makeTask } from './fake-feed.js';
import { mount, part, useFakeFeeds } from './helpers.js';

describe('agent-task-status: accessibility', () => {
  const ctx = useFakeFeeds();

  async function shown(view: Partial<FeedView>): Promise<AgentTaskStatus> {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    ctx.feeds.last.emit(view);
    await el.updateComplete;
    return el;
  }

  const running = makeTask({ title: 'Migrate the database', message: 'Copying rows', progress: 40 });

  it('is accessible while live', async () => {
    const el = await shown({ task: running, logs: logLines(1, 3), connectionState: 'live' });
    await expect(el).to.be.accessible();
  });

  it('is accessible while reconnecting', async () => {
    const el = await shown({
      task: running,
      connectionState: 'reconnecting',
      nextRetryAt: Date.now() + 3000,
    });
    await expect(el).to.be.accessible();
  });

  it('is accessible while polling', async () => {
    const el = await shown({ task: running, connectionState: 'polling' });
    await expect(el).to.be.accessible();
  });

  it('is accessible while offline', async () => {
    const el = await shown({ task: running, connectionState: 'offline', problem: 'Server unreachable.' });
    await expect(el).to.be.accessible();
  });

  it('is accessible when completed with the logs open and older lines offered', async () => {
    const el = await shown({
      task: makeTask({ phase: 'completed', progress: 100, message: 'Done' }),
      logs: [...logLines(1, 2), ...logLines(3, 1, 'warn'), ...logLines(4, 1, 'error')],
      hasOlder: true,
      connectionState: 'live',
    });
    const details = part<HTMLDetailsElement>(el, 'logs')!;
    details.open = true;
    await el.updateComplete;
    await expect(el).to.be.accessible();
  });

  it('is accessible when the task is not found', async () => {
    const el = await shown({ notFound: true, connectionState: 'live' });
    await expect(el).to.be.accessible();
  });

  it('is accessible in the dark colour scheme', async () => {
    await emulateMedia({ colorScheme: 'dark' });
    try {
      const el = await shown({
        task: makeTask({ phase: 'failed', message: 'Out of memory' }),
        logs: logLines(1, 2, 'error'),
        connectionState: 'polling',
      });
      expect(getComputedStyle(el).getPropertyValue('--ats-background').trim()).to.equal('#0d1117');
      part<HTMLDetailsElement>(el, 'logs')!.open = true;
      await expect(el).to.be.accessible();
    } finally {
      await emulateMedia({ colorScheme: 'light' });
    }
  });

  it('keeps working controls at full contrast in forced colours, and greys only steps not reached', async () => {
    const el = await shown({
      task: makeTask({ phase: 'running', progress: 40 }),
      connectionState: 'reconnecting',
    });
    await executeServerCommand('emulate-forced-colors', true);
    try {
      expect(matchMedia('(forced-colors: active)').matches).to.equal(true);
      const border = (node: Element) => getComputedStyle(node).borderTopColor;
      const probe = document.body.appendChild(document.createElement('div'));
      probe.style.color = 'CanvasText';
      const canvasText = getComputedStyle(probe).color;
      probe.remove();
      expect(border(part(el, 'base')!)).to.equal(canvasText);
      const steps = [...el.shadowRoot!.querySelectorAll('[part~="step"]')];
      const todo = steps.filter((s) => !s.matches('[data-state="done"], [aria-current]'));
      const reached = steps.filter((s) => s.matches('[data-state="done"], [aria-current]'));
      expect(todo.length, 'steps not reached').to.be.greaterThan(0);
      expect(reached.length, 'steps reached').to.be.greaterThan(0);
      const grey = border(todo[0]!);
      expect(grey).to.not.equal(canvasText);
      expect(border(part(el, 'retry-button')!)).to.equal(canvasText);
      for (const step of reached) expect(border(step)).to.not.equal(grey);
    } finally {
      await executeServerCommand('emulate-forced-colors', false);
    }
  });

  it('does not animate the indicator when reduced motion is preferred', async () => {
    const el = await shown({ task: makeTask({ phase: 'running' }), connectionState: 'live' });
    expect(getComputedStyle(part(el, 'indicator')!).animationName).to.equal('pulse');
    await emulateMedia({ reducedMotion: 'reduce' });
    try {
      expect(getComputedStyle(part(el, 'indicator')!).animationName).to.equal('none');
    } finally {
      await emulateMedia({ reducedMotion: 'no-preference' });
    }
  });

  it('sets the element to display block and hides it with the hidden attribute', async () => {
    const el = await shown({ task: running });
    expect(getComputedStyle(el).display).to.equal('block');
    el.hidden = true;
    expect(getComputedStyle(el).display).to.equal('none');
  });
});
