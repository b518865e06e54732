import { fixture } from '@open-wc/testing';
import type { TemplateResult } from 'lit';
import '../../../widget/agent-task-status/define.js';
import type { AgentTaskStatus } from '../../../widget/agent-task-status/agent-task-status.js';
import { setDefaultFeedFactory } from '../../../widget/task-status-controller.js';
import { FakeFeeds } from './fake-feed.js';

/** Installs a fresh FakeFeeds as the default factory around each test of the calling suite. */
export function useFakeFeeds(): { readonly feeds: FakeFeeds } {
  const holder = { feeds: new FakeFeeds() };
  beforeEach(() => {
    holder.feeds = new FakeFeeds();
    setDefaultFeedFactory(holder.feeds.factory);
  });
  afterEach(() => setDefaultFeedFactory(undefined));
  return holder;
}

export async function mount(template: TemplateResult): Promise<AgentTaskStatus> {
  return fixture<AgentTaskStatus>(template);
}

export function part<T extends Element = HTMLElement>(el: AgentTaskStatus, name: string): T | null {
  return el.shadowRoot!.querySelector<T>(`[part~='${name}']`);
}

/**
 * Whether a part is rendered. Assert on this rather than comparing an element with null: a failing
 * assertion that holds a DOM node hangs wtr here (the runner never finishes serializing it).
 */
export function has(el: AgentTaskStatus, name: string): boolean {
  return part(el, name) !== null;
}

export function parts<T extends Element = HTMLElement>(el: AgentTaskStatus, name: string): T[] {
  return [...el.shadowRoot!.querySelectorAll<T>(`[part~='${name}']`)];
}

/** The visible text of an element, whitespace collapsed. */
export function text(node: Element | null): string {
  return (node?.textContent ?? '').replace(/\s+/g, ' ').trim();
}

/**
 * Runs `body` with window.alert counted instead of shown, and returns the count. If `body` left an
 * <img> in `root`, waits for it to fail to load first, so an injected onerror has run (and been
 * counted) rather than block the page later.
 */
export async function countAlerts(root: () => ParentNode, body: () => Promise<void>): Promise<number> {
  const real = window.alert;
  let calls = 0;
  window.alert = () => void calls++;
  try {
    await body();
    const img = root().querySelector('img');
    if (img && !img.complete) await new Promise((resolve) => img.addEventListener('error', resolve));
    return calls;
  } finally {
    window.alert = real;
  }
}
