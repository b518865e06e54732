import { expect, html, waitUntil } from '@open-wc/testing';
import { sendKeys } from '@web/test-runner-commands';
import type { AgentTaskStatus } from '../../../widget/agent-task-status/agent-task-status.js';
import { logLines, makeTask } from './fake-feed.js';
import { countAlerts, has, mount, part, parts, text, useFakeFeeds } from './helpers.js';

describe('agent-task-status: logs (AC7.4)', () => {
  const ctx = useFakeFeeds();

  async function withLogs(count: number, phase: 'running' | 'completed' = 'running') {
    const el = await mount(
      html`<agent-task-status task-id="t-1" style="--ats-log-max-height: 5rem"></agent-task-status>`,
    );
    ctx.feeds.last.emit({ task: makeTask({ phase }), logs: logLines(1, count), connectionState: 'live' });
    await el.updateComplete;
    return el;
  }

  /** Opens the logs section and waits for its list (its renderer is loaded on the first opening). */
  async function open(el: AgentTaskStatus): Promise<HTMLElement> {
    const details = part<HTMLDetailsElement>(el, 'logs')!;
    details.open = true;
    await waitUntil(() => part(el, 'log-list'), 'the log list is rendered once the section opens');
    await el.updateComplete;
    return part(el, 'log-list')!;
  }

  const atBottom = (list: HTMLElement) => list.scrollHeight - list.scrollTop - list.clientHeight < 2;

  it('keeps the logs in a closed section that opens and closes from the keyboard', async () => {
    const el = await withLogs(3);
    const details = part<HTMLDetailsElement>(el, 'logs')!;
    expect(details.tagName).to.equal('DETAILS');
    expect(details.open).to.equal(false);

    part(el, 'logs-summary')!.focus();
    await sendKeys({ press: 'Enter' });
    expect(details.open).to.equal(true);
    await sendKeys({ press: 'Space' });
    expect(details.open).to.equal(false);
  });

  it('offers the logs after the task has completed', async () => {
    const el = await withLogs(4, 'completed');
    await open(el);
    expect(parts(el, 'log-line').map(text)).to.have.length(4);
    expect(text(part(el, 'logs-summary'))).to.equal('Logs (4)');
  });

  it("shows each line's local time in a <time datetime> and its level as text", async () => {
    const el = await withLogs(0);
    ctx.feeds.last.emit({
      logs: [{ seq: 2, at: '2026-11-24T12:03:04.000Z', level: 'error', message: 'disk full' }],
    });
    await open(el);
    const line = part(el, 'log-line')!;
    const time = line.querySelector('time')!;
    expect(time.getAttribute('datetime')).to.equal('2026-11-24T12:03:04.000Z');
    const local = new Date('2026-11-24T12:03:04.000Z');
    expect(text(time)).to.contain(String(local.getMinutes()).padStart(2, '0'));
    expect(text(line.querySelector('[part~="log-level"]'))).to.equal('error');
    expect(text(line)).to.contain('disk full');
  });

  it("shows a line's time, level and message on one row, keeping the message's own line breaks", async () => {
    const el = await withLogs(0);
    ctx.feeds.last.emit({
      logs: [{ seq: 1, at: '2026-11-24T12:03:04.000Z', level: 'info', message: 'first\nsecond' }],
    });
    await el.updateComplete;
    await open(el);
    const line = part(el, 'log-line')!;
    const box = (selector: string) => line.querySelector(selector)!.getBoundingClientRect();
    // On one row: each starts above where the time ends (inline-block baselines differ a little).
    expect(box('[part~="log-level"]').top).to.be.below(box('time').bottom);
    expect(box('.text').top).to.be.below(box('time').bottom);
    expect(box('.text').height).to.be.above(box('time').height * 1.5, 'the message keeps its line break');
  });

  it('follows new lines while scrolled to the newest one', async () => {
    const el = await withLogs(30);
    const list = await open(el);
    expect(list.scrollHeight).to.be.greaterThan(list.clientHeight);
    expect(atBottom(list)).to.equal(true);

    ctx.feeds.last.emit({ logs: logLines(1, 40) });
    await el.updateComplete;
    expect(atBottom(list)).to.equal(true);
    expect(has(el, 'jump-button')).to.equal(false);
  });

  it('renders no line before its section is first opened, and never measures its list while closed', async () => {
    // A dashboard of hundreds of panels: lines nobody opened cost no DOM, and no update of a
    // closed panel forces a layout of the page (reading a list's scrollHeight does).
    const el = await withLogs(3);
    expect(has(el, 'log-list')).to.equal(false);
    expect(parts(el, 'log-line')).to.have.length(0);

    const list = await open(el);
    expect(parts(el, 'log-line')).to.have.length(3);
    part<HTMLDetailsElement>(el, 'logs')!.open = false;
    let measured = 0;
    const real = Object.getOwnPropertyDescriptor(Element.prototype, 'scrollHeight')!;
    Object.defineProperty(list, 'scrollHeight', {
      get() {
        measured += 1;
        return real.get!.call(this);
      },
    });
    ctx.feeds.last.emit({ logs: logLines(1, 10) });
    await el.updateComplete;
    expect(measured).to.equal(0);
    expect(parts(el, 'log-line')).to.have.length(10, 'kept current while closed, once rendered');

    // Opened again, it scrolls to the newest line, and follows the next ones.
    await open(el);
    ctx.feeds.last.emit({ logs: logLines(1, 40) });
    await el.updateComplete;
    expect(measured).to.be.greaterThan(0);
    expect(atBottom(list)).to.equal(true);
  });

  it('stops following when the person scrolls up, and "Jump to latest" brings them back', async () => {
    const el = await withLogs(30);
    const list = await open(el);
    list.scrollTop = 0;
    list.dispatchEvent(new Event('scroll'));
    await el.updateComplete;

    ctx.feeds.last.emit({ logs: logLines(1, 40) });
    await el.updateComplete;
    expect(list.scrollTop).to.equal(0);
    const jump = part<HTMLButtonElement>(el, 'jump-button')!;
    expect(text(jump)).to.equal('Jump to latest');

    jump.click();
    await el.updateComplete;
    expect(atBottom(list)).to.equal(true);
    expect(has(el, 'jump-button')).to.equal(false);
    ctx.feeds.last.emit({ logs: logLines(1, 50) });
    await el.updateComplete;
    expect(atBottom(list)).to.equal(true);
  });

  it('loads older lines from the feed with "Load older lines", offered only while they exist', async () => {
    const el = await withLogs(5);
    await open(el);
    expect(has(el, 'load-older-button')).to.equal(false);

    ctx.feeds.last.emit({ hasOlder: true });
    await el.updateComplete;
    const button = part<HTMLButtonElement>(el, 'load-older-button')!;
    expect(text(button)).to.equal('Load older lines');
    button.focus();
    await sendKeys({ press: 'Enter' });
    expect(ctx.feeds.last.olderLoads).to.equal(1);
  });

  it('renders a log line of markup as text, creating no element', async () => {
    const el = await withLogs(0);
    const alerts = await countAlerts(
      () => el.shadowRoot!,
      async () => {
        ctx.feeds.last.emit({
          logs: [
            {
              seq: 1,
              at: '2026-11-24T12:00:00.000Z',
              level: 'info',
              message: '<img src=x onerror=alert(1)>',
            },
          ],
        });
        await el.updateComplete;
        await open(el);
      },
    );
    expect(el.shadowRoot!.querySelectorAll('img')).to.have.length(0);
    expect(alerts).to.equal(0);
    expect(text(part(el, 'log-line'))).to.contain('<img src=x onerror=alert(1)>');
  });
});
