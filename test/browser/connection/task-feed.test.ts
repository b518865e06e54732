import { expect } from '@open-wc/testing';
import { BACKOFF } from '../../../widget/connection/backoff.js';
import { LINK } from '../../../widget/connection/socket-link.js';
import { PROBLEMS } from '../../../widget/connection/task-feed.js';
import { settle } from '../../widget/helpers/fake-clock.js';
import { lines, page, snapshot, task, update } from '../../widget/helpers/fixtures.js';
import { harness, range, seqsOf, type Harness, type Peer } from './harness.js';

/** Starts the feed and brings it live with a tail of events 1..seq. */
async function live(h: Harness, seq = 5): Promise<Peer> {
  h.feed.start();
  const peer = await h.connection();
  peer.hello();
  const subscribe = await peer.next('subscribe');
  expect(subscribe).to.deep.equal({ type: 'subscribe', taskId: 't-1' });
  peer.send(snapshot(page(lines(1, seq), seq)));
  await h.view((v) => v.connectionState === 'live');
  return peer;
}

/** Starts the feed and waits until its subscribe reaches the server (hello said). */
async function subscribed(h: Harness): Promise<Peer> {
  h.feed.start();
  const peer = await h.connection();
  peer.hello();
  await peer.next('subscribe');
  return peer;
}

/** Lets the pending backoff timer fire: the next attempt starts. */
function retry(h: Harness): void {
  const at = h.feed.view.nextRetryAt ?? h.clock.now() + (h.clock.nextDelay() ?? 0);
  h.clock.advance(at - h.clock.now());
}

