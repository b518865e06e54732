import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { StatusUpdate } from '../../../protocol/index.js';
import { STATUS_WRITE_BEHIND_MS } from '../../../server/store/dynamodb/dynamo-task-store.js';
import { idempotencySk, STATUS_SK, taskPk } from '../../../server/store/dynamodb/keys.js';
import { DEFAULT_HEAD_HEARD_MS } from '../../../server/store/dynamodb/known-heads.js';
import { StoreUnavailableError } from '../../../server/store/store-errors.js';
import type { TaskStore } from '../../../server/store/task-store.js';
import { DynaliteFixture, TABLE, testClient } from './dynalite-harness.js';

const T0 = new Date('2026-11-02T10:00:00.000Z');
const DAY_MS = 86_400_000;
/** What the stores read with unless a test says otherwise: the time of the writes, not today's. */
const atT0 = (): Date => T0;

function at(ms: number): Date {
  return new Date(T0.getTime() + ms);
}

function lines(n: number, prefix = 'line'): NonNullable<StatusUpdate['logs']> {
  return Array.from({ length: n }, (_, i) => ({ level: 'info' as const, message: `${prefix} ${i + 1}` }));
}

async function create(store: TaskStore, id = 't-1'): Promise<void> {
  await store.createTask({ id, agentId: 'agent-1', title: null, tokenHash: 'h', now: T0 });
}

class SimulatedCrash extends Error {}

