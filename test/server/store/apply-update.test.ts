import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applyUpdate, newTask } from '../../../server/store/apply-update.js';

const T0 = new Date('2026-11-24T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('applyUpdate', () => {
  test('carries every field it does not change, and stamps updatedAt', () => {
    const current = { ...newTask('t-1', 'agent-1', 'Build', T0), seq: 7, progress: 10, message: 'old' };
    const { task, fromSeq } = applyUpdate(current, { progress: 50 }, at(5));
    assert.equal(fromSeq, 8);
    assert.deepEqual(task, {
      id: 't-1',
      agentId: 'agent-1',
      title: 'Build',
      phase: 'queued',
      progress: 50,
      message: 'old',
      seq: 8,
      createdAt: T0.toISOString(),
      updatedAt: at(5).toISOString(),
    });
  });

  test('stamps each update with its own time, also when the clock repeats or goes back', () => {
    let task = newTask('t-1', 'agent-1', null, T0);
    const stamps: string[] = [];
    for (const ms of [1, 1, 2, 0, 2]) {
      task = applyUpdate(task, { progress: ms }, at(ms)).task;
      stamps.push(task.updatedAt);
    }
    assert.deepEqual(
      stamps,
      [1, 1, 2, 0, 2].map((ms) => at(ms).toISOString()),
    );
  });
});
