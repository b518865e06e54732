// One panel's data path, run in Node: the widget's real createTaskFeed (socket link, poller, seq
// merge) with the `ws` package's WebSocket and Node's fetch injected. Each panel gets its own
// LinkRegistry, so its own socket, as a panel in its own browser would.
import { WebSocket } from 'ws';
import type { ClientMessage } from '../../../protocol/index.js';
import { LinkRegistry } from '../../../widget/connection/link-registry.js';
import type { SocketLike, WebSocketCtor } from '../../../widget/connection/socket-link.js';
import { createTaskFeed, type TaskFeedDeps } from '../../../widget/connection/task-feed.js';
import type { ConnectionState, FeedView, TaskFeed } from '../../../widget/connection/task-feed-types.js';

export interface StateChange {
  state: ConnectionState;
  at: number;
}

/** A hidden flag the test flips, with `visibilitychange` on the same target, like a document. */
class FakeDocument extends EventTarget {
  hidden = false;
}

export interface NodePanelOptions {
  endpoint: string;
  taskId: string;
  pollIntervalMs?: number;
  random?: () => number;
}

export class NodePanel {
  readonly feed: TaskFeed;
  readonly window = new EventTarget();
  readonly document = new FakeDocument();
  readonly navigator = { onLine: true };
  /** Every connection state the panel went through, with when. */
  readonly states: StateChange[] = [];
  /** The seqs of the lines shown in every view, in order: proof of what was ever on screen. */
  readonly shown: number[][] = [];
  /** Every message the panel sent on any of its sockets. */
  readonly sent: { at: number; message: ClientMessage }[] = [];
  /** Every socket the panel opened. */
  readonly sockets: WebSocket[] = [];
  #view: FeedView;
  readonly #waiters = new Set<() => void>();

  constructor(options: NodePanelOptions) {
    const sockets = this.sockets;
    const sent = this.sent;
    const Ctor = class extends WebSocket {
      constructor(url: string) {
        super(url);
        // A browser's WebSocket reports a failure as an event and then closes; `ws` also emits
        // 'error', which throws without a listener. The link listens for 'close', as in a browser.
        this.on('error', () => {});
        sockets.push(this);
      }

      override send(data: string, ...rest: unknown[]): void {
        sent.push({ at: Date.now(), message: JSON.parse(data) as ClientMessage });
        (super.send as (...args: unknown[]) => void)(data, ...rest);
      }
    } as unknown as WebSocketCtor & (new (url: string) => SocketLike);
    const deps: TaskFeedDeps & { BroadcastChannel: null; locks: null } = {
      WebSocket: Ctor,
      fetch: (url, init) => fetch(url, init),
      window: this.window,
      document: this.document,
      navigator: this.navigator,
      links: new LinkRegistry(),
      // No sharing between "tabs": every panel here stands for its own browser (Node has a
      // global BroadcastChannel, which would otherwise join them into one socket).
      BroadcastChannel: null,
      locks: null,
      ...(options.random ? { random: options.random } : {}),
    };
    this.feed = createTaskFeed(
      {
        endpoint: options.endpoint,
        taskId: options.taskId,
        mode: 'auto',
        pollIntervalMs: options.pollIntervalMs ?? 1_000,
        onChange: (view) => this.#onChange(view),
      },
      deps,
    );
    this.#view = this.feed.view;
    this.states.push({ state: this.#view.connectionState, at: Date.now() });
  }

  get view(): FeedView {
    return this.#view;
  }

  start(): void {
    this.feed.start();
  }

  stop(): void {
    this.feed.stop();
    for (const ws of this.sockets) ws.terminate();
  }

  /** Resolves with the first view (the current one included) that satisfies `predicate`. */
  waitFor(predicate: (view: FeedView) => boolean, timeoutMs: number, what: string): Promise<FeedView> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate(this.#view)) return;
        finish();
        resolve(this.#view);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no ${what} within ${timeoutMs} ms; last view: ${describe(this.#view)}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** When the panel first entered `state` after `since` (epoch ms), or null. */
  enteredAt(state: ConnectionState, since: number): number | null {
    return this.states.find((change) => change.state === state && change.at >= since)?.at ?? null;
  }

  #onChange(view: FeedView): void {
    const previous = this.#view;
    this.#view = view;
    if (view.connectionState !== previous.connectionState) {
      this.states.push({ state: view.connectionState, at: Date.now() });
    }
    if (view.logs !== previous.logs) this.shown.push(view.logs.map((line) => line.seq));
    for (const waiter of [...this.#waiters]) waiter();
  }
}

export function describe(view: FeedView): string {
  const seqs = view.logs.map((line) => line.seq);
  return JSON.stringify({
    state: view.connectionState,
    phase: view.task?.phase,
    taskSeq: view.task?.seq,
    lines: seqs.length,
    firstSeq: seqs[0],
    lastSeq: seqs.at(-1),
    problem: view.problem,
  });
}
