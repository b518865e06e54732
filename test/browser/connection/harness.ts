import { Server, WebSocket as MockWebSocket, type Client } from 'mock-socket';
import { PROTOCOL_VERSION } from '../../../protocol/constants.js';
import type { ClientMessage } from '../../../protocol/ws-messages.js';
import { LinkRegistry } from '../../../widget/connection/link-registry.js';
import type { WebSocketCtor } from '../../../widget/connection/socket-link.js';
import { createTaskFeed, type TaskFeedDeps } from '../../../widget/connection/task-feed.js';
import type { FeedView, TaskFeed, TaskFeedConfig } from '../../../widget/connection/task-feed-types.js';
import { FakeClock } from '../../widget/helpers/fake-clock.js';
import { FakeFetch } from '../../widget/helpers/fake-fetch.js';
import { mulberry32 } from '../../widget/helpers/prng.js';

let hosts = 0;

/**
 * What a client asked for, one task or agent at a time: a `subscribe` (or `unsubscribe`) frame
 * carries a list, and most tests care about each entry and its cursor, not how they were batched.
 */
export type Asked =
  | { type: 'subscribe'; taskId: string; afterSeq?: number }
  | { type: 'unsubscribe'; taskId: string }
  | { type: 'watch-agent'; agentId: string }
  | { type: 'unwatch-agent'; agentId: string }
  | { type: 'ping' };

/** The server end of one mock socket: what the client sent, and a way to answer. */
export class Peer {
  /** Every frame as sent. */
  readonly frames: ClientMessage[] = [];
  /** The same, one entry per task or agent. */
  readonly received: Asked[] = [];
  /** Per `t:` + task id or `a:` + agent id, the requests not yet answered, oldest first. */
  readonly #unanswered = new Map<string, number[]>();
  readonly #waiters: (() => void)[] = [];
  #read = 0;
  readonly closed: Promise<number>;

  constructor(readonly socket: Client) {
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as ClientMessage;
      this.frames.push(frame);
      this.received.push(...this.#entries(frame));
      for (const wake of this.#waiters.splice(0)) wake();
    });
    // mock-socket's `on('close')` listens on the client socket itself: it hears any close.
    this.closed = new Promise((resolve) =>
      socket.on('close', ((event: CloseEvent) => resolve(event.code)) as () => void),
    );
  }

