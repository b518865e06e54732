import { expect } from '@open-wc/testing';
import { settle } from '../../widget/helpers/fake-clock.js';
import { lines, page, snapshot, task, update } from '../../widget/helpers/fixtures.js';
import { harness, range, seqsOf, type Harness } from './harness.js';

describe('panels of one page share the connection to their endpoint', () => {
  let h: Harness;
  afterEach(() => h.dispose());

  it('opens one socket for every panel and unsubscribes a task only when its last panel stops', async () => {
    h = harness();
    const twin = h.panel({ taskId: 't-1' });
    const other = h.panel({ taskId: 't-2' });
    h.feed.start();
    twin.start();
    other.start();
    const peer = await h.connection();
    peer.hello();
    const subscribed = [await peer.next('subscribe'), await peer.next('subscribe')];
    expect(subscribed.map((m) => m.taskId).sort()).to.deep.equal(['t-1', 't-2']);
    peer.send(snapshot(page(lines(1, 2), 2)));
    peer.send(snapshot(page(lines(1, 1), 1, { id: 't-2' })));
    peer.send(update(3, 3));
    await h.view((v) => v.logs.length === 3, h.feed);
    await h.view((v) => v.logs.length === 3, twin);
    expect(seqsOf(twin.view)).to.deep.equal(range(1, 3));
    expect(other.view.connectionState).to.equal('live');
    expect(h.sockets).to.have.length(1);

    h.feed.stop();
    other.stop();
    expect(await peer.next('unsubscribe')).to.deep.equal({ type: 'unsubscribe', taskId: 't-2' });
    twin.stop();
    // The last panel gone, the socket closes: that ends t-1's subscription without a message.
    expect(await peer.closed).to.equal(1000);
    expect(peer.received.filter((m) => m.type === 'unsubscribe')).to.have.length(1);
    expect(h.openSockets()).to.equal(0);
  });

  it('answers a second panel following an agent that another panel already follows', async () => {
    h = harness({ config: { agentId: 'agent-1' } });
    h.feed.start();
    const peer = await h.connection();
    peer.hello();
    await peer.next('watch-agent');
    peer.send({ type: 'agent-task', agentId: 'agent-1', task: null });
    await h.view((v) => v.notFound);

    const second = h.panel({ agentId: 'agent-1' });
    second.start();
    expect(await peer.next('watch-agent')).to.deep.equal({ type: 'watch-agent', agentId: 'agent-1' });
    peer.send({ type: 'agent-task', agentId: 'agent-1', task: task(0, 'queued', 't-7') });
    expect((await h.view((v) => v.task?.id === 't-7', second)).task?.phase).to.equal('queued');
  });

  it('polls a task once for all its panels in polling mode, and stops when the last one stops', async () => {
    h = harness({ config: { mode: 'polling' } });
    h.fetch.route = () => ({ status: 200, body: page(lines(1, 2), 2) });
    const twin = h.panel({ mode: 'polling' });
    h.feed.start();
    await settle();
    twin.start();
    await settle();
    expect(seqsOf(twin.view)).to.deep.equal([1, 2]);
    const before = h.fetch.requests.length;
    expect(before).to.equal(2, 'the first poll, and one at once for the panel that joined');
    h.clock.advance(1_000);
    await settle();
    expect(h.fetch.requests.length).to.equal(before + 1, 'one request per interval for both panels');
    h.feed.stop();
    twin.stop();
    expect(h.clock.pending).to.equal(0);
  });
});