describe('DynamoTaskStore on dynalite', () => {
  let fixture: DynaliteFixture;
  beforeEach(async () => {
    fixture = await DynaliteFixture.start(atT0);
  });
  afterEach(async () => {
    await fixture.close();
  });

  const rawItem = (taskId: string, sk: string) => fixture.rawItem(taskId, sk);
  const countedClient = () => fixture.countedClient();

  describe('group commit: writes queued behind one in flight (issue 15)', () => {
    it('writes POSTs that arrive together as one batch item, each answered with its own seqs', async () => {
      const counted = countedClient();
      const store = fixture.store({}, counted.client);
      await create(store);
      counted.sent.length = 0;
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.append('t-1', { update: { logs: lines(2, `w${i}`) }, now: at(1) }),
        ),
      );
      assert.deepEqual(counted.sent, ['Put', 'Update'], 'ten POSTs, one put and one status update');
      answers.forEach((answer, i) => {
        assert.equal(answer.fromSeq, 1 + 2 * i);
        assert.deepEqual(
          answer.logs.map((line) => [line.seq, line.message]),
          [
            [1 + 2 * i, `w${i} 1`],
            [2 + 2 * i, `w${i} 2`],
          ],
        );
        assert.equal(answer.task.seq, 2 + 2 * i, 'the task as after this POST');
      });
      const other = fixture.store();
      const page = await other.readPage('t-1', { afterSeq: 0, limit: 100 });
      assert.deepEqual(
        page!.logs.map((line) => `${line.seq}:${line.message}`),
        answers.flatMap((answer) => answer.logs.map((line) => `${line.seq}:${line.message}`)),
      );
      assert.equal(page!.task.seq, 20);
    });

    it('ends a group at a change of status, and lets a keyed write and a token replacement go alone', async () => {
      const counted = countedClient();
      const store = fixture.store({}, counted.client);
      await create(store);
      counted.sent.length = 0;
      const writes = [
        store.append('t-1', { update: { logs: lines(1, 'a') }, now: at(1) }),
        store.append('t-1', { update: { logs: lines(1, 'b'), progress: 10 }, now: at(1) }),
        store.append('t-1', { update: { logs: lines(1, 'c') }, now: at(1) }),
        store.append('t-1', {
          update: { logs: lines(1, 'd') },
          now: at(1),
          idempotency: { key: 'k', fingerprint: 'f' },
        }),
        store.append('t-1', { update: { logs: lines(1, 'e') }, now: at(1) }),
      ];
      const replaced = store.replaceTokenHash('t-1', 'h2');
      writes.push(store.append('t-1', { update: { logs: lines(1, 'f') }, now: at(1) }));
      const answers = await Promise.all(writes);
      await replaced;
      // Groups: [a b] [c] [d] [e] | token | [f].
      assert.equal(
        counted.sent.filter((name) => name === 'Put').length,
        6,
        'five batch puts and one IDEM item',
      );
      assert.deepEqual(
        answers.map((answer) => answer.fromSeq),
        [1, 2, 4, 5, 6, 7],
      );
      const page = await fixture.store().readPage('t-1', { afterSeq: 0, limit: 100 });
      assert.deepEqual(
        page!.logs.map((line) => `${line.seq}:${line.message}`),
        ['1:a 1', '2:b 1', '4:c 1', '5:d 1', '6:e 1', '7:f 1'],
      );
      assert.equal(page!.task.progress, 10);
    });

    it('refuses one write of a group past the log quota and stores the others without a hole', async () => {
      const store = fixture.store({ logQuota: { maxLines: 5, maxBytes: 1_000_000 } });
      await create(store);
      const [a, b, c] = await Promise.allSettled([
        store.append('t-1', { update: { logs: lines(3, 'a') }, now: at(1) }),
        store.append('t-1', { update: { logs: lines(3, 'b') }, now: at(1) }),
        store.append('t-1', { update: { logs: lines(2, 'c') }, now: at(1) }),
      ]);
      assert.equal(a.status, 'fulfilled');
      assert.equal(b.status, 'rejected');
      assert.match(String((b as PromiseRejectedResult).reason), /quota|log/i);
      assert.equal(c.status, 'fulfilled');
      const page = await fixture.store().readPage('t-1', { afterSeq: 0, limit: 100 });
      assert.deepEqual(
        page!.logs.map((line) => `${line.seq}:${line.message}`),
        ['1:a 1', '2:a 2', '3:a 3', '4:c 1', '5:c 2'],
      );
    });

    it('keeps seqs contiguous when groups from two instances race for the same slots', async () => {
      const here = fixture.store();
      const there = fixture.store();
      await create(here);
      await there.readPage('t-1', { limit: 1 });
      const writes = Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? here : there).append('t-1', { update: { logs: lines(1 + (i % 3), `w${i}`) }, now: at(1) }),
      );
      const answers = await Promise.all(writes);
      const seqs = answers.flatMap((answer) => answer.logs.map((line) => line.seq)).sort((x, y) => x - y);
      assert.deepEqual(
        seqs,
        Array.from({ length: seqs.length }, (_, i) => i + 1),
      );
      const page = await fixture.store().readPage('t-1', { afterSeq: 0, limit: 1_000 });
      assert.equal(page!.logs.length, seqs.length);
      for (const answer of answers) {
        for (const line of answer.logs) assert.equal(page!.logs[line.seq - 1]!.message, line.message);
      }
    });
  });

  describe('the heads an instance knows (issue 15)', () => {
    it('writes after its own last write without reading, and reads only when another instance took the slot', async () => {
      const a = countedClient();
      const here = fixture.store({}, a.client);
      const there = fixture.store();
      await create(here);
      a.sent.length = 0;
      await here.append('t-1', { update: { logs: lines(1), progress: 1 }, now: at(1) });
      assert.deepEqual(a.sent, ['Put', 'Update'], 'from the head it created: no read');

      const theirs = await there.append('t-1', { update: { logs: lines(2, 'there') }, now: at(2) });
      a.sent.length = 0;
      const mine = await here.append('t-1', { update: { logs: lines(1, 'here'), progress: 2 }, now: at(3) });
      assert.equal(mine.fromSeq, theirs.task.seq + 1, 'after the other instance, not over it');
      // The put of its stale slot fails (and checks the slot is not its own resent put), then the head is read.
      assert.deepEqual(a.sent, ['Put', 'Get', 'Get', 'Query', 'Put', 'Update']);
      fixture.letHeadsAge();
      const page = await there.readPage('t-1', { afterSeq: 0, limit: 10 });
      assert.deepEqual(
        page?.logs.map((l) => `${l.seq} ${l.message}`),
        ['1 line 1', '3 there 1', '4 there 2', '5 here 1'],
      );
    });

    it('answers reads from a head confirmed within the bound, then reads again', async () => {
      const a = countedClient();
      const here = fixture.store({}, a.client);
      const there = fixture.store();
      await create(here);
      await here.append('t-1', { update: { logs: lines(1) }, now: at(1) });
      await there.append('t-1', { update: { logs: lines(1), progress: 50 }, now: at(2) });
      a.sent.length = 0;
      assert.equal((await here.getTask('t-1'))?.task.seq, 1, 'its own write, within the bound');
      assert.deepEqual((await here.readPage('t-1', { afterSeq: 1, limit: 10 }))?.logs, []);
      assert.deepEqual(a.sent, [], 'a read with nothing new asks nothing');
      fixture.letHeadsAge();
      assert.equal((await here.getTask('t-1'))?.task.progress, 50, 'past the bound: the true head');
      assert.deepEqual(a.sent, ['Get', 'Query']);
    });

    it('answers reads with no request while the bus vouches it heard every write, for up to a minute', async () => {
      const a = countedClient();
      const here = fixture.store({}, a.client);
      const there = fixture.store();
      let heard: object | undefined = {};
      here.hearFrom(() => heard);
      await create(here);
      await here.append('t-1', { update: { logs: lines(1) }, now: at(1) });
      a.sent.length = 0;
      fixture.letHeadsAge();
      assert.deepEqual((await here.readPage('t-1', { afterSeq: 1, limit: 10 }))?.logs, []);
      assert.equal((await here.getTask('t-1'))?.task.seq, 1);
      assert.deepEqual(a.sent, [], 'past HEAD_FRESH_MS, vouched for: nothing asked');

      const theirs = await there.append('t-1', { update: { progress: 50 }, now: at(2) });
      here.learn(theirs.task);
      assert.equal((await here.getTask('t-1'))?.task.progress, 50, "the write's event drops the head");
      assert.deepEqual(a.sent, ['Get', 'Query']);

      heard = undefined;
      fixture.letHeadsAge();
      a.sent.length = 0;
      await here.getTask('t-1');
      assert.deepEqual(a.sent, ['Get', 'Query'], 'in a gap, the plain bound');

      heard = {};
      fixture.letHeadsAge();
      await here.getTask('t-1');
      fixture.letHeadsAge(DEFAULT_HEAD_HEARD_MS - 1);
      a.sent.length = 0;
      await here.getTask('t-1');
      assert.deepEqual(a.sent, [], 'vouched for again from the read after the gap');
      fixture.letHeadsAge(1);
      await here.getTask('t-1');
      assert.deepEqual(a.sent, ['Get', 'Query'], 'a minute: the bound for an event never sent');
    });

    it('checks tokens against a hash told within HEAD_FRESH_MS, even while the bus vouches for the head', async () => {
      const here = fixture.store();
      const there = fixture.store();
      here.hearFrom(() => here);
      await create(here);
      await there.replaceTokenHash('t-1', 'h2');
      fixture.letHeadsAge();
      assert.equal((await here.getTask('t-1'))?.tokenHash, 'h', 'a read of the task: vouched for');
      assert.equal(
        (await here.getTask('t-1', { forTokenCheck: true }))?.tokenHash,
        'h2',
        'a token check reads',
      );
    });

    it('takes a token replaced through another instance at its next write', async () => {
      const here = fixture.store();
      const there = fixture.store();
      await create(here);
      await there.replaceTokenHash('t-1', 'h2');
      assert.equal((await here.getTask('t-1'))?.tokenHash, 'h', 'within the bound, the hash it knew');
      await here.append('t-1', { update: { progress: 1 }, now: at(1) });
      assert.equal((await here.getTask('t-1'))?.tokenHash, 'h2', 'its status update returned the new one');
      await here.replaceTokenHash('t-1', 'h3');
      assert.equal((await here.getTask('t-1'))?.tokenHash, 'h3', 'its own replacement at once');
    });

    /** A client whose answers to the commands `hold` picks wait until released. */
    function holdingClient(hold: (command: { input: Record<string, unknown> }) => boolean) {
      const client = testClient(fixture.dynalite.endpoint);
      const send = client.send.bind(client) as (command: object) => Promise<unknown>;
      let held = 0;
      const waiting: (() => void)[] = [];
      let armed = false;
      client.send = (async (command: { input: Record<string, unknown> }) => {
        const out = await send(command);
        if (armed && hold(command)) {
          held += 1;
          await new Promise<void>((resolve) => waiting.push(resolve));
        }
        return out;
      }) as typeof client.send;
      return {
        client,
        arm: (on: boolean) => (armed = on),
        held: () => held,
        release: () => waiting.splice(0).forEach((resolve) => resolve()),
      };
    }
    const untilHeld = async (h: { held(): number }, n: number) => {
      while (h.held() < n) await new Promise((resolve) => setTimeout(resolve, 2));
    };

    it('does not take a head back when a read that was in flight answers after its own write', async () => {
      const h = holdingClient(
        (command) =>
          (command.input.IndexName === undefined && 'Key' in command.input) ||
          'KeyConditionExpression' in command.input,
      );
      const here = fixture.store({}, h.client);
      await create(here);
      await here.append('t-1', { update: { progress: 1 }, now: at(1) });
      fixture.letHeadsAge();
      h.arm(true);
      const read = here.getTask('t-1');
      await untilHeld(h, 2);
      h.arm(false);
      const written = await here.append('t-1', { update: { progress: 2 }, now: at(2) });
      h.release();
      assert.equal((await read)?.task.seq, 1, 'the read answers what it read');
      assert.equal(
        (await here.getTask('t-1'))?.task.seq,
        written.task.seq,
        'but what is known stays the newer head',
      );
    });

    it('does not bring an old token hash back from a read in flight when it is replaced', async () => {
      const h = holdingClient((command) => 'Key' in command.input && !('UpdateExpression' in command.input));
      const here = fixture.store({}, h.client);
      await create(here);
      fixture.letHeadsAge();
      h.arm(true);
      const read = here.getTask('t-1');
      await untilHeld(h, 1);
      h.arm(false);
      await here.replaceTokenHash('t-1', 'h2');
      h.release();
      assert.equal((await read)?.tokenHash, 'h', 'the read answers what it read');
      assert.equal((await here.getTask('t-1'))?.tokenHash, 'h2', 'but the old hash is not known again');
    });

    it('does not bring an old token hash back from a write in flight when it is replaced', async () => {
      const h = holdingClient((command) => command.input.ReturnValues === 'ALL_NEW');
      const here = fixture.store({}, h.client);
      await create(here);
      h.arm(true);
      const write = here.append('t-1', { update: { progress: 1 }, now: at(1) });
      await untilHeld(h, 1);
      h.arm(false);
      const replaced = here.replaceTokenHash('t-1', 'h2');
      h.release();
      await Promise.all([write, replaced]);
      assert.equal((await here.getTask('t-1'))?.tokenHash, 'h2');
    });

    it('does not keep a head read before a write it heard of meanwhile, even with no head known then', async () => {
      const h = holdingClient(
        (command) =>
          (command.input.IndexName === undefined && 'Key' in command.input) ||
          'KeyConditionExpression' in command.input,
      );
      const here = fixture.store({}, h.client);
      here.hearFrom(() => here);
      const there = fixture.store();
      await create(there);
      h.arm(true);
      const read = here.getTask('t-1');
      await untilHeld(h, 2);
      h.arm(false);
      const theirs = await there.append('t-1', { update: { progress: 7 }, now: at(1) });
      here.learn(theirs.task);
      h.release();
      assert.equal((await read)?.task.seq, 0, 'the read answers what it read');
      fixture.letHeadsAge();
      assert.equal(
        (await here.getTask('t-1'))?.task.progress,
        7,
        'but that head is not kept, nor vouched for',
      );
    });

    it('drops a head older than a write it hears of on the bus', async () => {
      const a = countedClient();
      const here = fixture.store({}, a.client);
      const there = fixture.store();
      await create(here);
      const theirs = await there.append('t-1', { update: { progress: 9 }, now: at(1) });
      here.learn(theirs.task);
      a.sent.length = 0;
      assert.equal((await here.getTask('t-1'))?.task.progress, 9, 'within the bound, yet the true head');
      assert.deepEqual(a.sent, ['Get', 'Query']);
      here.learn(theirs.task);
      a.sent.length = 0;
      await here.getTask('t-1');
      assert.deepEqual(a.sent, [], 'a write it already knows changes nothing');
    });

    it("writes a busy task's status item behind when told to: one update for the writes of a moment, at once for the last", async () => {
      const a = countedClient();
      const here = fixture.store({ statusWriteBehindMs: STATUS_WRITE_BEHIND_MS }, a.client);
      await create(here);
      a.sent.length = 0;
      for (let i = 1; i <= 5; i++)
        await here.append('t-1', { update: { progress: i, logs: lines(1) }, now: at(i) });
      assert.deepEqual(a.sent, ['Put', 'Put', 'Put', 'Put', 'Put']);
      assert.equal((await rawItem('t-1', STATUS_SK))?.seq, 0, 'the status item waits');
      fixture.letHeadsAge();
      const other = fixture.store();
      assert.equal((await other.getTask('t-1'))?.task.progress, 5, 'readers fold the latest batch in');
      await here.settle();
      assert.equal(a.sent.filter((c) => c === 'Update').length, 1, 'one update for the five writes');
      assert.equal((await rawItem('t-1', STATUS_SK))?.seq, 10);

      const done = await here.append('t-1', { update: { phase: 'completed' }, now: at(6) });
      assert.equal(
        (await rawItem('t-1', STATUS_SK))?.phase,
        'completed',
        'what ends the task is in before the answer',
      );
      assert.equal((await rawItem('t-1', STATUS_SK))?.seq, done.task.seq);
    });

    it('writes the waiting status updates when it closes', async () => {
      const here = fixture.store({ statusWriteBehindMs: STATUS_WRITE_BEHIND_MS });
      await create(here);
      await here.append('t-1', { update: { progress: 7 }, now: at(1) });
      assert.equal((await rawItem('t-1', STATUS_SK))?.progress, null);
      // One more still in its turn when close() is called: its update is written too.
      const inFlight = here.append('t-1', { update: { progress: 8 }, now: at(2) });
      await here.close();
      await inFlight;
      assert.equal((await rawItem('t-1', STATUS_SK))?.progress, 8);
    });

    it('loses nothing when it dies while status updates wait: the next process folds the tail in and repairs it', async () => {
      const a = countedClient();
      const dying = fixture.store({ statusWriteBehindMs: STATUS_WRITE_BEHIND_MS }, a.client);
      await create(dying);
      await dying.append('t-1', { update: { phase: 'running', logs: lines(2) }, now: at(1) });
      const last = await dying.append('t-1', { update: { progress: 40, logs: lines(1) }, now: at(2) });
      // Killed: its connection gone, so the update it had waiting fails when its timer fires.
      a.client.destroy();
      assert.equal((await rawItem('t-1', STATUS_SK))?.seq, 0, 'no status update reached the table');

      const next = fixture.store({ statusWriteBehindMs: STATUS_WRITE_BEHIND_MS });
      const head = await next.getTask('t-1');
      assert.equal(head?.task.seq, last.task.seq, 'every acknowledged write is in the head');
      assert.equal(head?.task.progress, 40);
      const after = await next.append('t-1', { update: { logs: lines(1, 'after') }, now: at(3) });
      assert.equal(after.fromSeq, last.task.seq + 1, 'no seq handed out twice');

      // Once the lag is clearly abandoned, a reader moves the status item forward itself.
      fixture.letHeadsAge();
      const later = fixture.store({ clock: () => at(60_000) });
      await later.readPage('t-1', { limit: 1 });
      assert.equal((await rawItem('t-1', STATUS_SK))?.seq, after.task.seq);
      const page = await later.readPage('t-1', { afterSeq: 0, limit: 10 });
      assert.deepEqual(
        page!.logs.map((line) => line.seq),
        [1, 2, 4, 6],
      );
    });

    it('forgets a head whose write failed part-way, and reads the true one next', async () => {
      let crash = true;
      const a = countedClient();
      const here = fixture.store(
        {
          afterClaim: () => {
            if (crash) throw new SimulatedCrash('died after its put');
          },
        },
        a.client,
      );
      await create(here);
      await assert.rejects(here.append('t-1', { update: { logs: lines(2) }, now: at(1) }), SimulatedCrash);
      crash = false;
      a.sent.length = 0;
      assert.equal((await here.getTask('t-1'))?.task.seq, 2, 'the head is the crashed write');
      assert.deepEqual(a.sent, ['Get', 'Query'], 'read, not taken from what it knew before the write');
      const next = await here.append('t-1', { update: { logs: lines(1) }, now: at(2) });
      assert.equal(next.fromSeq, 3);
      assert.equal((await rawItem('t-1', STATUS_SK))?.seq, 3, 'the status item caught up');
    });
  });

  describe('a writer that crashes after claiming its slot', () => {
    it('leaves a write that readers and the next writer see as the head', async () => {
      let crash = true;
      const crashing = fixture.store({
        afterClaim: () => {
          if (crash) throw new SimulatedCrash('instance died before updating the status item');
        },
      });
      const other = fixture.store();
      await create(crashing);
      await crashing
        .append('t-1', { update: { phase: 'running', logs: lines(2) }, now: at(1) })
        .catch(() => {});
      assert.equal((await rawItem('t-1', STATUS_SK))?.seq, 0, 'the status item was left behind');

      const seen = await other.getTask('t-1');
      assert.equal(seen?.task.seq, 3);
      assert.equal(seen?.task.phase, 'running');
      const page = await other.readPage('t-1', { afterSeq: 0, limit: 10 });
      assert.deepEqual(
        page?.logs.map((l) => l.seq),
        [1, 2],
      );
      assert.equal(page?.nextAfterSeq, 3);

      const next = await other.append('t-1', { update: { phase: 'completed', logs: lines(1) }, now: at(2) });
      assert.equal(next.fromSeq, 4, 'the next write continues after the crashed one');
      assert.equal((await rawItem('t-1', STATUS_SK))?.seq, 5, 'and the status item catches up');
      crash = false;
      await assert.rejects(
        crashing.append('t-1', { update: { phase: 'running' }, now: at(3) }),
        /cannot move/,
        'the phase rule holds against the true head',
      );
    });

    it('still answers a retry with the same Idempotency-Key, before and after later writes', async () => {
      const crashing = fixture.store({
        afterClaim: () => {
          throw new SimulatedCrash('died before the IDEM item');
        },
      });
      const a = fixture.store();
      const b = fixture.store();
      await create(a);
      const idempotency = { key: 'retry-me', fingerprint: 'f1' };
      const update = { logs: lines(3), progress: 30 };
      await assert.rejects(crashing.append('t-1', { update, now: at(1), idempotency }), SimulatedCrash);
      assert.equal(await rawItem('t-1', idempotencySk('retry-me')), undefined, 'no IDEM item yet');

      const retry = await a.append('t-1', { update, now: at(2), idempotency });
      assert.deepEqual([retry.replayed, retry.fromSeq, retry.task.seq], [true, 1, 4]);

      await b.append('t-1', { update: { logs: lines(1, 'later') }, now: at(3) });
      assert.ok(await rawItem('t-1', idempotencySk('retry-me')), 'the next writer completed the IDEM item');
      await b.append('t-1', { update: { logs: lines(1, 'even later') }, now: at(4) });
      const again = await b.append('t-1', { update, now: at(5), idempotency });
      assert.deepEqual([again.replayed, again.fromSeq], [true, 1]);
      assert.equal((await b.getTask('t-1'))?.task.seq, 6, 'the retries stored nothing');
    });

    it('finishes the crashed write when its retry is answered as a replay, so the status item says what the answer does', async () => {
      let crash = true;
      const crashing = fixture.store({
        afterClaim: () => {
          if (crash) throw new SimulatedCrash('its status update never ran');
        },
      });
      await create(crashing);
      const idempotency = { key: 'finish-1', fingerprint: 'f' };
      const update: StatusUpdate = { phase: 'running' };
      await crashing.append('t-1', { update, now: at(1), idempotency }).catch(() => {});
      assert.equal((await rawItem('t-1', STATUS_SK))?.phase, 'queued', 'left behind');
      crash = false;
      const retry = await crashing.append('t-1', { update, now: at(2), idempotency });
      assert.equal(retry.replayed, true);
      const status = await rawItem('t-1', STATUS_SK);
      assert.equal(status?.phase, 'running');
      assert.equal(status?.seq, retry.task.seq);
    });

    it('has its status item repaired by a reader once the write is clearly abandoned', async () => {
      const crashing = fixture.store({
        afterClaim: () => {
          throw new SimulatedCrash('gone');
        },
      });
      await create(crashing);
      await assert.rejects(
        crashing.append('t-1', { update: { phase: 'failed', message: 'oom' }, now: at(1) }),
        SimulatedCrash,
      );
      await fixture.store().getTask('t-1');
      assert.equal((await rawItem('t-1', STATUS_SK))?.seq, 0, 'a fresh lag is a writer at work: left alone');
      const later = fixture.store({ clock: () => at(60_000) });
      assert.equal((await later.readPage('t-1', { limit: 5 }))?.task.phase, 'failed');
      const status = await rawItem('t-1', STATUS_SK);
      assert.deepEqual([status?.seq, status?.phase, status?.message], [1, 'failed', 'oom']);
    });
  });

  it('keeps seqs contiguous with 5 instances racing for every slot', async () => {
    // One instance lets its own writes take turns; separate instances really race.
    const stores = Array.from({ length: 5 }, () => fixture.store());
    await create(stores[0]!);
    const results = (
      await Promise.all(
        stores.map(async (store, w) => {
          const mine = [];
          for (let i = 0; i < 10; i++) {
            mine.push(
              await store.append('t-1', { update: { logs: lines(2, `w${w}`), progress: i }, now: at(i) }),
            );
          }
          return mine;
        }),
      )
    ).flat();
    fixture.letHeadsAge();
    const ranges = results.map((r) => [r.fromSeq, r.task.seq]).sort((a, b) => a[0]! - b[0]!);
    assert.deepEqual(
      ranges,
      Array.from({ length: 50 }, (_, i) => [i * 3 + 1, i * 3 + 3]),
    );
    const page = await stores[4]!.readPage('t-1', { afterSeq: 0, limit: 1000 });
    assert.equal(page?.logs.length, 100);
    for (const r of results)
      assert.deepEqual(page?.logs.slice(((r.fromSeq - 1) / 3) * 2, ((r.fromSeq - 1) / 3) * 2 + 2), r.logs);
  });

  it('reads batches and parts written before lines were packed (a list of maps each)', async () => {
    const store = fixture.store({ packedLines: true });
    await create(store);
    const small = await store.append('t-1', { update: { logs: lines(3, 'small') }, now: at(1) });
    const bigLines = Array.from({ length: 60 }, (_, i) => ({
      level: 'info' as const,
      message: `big ${i + 1} `.padEnd(8_000, 'x'),
    }));
    const big = await store.append('t-1', { update: { logs: bigLines }, now: at(2) });
    // Rewrite every item that holds lines the way the store wrote them before.
    const client = testClient(fixture.endpoint);
    try {
      const { Items = [] } = await client.send(
        new QueryCommand({
          TableName: TABLE,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': taskPk('t-1') },
        }),
      );
      const packed = Items.filter((item) => typeof item.packed === 'string');
      assert.ok(packed.length >= 3, "the small batch and the big one's parts");
      for (const { packed: text, ...item } of packed) {
        const old = (JSON.parse(text as string) as string[][]).map(([at, level, message]) => ({
          at,
          level,
          message,
        }));
        await client.send(new PutCommand({ TableName: TABLE, Item: { ...item, lines: old } }));
      }
    } finally {
      client.destroy();
    }
    const page = await fixture.store().readPage('t-1', { afterSeq: 0, limit: 100, fresh: true });
    assert.deepEqual(
      page?.logs.map((line) => [line.seq, line.message]),
      [...small.logs, ...big.logs].map((line) => [line.seq, line.message]),
    );
  });

  it('leaves nothing visible when a big write fails while staging its parts', async () => {
    const client = testClient(fixture.dynalite.endpoint);
    let puts = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutItemCommand' && ++puts === 3)
          throw new SimulatedCrash('died mid-way');
        return next(args);
      },
      { step: 'initialize', name: 'crashOnThirdPut' },
    );
    const store = fixture.store({}, client);
    const other = fixture.store();
    await create(other);
    const big = Array.from({ length: 120 }, (_, i) => ({
      level: 'info' as const,
      message: `${i} `.padEnd(8000, 'z'),
    }));
    await assert.rejects(store.append('t-1', { update: { logs: big }, now: at(1) }), SimulatedCrash);
    assert.equal((await other.getTask('t-1'))?.task.seq, 0);
    assert.deepEqual((await other.readPage('t-1', { limit: 500 }))?.logs, []);
    const next = await other.append('t-1', { update: { logs: lines(1) }, now: at(2) });
    assert.equal(next.fromSeq, 1, 'no seq was taken');
  });

  it('keeps every item of a POST of multi-byte lines under the 400 KB limit', async () => {
    const store = fixture.store();
    await create(store);
    // 3 UTF-8 bytes per character: 24 KB a line, about 2.4 MB for the write.
    const wide = Array.from({ length: 100 }, (_, i) => ({
      level: 'warn' as const,
      message: `${i}`.padEnd(8000, '€'),
    }));
    const r = await store.append('t-1', { update: { logs: wide, progress: 99 }, now: at(1) });
    assert.equal(r.task.seq, 101);
    const page = await store.readPage('t-1', { afterSeq: 0, limit: 1000, maxBytes: 64 * 1024 * 1024 });
    assert.deepEqual(
      page?.logs.map((l) => l.message),
      wide.map((l) => l.message),
    );
    const client = testClient(fixture.dynalite.endpoint);
    const { Items } = await client.send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': taskPk('t-1') },
      }),
    );
    client.destroy();
    const parts = (Items ?? []).filter((item) => String(item.sk).startsWith('PART#'));
    assert.ok(parts.length >= 8, `the lines went to ${parts.length} part items`);
  });

  it('hides log lines and idempotency answers older than the TTL, and keeps the task', async () => {
    let clock = at(0);
    const store = fixture.store({ logTtlDays: 30, clock: () => clock });
    await create(store);
    await store.append('t-1', {
      update: { phase: 'running', logs: lines(3, 'old') },
      now: at(0),
      idempotency: { key: 'k', fingerprint: 'f' },
    });
    await store.append('t-1', { update: { logs: lines(2, 'new') }, now: at(20 * DAY_MS) });

    clock = at(31 * DAY_MS);
    const tail = await store.readPage('t-1', { limit: 10 });
    assert.deepEqual(
      tail?.logs.map((l) => l.message),
      ['new 1', 'new 2'],
    );
    assert.equal(tail?.hasOlder, false, 'expired lines are not "older lines to load"');
    assert.equal(tail?.task.phase, 'running', 'the task outlives its lines');
    const forward = await store.readPage('t-1', { afterSeq: 0, limit: 10 });
    assert.deepEqual(
      forward?.logs.map((l) => l.seq),
      [5, 6],
    );
    assert.equal(forward?.nextAfterSeq, 6);

    const reused = await store.append('t-1', {
      update: { progress: 1 },
      now: clock,
      idempotency: { key: 'k', fingerprint: 'other' },
    });
    assert.equal(reused.replayed, false, 'a key is remembered as long as the lines are');
    assert.equal(reused.fromSeq, 7, 'seq continues past expired lines');

    clock = at(52 * DAY_MS);
    assert.deepEqual((await store.readPage('t-1', { limit: 10 }))?.logs, []);
  });

  it('reports an unreachable store quickly as unavailable, and recovers when it returns', async () => {
    const store = fixture.store();
    await create(store);
    await fixture.dynalite.close();
    // Past the bound within which the store answers reads from the head it knows.
    fixture.letHeadsAge();
    const started = Date.now();
    await assert.rejects(store.getTask('t-1'), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError);
      assert.ok(error.retryAfterSeconds > 0);
      return true;
    });
    await assert.rejects(store.append('t-1', { update: { progress: 1 }, now: at(1) }), StoreUnavailableError);
    assert.ok(Date.now() - started < 3_000, `failed within ${Date.now() - started} ms`);

    await assert.rejects(store.ping(), StoreUnavailableError, 'readiness asks the same way');

    await fixture.startDynalite();
    const r = await store.append('t-1', { update: { progress: 2 }, now: at(2) });
    assert.equal(r.fromSeq, 1, 'the same store instance works again');
    await store.ping();
  });

  it('reports throttling beyond the SDK retries as unavailable, and recovers', async () => {
    const client = testClient(fixture.dynalite.endpoint);
    let throttle = false;
    let throttled = 0;
    // Inside the retry middleware, so the SDK retries it like a real throttle first.
    client.middlewareStack.add(
      (next) => async (args) => {
        if (throttle) {
          throttled += 1;
          throw new ProvisionedThroughputExceededException({
            message: 'Rate of requests exceeds the allowed throughput',
            $metadata: { httpStatusCode: 400 },
          });
        }
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'injectThrottling' },
    );
    const store = fixture.store({}, client);
    await create(store);
    throttle = true;
    await assert.rejects(store.append('t-1', { update: { progress: 1 }, now: at(1) }), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError);
      assert.equal(error.retryAfterSeconds, 1);
      assert.match(error.message, /throttling/);
      return true;
    });
    assert.ok(throttled >= 2, `the SDK retried (${throttled} attempts)`);
    await assert.rejects(store.readPage('t-1', { limit: 5 }), StoreUnavailableError);
    throttle = false;
    assert.equal((await store.append('t-1', { update: { progress: 2 }, now: at(2) })).fromSeq, 1);
  });
});
