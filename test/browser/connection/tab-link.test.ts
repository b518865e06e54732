import { expect } from '@open-wc/testing';
import type { SnapshotMessage, UpdateMessage } from '../../../protocol/ws-messages.js';
import { feedKey } from '../../../widget/connection/feed-key.js';
import type { Listener } from '../../../widget/connection/link.js';
import type { PollResult } from '../../../widget/connection/poller.js';
import type { LinkStatus } from '../../../widget/connection/socket-link.js';
import { tabLink, type TabLink, type TabLinkConfig } from '../../../widget/connection/tab-link.js';
import { tabChannelName, type TabMessage } from '../../../widget/connection/tab-messages.js';
import { FakeClock, settle } from '../../widget/helpers/fake-clock.js';
import { FakeFetch } from '../../widget/helpers/fake-fetch.js';
import { lines, page, snapshot, update } from '../../widget/helpers/fixtures.js';
import { mockEndpoint, Waiters } from './harness.js';

let hosts = 0;

/**
 * Two (or more) "tabs" in one page: TabLinks for one endpoint with distinct tab ids, sharing the
 * page's real BroadcastChannel and navigator.locks, against one mock server. A spy on the same
 * channel sees what the tabs say to each other.
 */
function setup() {
  const host = `tabs${++hosts}-${Date.now()}.test`;
  const url = `ws://${host}/api/agent-tasks/ws`;
  const mock = mockEndpoint(url);
  const waiters = new Waiters();
  // A test may wait on anything a new connection changes.
  mock.server.on('connection', waiters.poke);
  const clock = new FakeClock();
  const fetch = new FakeFetch();
  const heard: TabMessage[] = [];
  const spy = new BroadcastChannel(tabChannelName(url));
  spy.onmessage = (event) => {
    heard.push(event.data as TabMessage);
    waiters.poke();
  };
  const links: TabLink[] = [];
  let read = 0;
  return {
    url,
    clock,
    fetch,
    sockets: mock.sockets,
    heard,
    waiters,
    /** A tab; `tabId` must differ between tabs of one test. */
    tab(tabId: string, more: Partial<TabLinkConfig> = {}): TabLink {
      const link = tabLink({
        url,
        endpoint: `http://${host}`,
        WebSocket: mock.WebSocket,
        fetch: fetch.fetch,
        clock,
        random: () => 0.5,
        BroadcastChannel,
        locks: navigator.locks,
        tabId,
        ...more,
      });
      links.push(link);
      link.onStatus(waiters.poke);
      link.open();
      return link;
    },
    /** The next connection the server accepts. */
    connection: mock.connection,
    /** The next message on the channel (after those already read) that matches. */
    async message(match: (m: TabMessage) => boolean): Promise<TabMessage> {
      for (;;) {
        await waiters.until(() => heard.length > read);
        const m = heard[read++]!;
        if (match(m)) return m;
      }
    },
    openSockets: mock.openSockets,
    dispose(): void {
      for (const link of links) link.close();
      spy.close();
      mock.server.stop();
    },
  };
}

type Env = ReturnType<typeof setup>;

/** A panel's subscription to a task's stream: a cursor the test sets, and what it heard. */
function panel(env: Env, taskId: string, cursor: number | null = null) {
  const heard: { snapshots: [SnapshotMessage, number | null][]; updates: UpdateMessage[] } = {
    snapshots: [],
    updates: [],
  };
  const sub: Listener & { at: number | null } = {
    at: cursor,
    cursor: () => sub.at,
    on: (event) => {
      const message = event.source === 'socket' ? event.message : null;
      if (message?.type === 'snapshot') {
        heard.snapshots.push([message, event.requested]);
        sub.at = message.nextAfterSeq;
      } else if (message?.type === 'update') {
        heard.updates.push(message);
        sub.at = message.task.seq;
      }
      env.waiters.poke();
    },
  };
  return { key: feedKey('task', taskId), sub, heard };
}

