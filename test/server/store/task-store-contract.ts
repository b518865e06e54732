import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { LogEntry, StatusUpdate, Task } from '../../../protocol/index.js';
import type { LogQuota } from '../../../server/store/log-quota.js';
import {
  IdempotencyMismatchError,
  LogQuotaExceededError,
  PhaseConflictError,
  TaskExistsError,
  TaskNotFoundError,
} from '../../../server/store/store-errors.js';
import type { AppendResult, TaskStore } from '../../../server/store/task-store.js';

/** Limits a test opens its store with (the defaults otherwise). */
export interface StoreLimits {
  logQuota?: LogQuota;
}

/** What a store kind gives the contract suite. */
export interface StoreHarness {
  store: TaskStore;
  /** Another store over the same data, as a second server instance would have. */
  peer(): Promise<TaskStore>;
  /**
   * Lets the bound pass within which an instance may answer reads from the head it knows (the
   * DynamoDB store's known heads): its next reads see what other instances wrote. Absent where
   * every read sees every write at once.
   */
  letHeadsAge?(): void;
  /** Closes everything and reopens on the same data; absent when the kind does not persist. */
  restart?: () => Promise<TaskStore>;
  close(): Promise<void>;
}

/** A byte budget no test page reaches. */
const WHOLE = 64 * 1024 * 1024;

const T0 = new Date('2026-11-02T10:00:00.000Z');

/**
 * The clock the stores read with (a store hides lines past their TTL by it): the time of the
 * writes below, all within minutes of T0, so that no test depends on today's date.
 */
const atT0 = (): Date => T0;

function at(secondsAfterT0: number): Date {
  return new Date(T0.getTime() + secondsAfterT0 * 1000);
}

function lines(
  n: number,
  prefix = 'line',
  level: 'info' | 'warn' = 'info',
): NonNullable<StatusUpdate['logs']> {
  return Array.from({ length: n }, (_, i) => ({ level, message: `${prefix} ${i + 1}` }));
}

async function create(store: TaskStore, id: string, agentId = 'agent-1', now = T0): Promise<Task> {
  return store.createTask({ id, agentId, title: `Task ${id}`, tokenHash: `hash-of-${id}`, now });
}

/** Every line of a task, read forward in pages of `limit`. */
async function readAll(store: TaskStore, taskId: string, limit = 1000): Promise<LogEntry[]> {
  const all: LogEntry[] = [];
  let cursor = 0;
  for (;;) {
    const page = await store.readPage(taskId, { afterSeq: cursor, limit });
    assert.ok(page, `task ${taskId} exists`);
    all.push(...page.logs);
    assert.ok(page.nextAfterSeq >= cursor, 'the cursor never moves back');
    cursor = page.nextAfterSeq;
    if (!page.hasMore) return all;
  }
}

function assertContiguous(results: AppendResult[], lastSeq: number): void {
  const ranges = results.map((r) => [r.fromSeq, r.task.seq] as const).sort((a, b) => a[0] - b[0]);
  let expected = 1;
  for (const [from, to] of ranges) {
    assert.equal(from, expected, `a write starts right after the previous one (at ${expected})`);
    assert.ok(to >= from);
    expected = to + 1;
  }
  assert.equal(expected - 1, lastSeq, 'the writes cover 1..seq exactly');
}

/**
 * The behaviour every TaskStore must have, registered as node:test tests. `open` gives a fresh,
 * empty store for each test, whose reads go by `clock` (the time the tests write at), its peers
 * with the same `limits`.
 * `persists`: the kind keeps its data across a restart (its harness has `restart`); only then is
 * the restart test registered.
 */