  #entries(frame: ClientMessage): Asked[] {
    if (frame.type === 'ping') return [frame];
    // Viewer tokens (issue 13) widened ClientMessage; this harness records no authorize yet.
    if (frame.type === 'authorize') return [];
    const subscribe = frame.type === 'subscribe';
    const entries: Asked[] = [];
    for (const task of frame.tasks ?? []) {
      const taskId = typeof task === 'string' ? task : task.taskId;
      if (subscribe) {
        this.#ask(`t:${taskId}`, frame.requestId);
        entries.push({ type: 'subscribe', ...(task as { taskId: string; afterSeq?: number }) });
      } else entries.push({ type: 'unsubscribe', taskId });
    }
    for (const agentId of frame.agents ?? []) {
      if (subscribe) this.#ask(`a:${agentId}`, frame.requestId);
      entries.push({ type: subscribe ? 'watch-agent' : 'unwatch-agent', agentId });
    }
    return entries;
  }

  #ask(key: string, requestId: number): void {
    const queue = this.#unanswered.get(key) ?? [];
    queue.push(requestId);
    this.#unanswered.set(key, queue);
  }

  /**
   * Sends `message`. A snapshot, an error or an agent's task about a task or agent with a
   * request waiting answers the oldest such request (its `requestId` filled in), unless the
   * message names its `requestId` itself or says `requestId: null` (news, answering nothing).
   */
  send(message: object): void {
    const m = message as { type?: string; taskId?: string; agentId?: string; requestId?: number | null };
    if (m.requestId === null) {
      const { requestId: _, ...news } = m;
      return this.socket.send(JSON.stringify(news));
    }
    if (m.requestId === undefined && ['snapshot', 'error', 'agent-task'].includes(m.type ?? '')) {
      const key = m.taskId !== undefined ? `t:${m.taskId}` : `a:${m.agentId}`;
      const requestId = this.#unanswered.get(key)?.shift();
      if (requestId !== undefined) return this.socket.send(JSON.stringify({ ...m, requestId }));
    }
    this.socket.send(JSON.stringify(message));
  }

  /** The id of the latest request for task `taskId` not yet answered. */
  requestIdOf(taskId: string): number | undefined {
    return this.#unanswered.get(`t:${taskId}`)?.at(-1);
  }

  hello(heartbeatMs = 30_000): void {
    this.send({ type: 'hello', protocol: PROTOCOL_VERSION, heartbeatMs });
  }

  /** The next entry (after those already taken) of this type. */
  async next<T extends Asked['type']>(type: T): Promise<Extract<Asked, { type: T }>> {
    for (;;) {
      while (this.#read < this.received.length) {
        const message = this.received[this.#read++]!;
        if (message.type === type) return message as Extract<Asked, { type: T }>;
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  close(code: number): void {
    this.socket.close({ code, reason: '', wasClean: code === 1000 });
  }
}

/**
 * Resolves when a check passes, re-checked on each call of `poke`: for tests whose fakes say
 * "something changed" without saying what, so each waiting test re-reads what it waits for.
 */
export class Waiters {
  readonly #waiters = new Set<() => void>();
  poke = (): void => {
    for (const wake of [...this.#waiters]) wake();
  };
  async until(check: () => boolean): Promise<void> {
    while (!check()) await new Promise<void>((resolve) => this.#waiters.add(() => resolve()));
  }
}

/**
 * A mock-socket server at `url` (accepting an upgrade only while `accept` says so, if given) and
 * the WebSocket class a client reaches it with: what each socket test sets up the same way.
 * The class records every socket made (`sockets`); each accepted connection becomes a Peer,
 * handed out in order by `connection()`.
 */
export function mockEndpoint(url: string, options: { accept?: () => boolean } = {}) {
  const server = new Server(url, {
    mock: false,
    ...(options.accept ? { verifyClient: options.accept } : {}),
  });
  const peers: Peer[] = [];
  const waiters = new Waiters();
  server.on('connection', (socket) => {
    peers.push(new Peer(socket));
    waiters.poke();
  });
  const sockets: MockWebSocket[] = [];
  class CountingWebSocket extends MockWebSocket {
    constructor(u: string) {
      super(u);
      sockets.push(this);
    }
  }
  let taken = 0;
  return {
    server,
    sockets,
    WebSocket: CountingWebSocket as unknown as WebSocketCtor,
    /** The next connection the server accepts (in order). */
    async connection(): Promise<Peer> {
      await waiters.until(() => peers.length > taken);
      return peers[taken++]!;
    },
    /** Sockets not closing or closed. */
    openSockets(): number {
      return sockets.filter((s) => s.readyState < MockWebSocket.CLOSING).length;
    },
  };
}

/** An EventTarget that counts its listeners, to prove stop() removes every one it added. */
export class CountingTarget extends EventTarget {
  listeners = 0;
  override addEventListener(...args: Parameters<EventTarget['addEventListener']>): void {
    this.listeners++;
    super.addEventListener(...args);
  }
  override removeEventListener(...args: Parameters<EventTarget['removeEventListener']>): void {
    this.listeners--;
    super.removeEventListener(...args);
  }
}

export interface HarnessOptions {
  config?: Partial<Omit<TaskFeedConfig, 'onChange' | 'endpoint'>>;
  deps?: Partial<TaskFeedDeps>;
  /** Whether the mock server accepts the upgrade (read at each attempt). */
  accept?: () => boolean;
}

/**
 * One panel wired to fakes: a mock-socket server on its own host, a fake clock, a fake fetch,
 * fake window/document/navigator, a private link registry. Time only moves via `clock`.
 */
export function harness(options: HarnessOptions = {}) {
  const host = `s${++hosts}.test`;
  const endpoint = `http://${host}`;
  const mock = mockEndpoint(`ws://${host}/api/agent-tasks/ws`, options);
  const { server } = mock;

  const clock = new FakeClock();
  const fetch = new FakeFetch();
  const registry = new LinkRegistry();
  const window = new CountingTarget();
  const document = Object.assign(new CountingTarget(), { hidden: false });
  const navigator = { onLine: true };
  const views: FeedView[] = [];
  const viewWaiters: (() => void)[] = [];

  const deps: TaskFeedDeps = {
    WebSocket: mock.WebSocket,
    fetch: fetch.fetch,
    clock,
    random: mulberry32(11),
    window,
    document,
    navigator,
    links: registry,
    // One tab of its own unless a test shares it (tab-link.test.ts).
    BroadcastChannel: null,
    locks: null,
    ...options.deps,
  };
  const feeds: TaskFeed[] = [];
  /** Another panel on the same page: same server, clock, fetch and link registry. */
  const panel = (config: HarnessOptions['config'] = {}, onChange: (view: FeedView) => void = () => {}) => {
    const made = createTaskFeed(
      {
        endpoint,
        mode: 'auto',
        pollIntervalMs: 1_000,
        ...(config.agentId === undefined ? { taskId: 't-1' } : {}),
        ...config,
        onChange: (view) => {
          onChange(view);
          for (const wake of viewWaiters.splice(0)) wake();
        },
      },
      deps,
    );
    feeds.push(made);
    return made;
  };
  const feed = panel(options.config, (view) => views.push(view));

  return {
    feed,
    server,
    clock,
    fetch,
    registry,
    window,
    document,
    navigator,
    views,
    sockets: mock.sockets,
    endpoint,
    connection: mock.connection,
    panel,
    /** Resolves with the first view (current or coming) of `of` that satisfies `predicate`. */
    async view(predicate: (view: FeedView) => boolean, of: TaskFeed = feed): Promise<FeedView> {
      for (;;) {
        if (predicate(of.view)) return of.view;
        await new Promise<void>((resolve) => viewWaiters.push(resolve));
      }
    },
    openSockets: mock.openSockets,
    setHidden(hidden: boolean): void {
      document.hidden = hidden;
      document.dispatchEvent(new Event('visibilitychange'));
    },
    dispose(): void {
      for (const made of feeds) made.stop();
      server.stop();
    },
  };
}

export type Harness = ReturnType<typeof harness>;

export function seqsOf(view: FeedView): number[] {
  return view.logs.map((l) => l.seq);
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
