import { expect } from '@open-wc/testing';
import { WebSocket as MockWebSocket } from 'mock-socket';
import { LIMITS } from '../../../protocol/constants.js';
import type { SnapshotMessage } from '../../../protocol/ws-messages.js';
import { BACKOFF } from '../../../widget/connection/backoff.js';
import { feedKey } from '../../../widget/connection/feed-key.js';
import type { Listener } from '../../../widget/connection/link.js';
import { LinkRegistry } from '../../../widget/connection/link-registry.js';
import { tabLink } from '../../../widget/connection/tab-link.js';
import {
  LINK,
  socketLink,
  type LinkStatus,
  type SocketLinkConfig,
  type WebSocketCtor,
} from '../../../widget/connection/socket-link.js';
import { FakeClock } from '../../widget/helpers/fake-clock.js';
import { lines, page, snapshot } from '../../widget/helpers/fixtures.js';
import { mockEndpoint, type Peer } from './harness.js';

let hosts = 0;

function setup(options: { random?: () => number; accept?: () => boolean } = {}) {
  const url = `ws://link${++hosts}.test/api/agent-tasks/ws`;
  const { server, sockets, WebSocket, connection } = mockEndpoint(url, options);
  const clock = new FakeClock();
  const config = {
    url,
    WebSocket,
    clock,
    random: options.random ?? (() => 0.5),
  };
  return {
    server,
    clock,
    config,
    sockets,
    connection,
    /** The link's status once it satisfies `predicate` (now or later). */
    status(
      link: { readonly status: LinkStatus; onStatus(listener: (s: LinkStatus) => void): () => void },
      predicate: (s: LinkStatus) => boolean,
    ): Promise<LinkStatus> {
      if (predicate(link.status)) return Promise.resolve(link.status);
      return new Promise((resolve) => {
        const off = link.onStatus((status) => {
          if (!predicate(status)) return;
          off();
          resolve(status);
        });
      });
    },
  };
}

interface Subscriber {
  readonly taskId: string;
  cursorValue: number | null;
  snapshots: [SnapshotMessage, number | null][];
  /** The codes of the errors that answered its subscribes. */
  errors: string[];
}

function subscriber(taskId: string, cursor: number | null) {
  const sub: Subscriber = { taskId, cursorValue: cursor, snapshots: [], errors: [] };
  return { sub, snapshots: sub.snapshots };
}

/** A socket link as its TabLink drives it: statuses kept, each task key's subscriber told its snapshots. */
function socket(config: Omit<SocketLinkConfig, 'status' | 'cursor' | 'on'>) {
  let status: LinkStatus = { kind: 'idle' };
  const watchers = new Set<(s: LinkStatus) => void>();
  const subs = new Map<string, Subscriber>();
  const link = socketLink({
    ...config,
    status(s) {
      status = s;
      for (const watcher of watchers) watcher(s);
    },
    cursor: (key) => subs.get(key.id)!.cursorValue,
    on(key, m, r) {
      if (m.type === 'snapshot') subs.get(key.id)?.snapshots.push([m, r]);
      if (m.type === 'error') subs.get(key.id)?.errors.push(m.code);
    },
  });
  return {
    ...link,
    get status() {
      return status;
    },
    onStatus(listener: (s: LinkStatus) => void) {
      watchers.add(listener);
      return () => watchers.delete(listener);
    },
    subscribe(sub: Subscriber) {
      subs.set(sub.taskId, sub);
      link.request(feedKey('task', sub.taskId));
    },
  };
}

/** A panel's listener on a TabLink key, which hears the same snapshots as a subscriber would. */
function listener(sub: Subscriber): Listener {
  return {
    cursor: () => sub.cursorValue,
    on(event) {
      if (event.source === 'socket' && event.message.type === 'snapshot')
        sub.snapshots.push([event.message, event.requested]);
    },
  };
}

