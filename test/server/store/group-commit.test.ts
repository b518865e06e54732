import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StatusUpdate, Task } from '../../../protocol/index.js';
import {
  applyGroup,
  GROUP_MAX_WRITES,
  groupSize,
  updateLineBytes,
} from '../../../server/store/dynamodb/group-commit.js';
import { LogQuotaExceededError, PhaseConflictError } from '../../../server/store/store-errors.js';
import type { AppendInput } from '../../../server/store/task-store.js';

const T0 = new Date('2026-11-02T10:00:00.000Z');
const QUOTA = { maxLines: 1_000, maxBytes: 1_000_000 };

function write(update: StatusUpdate, key?: string): AppendInput {
  return { update, now: T0, idempotency: key === undefined ? undefined : { key, fingerprint: key } };
}

function logs(n: number, prefix = 'line'): StatusUpdate {
  return {
    logs: Array.from({ length: n }, (_, i) => ({ level: 'info' as const, message: `${prefix} ${i + 1}` })),
  };
}

const running: Task = {
  id: 't',
  agentId: 'a',
  title: null,
  phase: 'running',
  progress: null,
  message: null,
  seq: 10,
  createdAt: T0.toISOString(),
  updatedAt: T0.toISOString(),
};

describe('which waiting writes share one batch item', () => {
  it('takes log-only writes together, and the first write that changes the status as the last', () => {
    assert.equal(
      groupSize([write(logs(2)), write(logs(3)), write({ ...logs(1), progress: 5 }), write(logs(1))]),
      3,
    );
  });

  it('ends a group after a change of status, which takes a seq after its lines', () => {
    assert.equal(groupSize([write({ progress: 5 }), write(logs(1))]), 1);
  });

  it('lets a write with an Idempotency-Key go alone', () => {
    assert.equal(groupSize([write(logs(1), 'k'), write(logs(1))]), 1);
    assert.equal(groupSize([write(logs(1)), write(logs(1), 'k')]), 1);
  });

  it('stops before the lines outgrow one item, and at GROUP_MAX_WRITES', () => {
    const line = write(logs(1));
    const oneLine = updateLineBytes(line.update);
    assert.equal(groupSize([line, line, line], 2 * oneLine - 1), 1);
    assert.equal(groupSize([line, line, line], 2 * oneLine), 2);
    assert.equal(groupSize(Array.from({ length: GROUP_MAX_WRITES + 5 }, () => line)), GROUP_MAX_WRITES);
  });
});

describe('applying a group to the head', () => {
  it('gives each write its own seqs and task, and one write for the whole group', () => {
    const { outcomes, write: all } = applyGroup(
      't',
      { task: running, usage: { lines: 0, bytes: 0 } },
      [write(logs(2, 'a')), write(logs(1, 'b')), write({ ...logs(1, 'c'), progress: 50 })],
      QUOTA,
    );
    const [a, b, c] = outcomes as Exclude<(typeof outcomes)[number], Error>[];
    assert.deepEqual(
      a!.logs.map((l) => [l.seq, l.message]),
      [
        [11, 'a 1'],
        [12, 'a 2'],
      ],
    );
    assert.equal(b!.fromSeq, 13);
    assert.equal(c!.task.seq, 15, 'its line at 14, its progress at 15');
    assert.equal(b!.task.progress, null, 'the task as after b, not after the group');
    assert.equal(all!.fromSeq, 11);
    assert.equal(all!.task.seq, 15);
    assert.deepEqual(
      all!.logs.map((l) => l.seq),
      [11, 12, 13, 14],
    );
    assert.deepEqual(all!.usage, { lines: 4, bytes: 12 });
  });

  it('refuses one write past the quota and writes the others without a hole', () => {
    const { outcomes, write: all } = applyGroup(
      't',
      { task: running, usage: { lines: 8, bytes: 0 } },
      [write(logs(1, 'a')), write(logs(5, 'b')), write(logs(1, 'c'))],
      { maxLines: 10, maxBytes: 1_000 },
    );
    assert.ok(outcomes[1] instanceof LogQuotaExceededError);
    assert.deepEqual(
      all!.logs.map((l) => [l.seq, l.message]),
      [
        [11, 'a 1'],
        [12, 'c 1'],
      ],
    );
  });

  it('refuses a phase change the head does not allow, keeping the lines before it', () => {
    const { outcomes, write: all } = applyGroup(
      't',
      { task: { ...running, phase: 'completed' }, usage: { lines: 0, bytes: 0 } },
      [write(logs(1)), write({ phase: 'running' })],
      QUOTA,
    );
    assert.ok(outcomes[1] instanceof PhaseConflictError);
    assert.equal(all!.task.seq, 11);
  });

  it('writes nothing when every member is refused', () => {
    const { write: none } = applyGroup(
      't',
      { task: running, usage: { lines: 10, bytes: 0 } },
      [write(logs(1))],
      { maxLines: 10, maxBytes: 1_000 },
    );
    assert.equal(none, null);
  });

  it('fails loudly on a group whose status change is not its last event', () => {
    assert.throws(
      () =>
        applyGroup(
          't',
          { task: running, usage: { lines: 0, bytes: 0 } },
          [write({ progress: 1 }), write(logs(1))],
          QUOTA,
        ),
      /hole in its seqs/,
    );
  });
});
