import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Task } from '../../../protocol/index.js';
import { KnownHeads, type KnownHead } from '../../../server/store/dynamodb/known-heads.js';

const head = (id: string, seq: number): KnownHead => ({
  task: { id, seq } as Task,
  tokenHash: `hash-${id}`,
  tail: null,
  usage: { lines: 0, bytes: 0 },
});

function heads(config: { freshMs?: number; maxTasks?: number } = {}) {
  let now = 0;
  const known = new KnownHeads({
    freshMs: config.freshMs ?? 5_000,
    maxTasks: config.maxTasks ?? 100,
    now: () => now,
  });
  return { known, advance: (ms: number) => (now += ms) };
}

describe('KnownHeads', () => {
  it('answers reads only while fresh, and writes for ten minutes', () => {
    const { known, advance } = heads();
    known.confirm('a', head('a', 3));
    assert.equal(known.forRead('a')?.task.seq, 3);
    advance(4_999);
    assert.equal(known.forRead('a')?.task.seq, 3);
    advance(1);
    assert.equal(known.forRead('a'), undefined, 'stale for reads at freshMs');
    assert.equal(
      known.forWrite('a')?.task.seq,
      3,
      'a write goes on from it: its conditional put is the check',
    );
    advance(10 * 60_000);
    assert.equal(
      known.forWrite('a'),
      undefined,
      'too old to write after: a TTL may have freed the slot after it',
    );
    assert.equal(known.size, 0, 'and dropped');
  });

  it('dates a head from its mark (when its read started), not from when it is stored', () => {
    const { known, advance } = heads();
    advance(6_000);
    const mark = known.mark();
    advance(4_000);
    known.confirm('a', head('a', 1), mark);
    assert.ok(known.forRead('a'));
    advance(1_000);
    assert.equal(known.forRead('a'), undefined);
  });

  it('only moves forward: a head read before a newer one, or a lower seq, is not taken', () => {
    const { known } = heads();
    const early = known.mark();
    known.confirm('a', head('a', 2));
    known.confirm('a', head('a', 1), early);
    assert.equal(known.forRead('a')?.task.seq, 2, 'a read that started before the write confirmed');
    known.confirm('a', head('a', 1));
    assert.equal(known.forRead('a')?.task.seq, 2, 'a later mark does not take a seq back');
    known.confirm('a', { ...head('a', 2), tokenHash: 'newer' });
    assert.equal(known.forRead('a')?.tokenHash, 'newer', 'the same seq learned later replaces it');
  });

  it('takes nothing learned before a forget (a read in flight when the token hash was replaced)', () => {
    const { known } = heads();
    known.confirm('a', head('a', 1));
    const inFlight = known.mark();
    known.forget('a');
    known.confirm('a', head('a', 1), inFlight);
    assert.equal(known.forRead('a'), undefined);
    known.confirm('a', { ...head('a', 1), tokenHash: 'read after' });
    assert.equal(known.forRead('a')?.tokenHash, 'read after');
  });

  it('keeps at most maxTasks, dropping the least recently confirmed first', () => {
    const { known } = heads({ maxTasks: 2 });
    known.confirm('a', head('a', 1));
    known.confirm('b', head('b', 1));
    known.confirm('a', head('a', 2));
    known.confirm('c', head('c', 1));
    assert.equal(known.forRead('b'), undefined);
    assert.equal(known.forRead('a')?.task.seq, 2);
    assert.equal(known.forRead('c')?.task.seq, 1);
    assert.equal(known.size, 2);
  });

  it('forgets a task on request, and remembers nothing with maxTasks 0', () => {
    const { known } = heads();
    known.confirm('a', head('a', 1));
    known.forget('a');
    assert.equal(known.forWrite('a'), undefined);
    const none = heads({ maxTasks: 0 }).known;
    none.confirm('a', head('a', 1));
    assert.equal(none.forWrite('a'), undefined);
  });

  it('with freshMs 0 answers no read, and still knows the head to write after', () => {
    const { known } = heads({ freshMs: 0 });
    known.hearFrom(() => ({}));
    known.confirm('a', head('a', 1));
    assert.equal(known.forRead('a'), undefined);
    assert.equal(known.forWrite('a')?.task.seq, 1);
  });
});

describe('KnownHeads with a bus that vouches for a task', () => {
  /** A bus whose word on each task is an object that changes at every gap. */
  function hearing() {
    const heard = new Map<string, object | undefined>();
    return {
      of: (taskId: string) => heard.get(taskId),
      hear: (taskId: string) => heard.set(taskId, {}),
      gap: (taskId: string) => heard.set(taskId, undefined),
    };
  }

  it('answers reads past freshMs, up to heardMs, while the bus has heard the task since the head', () => {
    const { known, advance } = heads();
    const bus = hearing();
    known.hearFrom(bus.of);
    bus.hear('a');
    known.confirm('a', head('a', 3));
    advance(59_999);
    assert.equal(known.forRead('a')?.task.seq, 3, 'no read while nothing can have been missed');
    advance(1);
    assert.equal(known.forRead('a'), undefined, 'the bound for an event never sent: read again');
  });

  it('stops vouching at a gap, and a head learned before the bus heard the task is not vouched for', () => {
    const { known, advance } = heads();
    const bus = hearing();
    known.hearFrom(bus.of);
    known.confirm('a', head('a', 1));
    bus.hear('a');
    advance(5_000);
    assert.equal(known.forRead('a'), undefined, 'a write between the head and the subscription is unheard');

    known.confirm('a', head('a', 1));
    bus.gap('a');
    bus.hear('a');
    advance(5_000);
    assert.equal(known.forRead('a'), undefined, 'events may have been lost in the gap');

    const readStarted = known.mark('a');
    known.confirm('a', head('a', 1), readStarted);
    advance(5_000);
    assert.equal(known.forRead('a')?.task.seq, 1, 'heard since the read started');
    bus.gap('a');
    assert.equal(known.forRead('a'), undefined, 'not while the link is down');
  });

  it('gives a head for a token check only while its token hash is fresh: a replaced token is no bus event', () => {
    const { known, advance } = heads();
    const bus = hearing();
    known.hearFrom(bus.of);
    bus.hear('a');
    known.confirm('a', head('a', 1));
    advance(5_000);
    assert.ok(known.forRead('a'), 'vouched for the task and its log');
    assert.equal(known.forRead('a', { tokenHash: true }), undefined, 'not for the hash');
    known.tokenHashAt('a', 'told', known.mark('a'));
    assert.equal(known.forRead('a', { tokenHash: true })?.tokenHash, 'told', 'a status update just told it');
  });

  it('takes what the bus said when the read started, not when it answered', () => {
    const { known, advance } = heads();
    const bus = hearing();
    known.hearFrom(bus.of);
    const readStarted = known.mark('a');
    bus.hear('a');
    known.confirm('a', head('a', 1), readStarted);
    advance(5_000);
    assert.equal(known.forRead('a'), undefined, 'a write during the read may have gone unheard');
  });
});