describe('SocketLink', () => {
  let env: ReturnType<typeof setup>;
  afterEach(() => env.server.stop());

  it('resubscribes every task with its own cursor after a reconnect', async () => {
    env = setup();
    const link = socket(env.config);
    const a = subscriber('t-a', 10);
    const b = subscriber('t-b', null);
    link.subscribe(a.sub);
    link.subscribe(b.sub);
    link.open();
    const first = await env.connection();
    first.hello();
    expect(await first.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-a', afterSeq: 10 });
    expect(await first.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-b' });
    a.sub.cursorValue = 14;
    b.sub.cursorValue = 3;

    first.close(1011);
    await env.status(link, (s) => s.kind === 'down');
    env.clock.runNext();
    const second = await env.connection();
    second.hello();
    expect(await second.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-a', afterSeq: 14 });
    expect(await second.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-b', afterSeq: 3 });
    link.close();
    expect(env.clock.pending).to.equal(0);
  });

  it('tells each subscriber which cursor a snapshot answers', async () => {
    env = setup();
    const link = socket(env.config);
    const a = subscriber('t-1', 7);
    link.subscribe(a.sub);
    link.open();
    const peer = await env.connection();
    peer.hello();
    await peer.next('subscribe');
    peer.send(snapshot(page(lines(8, 9), 9)));
    expect(a.snapshots.map(([, requested]) => requested)).to.deep.equal([7]);
    link.close();
  });

  it('asks a followed task again from its cursor, tells each answer its cursor, and unsubscribes once', async () => {
    env = setup();
    const link = socket(env.config);
    link.open();
    const peer = await env.connection();
    peer.hello();
    const a = subscriber('t-1', 12);
    link.subscribe(a.sub);
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 12 });
    a.sub.cursorValue = null;
    link.request(feedKey('task', 't-1'));
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1' });
    peer.send(snapshot(page(lines(1, 12), 12)));
    peer.send(snapshot(page(lines(1, 12), 12)));
    expect(a.snapshots.map(([, requested]) => requested)).to.deep.equal(
      [12, null],
      'each answer with its cursor',
    );
    link.drop(feedKey('task', 't-1'));
    link.drop(feedKey('task', 't-1')); // dropped already: sends nothing
    expect(await peer.next('unsubscribe')).to.deep.equal({ type: 'unsubscribe', taskId: 't-1' });
    expect(peer.received.filter((m) => m.type === 'unsubscribe')).to.have.length(1);
    link.close();
  });

  it('pairs each answer with its own request when a task is asked again before the first answer', async () => {
    env = setup();
    const link = socket(env.config);
    link.open();
    const peer = await env.connection();
    peer.hello();
    const a = subscriber('t-1', 3);
    link.subscribe(a.sub);
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 3 });
    a.sub.cursorValue = 5;
    link.request(feedKey('task', 't-1'));
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 5 });
    // The server answers only the latest subscribe of a task, naming it.
    const [first, second] = peer.frames.filter((f) => f.type === 'subscribe').map((f) => f.requestId);
    expect(second).to.be.greaterThan(first!);
    peer.send(snapshot(page(lines(6, 6), 6), second));
    expect(a.snapshots.map(([, requested]) => requested)).to.deep.equal([5]);
    // No answer is awaited any more: the socket is not torn down as unanswered.
    env.clock.advance(LINK.answerTimeoutMs * 2);
    expect(link.status.kind).to.equal('open');
    expect(env.sockets.filter((s) => s.readyState === MockWebSocket.OPEN)).to.have.length(1);
    link.close();
  });

  it('subscribes the panels that join in one go in batches, also after a reconnect', async () => {
    env = setup();
    const link = socket(env.config);
    link.open();
    const peer = await env.connection();
    peer.hello();
    const ids = Array.from({ length: 300 }, (_, i) => `t-${i}`);
    for (const id of ids) link.subscribe(subscriber(id, null).sub);
    for (const id of ids) expect((await peer.next('subscribe')).taskId).to.equal(id);
    const sizes = (p: Peer) => p.frames.filter((f) => f.type === 'subscribe').map((f) => f.tasks?.length);
    expect(sizes(peer)).to.deep.equal([
      LIMITS.subscribeBatch,
      LIMITS.subscribeBatch,
      300 - 2 * LIMITS.subscribeBatch,
    ]);

    peer.close(1011);
    await env.status(link, (s) => s.kind === 'down');
    env.clock.runNext();
    const again = await env.connection();
    again.hello();
    for (const id of ids) expect((await again.next('subscribe')).taskId).to.equal(id);
    expect(sizes(again)).to.have.length(3);
    for (const id of ids.slice(0, 200)) link.drop(feedKey('task', id));
    for (const id of ids.slice(0, 200)) expect((await again.next('unsubscribe')).taskId).to.equal(id);
    expect(again.frames.filter((f) => f.type === 'unsubscribe')).to.have.length(2);
    link.close();
  });

  it('subscribes a task again with backoff while the store cannot serve it, until it is served', async () => {
    env = setup();
    const link = socket(env.config);
    link.open();
    const peer = await env.connection();
    peer.hello();
    const a = subscriber('t-1', 4);
    link.subscribe(a.sub);
    await peer.next('subscribe');
    for (let refusal = 1; refusal <= 3; refusal++) {
      peer.send({ type: 'error', code: 'store_unavailable', message: 'store down', taskId: 't-1' });
      expect(a.sub.errors).to.have.length(refusal);
      expect(peer.received.filter((m) => m.type === 'subscribe')).to.have.length(refusal);
      env.clock.runNext();
      expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 4 });
    }
    peer.send(snapshot(page(lines(5, 5), 5)));
    expect(a.snapshots).to.have.length(1);
    expect(link.status.kind).to.equal('open');
    link.close();
    expect(env.clock.pending).to.equal(0);
  });

  it('spreads the first retry after a restart close (1012) wider than after other drops', async () => {
    env = setup({ random: () => 0.9 });
    const link = socket({ ...env.config, stableMs: 0 });
    link.open();
    const peer = await env.connection();
    peer.hello();
    peer.close(1012);
    const down = await env.status(link, (s) => s.kind === 'down');
    expect(down.kind === 'down' && down.nextRetryAt - env.clock.now()).to.equal(
      0.9 * BACKOFF.restartSpreadMs,
    );
    // The server is not listening yet: the retry stays in the same window, not twice as wide.
    env.clock.runNext();
    (await env.connection()).close(1006);
    const refused = await env.status(link, (s) => s.kind === 'down' && s.nextRetryAt > env.clock.now());
    expect(refused.kind === 'down' && refused.nextRetryAt - env.clock.now()).to.equal(
      0.9 * BACKOFF.restartSpreadMs,
    );
    env.clock.runNext();
    const again = await env.connection();
    again.hello();
    again.close(1011);
    await env.status(link, (s) => s.kind === 'down');
    const status = link.status;
    expect(status.kind === 'down' && status.nextRetryAt - env.clock.now()).to.equal(0.9 * BACKOFF.baseMs);
    link.close();
  });

  it('keeps counting failures when the link flaps, so it still falls back', async () => {
    env = setup();
    const link = socket(env.config);
    link.open();
    for (let i = 1; i <= LINK.failuresBeforeFallback; i++) {
      const peer = await env.connection();
      peer.hello();
      env.clock.advance(1_000); // up, but for less than stableMs
      peer.close(1011);
      const down = await env.status(link, (s) => s.kind === 'down');
      const expected = i >= LINK.failuresBeforeFallback ? 'attempts-exhausted' : null;
      expect(down.kind === 'down' && down.fallback).to.equal(expected, `failure ${i}`);
      env.clock.runNext();
    }
    link.close();
  });

  it('does not fall back for restarts (1012) that move a live link again and again, but does for 1013 (a reader too slow)', async () => {
    env = setup();
    const link = socket(env.config);
    link.open();
    for (let i = 1; i <= LINK.failuresBeforeFallback + 2; i++) {
      const peer = await env.connection();
      peer.hello();
      env.clock.advance(1_000); // up, but for less than stableMs: a rolling restart moves it on
      peer.close(1012);
      const down = await env.status(link, (s) => s.kind === 'down');
      expect(down.kind === 'down' && down.fallback).to.equal(null, `restart ${i}`);
      env.clock.runNext();
    }
    // Each restart left one failure counted (the retry it needs); 1013s count on from there.
    for (let i = 1; i < LINK.failuresBeforeFallback; i++) {
      const peer = await env.connection();
      peer.hello();
      env.clock.advance(1_000);
      peer.close(1013);
      const down = await env.status(link, (s) => s.kind === 'down');
      const expected = i + 1 >= LINK.failuresBeforeFallback ? 'attempts-exhausted' : null;
      expect(down.kind === 'down' && down.fallback).to.equal(expected, `1013 number ${i}`);
      env.clock.runNext();
    }
    link.close();
  });

  it('falls back when the WebSocket constructor throws, and keeps probing', () => {
    env = setup();
    let calls = 0;
    const Throwing = function () {
      calls++;
      throw new DOMException('blocked by CSP', 'SecurityError');
    } as unknown as WebSocketCtor;
    const link = socket({ ...env.config, WebSocket: Throwing });
    link.open();
    const status = link.status;
    expect(status.kind === 'down' && status.fallback).to.equal('no-websocket');
    env.clock.runNext();
    expect(calls).to.equal(2);
    link.close();
    expect(env.clock.pending).to.equal(0);
  });

  it('gives up on a socket that never says hello', async () => {
    env = setup();
    const link = socket(env.config);
    link.open();
    const peer = await env.connection();
    env.clock.advance(LINK.connectTimeoutMs);
    expect(link.status.kind).to.equal('down');
    expect(await peer.closed).to.equal(4003);
    link.close();
  });
});