export function describeTaskStoreContract(
  kind: string,
  open: (clock: () => Date, limits?: StoreLimits) => Promise<StoreHarness>,
  { persists }: { persists: boolean },
): void {
  describe(`TaskStore contract: ${kind}`, () => {
    let h: StoreHarness;
    let store: TaskStore;
    beforeEach(async () => {
      h = await open(atT0);
      store = h.store;
    });
    afterEach(async () => {
      await h.close();
    });

    it('creates a queued task at seq 0 and refuses a second task with the same id', async () => {
      const task = await create(store, 't-1');
      assert.deepEqual(task, {
        id: 't-1',
        agentId: 'agent-1',
        title: 'Task t-1',
        phase: 'queued',
        progress: null,
        message: null,
        seq: 0,
        createdAt: T0.toISOString(),
        updatedAt: T0.toISOString(),
      });
      assert.deepEqual(await store.getTask('t-1'), { task, tokenHash: 'hash-of-t-1' });
      assert.equal(await store.getTask('t-unknown'), null);
      await assert.rejects(create(store, 't-1', 'agent-2'), TaskExistsError);
      assert.equal((await store.getTask('t-1'))?.task.agentId, 'agent-1');
    });

    it('answers "not found" for a task that does not exist', async () => {
      await assert.rejects(
        store.append('t-missing', { update: { progress: 1 }, now: T0 }),
        TaskNotFoundError,
      );
      assert.equal(await store.readPage('t-missing', { limit: 10 }), null);
    });

    it("replaces a task's token hash, and later writes keep the new one", async () => {
      const task = await create(store, 't-1');
      await store.replaceTokenHash('t-1', 'hash-of-the-new-token');
      assert.deepEqual(await store.getTask('t-1'), { task, tokenHash: 'hash-of-the-new-token' });
      await store.append('t-1', { update: { phase: 'running', logs: lines(2) }, now: at(1) });
      assert.equal((await store.getTask('t-1'))?.tokenHash, 'hash-of-the-new-token');
      await assert.rejects(store.replaceTokenHash('t-missing', 'hash'), TaskNotFoundError);
      assert.equal(await store.getTask('t-missing'), null, 'no task was made up');
    });

    it('gives log lines consecutive seqs and a status change one more event after them', async () => {
      await create(store, 't-1');
      const first = await store.append('t-1', {
        update: { phase: 'running', progress: 10, message: 'working', logs: lines(3) },
        now: at(1),
      });
      assert.equal(first.replayed, false);
      assert.equal(first.fromSeq, 1);
      assert.deepEqual(
        first.logs.map((l) => [l.seq, l.message, l.level, l.at]),
        [
          [1, 'line 1', 'info', at(1).toISOString()],
          [2, 'line 2', 'info', at(1).toISOString()],
          [3, 'line 3', 'info', at(1).toISOString()],
        ],
      );
      assert.equal(first.task.seq, 4, 'three lines, then the status change');
      assert.equal(first.task.phase, 'running');
      assert.equal(first.task.updatedAt, at(1).toISOString());

      const logsOnly = await store.append('t-1', { update: { logs: lines(2, 'more') }, now: at(2) });
      assert.equal(logsOnly.fromSeq, 5);
      assert.equal(logsOnly.task.seq, 6, 'lines without a status change take one seq each');
      assert.equal(logsOnly.task.message, 'working');

      const statusOnly = await store.append('t-1', { update: { progress: 50 }, now: at(3) });
      assert.equal(statusOnly.fromSeq, 7);
      assert.equal(statusOnly.task.seq, 7, 'a status-only write takes one seq');
      assert.deepEqual(statusOnly.logs, []);

      const stored = await store.getTask('t-1');
      assert.deepEqual(stored?.task, statusOnly.task);
      assert.deepEqual(
        (await readAll(store, 't-1')).map((l) => l.seq),
        [1, 2, 3, 5, 6],
      );
    });

    it('keeps the agent-given time of a line and the server time otherwise', async () => {
      await create(store, 't-1');
      const given = '2026-11-02T09:59:58.500+01:00';
      const r = await store.append('t-1', {
        update: {
          logs: [
            { level: 'warn', message: 'early', at: given },
            { level: 'info', message: 'now' },
          ],
        },
        now: at(5),
      });
      assert.deepEqual(
        (await readAll(store, 't-1')).map((l) => [l.at, l.level]),
        [
          [new Date(given).toISOString(), 'warn'],
          [at(5).toISOString(), 'info'],
        ],
      );
      assert.deepEqual(await readAll(store, 't-1'), r.logs);
    });

    it('lets phases move only forward and keeps a terminal phase final', async () => {
      await create(store, 't-1');
      await store.append('t-1', { update: { phase: 'running' }, now: at(1) });
      await store.append('t-1', { update: { phase: 'running', progress: 20 }, now: at(2) });
      await assert.rejects(
        store.append('t-1', { update: { phase: 'starting', logs: lines(2) }, now: at(3) }),
        (error: unknown) =>
          error instanceof PhaseConflictError &&
          error.currentPhase === 'running' &&
          error.requestedPhase === 'starting',
      );
      assert.equal((await store.getTask('t-1'))?.task.seq, 2, 'a refused write stores nothing');
      assert.deepEqual(await readAll(store, 't-1'), []);

      await store.append('t-1', { update: { phase: 'failed', message: 'boom' }, now: at(4) });
      await assert.rejects(
        store.append('t-1', { update: { phase: 'completed' }, now: at(5) }),
        PhaseConflictError,
      );
      const after = await store.append('t-1', { update: { phase: 'failed', logs: lines(1) }, now: at(6) });
      assert.equal(after.task.phase, 'failed', 'repeating the terminal phase is allowed');
    });

    it('replays an idempotent retry without storing it again, and refuses a different body', async () => {
      await create(store, 't-1');
      const idempotency = { key: 'post-1', fingerprint: 'sha-a' };
      const first = await store.append('t-1', {
        update: { progress: 5, logs: lines(2) },
        now: at(1),
        idempotency,
      });
      await store.append('t-1', { update: { logs: lines(1, 'other') }, now: at(2) });
      const retry = await store.append('t-1', {
        update: { progress: 5, logs: lines(2) },
        now: at(3),
        idempotency,
      });
      assert.deepEqual(retry, { task: first.task, fromSeq: 1, logs: [], replayed: true });
      assert.equal((await store.getTask('t-1'))?.task.seq, 4, 'the retry stored nothing');
      await assert.rejects(
        store.append('t-1', {
          update: { progress: 6 },
          now: at(4),
          idempotency: { key: 'post-1', fingerprint: 'sha-b' },
        }),
        IdempotencyMismatchError,
      );
      const sameKeyOtherTask = await (async () => {
        await create(store, 't-2');
        return store.append('t-2', { update: { progress: 7 }, now: at(5), idempotency });
      })();
      assert.equal(sameKeyOtherTask.replayed, false, 'keys are per task');
    });

    it('pages forward with a cursor that covers status-only events', async () => {
      await create(store, 't-1');
      await store.append('t-1', { update: { logs: lines(5) }, now: at(1) }); // 1..5
      await store.append('t-1', { update: { progress: 50 }, now: at(2) }); // 6
      await store.append('t-1', { update: { logs: lines(2, 'b'), progress: 60 }, now: at(3) }); // 7,8 + 9
      await store.append('t-1', { update: { message: 'm' }, now: at(4) }); // 10

      const p1 = await store.readPage('t-1', { afterSeq: 0, limit: 3 });
      assert.deepEqual(
        p1?.logs.map((l) => l.seq),
        [1, 2, 3],
      );
      assert.equal(p1?.nextAfterSeq, 3);
      assert.equal(p1?.hasMore, true);
      assert.equal(p1?.hasOlder, false);
      assert.equal(p1?.task.seq, 10);

      const p2 = await store.readPage('t-1', { afterSeq: 3, limit: 3 });
      assert.deepEqual(
        p2?.logs.map((l) => l.seq),
        [4, 5, 7],
      );
      assert.equal(p2?.nextAfterSeq, 7);
      assert.equal(p2?.hasMore, true);

      const p3 = await store.readPage('t-1', { afterSeq: 7, limit: 3 });
      assert.deepEqual(
        p3?.logs.map((l) => [l.seq, l.message]),
        [[8, 'b 2']],
      );
      assert.equal(p3?.nextAfterSeq, 10, 'the last page carries the cursor past status-only events');
      assert.equal(p3?.hasMore, false);

      const exact = await store.readPage('t-1', { afterSeq: 5, limit: 2 });
      assert.deepEqual(
        exact?.logs.map((l) => l.seq),
        [7, 8],
      );
      assert.equal(exact?.hasMore, false, 'no more lines after exactly `limit` lines');
      assert.equal(exact?.nextAfterSeq, 10);

      const mid = await store.readPage('t-1', { afterSeq: 8, limit: 5 });
      assert.deepEqual(mid?.logs, []);
      assert.equal(mid?.nextAfterSeq, 10);

      const ahead = await store.readPage('t-1', { afterSeq: 42, limit: 5 });
      assert.deepEqual(ahead?.logs, []);
      assert.equal(ahead?.nextAfterSeq, 42, 'a cursor ahead of the store is kept');
      assert.equal(ahead?.hasMore, false);
    });

    it('reads the latest lines as a tail and older ones backward', async () => {
      await create(store, 't-1');
      const empty = await store.readPage('t-1', { limit: 5 });
      assert.deepEqual(empty, {
        task: empty?.task,
        logs: [],
        nextAfterSeq: 0,
        hasMore: false,
        hasOlder: false,
      });
      await store.append('t-1', { update: { logs: lines(4) }, now: at(1) }); // 1..4
      await store.append('t-1', { update: { logs: lines(3, 'b'), phase: 'running' }, now: at(2) }); // 5..7 + 8
      await store.append('t-1', { update: { progress: 90 }, now: at(3) }); // 9

      const tail = await store.readPage('t-1', { limit: 4 });
      assert.deepEqual(
        tail?.logs.map((l) => l.seq),
        [4, 5, 6, 7],
      );
      assert.equal(tail?.hasOlder, true);
      assert.equal(tail?.hasMore, false);
      assert.equal(tail?.nextAfterSeq, 9);

      const older = await store.readPage('t-1', { beforeSeq: 4, limit: 4 });
      assert.deepEqual(
        older?.logs.map((l) => l.seq),
        [1, 2, 3],
      );
      assert.equal(older?.hasOlder, false);
      assert.equal(older?.nextAfterSeq, 9);

      const exact = await store.readPage('t-1', { beforeSeq: 3, limit: 2 });
      assert.deepEqual(
        exact?.logs.map((l) => l.seq),
        [1, 2],
      );
      assert.equal(exact?.hasOlder, false);

      const all = await store.readPage('t-1', { limit: 100 });
      assert.deepEqual(
        all?.logs.map((l) => l.seq),
        [1, 2, 3, 4, 5, 6, 7],
      );
      assert.equal(all?.hasOlder, false);

      const beyond = await store.readPage('t-1', { beforeSeq: 100, limit: 2 });
      assert.deepEqual(
        beyond?.logs.map((l) => l.seq),
        [6, 7],
      );
      assert.equal(beyond?.hasOlder, true);
    });

    it("follows an agent's most recently created task", async () => {
      assert.equal(await store.getActiveTask('agent-1'), null);
      await create(store, 't-old', 'agent-1', at(0));
      await create(store, 't-other', 'agent-2', at(5));
      const latest = await create(store, 't-new', 'agent-1', at(10));
      assert.deepEqual(await store.getActiveTask('agent-1'), latest);
      const moved = await store.append('t-new', { update: { phase: 'running' }, now: at(11) });
      assert.deepEqual(await store.getActiveTask('agent-1'), moved.task, 'the active task is current');
      assert.equal((await store.getActiveTask('agent-2'))?.id, 't-other');
      assert.equal(await store.getActiveTask('agent-3'), null);
    });

    it('keeps seqs contiguous and each write together with 10 writers on 2 instances', async () => {
      const peer = await h.peer();
      await create(store, 't-1');
      const writers = 10;
      const appendsEach = 20;
      const results = await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          const mine: AppendResult[] = [];
          const target = w % 2 === 0 ? store : peer;
          for (let i = 0; i < appendsEach; i++) {
            const withStatus = i % 4 === 3;
            mine.push(
              await target.append('t-1', {
                update: { logs: lines(1 + (i % 3), `w${w} a${i}`), ...(withStatus ? { progress: i } : {}) },
                now: at(i),
              }),
            );
          }
          return mine;
        }),
      );
      const flat = results.flat();
      h.letHeadsAge?.();
      const task = (await store.getTask('t-1'))!.task;
      assertContiguous(flat, task.seq);
      const stored = await readAll(peer, 't-1', 97);
      const bySeq = new Map(stored.map((l) => [l.seq, l]));
      assert.equal(
        stored.length,
        flat.reduce((n, r) => n + r.logs.length, 0),
        'no line lost or doubled',
      );
      for (const r of flat) {
        r.logs.forEach((line, i) => {
          assert.equal(line.seq, r.fromSeq + i, "a write's lines are together, in order");
          assert.deepEqual(bySeq.get(line.seq), line, 'what was stored is what the writer was told');
        });
      }
    });

    it('makes events visible in order to a reader polling during concurrent writes', async () => {
      const peer = await h.peer();
      await create(store, 't-1');
      let writing = true;
      const seen: number[] = [];
      const reader = (async () => {
        let cursor = 0;
        let polls = 0;
        while (writing || polls === 0) {
          const page = await peer.readPage('t-1', { afterSeq: cursor, limit: 7 });
          polls += 1;
          for (const line of page!.logs) {
            assert.ok(line.seq > cursor, `line ${line.seq} is after the cursor ${cursor}`);
            seen.push(line.seq);
          }
          assert.ok(page!.nextAfterSeq <= page!.task.seq || page!.nextAfterSeq === cursor);
          cursor = page!.nextAfterSeq;
          await new Promise((resolve) => setImmediate(resolve));
        }
        // Catch up once the writers are done.
        for (;;) {
          const page = await peer.readPage('t-1', { afterSeq: cursor, limit: 50 });
          seen.push(...page!.logs.map((l) => l.seq));
          cursor = page!.nextAfterSeq;
          if (!page!.hasMore) break;
        }
        return polls;
      })();
      await Promise.all(
        Array.from({ length: 6 }, async (_, w) => {
          for (let i = 0; i < 10; i++) {
            await (w % 2 ? store : peer).append('t-1', {
              update: { logs: lines(2, `w${w}`), ...(i % 3 === 0 ? { progress: i } : {}) },
              now: at(i),
            });
            // Let the reader in between writes (the memory store never yields by itself).
            await new Promise((resolve) => setImmediate(resolve));
          }
        }),
      );
      writing = false;
      // Stale heads are still a prefix (checked above); past the bound the peer sees the last write.
      h.letHeadsAge?.();
      const polls = await reader;
      assert.ok(polls > 1, 'the reader polled while writes went on');
      const all = (await readAll(store, 't-1')).map((l) => l.seq);
      assert.deepEqual(seen, all, 'the poller saw every line exactly once, in seq order');
    });

    it('lets exactly one of two instances finish a task when both try at once', async () => {
      const peer = await h.peer();
      for (let round = 0; round < 5; round++) {
        const id = `t-race-${round}`;
        await create(store, id);
        await store.append(id, { update: { phase: 'running' }, now: at(1) });
        const outcomes = await Promise.allSettled([
          store.append(id, { update: { phase: 'completed', logs: lines(2) }, now: at(2) }),
          peer.append(id, { update: { phase: 'failed', logs: lines(2) }, now: at(2) }),
        ]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o) => o.status === 'rejected');
        assert.equal(won.length, 1, 'one terminal phase wins');
        assert.ok(lost[0]!.reason instanceof PhaseConflictError);
        const task = (await peer.getTask(id))!.task;
        assert.equal(task.phase, won[0]!.value.task.phase);
        assert.equal(task.seq, 4, 'the loser stored nothing');
      }
    });

    it('stores a write with one Idempotency-Key once when two instances get it at once', async () => {
      const peer = await h.peer();
      await create(store, 't-1');
      for (let i = 0; i < 5; i++) {
        const idempotency = { key: `k-${i}`, fingerprint: `f-${i}` };
        const update = { logs: lines(2, `k${i}`), progress: i };
        const [a, b] = await Promise.all([
          store.append('t-1', { update, now: at(i), idempotency }),
          peer.append('t-1', { update, now: at(i), idempotency }),
        ]);
        assert.equal([a, b].filter((r) => r.replayed).length, 1, 'one stored, one replayed');
        assert.equal(a.fromSeq, b.fromSeq);
        assert.deepEqual(a.task, b.task);
      }
      h.letHeadsAge?.();
      assert.equal((await store.getTask('t-1'))!.task.seq, 15, 'five writes of three events each');
    });

    it('stores a POST of 500 lines of 8000 characters and reads it back whole', async () => {
      await create(store, 't-big');
      const big = Array.from({ length: 500 }, (_, i) => ({
        level: 'info' as const,
        message: `${String(i + 1).padStart(3, '0')}:`.padEnd(8000, String.fromCharCode(97 + (i % 26))),
      }));
      const r = await store.append('t-big', { update: { logs: big, phase: 'running' }, now: at(1) });
      assert.equal(r.task.seq, 501);
      await store.append('t-big', { update: { logs: lines(1, 'after') }, now: at(2) });

      // The whole write in one page: past the default byte budget on purpose (see the next tests).
      const forward = await store.readPage('t-big', { afterSeq: 0, limit: 1000, maxBytes: WHOLE });
      assert.equal(forward!.logs.length, 501);
      assert.equal(forward!.hasMore, false);
      assert.equal(forward!.nextAfterSeq, 502);
      forward!.logs.slice(0, 500).forEach((line, i) => {
        assert.equal(line.seq, i + 1);
        assert.equal(line.message, big[i]!.message);
      });
      assert.equal(forward!.logs[500]!.seq, 502);

      const middle = await store.readPage('t-big', { afterSeq: 250, limit: 3 });
      assert.deepEqual(
        middle!.logs.map((l) => l.message.slice(0, 4)),
        ['251:', '252:', '253:'],
      );

      const tail = await store.readPage('t-big', { limit: 200, maxBytes: WHOLE });
      assert.deepEqual(
        tail!.logs.map((l) => l.seq),
        [...Array.from({ length: 199 }, (_, i) => 302 + i), 502],
      );
      assert.equal(tail!.hasOlder, true);
    });

    it('reads many large writes across result pages, forward and backward', async () => {
      await create(store, 't-1');
      // 12 writes of about 280 KB: several MB, beyond any single 1 MB Query page.
      for (let w = 0; w < 12; w++) {
        const logs = Array.from({ length: 40 }, (_, i) => ({
          level: 'info' as const,
          message: `w${w} l${i} `.padEnd(7000, 'x'),
        }));
        await store.append('t-1', { update: { logs, progress: w }, now: at(w) });
      }
      const all = await readAll(store, 't-1', 1000);
      assert.equal(all.length, 480);
      assert.deepEqual(
        all.map((l) => l.seq),
        Array.from({ length: 12 }, (_, w) => Array.from({ length: 40 }, (_, i) => w * 41 + i + 1)).flat(),
      );
      const tail = await store.readPage('t-1', { limit: 1000, maxBytes: WHOLE });
      assert.deepEqual(tail!.logs, all);
      assert.equal(tail!.hasOlder, false);
    });

    it('stops a page once its lines reach the byte budget, and pages on to every line', async () => {
      await create(store, 't-1');
      // Seven lines of 1,000 bytes (one of them 3,000), a status change, then five more.
      const sizes = [1000, 1000, 3000, 1000, 1000, 1000, 1000];
      const text = (n: number, size: number) => `${n} `.padEnd(size, 'x');
      await store.append('t-1', {
        update: {
          logs: sizes.map((size, i) => ({ level: 'info', message: text(i + 1, size) })),
          progress: 5,
        },
        now: at(1),
      });
      await store.append('t-1', {
        update: {
          logs: Array.from({ length: 5 }, (_, i) => ({ level: 'info', message: text(9 + i, 1000) })),
        },
        now: at(2),
      });
      const budget = { limit: 100, maxBytes: 2500 };

      const first = await store.readPage('t-1', { afterSeq: 0, ...budget });
      assert.deepEqual(
        first!.logs.map((l) => l.seq),
        [1, 2, 3],
        'the third line reaches 2,500 bytes and ends the page',
      );
      assert.equal(first!.hasMore, true);
      assert.equal(first!.nextAfterSeq, 3);
      const single = await store.readPage('t-1', { afterSeq: 2, limit: 100, maxBytes: 10 });
      assert.deepEqual(
        single!.logs.map((l) => l.seq),
        [3],
        'a line over the whole budget still makes a page',
      );

      const seen: number[] = [];
      let cursor = 0;
      for (let pages = 1; ; pages++) {
        assert.ok(pages <= 10, 'the pages end');
        const page = await store.readPage('t-1', { afterSeq: cursor, ...budget });
        assert.ok(page!.logs.reduce((n, l) => n + l.message.length, 0) < 2500 + 3000);
        seen.push(...page!.logs.map((l) => l.seq));
        cursor = page!.nextAfterSeq;
        if (!page!.hasMore) break;
      }
      assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13]);
      assert.equal(cursor, 13);

      const tail = await store.readPage('t-1', budget);
      assert.deepEqual(
        tail!.logs.map((l) => l.seq),
        [11, 12, 13],
        'a tail keeps its newest lines',
      );
      assert.equal(tail!.hasOlder, true);
      const older = await store.readPage('t-1', { beforeSeq: 5, ...budget });
      assert.deepEqual(
        older!.logs.map((l) => l.seq),
        [3, 4],
      );
      assert.equal(older!.hasOlder, true);
    });

    it('holds a page of a big write to about the byte budget, fetching no more than it needs', async () => {
      await create(store, 't-big');
      const big = Array.from({ length: 500 }, (_, i) => ({
        level: 'info' as const,
        message: `${i + 1} `.padEnd(8000, 'y'),
      }));
      await store.append('t-big', { update: { logs: big }, now: at(1) });
      // The default budget, 1 MiB: 131 lines of 8,000 bytes stay under it, the 132nd reaches it.
      const forward = await store.readPage('t-big', { afterSeq: 0, limit: 1000 });
      assert.equal(forward!.logs.length, 132);
      assert.deepEqual([forward!.hasMore, forward!.nextAfterSeq], [true, 132]);
      const tail = await store.readPage('t-big', { limit: 1000 });
      assert.deepEqual([tail!.logs[0]!.seq, tail!.logs.length, tail!.hasOlder], [369, 132, true]);
      assert.deepEqual(
        (await readAll(store, 't-big')).map((l) => l.message),
        big.map((l) => l.message),
      );
    });

    describe('with a log quota of 10 lines and 1,000 bytes', () => {
      const quota = { maxLines: 10, maxBytes: 1000 };
      let q: StoreHarness;
      beforeEach(async () => {
        q = await open(atT0, { logQuota: quota });
      });
      afterEach(async () => {
        await q.close();
      });

      it('refuses a write past the quota whole, and still takes writes without lines', async () => {
        await create(q.store, 't-1');
        await q.store.append('t-1', { update: { logs: lines(8), phase: 'running' }, now: at(1) });
        const refused = await q.store
          .append('t-1', { update: { logs: lines(3, 'over'), progress: 50 }, now: at(2) })
          .then(
            () => assert.fail('a write past 10 lines is refused'),
            (error: unknown) => error,
          );
        assert.ok(refused instanceof LogQuotaExceededError);
        assert.deepEqual(
          [refused.stored, refused.adding],
          [
            { lines: 8, bytes: 48 },
            { lines: 3, bytes: 18 },
          ],
        );
        const after = (await q.store.getTask('t-1'))!.task;
        assert.deepEqual([after.seq, after.progress], [9, null], 'nothing of the refused write is stored');

        await q.store.append('t-1', { update: { logs: lines(2, 'fits') }, now: at(3) });
        await assert.rejects(
          q.store.append('t-1', { update: { logs: lines(1, 'one more') }, now: at(4) }),
          LogQuotaExceededError,
        );
        const done = await q.store.append('t-1', { update: { phase: 'completed' }, now: at(5) });
        assert.equal(done.task.phase, 'completed', 'a task at its cap can still finish');
        assert.equal((await readAll(q.store, 't-1')).length, 10);

        await create(q.store, 't-2');
        await assert.rejects(
          q.store.append('t-2', {
            update: { logs: [{ level: 'info', message: 'z'.repeat(1001) }] },
            now: at(6),
          }),
          LogQuotaExceededError,
          'the byte cap counts too',
        );
        await q.store.append('t-2', { update: { logs: lines(10) }, now: at(7) });
      });

      it('lets concurrent writers on 2 instances fill the quota exactly, never past it', async () => {
        const peer = await q.peer();
        await create(q.store, 't-1');
        const outcomes = await Promise.allSettled(
          Array.from({ length: 12 }, (_, w) =>
            (w % 2 === 0 ? q.store : peer).append('t-1', {
              update: { logs: lines(2, `w${w}`) },
              now: at(w),
            }),
          ),
        );
        const stored = outcomes.filter((o) => o.status === 'fulfilled');
        const refused = outcomes.filter((o) => o.status === 'rejected');
        assert.equal(stored.length, 5, 'five writes of two lines fill ten');
        for (const o of refused) assert.ok(o.reason instanceof LogQuotaExceededError, String(o.reason));
        q.letHeadsAge?.();
        assert.equal((await readAll(peer, 't-1')).length, 10);
        assert.equal((await q.store.getTask('t-1'))!.task.seq, 10);
      });

      it('replays a write the quota took, though the task is now full', async () => {
        await create(q.store, 't-1');
        const idempotency = { key: 'k', fingerprint: 'f' };
        const first = await q.store.append('t-1', { update: { logs: lines(10) }, now: at(1), idempotency });
        const replay = await q.store.append('t-1', { update: { logs: lines(10) }, now: at(2), idempotency });
        assert.equal(replay.replayed, true);
        assert.deepEqual(replay.task, first.task);
      });
    });

    if (persists) {
      it('keeps tasks, lines, seqs and idempotency answers across a restart', async () => {
        assert.ok(h.restart, `${kind} persists, so its harness can restart`);
        await create(store, 't-1');
        const idempotency = { key: 'k', fingerprint: 'f' };
        const first = await store.append('t-1', {
          update: { phase: 'running', logs: lines(3) },
          now: at(1),
          idempotency,
        });
        const reopened = await h.restart();
        assert.deepEqual((await reopened.getTask('t-1'))?.task, first.task);
        const replay = await reopened.append('t-1', {
          update: { phase: 'running', logs: lines(3) },
          now: at(2),
          idempotency,
        });
        assert.equal(replay.replayed, true, 'the key is remembered across the restart');
        const next = await reopened.append('t-1', { update: { logs: lines(2, 'after') }, now: at(3) });
        assert.equal(next.fromSeq, 5, 'seq continues');
        assert.deepEqual(
          (await readAll(reopened, 't-1')).map((l) => l.seq),
          [1, 2, 3, 5, 6],
        );
        assert.equal((await reopened.getActiveTask('agent-1'))?.id, 't-1');
      });
    }
  });
}
