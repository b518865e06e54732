// The inside of a panel's logs section, loaded on demand the first time a reader opens it
// (agent-task-status.ts): most panels of a dashboard are never opened, so their lines are never
// rendered and this file is never fetched. Lit comes from the element (LogListHost): a module
// that both files imported would become a third file that the main one loads up front.
import type { html as litHtml, nothing as litNothing } from 'lit';
import type { LogEntry } from '../../protocol/task.js';
import type { FeedView } from '../connection/task-feed-types.js';

export interface LogListHost {
  html: typeof litHtml;
  nothing: typeof litNothing;
  view: FeedView;
  /** Scrolled to the newest line, and staying there: no "Jump to latest". */
  following: boolean;
  /** "Load older lines" was clicked (called with the element as `this`, as Lit binds listeners). */
  onLoadOlder(): void;
}

/** The element, as the listeners below see it: Lit calls them with the render's host as `this`. */
interface Panel extends HTMLElement {
  following: boolean;
}

/** Scrolled up from the newest line: stop following (and offer "Jump to latest"); back down: follow. */
function onScroll(this: Panel, event: Event): void {
  const list = event.currentTarget as HTMLElement;
  this.following = list.scrollHeight - list.scrollTop - list.clientHeight < 8;
}

/** "Jump to latest": to the newest line, following again. The list is the button's previous sibling. */
function onJump(this: Panel, event: Event): void {
  const list = (event.currentTarget as HTMLElement).previousElementSibling!;
  this.following = true;
  list.scrollTop = list.scrollHeight;
}

const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** "Load older lines", the scrolling list (each line's time, level and text, as text), "Jump to latest". */
export function logList({ html, nothing, view, following, onLoadOlder }: LogListHost) {
  return html`${
      view.hasOlder
        ? html`<button part="load-older-button" @click=${onLoadOlder}>Load older lines</button>`
        : nothing
    }
    <div
      part="log-list"
      class="log-list"
      role="region"
      aria-label="Log lines"
      tabindex="0"
      @scroll=${onScroll}
    >
      ${
        view.logs.length
          ? html`<ol>
              ${view.logs.map(
                (line: LogEntry) =>
                  html`<li part="log-line" data-level=${line.level}>
                    <time part="log-time" datetime=${line.at}>${timeFormat.format(new Date(line.at))}</time>
                    <span part="log-level" class="level">${line.level}</span>
                    <span class="text">${line.message}</span>
                  </li>`,
              )}
            </ol>`
          : html`<p class="muted">No log lines yet.</p>`
      }
    </div>
    ${following ? nothing : html`<button part="jump-button" @click=${onJump}>Jump to latest</button>`}`;
}
