import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogEntry, TaskStatusPage } from '../../../protocol/index.js';
import { fitSnapshot } from '../../../server/realtime/snapshot-budget.js';
import { startRealtimeServer, TestClient } from './realtime-harness.js';

const AT = '2026-11-24T12:00:00.000Z';

function line(seq: number, size = 1_000): LogEntry {
  return { seq, at: AT, level: 'info', message: `${seq} ${'x'.repeat(size)}` };
}

function page(logs: LogEntry[], more: Partial<TaskStatusPage> = {}): TaskStatusPage {
  const last = logs.at(-1)?.seq ?? 0;
  return {
    task: {
      id: 't-1',
      agentId: 'a-1',
      title: null,
      phase: 'running',
      progress: null,
      message: null,
      seq: last + 1,
      createdAt: AT,
      updatedAt: AT,
    },
    logs,
    nextAfterSeq: last + 1,
    hasMore: false,
    hasOlder: false,
    ...more,
  };
}

const size = (p: TaskStatusPage) => Buffer.byteLength(JSON.stringify(p));

describe('fitSnapshot', () => {
  it('leaves a page within the budget as it is', () => {
    const small = page([line(1), line(2)]);
    assert.equal(fitSnapshot(small, true, 10_000), small);
  });

  it('keeps the first lines of a forward page and says hasMore from the last one kept', () => {
    const logs = Array.from({ length: 50 }, (_, i) => line(i + 11));
    const fitted = fitSnapshot(page(logs), true, 10_000);
    assert.ok(size(fitted) <= 10_000, `${size(fitted)} bytes`);
    assert.ok(fitted.logs.length >= 8, `only ${fitted.logs.length} lines kept`);
    assert.deepEqual(
      fitted.logs.map((l) => l.seq),
      logs.slice(0, fitted.logs.length).map((l) => l.seq),
    );
    assert.equal(fitted.hasMore, true);
    assert.equal(fitted.nextAfterSeq, fitted.logs.at(-1)!.seq);
    assert.equal(fitted.task.seq, 61, 'the status is the latest, untouched');
  });

  it('keeps the newest lines of a tail and says hasOlder', () => {
    const logs = Array.from({ length: 50 }, (_, i) => line(i + 1));
    const fitted = fitSnapshot(page(logs), false, 10_000);
    assert.ok(size(fitted) <= 10_000, `${size(fitted)} bytes`);
    assert.deepEqual(
      fitted.logs.map((l) => l.seq),
      logs.slice(logs.length - fitted.logs.length).map((l) => l.seq),
    );
    assert.equal(fitted.hasOlder, true);
    assert.equal(fitted.nextAfterSeq, 51, 'a tail still reaches the latest event');
  });

  it('always keeps one line, however small the budget', () => {
    const fitted = fitSnapshot(page([line(1, 5_000), line(2, 5_000)]), true, 100);
    assert.deepEqual(
      fitted.logs.map((l) => l.seq),
      [1],
    );
    assert.equal(fitted.hasMore, true);
  });
});

/** The next snapshot, or a failure naming the close code if the server closes the socket first. */
function snapshotOrClose(client: TestClient) {
  return Promise.race([
    client.expect('snapshot'),
    client.closed.then(({ code, reason }) => {
      throw new Error(`the server closed the socket (${code} ${reason}) instead of answering`);
    }),
  ]);
}

describe('snapshots of long lines on a real socket', () => {
  it('answers a subscriber that reads with a snapshot under the buffer bound, not a 1013 close', async () => {
    const maxBufferedBytes = 256 * 1024;
    const server = await startRealtimeServer({ config: { maxBufferedBytes } });
    const task = await server.createTask();
    // 200 lines of 8 KB: 1.6 MB, six times the bound, in one tail snapshot.
    for (let i = 0; i < 4; i++) {
      await server.post(task.id, {
        logs: Array.from({ length: 50 }, (_, j) => ({ message: `${i * 50 + j + 1} ${'x'.repeat(7_900)}` })),
      });
    }
    const fresh = await TestClient.connect(server.wsUrl);
    fresh.subscribe(task.id);
    const tail = await snapshotOrClose(fresh);
    assert.ok(tail.logs.length > 0 && tail.hasOlder);
    assert.equal(tail.logs.at(-1)?.message.split(' ')[0], '200', 'the tail ends with the newest line');

    const behind = await TestClient.connect(server.wsUrl);
    behind.subscribe(task.id, 0);
    const forward = await snapshotOrClose(behind);
    assert.equal(forward.logs[0]?.seq, 1);
    assert.equal(forward.hasMore, true);
    assert.equal(forward.nextAfterSeq, forward.logs.at(-1)!.seq);

    // Both are still subscribed: live events keep coming.
    await server.post(task.id, { message: 'still live' });
    assert.equal((await fresh.expect('update')).task.message, 'still live');
    assert.equal((await behind.expect('update')).task.message, 'still live');
    fresh.close();
    behind.close();
    await server.close();
  });
});
