import { LitElement, html, nothing } from 'lit';
import { phaseRank, type Phase } from '../../protocol/phases.js';
import type { Task } from '../../protocol/task.js';
import type { ConnectionState, FeedView } from '../connection/task-feed-types.js';
import { TaskStatusController } from '../task-status-controller.js';
import { styles } from './agent-task-status.styles.js';

export interface AgentTaskStatusChangeDetail {
  task: Task | null;
  previous: Task | null;
}

export interface AgentTaskConnectionChangeDetail {
  from: ConnectionState;
  to: ConnectionState;
}

const DEFAULT_POLL_INTERVAL_MS = 5000;
const MIN_POLL_INTERVAL_MS = 1000;

/** A phase in words: its name, capitalised ("Running"). */
const label = (phase: Phase) => phase[0]!.toUpperCase() + phase.slice(1);

/** A shape per phase, so the indicator never relies on colour alone (forced colours included). */
const GLYPHS: Record<Phase, string> = {
  queued: '○',
  starting: '◔',
  running: '●',
  completing: '◕',
  completed: '✓',
  failed: '✕',
  cancelled: '–',
};

/** The stepper's steps; the last one shows the outcome once there is one. */
const STEPS = ['Starting', 'Running', 'Completing', 'Done'];

/** The logs section's inside (log-list.ts), loaded when a reader first opens one; shared by every panel. */
let logList: typeof import('./log-list.js').logList | undefined;

/** What tells one status apart from the next; log lines alone are not a status change. */
const STATUS_FIELDS = ['id', 'phase', 'progress', 'message', 'title'] as const;

/**
 * @summary A real-time status panel for one AI-agent task: phase, progress, latest message and logs.
 *
 * @attr task-id - The task to follow.
 * @attr agent-id - Follow this agent's active task instead, switching when it starts a new one.
 * @attr endpoint - Base URL of the status server. Default: the page's origin.
 * @attr mode - `auto` (WebSocket, polling as fallback; default) or `polling` (no WebSocket).
 * @attr poll-interval - Milliseconds between polls while polling. Default: 5000; at least 1000.
 * @attr access-token - A viewer token for this task or agent, where the server requires one (README, "Access").
 *
 * @event agent-task-status-change - The task's status (phase, progress, message, title) or the task itself
 *   changed. `detail: { task, previous }`. Bubbles and is composed.
 * @event agent-task-connection-change - The connection state changed. `detail: { from, to }`, each one of
 *   `connecting` | `live` | `reconnecting` | `polling` | `offline` | `unauthorized`. Bubbles and is composed.
 *
 * @csspart base - The panel.
 * @csspart indicator - The status shape beside the label.
 * @csspart label - The status as text ("Running").
 * @csspart percent - The progress as text ("42%").
 * @csspart title - The task's title.
 * @csspart message - The latest message, or the not-found text.
 * @csspart stepper - The ordered list of steps.
 * @csspart step - Each step; also `step-done` or `step-current`.
 * @csspart progress - The progress bar's track.
 * @csspart progress-indicator - The progress bar's filled part.
 * @csspart banner - The reconnecting / real-time-unavailable notice.
 * @csspart retry-button - "Retry now" in the reconnecting banner.
 * @csspart refresh-button - "Refresh" in the real-time-unavailable banner.
 * @csspart logs - The expandable logs section (a `<details>`).
 * @csspart logs-summary - Its toggle (a `<summary>`).
 * @csspart log-list - The scrolling list of lines.
 * @csspart log-line - One line.
 * @csspart log-time - A line's time.
 * @csspart log-level - A line's level.
 * @csspart load-older-button - "Load older lines".
 * @csspart jump-button - "Jump to latest", shown when scrolled up from the newest line.
 *
 * @cssproperty --ats-font-family - Default: `system-ui, sans-serif`.
 * @cssproperty --ats-font-size - Default: `0.875rem`.
 * @cssproperty --ats-log-font-family - Default: `ui-monospace, monospace`.
 * @cssproperty --ats-background - Default: `#fff` (dark: `#0d1117`).
 * @cssproperty --ats-foreground - Default: `#1f2328` (dark: `#e6edf3`).
 * @cssproperty --ats-muted - Secondary text. Default: `#59636e` (dark: `#9198a1`).
 * @cssproperty --ats-border-color - Default: `#d1d9e0` (dark: `#3d444d`).
 * @cssproperty --ats-color-accent - Active phases, progress, focus. Default: `#0969da` (dark: `#4493f8`).
 * @cssproperty --ats-color-success - Default: `#1a7f37` (dark: `#3fb950`).
 * @cssproperty --ats-color-danger - Default: `#d1242f` (dark: `#f85149`).
 * @cssproperty --ats-color-warning - Banners, warn lines. Default: `#9a6700` (dark: `#d29922`).
 * @cssproperty --ats-radius - Default: `6px`.
 * @cssproperty --ats-spacing - Default: `0.75rem`.
 * @cssproperty --ats-log-max-height - Height of the log list before it scrolls. Default: `16rem`.
 */