describe('createTaskFeed over the WebSocket', () => {
  let h: Harness;
  afterEach(() => h.dispose());

  it('goes live on the first snapshot and shows its task and lines', async () => {
    h = harness();
    expect(h.feed.view.connectionState).to.equal('connecting');
    await live(h, 5);
    expect(h.feed.view.task?.seq).to.equal(5);
    expect(seqsOf(h.feed.view)).to.deep.equal(range(1, 5));
    expect(h.feed.view.problem).to.equal(null);
  });

  it('shows reconnecting with nextRetryAt after a drop, then resubscribes with the last cursor: nothing missed or applied twice', async () => {
    h = harness();
    const first = await live(h, 5);
    first.send(update(6, 7));
    expect(seqsOf(h.feed.view)).to.deep.equal(range(1, 7));

    first.close(1011);
    const down = await h.view((v) => v.connectionState === 'reconnecting');
    expect(down.problem).to.equal(PROBLEMS.reconnecting);
    expect(down.nextRetryAt).to.be.a('number');
    const wait = down.nextRetryAt! - h.clock.now();
    expect(wait).to.be.within(0, 500, 'first retry: full jitter under the 500 ms base');
    expect(h.sockets.length).to.equal(1);

    retry(h);
    expect(h.sockets.length).to.equal(2);
    const second = await h.connection();
    second.hello();
    expect(await second.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 7 });
    second.send(snapshot(page(lines(8, 9), 10)));
    second.send(update(6, 7)); // a late duplicate from another instance
    second.send(update(11, 11));
    const back = await h.view((v) => v.connectionState === 'live');
    expect(seqsOf(back)).to.deep.equal([...range(1, 9), 11], 'event 10 is a status change, not a line');
    expect(back.task?.seq).to.equal(11);
    expect(back.nextRetryAt).to.equal(null);
  });

  it('fills a gap in the live stream from the logs route', async () => {
    h = harness();
    h.fetch.route = (url) =>
      url.pathname.endsWith('/logs') && url.searchParams.get('afterSeq') === '5'
        ? { status: 200, body: { logs: lines(6, 7), nextAfterSeq: 7, hasMore: false, hasOlder: false } }
        : { status: 500 };
    const peer = await live(h, 5);
    peer.send(update(8, 9));
    await h.view((v) => v.logs.length === 9);
    expect(seqsOf(h.feed.view)).to.deep.equal(range(1, 9));
    expect(h.fetch.to('/logs')).to.have.length(1);
  });

  it('falls back to polling after repeated failed attempts, and climbs back to live without a gap', async () => {
    let accept = false;
    h = harness({ accept: () => accept });
    h.fetch.route = (url) => {
      const after = url.searchParams.get('afterSeq');
      if (after === null) return { status: 200, body: page(lines(1, 5), 5) };
      if (after === '5') return { status: 200, body: page(lines(6, 6), 6) };
      return { status: 304 };
    };
    h.feed.start();
    for (let attempt = 1; attempt < LINK.failuresBeforeFallback; attempt++) {
      const before = h.feed.view.nextRetryAt;
      await h.view((v) => v.connectionState === 'reconnecting' && v.nextRetryAt !== before);
      retry(h);
    }
    await h.view((v) => v.connectionState === 'polling');
    expect(h.feed.view.problem).to.equal(PROBLEMS.polling);
    await settle();
    expect(seqsOf(h.feed.view)).to.deep.equal(range(1, 5));
    h.clock.advance(1_000);
    await settle();
    expect(seqsOf(h.feed.view)).to.deep.equal(range(1, 6));

    accept = true;
    const socketsBefore = h.sockets.length;
    // The link keeps probing in the background with backoff; let its timer fire.
    while (h.sockets.length === socketsBefore) h.clock.runNext();
    const peer = await h.connection();
    peer.hello();
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 6 });
    peer.send(snapshot(page(lines(7, 8), 8)));
    const back = await h.view((v) => v.connectionState === 'live');
    expect(seqsOf(back)).to.deep.equal(range(1, 8));
    expect(back.problem).to.equal(null);

    const polls = h.fetch.requests.length;
    h.clock.advance(10_000);
    await settle();
    expect(h.fetch.requests.length).to.equal(polls, 'polling stopped once live');
  });

  it('falls back to polling at once when the server cannot take what this client sends (1003)', async () => {
    h = harness();
    h.fetch.route = () => ({ status: 200, body: page(lines(1, 2), 2) });
    h.feed.start();
    const peer = await h.connection();
    peer.close(1003);
    await h.view((v) => v.connectionState === 'polling');
    await settle();
    expect(h.fetch.to('/status')).to.have.length(1);
    expect(seqsOf(h.feed.view)).to.deep.equal([1, 2]);
  });

  it('reconnects after a policy close (1008) instead of polling for good, and goes live again', async () => {
    h = harness();
    h.fetch.route = () => ({ status: 200, body: page(lines(1, 2), 2) });
    const peer = await live(h, 2);
    peer.close(1008);
    await h.view((v) => v.connectionState === 'reconnecting');
    expect(h.fetch.to('/status')).to.have.length(0);
    retry(h);
    const again = await h.connection();
    again.hello();
    expect(await again.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 2 });
    again.send(snapshot(page([], 2)));
    await h.view((v) => v.connectionState === 'live');
  });

  it('polls while the store cannot serve its subscription, and goes live again when a resubscribe is served', async () => {
    h = harness();
    h.fetch.route = () => ({ status: 200, body: page(lines(1, 2), 2) });
    const peer = await subscribed(h);
    peer.send({ type: 'error', code: 'store_unavailable', message: 'store down', taskId: 't-1' });
    await h.view((v) => v.connectionState === 'polling');
    await h.view((v) => v.logs.length === 2);
    // The socket stays up; the subscription is asked again after a backoff (at most 2 base delays
    // after a first refusal: full jitter).
    h.clock.advance(2 * BACKOFF.baseMs);
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 2 });
    peer.send(snapshot(page(lines(3, 3), 3)));
    await h.view((v) => v.connectionState === 'live');
    expect(seqsOf(h.feed.view)).to.deep.equal([1, 2, 3]);
    expect(h.sockets).to.have.length(1);
  });

  it('says so and polls when the server refuses the subscription for its limit, while other panels stay live', async () => {
    h = harness();
    h.fetch.route = () => ({ status: 200, body: page(lines(1, 1), 1, { id: 't-2' }) });
    const peer = await live(h, 3);
    const second = h.panel({ taskId: 't-2' });
    second.start();
    await peer.next('subscribe');
    peer.send({ type: 'error', code: 'too_many_subscriptions', message: 'at most 1', taskId: 't-2' });
    await h.view((v) => v.connectionState === 'polling', second);
    expect(second.view.problem).to.equal(PROBLEMS.overLimit);
    expect(h.feed.view.connectionState).to.equal('live');
    expect(h.openSockets()).to.equal(1);
  });

  it('falls back to polling when the socket opens but no snapshot comes', async () => {
    h = harness();
    h.fetch.route = () => ({ status: 200, body: page(lines(1, 2), 2) });
    const peer = await subscribed(h);
    h.clock.advance(LINK.answerTimeoutMs);
    await h.view((v) => v.connectionState === 'polling');
    expect(await peer.closed).to.equal(4001);
    await settle();
    expect(seqsOf(h.feed.view)).to.deep.equal([1, 2]);
  });

  it('pings when idle and reconnects when the ping goes unanswered, ignoring the dead socket after', async () => {
    h = harness();
    h.feed.start();
    const peer = await h.connection();
    peer.hello(1_000);
    await peer.next('subscribe');
    peer.send(snapshot(page(lines(1, 3), 3)));
    await h.view((v) => v.connectionState === 'live');

    h.clock.advance(1_000);
    await peer.next('ping');
    peer.send({ type: 'pong' });
    h.clock.advance(1_000);
    await peer.next('ping');
    h.clock.advance(1_000);
    await h.view((v) => v.connectionState === 'reconnecting');
    peer.send(update(4, 4)); // arrives on the abandoned socket before its close completes
    expect(await peer.closed).to.equal(4000);
    expect(seqsOf(h.feed.view)).to.deep.equal([1, 2, 3]);
  });

  it('follows an agent and switches to the new task it starts', async () => {
    h = harness({ config: { agentId: 'agent-1' } });
    h.feed.start();
    const peer = await h.connection();
    peer.hello();
    expect(await peer.next('watch-agent')).to.deep.equal({ type: 'watch-agent', agentId: 'agent-1' });
    peer.send({ type: 'agent-task', agentId: 'agent-1', task: null });
    expect((await h.view((v) => v.notFound)).task).to.equal(null);

    peer.send({ type: 'agent-task', agentId: 'agent-1', task: task(1, 'running', 't-1') });
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1' });
    peer.send(snapshot(page(lines(1, 2), 2)));
    await h.view((v) => v.logs.length === 2);

    peer.send({ type: 'agent-task', agentId: 'agent-1', task: task(0, 'queued', 't-2') });
    expect(await peer.next('unsubscribe')).to.deep.equal({ type: 'unsubscribe', taskId: 't-1' });
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-2' });
    const switched = await h.view((v) => v.task?.id === 't-2');
    expect(switched.logs).to.deep.equal([]);
  });

  it('stops live work once the task is final and all its events are in', async () => {
    h = harness();
    const peer = await live(h, 3);
    peer.send(update(4, 5, 'completed'));
    // Its last panel done, the socket closes: that ends the subscription too.
    expect(await peer.closed).to.equal(1000);
    expect(h.openSockets()).to.equal(0);
    expect(h.clock.pending).to.equal(0);
    expect(h.feed.view.task?.phase).to.equal('completed');
    expect(h.feed.view.problem).to.equal(null);
  });

  it('loads older lines from the logs route before the oldest held', async () => {
    h = harness();
    h.fetch.route = (url) =>
      url.searchParams.get('beforeSeq') === '41'
        ? { status: 200, body: { logs: lines(21, 40), nextAfterSeq: 60, hasMore: false, hasOlder: false } }
        : { status: 500 };
    const peer = await subscribed(h);
    peer.send(snapshot(page(lines(41, 60), 60, { hasOlder: true })));
    await h.view((v) => v.hasOlder);
    await h.feed.loadOlder();
    expect(seqsOf(h.feed.view)).to.deep.equal(range(21, 60));
    expect(h.feed.view.hasOlder).to.equal(false);
  });

  it('retryNow skips the backoff wait', async () => {
    h = harness();
    const peer = await live(h);
    peer.close(1011);
    await h.view((v) => v.connectionState === 'reconnecting');
    h.feed.retryNow();
    expect(h.sockets.length).to.equal(2);
  });

  it('stop() releases every socket, timer, request and listener', async () => {
    h = harness();
    h.fetch.route = () => 'hang';
    const peer = await live(h);
    peer.send(update(9, 9)); // a gap: a fill request is now in flight
    await settle();
    expect(h.fetch.inFlight).to.equal(1);
    // online, offline (the feed) and pagehide, pageshow (its link); visibilitychange, freeze, resume.
    expect(h.window.listeners).to.equal(4);
    expect(h.document.listeners).to.equal(3);

    h.feed.stop();
    await settle();
    expect(h.openSockets()).to.equal(0);
    expect(h.clock.pending).to.equal(0);
    expect(h.fetch.inFlight).to.equal(0);
    expect(h.registry.size).to.equal(0);
    expect(h.window.listeners).to.equal(0);
    expect(h.document.listeners).to.equal(0);
  });

  it('resumes from its cursor when started again after stop()', async () => {
    h = harness();
    const first = await live(h, 4);
    h.feed.stop();
    await first.closed;
    h.feed.start();
    const peer = await h.connection();
    peer.hello();
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 4 });
  });
});

