import { expect } from '@open-wc/testing';
import { tabElection, type TabElection } from '../../../widget/connection/tab-election.js';
import type { TabMessage } from '../../../widget/connection/tab-messages.js';
import { Waiters } from './harness.js';

let runs = 0;

/** What one tab's election told it. */
interface Tab {
  readonly id: string;
  readonly election: TabElection;
  ready: number;
  led: number;
  heard: TabMessage[];
}

/**
 * "Tabs" of one page: elections on one name (unique to the test, so no lock or channel of
 * another test interferes), with the page's real navigator.locks and BroadcastChannel.
 */
function setup() {
  const name = `agent-task-status/test-election ${++runs}-${Date.now()}`;
  const waiters = new Waiters();
  const tabs: Tab[] = [];
  const env = {
    name,
    waiters,
    /** A tab, started unless `start` is false. */
    tab(id: string, start = true): Tab {
      const tab: Tab = {
        id,
        ready: 0,
        led: 0,
        heard: [],
        election: tabElection({
          name,
          tabId: id,
          locks: navigator.locks,
          BroadcastChannel,
          onReady() {
            tab.ready++;
            waiters.poke();
          },
          onLead() {
            tab.led++;
            waiters.poke();
          },
          onMessage(message) {
            tab.heard.push(message);
            waiters.poke();
          },
        }),
      };
      tabs.push(tab);
      if (start) tab.election.start();
      return tab;
    },
    /** Tab `id`, started, once it leads. */
    async leader(id: string): Promise<Tab> {
      const tab = env.tab(id);
      await waiters.until(() => tab.led > 0);
      return tab;
    },
    /** Tabs `ids`, all started, once every one is ready. */
    async ready<const Ids extends string[]>(...ids: Ids): Promise<{ [K in keyof Ids]: Tab }> {
      const started = ids.map((id) => env.tab(id));
      await waiters.until(() => started.every((tab) => tab.ready > 0));
      return started as { [K in keyof Ids]: Tab };
    },
    /** A callback for `watch` that counts its calls in `calls`. */
    counter() {
      const counter = {
        calls: 0,
        count: (): void => {
          counter.calls++;
          waiters.poke();
        },
      };
      return counter;
    },
    /** Tab `a` leading, tab `b` ready behind it, and a `gone` counter for `a` to watch `b` with. */
    async leaderAndFollower() {
      const a = await env.leader('a');
      const [b] = await env.ready('b');
      return { a, b, gone: env.counter() };
    },
    /** The lock manager's view of this test's locks: held and pending, by name. */
    async locks(): Promise<{ held: string[]; pending: string[] }> {
      const { held = [], pending = [] } = await navigator.locks.query();
      const ours = (locks: LockInfo[]) =>
        locks.map((lock) => lock.name ?? '').filter((lock) => lock.startsWith(name));
      return { held: ours(held), pending: ours(pending) };
    },
    /**
     * Takes tab `id`'s own lock for the test (waiting for it if held) and keeps it until the
     * returned function is called: meanwhile that tab cannot become ready.
     */
    async hold(id: string): Promise<() => void> {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      await new Promise<void>((granted) => {
        void navigator.locks.request(`${name} #${id}`, () => (granted(), released));
      });
      return release;
    },
    dispose(): void {
      for (const tab of tabs) tab.election.stop();
    },
  };
  return env;
}

const status = (n: number): TabMessage => ({
  type: 'status',
  status: { kind: 'down', nextRetryAt: n, fallback: null },
});

