// A panel's viewer token on the wire (issue 13): authorized on the socket before the subscribes
// it covers, sent as a bearer header with polls, renewed through the host's tokenProvider before
// it expires and when the server refuses it, and a panel that stays refused says so and stops.
import { expect } from '@open-wc/testing';
import type { ClientMessage } from '../../../protocol/ws-messages.js';
import { PROBLEMS } from '../../../widget/connection/task-feed.js';
import type { FeedView } from '../../../widget/connection/task-feed-types.js';
import { FakeClock, settle } from '../../widget/helpers/fake-clock.js';
import { lines, page, snapshot, task, update } from '../../widget/helpers/fixtures.js';
import { harness, range, seqsOf, type Harness, type HarnessOptions, type Peer } from './harness.js';

/** A JWT-shaped token expiring `inSeconds` after `now` (ms); the widget reads `exp` and never checks the rest. */
function tokenExpiring(now: number, inSeconds: number, name = 'a'): string {
  const payload = btoa(JSON.stringify({ exp: Math.floor(now / 1000) + inSeconds, tasks: ['t-1'] }))
    .replace(/=+$/, '')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
  return `eyJhbGciOiJIUzI1NiJ9.${payload}.signature-${name}`;
}

/** The frames of one kind a peer received, in order. */
const framesOf = <T extends ClientMessage['type']>(peer: Peer, type: T) =>
  peer.frames.filter((frame): frame is Extract<ClientMessage, { type: T }> => frame.type === type);

/** Where the harness's fake clock starts (a fresh FakeClock's time). */
const START = new FakeClock().now();

/** A tokenProvider whose answers the test gives by hand, counting how often it was asked. */
function heldProvider() {
  const held = {
    asked: 0,
    answer: (_token: string | null): void => {},
    provider: () => {
      held.asked++;
      return new Promise<string | null>((resolve) => (held.answer = resolve));
    },
  };
  return held;
}

/** Every connection state the panel showed, in order, repeats dropped. */
const statesOf = (views: FeedView[]) =>
  views.map((view) => view.connectionState).filter((state, i, all) => state !== all[i - 1]);

