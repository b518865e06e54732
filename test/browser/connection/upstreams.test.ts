import { expect } from '@open-wc/testing';
import type { ClientMessage } from '../../../protocol/ws-messages.js';
import { feedKey, keyName, type FeedKey } from '../../../widget/connection/feed-key.js';
import type { Interest } from '../../../widget/connection/interest.js';
import type { LinkEvent } from '../../../widget/connection/link.js';
import type { LinkStatus } from '../../../widget/connection/link-status.js';
import { upstreams, type Upstreams } from '../../../widget/connection/upstreams.js';
import { FakeClock, settle } from '../../widget/helpers/fake-clock.js';
import { FakeFetch } from '../../widget/helpers/fake-fetch.js';
import { lines, page, snapshot, task, update } from '../../widget/helpers/fixtures.js';
import { mockEndpoint, type Peer } from './harness.js';

let hosts = 0;

const TASK = feedKey('task', 't-1');
const OTHER_TASK = feedKey('task', 't-2');
const AGENT = feedKey('agent', 'agent-1');
const POLLED = feedKey('task-poll', 't-9');
const POLLED_AGENT = feedKey('agent-poll', 'agent-9');

/** A key's members when a test sets none: they need the tail, are visible, poll every second. */
const TAIL: Interest = { cursor: null, hidden: false, intervalMs: 1_000, token: null };

/**
 * A leader's upstreams for one endpoint (a mock server on its own host), on a fake clock and a
 * fake fetch; the keys' interests are the test's to set, and what the upstreams deliver is kept.
 */
function setup() {
  const host = `upstreams${++hosts}-${Date.now()}.test`;
  const endpoint = `http://${host}`;
  const url = `ws://${host}/api/agent-tasks/ws`;
  const mock = mockEndpoint(url);
  const { server } = mock;
  const clock = new FakeClock();
  const body = page(lines(5, 6), 6);
  const fetch = new FakeFetch(() => ({ status: 200, body }));
  const interests = new Map<string, Interest>();
  const delivered: [FeedKey, LinkEvent][] = [];
  const statuses: LinkStatus[] = [];
  const statusWaiters: (() => void)[] = [];
  const sources: Upstreams = upstreams({
    url,
    endpoint,
    WebSocket: mock.WebSocket,
    fetch: fetch.fetch,
    clock,
    random: () => 0.5,
    status(status) {
      statuses.push(status);
      for (const wake of statusWaiters.splice(0)) wake();
    },
    interest: (key) => interests.get(keyName(key)) ?? TAIL,
    deliver: (key, event) => delivered.push([key, event]),
  });
  return {
    server,
    clock,
    fetch,
    body,
    sockets: mock.sockets,
    delivered,
    statuses,
    sources,
    /** What the members of `key` want from now on. */
    want(key: FeedKey, interest: Partial<Interest>): void {
      interests.set(keyName(key), { ...TAIL, ...interest });
    },
    /** The next connection the server accepts. */
    connection: mock.connection,
    /** Resolves once the socket's latest status is of this kind. */
    async status(kind: LinkStatus['kind']): Promise<void> {
      while (statuses.at(-1)?.kind !== kind)
        await new Promise<void>((resolve) => statusWaiters.push(resolve));
    },
    openSockets: mock.openSockets,
    /** The afterSeq of each status request so far (null: none asked). */
    afterSeqs(): (string | null)[] {
      return fetch.requests.map((r) => r.url.searchParams.get('afterSeq'));
    },
    dispose(): void {
      sources.close();
      server.stop();
    },
  };
}

type Env = ReturnType<typeof setup>;

/** Serves the task key from cursor 7 and answers the hello: the subscribe is on its way. */
async function subscribed(env: Env): Promise<Peer> {
  env.want(TASK, { cursor: 7 });
  env.sources.serve(TASK, false);
  const peer = await env.connection();
  peer.hello();
  expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 7 });
  return peer;
}