describe('tabElection', () => {
  let env: ReturnType<typeof setup>;
  afterEach(() => env.dispose());

  it('makes the first tab started ready, then its leader', async () => {
    env = setup();
    const a = await env.leader('a');
    expect(a.ready).to.equal(1);
    expect(a.led).to.equal(1);
    expect((await env.locks()).held).to.have.members([env.name, `${env.name} #a`]);
  });

  it('makes a second tab ready but leads with it only once the first stops', async () => {
    env = setup();
    const { a, b } = await env.leaderAndFollower();
    // Its request for the leader lock is queued behind the first tab's, and not granted.
    expect((await env.locks()).pending).to.deep.equal([env.name]);
    expect(b.led).to.equal(0);

    a.election.stop();
    await env.waiters.until(() => b.led > 0);
    expect(b.led).to.equal(1);
    expect(a.led).to.equal(1, 'the first tab does not lead again');
    expect((await env.locks()).held).to.have.members([env.name, `${env.name} #b`]);
  });

  it('drops what a tab posts before it is ready, and delivers what it posts after', async () => {
    env = setup();
    const [a] = await env.ready('a');
    const b = env.tab('b');
    b.election.post(status(1));
    expect(b.ready).to.equal(0, 'not ready yet: its lock is granted later');
    await env.waiters.until(() => b.ready > 0);
    b.election.post(status(2));
    // One sender's messages arrive in order: had the first been sent, it would come first.
    await env.waiters.until(() => a.heard.length > 0);
    expect(a.heard).to.deep.equal([status(2)]);
  });

  it('hears nothing until it is ready', async () => {
    env = setup();
    const [a] = await env.ready('a');
    const release = await env.hold('b');
    const b = env.tab('b');
    const [c] = await env.ready('c');
    a.election.post(status(1));
    await env.waiters.until(() => c.heard.length > 0);
    expect(b.ready).to.equal(0);
    expect(b.heard).to.deep.equal([], 'not ready: its answers would be lost');

    release();
    await env.waiters.until(() => b.ready > 0);
    a.election.post(status(2));
    await env.waiters.until(() => b.heard.length > 0);
    expect(b.heard).to.deep.equal([status(2)]);
  });

  it('delivers messages both ways between ready tabs, never to the sender itself', async () => {
    env = setup();
    const [a, b] = await env.ready('a', 'b');
    a.election.post({ type: 'hello' });
    b.election.post({ type: 'probe' });
    await env.waiters.until(() => a.heard.length > 0 && b.heard.length > 0);
    expect(a.heard).to.deep.equal([{ type: 'probe' }]);
    expect(b.heard).to.deep.equal([{ type: 'hello' }]);
  });

  it('tells the leader when a watched tab stops, and not before', async () => {
    env = setup();
    const { a, b, gone } = await env.leaderAndFollower();
    a.election.watch('b', gone.count);
    // The watch waits on the second tab's own lock, which that tab holds.
    expect((await env.locks()).pending).to.include(`${env.name} #b`);
    expect(gone.calls).to.equal(0);

    b.election.stop();
    await env.waiters.until(() => gone.calls > 0);
    expect(gone.calls).to.equal(1);
  });

  it('tells the leader at once about a watched tab that holds no lock', async () => {
    env = setup();
    const a = await env.leader('a');
    let gone = false;
    a.election.watch('never-started', () => {
      gone = true;
      env.waiters.poke();
    });
    await env.waiters.until(() => gone);
    expect(gone).to.equal(true);
  });

  it('watches a tab once, however many times it is asked', async () => {
    env = setup();
    const { a, b, gone } = await env.leaderAndFollower();
    a.election.watch('b', gone.count);
    a.election.watch('b', gone.count);
    expect((await env.locks()).pending.filter((lock) => lock === `${env.name} #b`)).to.have.length(1);
    b.election.stop();
    await env.waiters.until(() => gone.calls > 0);
    // Lock requests are granted in order: a second watch's would come before this one.
    await navigator.locks.request(`${env.name} #b`, () => {});
    expect(gone.calls).to.equal(1);
  });

  it('can be started again after stop, and is ready again', async () => {
    env = setup();
    const a = await env.leader('a');
    a.election.stop();
    a.election.start();
    await env.waiters.until(() => a.led > 1);
    expect(a.ready).to.equal(2);
    expect((await env.locks()).held).to.have.members([env.name, `${env.name} #a`]);
  });

  it('follows, not leads, when started again while another tab leads', async () => {
    env = setup();
    const { a, b } = await env.leaderAndFollower();
    a.election.stop();
    await env.waiters.until(() => b.led > 0);
    a.election.start();
    await env.waiters.until(() => a.ready > 1);
    b.election.post({ type: 'hello' });
    b.election.post({ type: 'probe' });
    await env.waiters.until(() => a.heard.some((m) => m.type === 'probe'));
    expect(a.heard).to.deep.equal(
      [{ type: 'hello' }, { type: 'probe' }],
      'the restarted tab hears the channel again, each message once',
    );
    expect(a.led).to.equal(1);
    expect((await env.locks()).pending).to.deep.equal([env.name]);
  });

  it('neither speaks nor hears, once started again, until it holds its lock again', async () => {
    env = setup();
    const [a, b] = await env.ready('a', 'b');
    b.election.stop();
    const release = await env.hold('b');
    b.election.start();
    b.election.post(status(1));
    a.election.post(status(2));
    const [c] = await env.ready('c');
    c.election.post(status(3));
    await env.waiters.until(() => a.heard.length > 0);
    expect(a.heard).to.deep.equal([status(3)], 'what it posted before was dropped');
    expect(b.heard).to.deep.equal([], 'and it heard nothing');
    release();
    await env.waiters.until(() => b.ready > 1);
  });

  it('asks for its locks once when started twice, and lets them all go on stop', async () => {
    env = setup();
    const a = env.tab('a');
    a.election.start();
    await env.waiters.until(() => a.led > 0);
    const locks = await env.locks();
    expect(locks.held).to.have.members([env.name, `${env.name} #a`]);
    expect(locks.pending).to.deep.equal([], 'no second request for its own lock');
    const [b] = await env.ready('b');
    a.election.stop();
    await env.waiters.until(() => b.led > 0);
    expect(a.ready).to.equal(1);
  });

  it('watches a tab again once it was gone and came back', async () => {
    env = setup();
    const { a, b, gone } = await env.leaderAndFollower();
    a.election.watch('b', gone.count);
    b.election.stop();
    await env.waiters.until(() => gone.calls > 0);
    b.election.start();
    await env.waiters.until(() => b.ready > 1);
    a.election.watch('b', gone.count);
    expect((await env.locks()).pending).to.include(`${env.name} #b`);
    b.election.stop();
    await env.waiters.until(() => gone.calls > 1);
    expect(gone.calls).to.equal(2);
  });

  it('watches again after it stopped and started again', async () => {
    env = setup();
    const { a, b, gone } = await env.leaderAndFollower();
    a.election.watch('b', gone.count);
    a.election.stop();
    a.election.start();
    await env.waiters.until(() => a.ready > 1);
    a.election.watch('b', gone.count);
    expect((await env.locks()).pending).to.include(`${env.name} #b`);
    b.election.stop();
    await env.waiters.until(() => gone.calls > 0);
    expect(gone.calls).to.equal(1, 'the watch of the stopped election was dropped with it');
  });

  it('delivers nothing to a tab that is stopped', async () => {
    env = setup();
    const [a, b, c] = await env.ready('a', 'b', 'c');
    a.election.stop();
    b.election.post({ type: 'hello' });
    // Channels opened earlier hear a message first: the stopped tab's turn came before this one.
    await env.waiters.until(() => c.heard.length > 0);
    expect(c.heard).to.deep.equal([{ type: 'hello' }]);
    expect(a.heard).to.deep.equal([]);
  });

  it('posts nothing once stopped', async () => {
    env = setup();
    const [a, b] = await env.ready('a', 'b');
    a.election.post({ type: 'hello' });
    a.election.stop();
    a.election.post({ type: 'probe' });
    const [c] = await env.ready('c');
    c.election.post({ type: 'retry' });
    await env.waiters.until(() => b.heard.length > 1);
    expect(b.heard).to.deep.equal([{ type: 'hello' }, { type: 'retry' }]);
  });

  it('stops a tab that is not ready yet without it ever becoming ready', async () => {
    env = setup();
    await env.leader('a');
    const b = env.tab('b');
    b.election.stop();
    // Take and release b's lock: were b's request still queued, it would be granted first.
    await navigator.locks.request(`${env.name} #b`, () => {});
    expect(b.ready).to.equal(0);
    expect((await env.locks()).pending).to.deep.equal([]);
  });
});
