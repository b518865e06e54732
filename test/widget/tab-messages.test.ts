import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { feedKey, type FeedKey } from '../../widget/connection/feed-key.js';
import {
  tabChannelName,
  tabOutbox,
  type TabJoin,
  type TabMessage,
} from '../../widget/connection/tab-messages.js';

const A = feedKey('task', 't-a');
const B = feedKey('task-poll', 't-b');
const C = feedKey('agent', 'agent-c');

function join(key: FeedKey, cursor: number | null = null, refresh = false): TabJoin {
  return { key, refresh, cursor, hidden: false, intervalMs: 1_000, token: null };
}

function outbox(tab = 'tab-1') {
  const posted: TabMessage[] = [];
  return { posted, outbox: tabOutbox(tab, (message) => posted.push(message)) };
}

/** Lets the tick's queued microtask run. */
const endOfTick = (): Promise<void> => Promise.resolve();

describe('tabOutbox', () => {
  it("posts nothing until the tick ends, then the tick's joins as one message", async () => {
    const { posted, outbox: box } = outbox();
    box.join(join(A, 4, true));
    box.join(join(B));
    box.join(join(C, null, true));
    assert.deepEqual(posted, [], 'nothing is posted synchronously');
    await endOfTick();
    assert.deepEqual(posted, [
      { type: 'join', tab: 'tab-1', joins: [join(A, 4, true), join(B), join(C, null, true)] },
    ]);
  });

  it('posts a leave after joins as a second message, in that order', async () => {
    const { posted, outbox: box } = outbox();
    box.join(join(A));
    box.join(join(B));
    box.leave(C);
    box.leave(A);
    await endOfTick();
    assert.deepEqual(posted, [
      { type: 'join', tab: 'tab-1', joins: [join(A), join(B)] },
      { type: 'leave', tab: 'tab-1', keys: [C, A] },
    ]);
  });

  it('keeps a join, a leave and a join again of one tick in that order', async () => {
    const { posted, outbox: box } = outbox();
    box.join(join(A, 1));
    box.leave(A);
    box.join(join(A, 2));
    await endOfTick();
    assert.deepEqual(posted, [
      { type: 'join', tab: 'tab-1', joins: [join(A, 1)] },
      { type: 'leave', tab: 'tab-1', keys: [A] },
      { type: 'join', tab: 'tab-1', joins: [join(A, 2)] },
    ]);
  });

  it('starts a new batch in a later tick', async () => {
    const { posted, outbox: box } = outbox();
    box.join(join(A));
    await endOfTick();
    box.join(join(B));
    assert.equal(posted.length, 1, "the later tick's join waits for its own tick to end");
    await endOfTick();
    assert.deepEqual(posted, [
      { type: 'join', tab: 'tab-1', joins: [join(A)] },
      { type: 'join', tab: 'tab-1', joins: [join(B)] },
    ]);
  });

  it('posts nothing in a tick with no joins or leaves', async () => {
    const { posted } = outbox();
    await endOfTick();
    await endOfTick();
    assert.deepEqual(posted, []);
  });

  it("carries its tab's id on every message", async () => {
    const { posted, outbox: box } = outbox('tab-7f3');
    box.join(join(A));
    box.leave(B);
    await endOfTick();
    assert.deepEqual(
      posted.map((m) => (m.type === 'join' || m.type === 'leave' ? m.tab : null)),
      ['tab-7f3', 'tab-7f3'],
    );
  });
});

describe('tabChannelName', () => {
  const URL_1 = 'ws://one.test/api/agent-tasks/ws';
  const URL_2 = 'ws://two.test/api/agent-tasks/ws';

  it('names the protocol version, so tabs of an older build never share a channel with newer ones', () => {
    assert.match(tabChannelName(URL_1), /\/3\b/);
  });

  it('differs per endpoint URL, so each endpoint has its own leader', () => {
    assert.notEqual(tabChannelName(URL_1), tabChannelName(URL_2));
    assert.equal(tabChannelName(URL_1), tabChannelName(URL_1));
  });
});