describe('upstreams', () => {
  let env: Env;
  afterEach(() => env.dispose());

  describe('streamed keys', () => {
    it("opens one socket for a task key and subscribes it from its members' cursor", async () => {
      env = setup();
      env.want(TASK, { cursor: 7 });
      env.sources.serve(TASK, false);
      const peer = await env.connection();
      expect(env.statuses).to.deep.equal([{ kind: 'connecting' }]);
      peer.hello();
      await peer.next('subscribe');
      const [frame] = peer.frames as Extract<ClientMessage, { type: 'subscribe' }>[];
      expect(frame).to.deep.equal({
        type: 'subscribe',
        requestId: frame!.requestId,
        tasks: [{ taskId: 't-1', afterSeq: 7 }],
      });
      expect(frame!.requestId).to.be.a('number');
      expect(env.statuses.at(-1)).to.deep.equal({ kind: 'open' });
      expect(env.sockets).to.have.length(1);
      expect(env.fetch.requests).to.have.length(0, 'a streamed key polls nothing');
    });

    it('subscribes a task whose members have no cursor for the tail', async () => {
      env = setup();
      env.sources.serve(TASK, false);
      const peer = await env.connection();
      peer.hello();
      expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1' });
    });

    it('shares one socket between every streamed key', async () => {
      env = setup();
      env.want(OTHER_TASK, { cursor: 3 });
      env.sources.serve(TASK, false);
      env.sources.serve(AGENT, false);
      const peer = await env.connection();
      peer.hello();
      expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1' });
      expect(await peer.next('watch-agent')).to.deep.equal({ type: 'watch-agent', agentId: 'agent-1' });
      env.sources.serve(OTHER_TASK, false);
      expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-2', afterSeq: 3 });
      expect(env.sockets).to.have.length(1);
    });

    it('does not subscribe a key again when served again without refresh', async () => {
      env = setup();
      const peer = await subscribed(env);
      env.want(TASK, { cursor: 12 });
      env.sources.serve(TASK, false);
      await settle();
      // Another key's subscribe follows: had the first been asked again, it would come first.
      env.sources.serve(OTHER_TASK, false);
      expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-2' });
    });

    it("subscribes a key again from its members' cursor as it is now when served with refresh", async () => {
      env = setup();
      const peer = await subscribed(env);
      env.want(TASK, { cursor: 12 });
      env.sources.serve(TASK, true);
      expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 12 });
    });

    it('unsubscribes a key it ends, and no longer delivers its news', async () => {
      env = setup();
      env.sources.serve(AGENT, false);
      const peer = await subscribed(env);
      await peer.next('watch-agent');
      env.sources.end(OTHER_TASK); // never served: nothing to unsubscribe
      await settle();
      env.sources.end(TASK);
      expect(await peer.next('unsubscribe')).to.deep.equal({ type: 'unsubscribe', taskId: 't-1' });
      env.sources.end(AGENT);
      expect(await peer.next('unwatch-agent')).to.deep.equal({ type: 'unwatch-agent', agentId: 'agent-1' });
      peer.send(update(8, 9));
      expect(env.delivered).to.deep.equal([]);
    });

    it('delivers socket messages as socket events, with the cursor each answers', async () => {
      env = setup();
      const peer = await subscribed(env);
      const { requestId } = peer.frames[0] as Extract<ClientMessage, { type: 'subscribe' }>;
      peer.send(snapshot(page(lines(8, 9), 9)));
      peer.send(update(10, 10));
      expect(env.delivered.map(([key]) => key)).to.deep.equal([TASK, TASK]);
      expect(env.delivered.map(([, event]) => event)).to.deep.equal([
        { source: 'socket', message: { ...snapshot(page(lines(8, 9), 9)), requestId }, requested: 7 },
        { source: 'socket', message: update(10, 10), requested: null },
      ]);
    });

    it("delivers an agent's task on the agent's key", async () => {
      env = setup();
      env.sources.serve(AGENT, false);
      const peer = await env.connection();
      peer.hello();
      await peer.next('watch-agent');
      peer.send({ type: 'agent-task', agentId: 'agent-1', task: task(4) });
      expect(env.delivered).to.have.length(1);
      const [key, event] = env.delivered[0]!;
      expect(key).to.deep.equal(AGENT);
      expect(event).to.deep.include({ source: 'socket', requested: null });
      expect(event.source === 'socket' && event.message).to.deep.include({
        type: 'agent-task',
        task: task(4),
      });
    });

    it('reconnects at once on retryNow, skipping the backoff wait', async () => {
      env = setup();
      const peer = await subscribed(env);
      peer.close(1011);
      await env.status('down');
      env.sources.retryNow();
      const again = await env.connection();
      again.hello();
      expect(await again.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 7 });
      expect(env.sockets).to.have.length(2);
    });

    it('probes the socket it holds', async () => {
      env = setup();
      const peer = await subscribed(env);
      env.sources.probe();
      expect(await peer.next('ping')).to.deep.equal({ type: 'ping' });
    });
  });

  describe('polled keys', () => {
    it("polls a task-poll key's status from its members' cursor and delivers poll events", async () => {
      env = setup();
      env.want(POLLED, { cursor: 4 });
      env.sources.serve(POLLED, false);
      expect(env.fetch.requests).to.have.length(1, 'the first poll goes out at once');
      const [request] = env.fetch.requests;
      expect(request!.url.pathname).to.equal('/api/agent-tasks/t-9/status');
      expect(request!.url.searchParams.get('afterSeq')).to.equal('4');
      await settle();
      expect(env.delivered).to.deep.equal([
        [
          POLLED,
          {
            source: 'poll',
            result: { kind: 'ok', body: env.body, etag: null, consecutiveFailures: 0 },
            requested: 4,
          },
        ],
      ]);
      expect(env.sockets).to.have.length(0, 'a polled key opens no socket');
    });

    it("polls an agent-poll key's active task, with no cursor", async () => {
      env = setup();
      env.want(POLLED_AGENT, { cursor: 4 });
      env.sources.serve(POLLED_AGENT, false);
      const [request] = env.fetch.requests;
      expect(request!.url.pathname).to.equal('/api/agents/agent-9/active-task');
      expect(request!.url.search).to.equal('');
      await settle();
      expect(env.delivered).to.have.length(1);
      expect(env.delivered[0]![1]).to.deep.include({ source: 'poll', requested: null });
    });

    it("polls at its members' interval, each time from their cursor as it is then", async () => {
      env = setup();
      env.want(POLLED, { cursor: 4, intervalMs: 5_000 });
      env.sources.serve(POLLED, false);
      await settle();
      env.want(POLLED, { cursor: 6, intervalMs: 5_000 });
      env.clock.advance(4_999);
      await settle();
      expect(env.fetch.requests).to.have.length(1);
      env.clock.advance(1);
      await settle();
      expect(env.afterSeqs()).to.deep.equal(['4', '6']);
      expect(env.delivered.map(([, event]) => event.requested)).to.deep.equal([4, 6]);
    });

    it('takes a new interval from the next wait on when served again', async () => {
      env = setup();
      env.want(POLLED, { intervalMs: 5_000 });
      env.sources.serve(POLLED, false);
      await settle();
      env.want(POLLED, { intervalMs: 1_000 });
      env.sources.serve(POLLED, false);
      expect(env.fetch.requests).to.have.length(1, 'without refresh, no poll now');
      env.clock.advance(5_000); // the wait already set
      await settle();
      expect(env.fetch.requests).to.have.length(2);
      env.clock.advance(999);
      await settle();
      expect(env.fetch.requests).to.have.length(2);
      env.clock.advance(1);
      await settle();
      expect(env.fetch.requests).to.have.length(3);
    });

    it('polls at once when served again with refresh', async () => {
      env = setup();
      env.want(POLLED, { intervalMs: 5_000 });
      env.sources.serve(POLLED, false);
      await settle();
      env.want(POLLED, { cursor: 9, intervalMs: 5_000 });
      env.sources.serve(POLLED, true);
      expect(env.afterSeqs()).to.deep.equal([null, '9']);
    });

    it('slows the poll while every member is hidden, and polls at once when one is visible', async () => {
      env = setup();
      env.want(POLLED, { hidden: true, intervalMs: 1_000 });
      env.sources.serve(POLLED, false);
      await settle();
      expect(env.clock.nextDelay()).to.equal(30_000, 'hidden: max(interval × 6, 30 s)');
      env.clock.advance(29_999);
      await settle();
      expect(env.fetch.requests).to.have.length(1);
      env.want(POLLED, { hidden: false, intervalMs: 1_000 });
      env.sources.serve(POLLED, false);
      expect(env.fetch.requests).to.have.length(2);
    });

    it('stops polling a key it ends', async () => {
      env = setup();
      env.sources.serve(POLLED, false);
      await settle();
      env.sources.end(POLLED);
      env.clock.advance(60_000);
      await settle();
      expect(env.fetch.requests).to.have.length(1);
      expect(env.clock.pending).to.equal(0);
    });

    it('starts a fresh poll for a key served again after it ended', async () => {
      env = setup();
      env.sources.serve(POLLED, false);
      await settle();
      env.sources.end(POLLED);
      env.sources.serve(POLLED, false);
      expect(env.fetch.requests).to.have.length(2);
    });
  });

  describe('close', () => {
    it('closes the socket and stops every poll', async () => {
      env = setup();
      env.sources.serve(POLLED, false);
      const peer = await subscribed(env);
      await settle();
      const polls = env.fetch.requests.length;
      env.sources.close();
      expect(await peer.closed).to.equal(1000);
      expect(env.openSockets()).to.equal(0);
      env.clock.advance(120_000);
      await settle();
      expect(env.fetch.requests).to.have.length(polls);
      expect(env.clock.pending).to.equal(0, 'no timer left behind');
    });

    it('opens a new socket for a key served after it closed', async () => {
      env = setup();
      await subscribed(env);
      env.sources.close();
      env.sources.serve(TASK, false);
      const again = await env.connection();
      again.hello();
      expect(await again.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 7 });
      expect(env.sockets).to.have.length(2);
    });
  });
});