export class AgentTaskStatus extends LitElement {
  static override styles = styles;

  static override properties = {
    taskId: { attribute: 'task-id' },
    agentId: { attribute: 'agent-id' },
    endpoint: {},
    mode: {},
    pollInterval: { attribute: 'poll-interval', type: Number },
    accessToken: { attribute: 'access-token' },
    // A property Lit keeps: one set before the element upgrades (a framework, an early script) survives.
    tokenProvider: { attribute: false },
    following: { state: true },
    announcement: { state: true },
    tick: { state: true },
  };

  declare taskId: string | null;
  declare agentId: string | null;
  declare endpoint: string | null;
  declare mode: string;
  declare pollInterval: number;
  declare accessToken: string | null;
  /**
   * Returns a fresh viewer token: called before the current one expires and when the server
   * refuses it; resolve to null when there is none. Set it instead of (or with) `access-token`.
   */
  declare tokenProvider: (() => Promise<string | null>) | null;
  /** The log list is scrolled to the newest line and stays there as lines arrive. */
  declare private following: boolean;
  declare private announcement: string;
  /** Bumped every second while reconnecting, to redraw the countdown. */
  declare private tick: number;

  readonly #feed = new TaskStatusController(this, {
    settings: () => ({
      endpoint: this.endpoint ?? undefined,
      taskId: this.taskId ?? undefined,
      agentId: this.agentId ?? undefined,
      mode: this.mode === 'polling' ? 'polling' : 'auto',
      pollIntervalMs: this.#pollMs,
      accessToken: this.accessToken,
      tokenProvider: this.tokenProvider,
    }),
    onViewChange: (next, previous) => this.#viewChanged(next, previous),
  });
  #ticker: ReturnType<typeof setInterval> | undefined;
  /** The logs section was opened: its lines are rendered from then on (until then, never). */
  #logsOpened = false;
  #shownLogs: FeedView['logs'] | undefined;

  constructor() {
    super();
    this.taskId = null;
    this.agentId = null;
    this.endpoint = null;
    this.mode = 'auto';
    this.pollInterval = DEFAULT_POLL_INTERVAL_MS;
    this.accessToken = null;
    this.tokenProvider = null;
    this.following = true;
    this.announcement = '';
    this.tick = 0;
  }

  /** The latest status of the task, or null before it arrives (or when there is none). */
  get task(): Task | null {
    return this.#feed.view.task;
  }

  /** `connecting` | `live` | `reconnecting` | `polling` | `offline` | `unauthorized`. */
  get connectionState(): ConnectionState {
    return this.#feed.view.connectionState;
  }

  get #pollMs(): number {
    const ms = Number(this.pollInterval);
    return ms > 0 ? Math.max(ms, MIN_POLL_INTERVAL_MS) : DEFAULT_POLL_INTERVAL_MS;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.#syncTicker();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#syncTicker();
  }

  protected override updated(): void {
    this.#syncTicker();
    // Set through CSSOM, not a style attribute, so host pages with a strict CSP can embed us.
    const bar = this.renderRoot.querySelector<HTMLElement>('.bar');
    if (bar) bar.style.width = `${this.#feed.view.task?.progress}%`;
    const logs = this.#feed.view.logs;
    if (logs !== this.#shownLogs) {
      this.#shownLogs = logs;
      if (this.following) this.#scrollToLatest();
    }
  }

  protected override render() {
    const view = this.#feed.view;
    const { task } = view;
    const phase = task?.phase;
    const progress = task?.progress ?? null;
    const idle = !this.taskId && !this.agentId;
    const refused = view.connectionState === 'unauthorized';
    const message = refused
      ? `${view.problem}.`
      : view.notFound
        ? this.agentId && !this.taskId
          ? 'This agent has no active task.'
          : 'Task not found.'
        : task?.message;
    const status = phase
      ? label(phase)
      : refused
        ? 'Not authorized'
        : view.notFound
          ? 'Not found'
          : idle
            ? 'No task'
            : view.connectionState === 'connecting'
              ? 'Connecting…'
              : 'Unavailable';
    return html`<div part="base" class="base" data-phase=${phase ?? 'none'}>
      ${task?.title ? html`<p part="title" class="title">${task.title}</p>` : nothing}
      <div class="head">
        <span part="indicator" class="indicator" aria-hidden="true">${phase ? GLYPHS[phase] : '?'}</span>
        <span part="label">${status}</span>
        ${progress === null ? nothing : html`<span part="percent" class="percent">${progress}%</span>`}
      </div>
      ${phase ? this.#renderStepper(phase) : nothing}
      ${
        progress === null
          ? nothing
          : html`<div
              part="progress"
              class="progress"
              role="progressbar"
              aria-label="Task progress"
              aria-valuenow=${progress}
            >
              <div part="progress-indicator" class="bar"></div>
            </div>`
      }
      ${message ? html`<p part="message">${message}</p>` : nothing}
      ${idle ? nothing : this.#renderBanner(view)} ${task ? this.#renderLogs(view) : nothing}
      <div role="status" aria-live="polite" class="vh">${this.announcement}</div>
    </div>`;
  }

  #renderStepper(phase: Phase) {
    const rank = phaseRank(phase);
    return html`<ol part="stepper" class="stepper" aria-label="Steps">
      ${STEPS.map((name, i) => {
        const state = i + 1 < rank ? 'done' : i + 1 === rank ? 'current' : 'upcoming';
        return html`<li
          part="step step-${state}"
          data-state=${state}
          aria-current=${state === 'current' ? 'step' : nothing}
        >
          ${i === 3 && rank === 4 ? label(phase) : name}${
            state === 'done' ? html`<span class="vh"> (done)</span>` : nothing
          }
        </li>`;
      })}
    </ol>`;
  }

  #renderBanner(view: FeedView) {
    const state = view.connectionState;
    const reconnecting = state === 'reconnecting';
    if (!reconnecting && state !== 'polling' && state !== 'offline') return nothing;
    const s = view.nextRetryAt === null ? 0 : Math.ceil((view.nextRetryAt - Date.now()) / 1000);
    // While polling, the feed's problem is the headline itself; offline, it is the reason.
    const detail = reconnecting
      ? s > 0
        ? `retrying in ${s} s`
        : 'retrying now'
      : state === 'polling'
        ? `Polling — checking every ${Math.round(this.#pollMs / 1000)} s.`
        : (view.problem ?? 'The status server cannot be reached.');
    return html`<div part="banner" class="banner">
      <p>
        ${
          reconnecting
            ? 'Reconnecting…'
            : `${(state === 'polling' && view.problem) || 'Real-time updates unavailable'}.`
        }
        <span class="muted">${detail}</span>
      </p>
      <button
        part=${reconnecting ? 'retry-button' : 'refresh-button'}
        @click=${() => (reconnecting ? this.#feed.retryNow() : this.#feed.refresh())}
      >
        ${reconnecting ? 'Retry now' : 'Refresh'}
      </button>
    </div>`;
  }

  #renderLogs(view: FeedView) {
    return html`<details part="logs" class="logs" @toggle=${this.#onToggle}>
      <summary part="logs-summary">Logs <span class="muted">(${view.logs.length})</span></summary>
      ${
        this.#logsOpened && logList
          ? logList({
              html,
              nothing,
              view,
              following: this.following,
              onLoadOlder: this.#onLoadOlder,
            })
          : nothing
      }
    </details>`;
  }

  #viewChanged(next: FeedView, previous: FeedView): void {
    const said: string[] = [];
    if (STATUS_FIELDS.some((field) => next.task?.[field] !== previous.task?.[field])) {
      this.#emit('agent-task-status-change', { task: next.task, previous: previous.task });
    }
    if (next.task && (next.task.phase !== previous.task?.phase || next.task.id !== previous.task.id)) {
      said.push(`Status: ${label(next.task.phase)}.`);
    }
    if (next.notFound && !previous.notFound) said.push('Not found.');
    const from = previous.connectionState;
    const to = next.connectionState;
    if (from !== to) {
      this.#emit('agent-task-connection-change', { from, to });
      if (to === 'reconnecting') said.push('Connection lost. Reconnecting…');
      else if (to === 'polling' || to === 'offline') said.push('Real-time updates unavailable.');
      else if (to === 'live' && from !== 'connecting') said.push('Live updates resumed.');
      else if (to === 'unauthorized') said.push('Not authorized.');
    }
    if (said.length) this.announcement = said.join(' ');
  }

  #emit(type: string, detail: AgentTaskStatusChangeDetail | AgentTaskConnectionChangeDetail): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  /** Runs the countdown timer only while connected and reconnecting with a retry time. */
  #syncTicker(): void {
    const view = this.#feed.view;
    const want = this.isConnected && view.connectionState === 'reconnecting' && view.nextRetryAt !== null;
    if (want && this.#ticker === undefined) {
      this.#ticker = setInterval(() => this.tick++, 1000);
    } else if (!want && this.#ticker !== undefined) {
      clearInterval(this.#ticker);
      this.#ticker = undefined;
    }
  }

  /**
   * The log list while its section is open; null while it is closed (the default). Reading a
   * list's scrollHeight forces a layout of the page, and a dashboard of 500 panels getting their
   * snapshots did so 500 times over: 5 s before the last panel was live (issue 12).
   */
  get #logList(): HTMLElement | null {
    return this.renderRoot.querySelector('[open] > .log-list');
  }

  #scrollToLatest(): void {
    const list = this.#logList;
    if (list) list.scrollTop = list.scrollHeight;
  }

  /** Opened: renders the lines (loading their renderer the first time), scrolled to the newest. */
  async #onToggle(event: Event): Promise<void> {
    if (!(event.target as HTMLDetailsElement).open) return;
    try {
      logList ??= (await import('./log-list.js')).logList;
    } catch {
      // Not loaded (offline, say): the next opening tries again (Chromium retries a failed import).
      return;
    }
    this.#logsOpened = true;
    this.requestUpdate();
    await this.updateComplete;
    if (this.following) this.#scrollToLatest();
  }

  /** A second click while a page loads gets the same page (TaskFeed.loadOlder). */
  async #onLoadOlder(): Promise<void> {
    await this.#feed.loadOlder();
    await this.updateComplete;
    // The button goes once nothing older is left; keep keyboard focus inside the logs.
    if (!this.#feed.view.hasOlder) this.#logList?.focus();
  }
}