describe('a panel with a viewer token', () => {
  let h: Harness;
  afterEach(() => h.dispose());

  /** Starts the feed and brings it live with a tail of events 1..seq (a heartbeat of an hour: no pings to answer). */
  async function live(options: HarnessOptions, seq = 5): Promise<Peer> {
    h = harness(options);
    h.feed.start();
    const peer = await h.connection();
    peer.hello(3_600_000);
    await peer.next('subscribe');
    peer.send(snapshot(page(lines(1, seq), seq)));
    await h.view((v) => v.connectionState === 'live');
    return peer;
  }

  it('authorizes its token on the socket before its first subscribe, once for every panel that shares it', async () => {
    const peer = await live({ config: { accessToken: 'token-a' } });
    expect(peer.frames.map((frame) => frame.type)).to.deep.equal(['authorize', 'subscribe']);
    expect(framesOf(peer, 'authorize')[0]!.tokens).to.deep.equal(['token-a']);

    const twin = h.panel({ taskId: 't-2', accessToken: 'token-a' });
    twin.start();
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-2' });
    expect(framesOf(peer, 'authorize')).to.have.length(1, 'the socket holds the grant already');
  });

  it('a dashboard whose panels each have a token of their own authorizes them in one message, before the one subscribe', async () => {
    h = harness({ config: { accessToken: 'token-1' } });
    const others = [2, 3, 4, 5].map((n) => h.panel({ taskId: `t-${n}`, accessToken: `token-${n}` }));
    h.feed.start();
    for (const panel of others) panel.start();
    const peer = await h.connection();
    peer.hello();
    await peer.next('subscribe');
    expect(peer.frames.map((frame) => frame.type)).to.deep.equal(['authorize', 'subscribe']);
    expect(framesOf(peer, 'authorize')[0]!.tokens).to.deep.equal([1, 2, 3, 4, 5].map((n) => `token-${n}`));
  });

  it("an agent's panel whose stream and watch expire together renews once and asks both again", async () => {
    let renewals = 0;
    h = harness({
      config: {
        agentId: 'agent-1',
        accessToken: 'token-a',
        tokenProvider: async () => `token-${++renewals}`,
      },
    });
    h.feed.start();
    const peer = await h.connection();
    peer.hello(3_600_000);
    await peer.next('watch-agent');
    peer.send({ type: 'agent-task', agentId: 'agent-1', task: task(3, 'running', 't-1') });
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1' });
    peer.send(snapshot(page(lines(1, 3), 3)));
    await h.view((v) => v.connectionState === 'live' && v.task?.seq === 3);

    peer.send({ type: 'error', code: 'token_expired', taskId: 't-1', message: 'expired', requestId: null });
    peer.send({
      type: 'error',
      code: 'token_expired',
      agentId: 'agent-1',
      message: 'expired',
      requestId: null,
    });
    const asked = [await peer.next('subscribe'), await peer.next('watch-agent')];
    expect(asked).to.deep.include({ type: 'subscribe', taskId: 't-1', afterSeq: 3 });
    expect(asked).to.deep.include({ type: 'watch-agent', agentId: 'agent-1' });
    expect(renewals).to.equal(1);
    peer.send(snapshot(page(lines(4, 4), 4)));
    peer.send({ type: 'agent-task', agentId: 'agent-1', task: task(4, 'running', 't-1') });
    await h.view((v) => v.task?.seq === 4);
    expect(statesOf(h.views)).to.deep.equal(['live'], 'never unauthorized');
  });

  it('a provider that returns the same token again changes nothing: no key is asked again', async () => {
    let asked = 0;
    const token = tokenExpiring(START, 600);
    const peer = await live({
      config: {
        accessToken: token,
        tokenProvider: async () => {
          asked++;
          return token;
        },
      },
    });
    h.clock.advance(540_000);
    await settle();
    expect(asked).to.equal(1);
    h.clock.advance(59_000);
    await settle();
    expect(asked).to.equal(1, 'no renewal planned for a token that did not change');
    expect(framesOf(peer, 'subscribe')).to.have.length(1);
  });

  it('a refusal that arrives while a timed renewal is under way waits for it: failed, the panel says unauthorized', async () => {
    const held = heldProvider();
    const expiring = tokenExpiring(START, 600);
    const peer = await live({
      config: {
        accessToken: expiring,
        tokenProvider: held.provider,
      },
    });
    h.clock.advance(540_000);
    await settle();
    expect(held.asked).to.equal(1, 'the timed renewal asked, and waits');
    peer.send({ type: 'error', code: 'token_expired', taskId: 't-1', message: 'expired', requestId: null });
    await settle();
    held.answer(null);
    await h.view((v) => v.connectionState === 'unauthorized');
    expect(held.asked).to.equal(1, 'one renewal served both');
  });

  it('a renewal that ends after the panel stopped plans no other', async () => {
    const held = heldProvider();
    const expiring = tokenExpiring(START, 600, 'a');
    const later = tokenExpiring(START, 1_200, 'b');
    await live({
      config: {
        accessToken: expiring,
        tokenProvider: held.provider,
      },
    });
    h.clock.advance(540_000);
    await settle();
    h.feed.stop();
    held.answer(later);
    await settle();
    h.clock.advance(3_600_000);
    await settle();
    expect(held.asked).to.equal(1, 'the stopped panel never asks the provider again');
  });

  it('shows unauthorized when the server refuses it and there is no provider, and asks nothing more', async () => {
    h = harness({ config: { accessToken: 'forged' } });
    h.feed.start();
    const peer = await h.connection();
    peer.hello();
    await peer.next('subscribe');
    peer.send({
      type: 'error',
      code: 'unauthorized',
      taskId: 't-1',
      message: 'the viewer token is not valid',
    });
    const refused = await h.view((v) => v.connectionState === 'unauthorized');
    expect(refused.problem).to.equal(PROBLEMS.unauthorized);
    expect(refused.task).to.equal(null);
    await settle();
    expect(framesOf(peer, 'subscribe')).to.have.length(1, 'no retry with the same refused token');
  });

  it('renews a token that expired mid-stream through the provider and resumes from its cursor: every line once, no banner', async () => {
    let renewals = 0;
    const peer = await live({
      config: {
        accessToken: 'token-a',
        tokenProvider: async () => `token-${String.fromCharCode(98 + renewals++)}`,
      },
    });
    peer.send(update(6, 7));
    // The server's news: the grant that covered the task ran out; it stopped the stream.
    peer.send({ type: 'error', code: 'token_expired', taskId: 't-1', message: 'expired', requestId: null });
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 7 });
    expect(framesOf(peer, 'authorize').map((frame) => frame.tokens)).to.deep.equal([
      ['token-a'],
      ['token-b'],
    ]);
    expect(peer.frames.at(-2)?.type).to.equal(
      'authorize',
      'the fresh token goes before the subscribe it covers',
    );
    peer.send(snapshot(page(lines(8, 9), 9)));
    peer.send(update(10, 10));
    await h.view((v) => v.task?.seq === 10);
    expect(seqsOf(h.feed.view)).to.deep.equal(range(1, 10));
    expect(statesOf(h.views)).to.deep.equal(['live'], 'never reconnecting, polling or unauthorized');
    expect(renewals).to.equal(1);
  });

  it('renews its token a minute before it expires, while the stream goes on', async () => {
    const asked: number[] = [];
    const expiring = tokenExpiring(START, 600, 'a');
    const peer = await live({
      config: {
        accessToken: expiring,
        tokenProvider: async () => {
          asked.push(h.clock.now());
          return tokenExpiring(h.clock.now(), 600, 'b');
        },
      },
    });
    const startedAt = h.clock.now();
    h.clock.advance(539_000);
    await settle();
    expect(asked).to.deep.equal([], 'not before a minute ahead of expiry');
    h.clock.advance(1_000);
    await settle();
    expect(asked).to.deep.equal([startedAt + 540_000]);
    expect(await peer.next('subscribe')).to.deep.equal({ type: 'subscribe', taskId: 't-1', afterSeq: 5 });
    expect(framesOf(peer, 'authorize').at(-1)!.tokens[0]).to.match(/signature-b$/);
    expect(h.feed.view.connectionState).to.equal('live');
  });

  it('polls with its token as a bearer header; refused, it asks the provider once, then shows unauthorized and stops', async () => {
    const provided: string[] = [];
    h = harness({
      config: {
        mode: 'polling',
        accessToken: 'token-a',
        tokenProvider: async () => {
          provided.push('token-b');
          return 'token-b';
        },
      },
    });
    h.fetch.route = () => ({ status: 401, body: { error: { code: 'token_expired', message: 'expired' } } });
    h.feed.start();
    await h.view((v) => v.connectionState === 'unauthorized');
    expect(h.fetch.requests.map((r) => r.headers.authorization)).to.deep.equal([
      'Bearer token-a',
      'Bearer token-b',
    ]);
    expect(provided).to.have.length(1);
    h.clock.advance(60_000);
    await settle();
    expect(h.fetch.requests).to.have.length(2, 'no more polls once refused twice');
  });

  it('goes on with a new access token from the host after a refusal', async () => {
    h = harness({ config: { mode: 'polling', accessToken: 'token-a' } });
    h.fetch.route = (_url, headers) =>
      headers.authorization === 'Bearer token-b'
        ? { status: 200, body: page(lines(1, 3), 3) }
        : { status: 403, body: { error: { code: 'forbidden', message: 'another task' } } };
    h.feed.start();
    await h.view((v) => v.connectionState === 'unauthorized');
    h.feed.setToken('token-b');
    const back = await h.view((v) => v.connectionState === 'polling' && v.task !== null);
    expect(seqsOf(back)).to.deep.equal(range(1, 3));
    expect(back.problem).to.equal(PROBLEMS.polling);
  });
});
