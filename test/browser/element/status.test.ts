import { expect, html } from '@open-wc/testing';
import { PHASES } from '../../../protocol/phases.js';
import { makeTask } from './fake-feed.js';
import { countAlerts, has, mount, part, parts, text, useFakeFeeds } from './helpers.js';

describe('agent-task-status: status, stepper and progress', () => {
  const ctx = useFakeFeeds();

  it('says "Connecting…" in words before the first status arrives', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    expect(text(part(el, 'label'))).to.equal('Connecting…');
    expect(has(el, 'stepper')).to.equal(false);
  });

  it('labels every phase with text beside a distinct indicator shape (AC7.1)', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    const expected = ['Queued', 'Starting', 'Running', 'Completing', 'Completed', 'Failed', 'Cancelled'];
    const shapes = new Set<string>();
    for (const [i, phase] of PHASES.entries()) {
      ctx.feeds.last.emit({ task: makeTask({ phase }) });
      await el.updateComplete;
      expect(text(part(el, 'label'))).to.equal(expected[i]);
      expect(part(el, 'indicator')!.getAttribute('aria-hidden')).to.equal('true');
      shapes.add(text(part(el, 'indicator')));
    }
    expect(shapes.size).to.equal(PHASES.length);
  });

  it('shows the phase as an ordered list of steps with the current one marked (AC7.3)', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    ctx.feeds.last.emit({ task: makeTask({ phase: 'running' }) });
    await el.updateComplete;

    const stepper = part(el, 'stepper')!;
    expect(stepper.tagName).to.equal('OL');
    const steps = parts(el, 'step');
    expect(steps.map((s) => s.getAttribute('data-state'))).to.deep.equal([
      'done',
      'current',
      'upcoming',
      'upcoming',
    ]);
    expect(steps.map((s) => s.getAttribute('aria-current'))).to.deep.equal([null, 'step', null, null]);
    expect(text(steps[1]!)).to.equal('Running');

    ctx.feeds.last.emit({ task: makeTask({ phase: 'completing' }) });
    await el.updateComplete;
    expect(parts(el, 'step')[2]!.getAttribute('aria-current')).to.equal('step');
  });

  it('names the last step after the outcome once the task ends (AC7.3)', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    for (const [phase, label] of [
      ['completed', 'Completed'],
      ['failed', 'Failed'],
      ['cancelled', 'Cancelled'],
    ] as const) {
      ctx.feeds.last.emit({ task: makeTask({ phase }) });
      await el.updateComplete;
      const last = parts(el, 'step')[3]!;
      expect(text(last)).to.equal(label);
      expect(last.getAttribute('aria-current')).to.equal('step');
      expect(parts(el, 'step-done')).to.have.length(3);
    }
  });

  it('shows a progress bar with its value while progress is known, and none while it is null (AC7.3)', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    ctx.feeds.last.emit({ task: makeTask({ progress: null }) });
    await el.updateComplete;
    expect(el.shadowRoot!.querySelectorAll('[role="progressbar"]')).to.have.length(0);

    ctx.feeds.last.emit({ task: makeTask({ progress: 42 }) });
    await el.updateComplete;
    const bar = el.shadowRoot!.querySelector('[role="progressbar"]')!;
    expect(bar.getAttribute('part')).to.equal('progress');
    expect(bar.getAttribute('aria-valuenow')).to.equal('42');
    // 0 and 100 are a progressbar's default aria-valuemin and aria-valuemax (WAI-ARIA 1.2).
    expect(bar.hasAttribute('aria-valuemin') || bar.hasAttribute('aria-valuemax')).to.equal(false);
    expect(bar.getAttribute('aria-label')).to.equal('Task progress');
    expect(part(el, 'progress-indicator')!.style.width).to.equal('42%');
    expect(text(part(el, 'percent'))).to.equal('42%');

    ctx.feeds.last.emit({ task: makeTask({ progress: null }) });
    await el.updateComplete;
    expect(has(el, 'progress')).to.equal(false);
  });

  it('shows the task title and its latest message', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    ctx.feeds.last.emit({
      task: makeTask({ title: 'Refactor the billing module', message: 'Running tests' }),
    });
    await el.updateComplete;
    expect(text(part(el, 'title'))).to.equal('Refactor the billing module');
    expect(text(part(el, 'message'))).to.equal('Running tests');

    ctx.feeds.last.emit({ task: makeTask({ title: null, message: 'Writing the report' }) });
    await el.updateComplete;
    expect(has(el, 'title')).to.equal(false);
    expect(text(part(el, 'message'))).to.equal('Writing the report');
  });

  it('says plainly when the task does not exist', async () => {
    const el = await mount(html`<agent-task-status task-id="t-404"></agent-task-status>`);
    ctx.feeds.last.emit({ notFound: true, connectionState: 'live' });
    await el.updateComplete;
    expect(text(part(el, 'label'))).to.equal('Not found');
    expect(text(part(el, 'message'))).to.equal('Task not found.');
    expect(has(el, 'logs')).to.equal(false);
  });

  it('says the agent has no active task when following an agent that has none', async () => {
    const el = await mount(html`<agent-task-status agent-id="agent-7"></agent-task-status>`);
    ctx.feeds.last.emit({ notFound: true, connectionState: 'live' });
    await el.updateComplete;
    expect(text(part(el, 'message'))).to.equal('This agent has no active task.');
  });

  it('renders markup in the title and message as text', async () => {
    const el = await mount(html`<agent-task-status task-id="t-1"></agent-task-status>`);
    const alerts = await countAlerts(
      () => el.shadowRoot!,
      async () => {
        ctx.feeds.last.emit({
          task: makeTask({ title: '<b>bold</b>', message: '<img src=x onerror=alert(1)>' }),
        });
        await el.updateComplete;
      },
    );
    expect(el.shadowRoot!.querySelectorAll('b, img')).to.have.length(0);
    expect(alerts).to.equal(0);
    expect(text(part(el, 'title'))).to.equal('<b>bold</b>');
    expect(text(part(el, 'message'))).to.equal('<img src=x onerror=alert(1)>');
  });
});