describe('TabLink in one tab', () => {
  let env: ReturnType<typeof setup>;
  afterEach(() => env.server.stop());

  const tab = () =>
    tabLink({
      ...env.config,
      endpoint: 'http://unused.test',
      fetch: () => Promise.reject(new Error('no')),
    });

  it('serves a task two panels follow as one stream, from the lower cursor or the tail', async () => {
    env = setup();
    const link = tab();
    link.open();
    const a = subscriber('t-1', 12);
    const offA = link.join(feedKey('task', 't-1'), listener(a.sub));
    const peer = await env.connection();
    peer.hello();
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 12 });
    const b = subscriber('t-1', null);
    const offB = link.join(feedKey('task', 't-1'), listener(b.sub));
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1' });
    peer.send(snapshot(page(lines(1, 12), 12)));
    expect(a.snapshots).to.have.length(1);
    expect(b.snapshots).to.have.length(1);
    offA();
    offB();
    expect(await peer.next('unsubscribe')).to.deep.equal({ type: 'unsubscribe', taskId: 't-1' });
    expect(peer.received.filter((m) => m.type === 'unsubscribe')).to.have.length(1);
    link.close();
  });

  it('asks again for an agent a second watcher follows, so that watcher is answered too', async () => {
    env = setup();
    const link = tab();
    link.open();
    const heard: string[] = [];
    const watcher = (who: string): Listener => ({
      on: (event) => event.source === 'socket' && event.message.type === 'agent-task' && heard.push(who),
    });
    const offA = link.join(feedKey('agent', 'agent-1'), watcher('a'));
    const peer = await env.connection();
    peer.hello();
    expect(await peer.next('watch-agent')).to.deep.equal({ type: 'watch-agent', agentId: 'agent-1' });
    peer.send({ type: 'agent-task', agentId: 'agent-1', task: null });
    const offB = link.join(feedKey('agent', 'agent-1'), watcher('b'));
    expect(await peer.next('watch-agent')).to.deep.equal({ type: 'watch-agent', agentId: 'agent-1' });
    peer.send({ type: 'agent-task', agentId: 'agent-1', task: null });
    expect(heard).to.deep.equal(['a', 'a', 'b']);
    offA();
    offB();
    expect(await peer.next('unwatch-agent')).to.deep.equal({ type: 'unwatch-agent', agentId: 'agent-1' });
    link.close();
  });
});

describe('LinkRegistry', () => {
  let env: ReturnType<typeof setup>;
  afterEach(() => env.server.stop());

  it('shares one socket per endpoint and closes it when the last holder lets go', async () => {
    env = setup();
    const registry = new LinkRegistry();
    const config = {
      ...env.config,
      endpoint: 'http://unused.test',
      fetch: () => Promise.reject(new Error('no')),
    };
    const first = registry.acquire(config);
    const second = registry.acquire(config);
    expect(second.link).to.equal(first.link);
    first.link.join(feedKey('task', 't-1'), listener(subscriber('t-1', null).sub));
    second.link.join(feedKey('task', 't-2'), listener(subscriber('t-2', null).sub));
    expect(env.sockets).to.have.length(1);
    first.release();
    first.release(); // idempotent: must not release the second holder's share
    expect(env.sockets[0]!.readyState).to.be.below(MockWebSocket.CLOSING);
    second.release();
    expect(env.sockets[0]!.readyState).to.be.at.least(MockWebSocket.CLOSING);
    expect(registry.size).to.equal(0);
    expect(env.clock.pending).to.equal(0);
  });
});