describe('createTaskFeed polling', () => {
  let h: Harness;
  afterEach(() => h.dispose());

  it('mode=polling never constructs a WebSocket and says real-time updates are unavailable', async () => {
    h = harness({ config: { mode: 'polling' } });
    h.fetch.route = () => ({ status: 200, body: page(lines(1, 2), 2) });
    h.feed.start();
    await settle();
    expect(h.sockets.length).to.equal(0);
    expect(h.feed.view.connectionState).to.equal('polling');
    expect(h.feed.view.problem).to.equal(PROBLEMS.polling);
    expect(seqsOf(h.feed.view)).to.deep.equal([1, 2]);
    h.clock.advance(5_000);
    expect(h.sockets.length).to.equal(0);
  });

  it('polls when the browser has no WebSocket at all', async () => {
    h = harness({ deps: { WebSocket: null } });
    h.fetch.route = () => ({ status: 200, body: page([], 0) });
    h.feed.start();
    await settle();
    expect(h.feed.view.connectionState).to.equal('polling');
    expect(h.fetch.to('/status')).to.have.length(1);
  });

  it('polls from its cursor, revalidates with the ETag, and stops once the task is complete', async () => {
    h = harness({ config: { mode: 'polling' } });
    h.fetch.route = (url, headers) => {
      const after = url.searchParams.get('afterSeq');
      if (after === null) return { status: 200, body: page(lines(1, 3), 3) };
      if (headers['if-none-match'] === '"4"') return { status: 304 };
      return { status: 200, body: page([], 4), headers: { etag: '"4"' } };
    };
    h.feed.start();
    await settle();
    h.clock.advance(1_000);
    await settle();
    expect(h.fetch.requests[1]!.url.searchParams.get('afterSeq')).to.equal('3');
    h.clock.advance(1_000);
    await settle();
    const third = h.fetch.requests[2]!;
    expect(third.url.searchParams.get('afterSeq')).to.equal('4');
    expect(third.headers['if-none-match']).to.equal(undefined, 'the cursor moved: another URL');
    h.clock.advance(1_000);
    await settle();
    expect(h.fetch.requests[3]!.headers['if-none-match']).to.equal('"4"');

    h.fetch.route = () => ({ status: 200, body: page(lines(5, 5), 6, { phase: 'completed' }) });
    h.clock.advance(1_000);
    await settle();
    expect(h.feed.view.task?.phase).to.equal('completed');
    expect(seqsOf(h.feed.view)).to.deep.equal([1, 2, 3, 5]);
    expect(h.clock.pending).to.equal(0, 'no more polling');
    expect(h.feed.view.problem).to.equal(null);
  });

  it('polls more slowly in a hidden tab and catches up when it becomes visible', async () => {
    h = harness({ config: { mode: 'polling' } });
    h.fetch.route = () => ({ status: 304 });
    h.setHidden(true);
    h.feed.start();
    await settle();
    expect(h.fetch.requests).to.have.length(1);
    expect(h.clock.nextDelay()).to.equal(30_000);
    h.clock.advance(20_000);
    await settle();
    expect(h.fetch.requests).to.have.length(1);
    h.setHidden(false);
    await settle();
    expect(h.fetch.requests).to.have.length(2);
    expect(h.clock.nextDelay()).to.equal(1_000);
  });

  it('goes offline after repeated failed polls, and back to polling when one succeeds', async () => {
    h = harness({ config: { mode: 'polling' } });
    h.fetch.route = () => 'network-error';
    h.feed.start();
    for (let i = 0; i < 3; i++) {
      await settle();
      if (i < 2) h.clock.runNext();
    }
    expect(h.feed.view.connectionState).to.equal('offline');
    expect(h.feed.view.problem).to.equal(PROBLEMS.offline);
    h.fetch.route = () => ({ status: 200, body: page([], 0) });
    h.feed.refresh();
    await settle();
    expect(h.feed.view.connectionState).to.equal('polling');
  });

  it('pauses while the browser is offline and catches up when it is back online', async () => {
    h = harness({ config: { mode: 'polling' } });
    h.fetch.route = () => ({ status: 304 });
    h.feed.start();
    await settle();
    h.window.dispatchEvent(new Event('offline'));
    expect(h.feed.view.connectionState).to.equal('offline');
    expect(h.feed.view.problem).to.equal(PROBLEMS.browserOffline);
    h.clock.advance(10_000);
    await settle();
    expect(h.fetch.requests).to.have.length(1);
    h.window.dispatchEvent(new Event('online'));
    await settle();
    expect(h.fetch.requests).to.have.length(2);
    expect(h.feed.view.connectionState).to.equal('polling');
  });

  it('Refresh while the browser says it is offline tries at once, as if it were back online', async () => {
    h = harness({ config: { mode: 'polling' } });
    h.fetch.route = () => ({ status: 304 });
    h.feed.start();
    await settle();
    h.window.dispatchEvent(new Event('offline'));
    expect(h.feed.view.problem).to.equal(PROBLEMS.browserOffline);
    h.feed.refresh();
    await settle();
    expect(h.fetch.requests).to.have.length(2, 'a poll at once');
    expect(h.feed.view.connectionState).to.equal('polling');
    h.clock.advance(1_000);
    await settle();
    expect(h.fetch.requests).to.have.length(3, 'and polling goes on at its interval');
  });

  it('shows offline with the browser, and live again when it is back, proving the socket with a ping', async () => {
    h = harness();
    const peer = await live(h);
    h.window.dispatchEvent(new Event('offline'));
    expect(h.feed.view.connectionState).to.equal('offline');
    expect(h.feed.view.problem).to.equal(PROBLEMS.browserOffline);
    h.window.dispatchEvent(new Event('online'));
    await settle();
    expect(h.feed.view.connectionState).to.equal('live');
    expect(await peer.next('ping')).to.deep.equal({ type: 'ping' });
  });

  it('trusts a snapshot over the browser: a server that answers while "offline" shows live', async () => {
    h = harness();
    h.feed.start();
    const peer = await h.connection();
    peer.hello();
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1' });
    h.window.dispatchEvent(new Event('offline'));
    expect(h.feed.view.connectionState).to.equal('offline');
    peer.send(snapshot(page(lines(1, 3), 3)));
    await h.view((v) => v.connectionState === 'live');
    expect(h.feed.view.problem).to.equal(null);
    expect(seqsOf(h.feed.view)).to.deep.equal(range(1, 3));
  });

  it('shows notFound for an unknown task', async () => {
    h = harness({ config: { mode: 'polling' } });
    h.feed.start();
    await settle();
    expect(h.feed.view.notFound).to.equal(true);
  });

  it('follows an agent by polling its active task', async () => {
    h = harness({ config: { mode: 'polling', agentId: 'agent-1' } });
    h.fetch.route = (url) =>
      url.pathname.endsWith('/active-task')
        ? { status: 200, body: { task: task(2, 'running', 't-9') } }
        : { status: 200, body: page(lines(1, 2), 2, { id: 't-9' }) };
    h.feed.start();
    await settle();
    expect(h.feed.view.task?.id).to.equal('t-9');
    expect(h.fetch.to('/t-9/status')).to.have.length(1);
    expect(seqsOf(h.feed.view)).to.deep.equal([1, 2]);
  });
});