/** Subscribes a panel on a tab. */
function follow(link: TabLink, { key, sub }: ReturnType<typeof panel>): () => void {
  return link.join(key, sub);
}

function status(env: Env, link: TabLink, predicate: (s: LinkStatus) => boolean): Promise<void> {
  return env.waiters.until(() => predicate(link.status));
}

describe('TabLink across tabs (real BroadcastChannel and Web Locks)', () => {
  let env: Env;
  afterEach(() => env.dispose());

  it('one tab leads and holds the only socket; a follower subscribes through it with its cursor and hears every event', async () => {
    env = setup();
    const a = env.tab('a');
    await env.message((m) => m.type === 'leader');
    const b = env.tab('b');
    const mine = panel(env, 't-1', 5);
    follow(b, mine);

    const peer = await env.connection();
    peer.hello();
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 5 });
    peer.send(snapshot(page(lines(6, 7), 7)));
    await env.waiters.until(() => mine.heard.snapshots.length === 1);
    expect(mine.heard.snapshots[0]![1]).to.equal(5, 'the cursor the snapshot answers');
    peer.send(update(8, 9));
    await env.waiters.until(() => mine.heard.updates.length === 1);
    expect(mine.heard.updates[0]!.fromSeq).to.equal(8);

    expect(a.leading).to.equal(true);
    expect(b.leading).to.equal(false);
    expect(env.sockets).to.have.length(1);
    await status(env, b, (s) => s.kind === 'open');
  });

  it("authorizes a follower's viewer token on the leader's socket before the subscribe it covers, and relays a refusal to it alone", async () => {
    env = setup();
    const a = env.tab('a');
    await env.message((m) => m.type === 'leader');
    const mine = panel(env, 't-mine');
    follow(a, mine);
    const peer = await env.connection();
    peer.hello();
    await peer.next('subscribe');
    const b = env.tab('b');
    const theirs = panel(env, 't-theirs');
    const refusals: string[] = [];
    const listener: Listener = {
      ...theirs.sub,
      token: () => 'token-of-b',
      on: (event) => {
        if (event.source === 'socket' && event.message.type === 'error') refusals.push(event.message.code);
        env.waiters.poke();
      },
    };
    b.join(theirs.key, listener);
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-theirs' });
    const sent = peer.frames.map((frame) =>
      frame.type === 'authorize' ? `authorize ${frame.tokens.join(' ')}` : frame.type,
    );
    expect(sent.slice(-2)).to.deep.equal(['authorize token-of-b', 'subscribe']);
    peer.send({ type: 'error', code: 'forbidden', taskId: 't-theirs', message: 'another scope' });
    await env.waiters.until(() => refusals.length === 1);
    expect(refusals).to.deep.equal(['forbidden']);
    expect(mine.heard.snapshots).to.have.length(0, "the leader's own panel heard nothing of it");
  });

  it("relays the leader's connection state, so a follower shows reconnecting and polls when the leader does", async () => {
    env = setup();
    env.tab('a');
    await env.message((m) => m.type === 'leader');
    const b = env.tab('b');
    follow(b, panel(env, 't-1'));
    const peer = await env.connection();
    peer.hello();
    await status(env, b, (s) => s.kind === 'open');
    peer.close(1003); // refused: fall back to polling at once
    await status(env, b, (s) => s.kind === 'down' && s.fallback === 'upgrade-refused');
  });

  it('merges the tabs of a task into one stream from the lowest cursor, and unsubscribes when the last tab leaves', async () => {
    env = setup();
    const a = env.tab('a');
    await env.message((m) => m.type === 'leader');
    const offA = follow(a, panel(env, 't-1', 9));
    const peer = await env.connection();
    peer.hello();
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 9 });
    const b = env.tab('b');
    const offB = follow(b, panel(env, 't-1', 4));
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 4 });
    offA();
    offB();
    expect(await peer.next('unsubscribe')).to.deep.equal({ type: 'unsubscribe', taskId: 't-1' });
    expect(peer.received.filter((m) => m.type === 'unsubscribe')).to.have.length(1);
  });

  it('forgets a follower that goes away without a word, when the browser releases its lock', async () => {
    env = setup();
    const a = env.tab('a');
    await env.message((m) => m.type === 'leader');
    follow(a, panel(env, 't-1'));
    const peer = await env.connection();
    peer.hello();
    await peer.next('subscribe');
    const b = env.tab('b');
    follow(b, panel(env, 't-2'));
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-2' });
    const said = env.heard.length;
    b.close(); // as a closing tab: no message, only its locks released
    expect(await peer.next('unsubscribe')).to.deep.equal({ type: 'unsubscribe', taskId: 't-2' });
    expect(env.heard.slice(said).filter((m) => m.type === 'leave')).to.deep.equal([]);
  });

  it('a follower takes over when the leader closes: it opens the socket and resubscribes from its cursor', async () => {
    env = setup();
    const a = env.tab('a');
    await env.message((m) => m.type === 'leader');
    const b = env.tab('b');
    const mine = panel(env, 't-1');
    follow(b, mine);
    const first = await env.connection();
    first.hello();
    await first.next('subscribe');
    first.send(snapshot(page(lines(1, 3), 3)));
    first.send(update(4, 6));
    await env.waiters.until(() => mine.sub.at === 6);

    a.close();
    await env.message((m) => m.type === 'leader');
    expect(b.leading).to.equal(true);
    await first.closed;
    const second = await env.connection();
    second.hello();
    expect(await second.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 6 });
    expect(env.openSockets()).to.equal(1);
  });

  it('the other followers rejoin a new leader with their cursors', async () => {
    env = setup();
    const a = env.tab('a');
    await env.message((m) => m.type === 'leader');
    const b = env.tab('b');
    const c = env.tab('c');
    const atB = panel(env, 't-b', 3);
    const atC = panel(env, 't-c', 8);
    follow(b, atB);
    follow(c, atC);
    const first = await env.connection();
    first.hello();
    await first.next('subscribe');
    await first.next('subscribe');
    a.close();
    const second = await env.connection();
    second.hello();
    const resubscribed = [await second.next('subscribe'), await second.next('subscribe')];
    expect(resubscribed.sort((x, y) => x.taskId.localeCompare(y.taskId))).to.deep.equal([
      { type: 'subscribe', taskId: 't-b', afterSeq: 3 },
      { type: 'subscribe', taskId: 't-c', afterSeq: 8 },
    ]);
    expect([b.leading, c.leading].filter(Boolean)).to.have.length(1);
    expect(env.openSockets()).to.equal(1);
  });

  it("resubscribes a follower's task after the leader's socket drops, from where the relayed events left it", async () => {
    env = setup();
    env.tab('a');
    await env.message((m) => m.type === 'leader');
    const b = env.tab('b');
    const mine = panel(env, 't-1');
    follow(b, mine);
    const first = await env.connection();
    first.hello();
    expect(await first.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1' });
    first.send(snapshot(page(lines(1, 3), 3)));
    first.send(update(4, 6));
    first.send(update(9, 9)); // past a gap: the follower fills it itself; the leader must not assume it
    await env.waiters.until(() => mine.heard.updates.length === 2);
    first.close(1011);
    await status(env, b, (s) => s.kind === 'down');
    env.clock.runNext();
    const second = await env.connection();
    second.hello();
    expect(await second.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 6 });
  });

  it('a frozen leader lets go at once; resumed, it follows and rejoins from its cursors', async () => {
    env = setup();
    const document = new EventTarget();
    const a = env.tab('a', { document });
    await env.message((m) => m.type === 'leader');
    const ours = panel(env, 't-a');
    follow(a, ours);
    const b = env.tab('b');
    follow(b, panel(env, 't-b', 2));
    const first = await env.connection();
    first.hello();
    await first.next('subscribe');
    await first.next('subscribe');
    first.send(snapshot(page(lines(1, 4), 4, { id: 't-a' })));
    await env.waiters.until(() => ours.sub.at === 4);

    document.dispatchEvent(new Event('freeze'));
    expect(a.leading).to.equal(false);
    expect(await first.closed).to.equal(1000);
    await env.message((m) => m.type === 'leader');
    expect(b.leading).to.equal(true);
    const second = await env.connection();
    second.hello();
    expect(await second.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-b', afterSeq: 2 });

    document.dispatchEvent(new Event('resume'));
    expect(await second.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-a', afterSeq: 4 });
    second.send(update(5, 5, 'running', 't-a'));
    await env.waiters.until(() => ours.sub.at === 5);
    expect(a.leading).to.equal(false);
    expect(env.sockets).to.have.length(2);
  });

  it('polls a task once for every tab that polls it, and relays each result with the cursor it asked from', async () => {
    env = setup();
    env.fetch.route = (url) => ({
      status: 200,
      body: page(lines(1, 2), 2, { id: url.pathname.split('/')[3] ?? '?' }),
    });
    const a = env.tab('a');
    await env.message((m) => m.type === 'leader');
    const b = env.tab('b');
    const results: [string, PollResult, number | null][] = [];
    const watcher = (who: string, cursor: number | null): Listener => ({
      cursor: () => cursor,
      on: (event) => {
        if (event.source === 'poll') results.push([who, event.result, event.requested]);
        env.waiters.poke();
      },
    });
    a.join(feedKey('task-poll', 't-1'), watcher('a', 7), 1_000);
    await settle();
    expect(env.fetch.requests).to.have.length(1);
    b.join(feedKey('task-poll', 't-1'), watcher('b', 3), 1_000);
    await env.waiters.until(() => results.some(([who]) => who === 'b'));
    const asked = env.fetch.requests.map((r) => r.url.searchParams.get('afterSeq'));
    expect(asked).to.deep.equal(['7', '3'], 'a newcomer is answered at once, from the lowest cursor');
    const last = results.filter(([who]) => who === 'b').at(-1)!;
    expect(last[1].kind).to.equal('ok');
    expect(last[2]).to.equal(3);

    env.clock.advance(1_000);
    await env.waiters.until(() => results.filter(([who]) => who === 'b').length === 2);
    expect(env.fetch.requests).to.have.length(3, 'one poller for both tabs');
    expect(env.sockets).to.have.length(0, 'polling alone opens no socket');
  });

  it('falls back to a socket per tab where BroadcastChannel is missing', async () => {
    env = setup();
    const a = env.tab('a', { BroadcastChannel: null });
    const b = env.tab('b', { BroadcastChannel: null });
    expect(a.leading && b.leading).to.equal(true);
    follow(a, panel(env, 't-1'));
    follow(b, panel(env, 't-1'));
    expect(env.sockets).to.have.length(2);
  });

  it('leads alone, with a socket of its own, when the sharing module cannot be loaded', async () => {
    env = setup();
    // A host that copied only agent-task-status.js, not the chunk beside it.
    const missing = () => Promise.reject(new TypeError('Failed to fetch dynamically imported module'));
    const a = env.tab('a', { loadSharing: missing });
    const b = env.tab('b', { loadSharing: missing });
    follow(a, panel(env, 't-1'));
    follow(b, panel(env, 't-1'));
    await env.waiters.until(() => env.sockets.length === 2);
    expect(a.leading && b.leading).to.equal(true);
    const peer = await env.connection();
    peer.hello();
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1' });
  });

  it('falls back to a socket per tab where Web Locks are missing', async () => {
    env = setup();
    const a = env.tab('a', { locks: null });
    const b = env.tab('b', { locks: null });
    expect(a.leading && b.leading).to.equal(true);
    follow(a, panel(env, 't-1'));
    follow(b, panel(env, 't-1'));
    expect(env.sockets).to.have.length(2);
  });
});
