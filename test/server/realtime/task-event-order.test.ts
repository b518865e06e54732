import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import type { UpdateMessage } from '../../../protocol/index.js';
import { TaskEventOrder } from '../../../server/realtime/task-event-order.js';

function update(taskId: string, fromSeq: number, toSeq = fromSeq): UpdateMessage {
  return {
    type: 'update',
    taskId,
    fromSeq,
    logs: [],
    task: {
      id: taskId,
      agentId: 'a',
      title: null,
      phase: 'running',
      progress: null,
      message: null,
      seq: toSeq,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
    },
  };
}

function order(holdMs = 250, maxHeld = 64) {
  const released: string[] = [];
  const events = new TaskEventOrder(
    (event) => released.push(`${event.taskId}:${event.fromSeq}-${event.task.seq}`),
    holdMs,
    maxHeld,
  );
  return { events, released };
}

describe("a task's events in seq order (several instances)", () => {
  it('releases events that come in order at once', () => {
    const { events, released } = order();
    events.offer(update('t', 1, 3));
    events.offer(update('t', 4));
    events.offer(update('t', 5, 9));
    assert.deepEqual(released, ['t:1-3', 't:4-4', 't:5-9']);
    assert.equal(events.heldCount, 0);
  });

  it('holds an event past a gap until the missing one arrives, then releases both in order', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const { events, released } = order();
      events.offer(update('t', 1));
      events.offer(update('t', 3)); // through another instance, ahead of 2
      events.offer(update('u', 7)); // another task is not held up
      assert.deepEqual(released, ['t:1-1', 'u:7-7']);
      assert.equal(events.heldCount, 1);
      events.offer(update('t', 2));
      assert.deepEqual(released, ['t:1-1', 'u:7-7', 't:2-2', 't:3-3']);
      mock.timers.tick(1_000);
      assert.equal(released.length, 4, 'nothing released twice');
    } finally {
      mock.timers.reset();
    }
  });

  it('releases what it held after holdMs when the missing event never comes (a lost message)', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const { events, released } = order(250);
      events.offer(update('t', 1));
      events.offer(update('t', 5));
      events.offer(update('t', 4));
      mock.timers.tick(249);
      assert.deepEqual(released, ['t:1-1']);
      mock.timers.tick(1);
      assert.deepEqual(released, ['t:1-1', 't:4-4', 't:5-5']);
      events.offer(update('t', 6));
      assert.deepEqual(released.at(-1), 't:6-6', 'in order again after the gap');
    } finally {
      mock.timers.reset();
    }
  });

  it('holds at most maxHeld events per task, and forgets a task nobody follows', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const { events, released } = order(250, 2);
      events.offer(update('t', 1));
      events.offer(update('t', 4));
      events.offer(update('t', 5));
      assert.equal(released.length, 1);
      events.offer(update('t', 6));
      assert.deepEqual(released, ['t:1-1', 't:4-4', 't:5-5', 't:6-6']);
      events.offer(update('t', 9));
      events.forget('t');
      mock.timers.tick(1_000);
      assert.equal(released.length, 4, 'a forgotten task releases nothing');
      events.offer(update('t', 20));
      assert.equal(released.at(-1), 't:20-20', 'and starts afresh');
    } finally {
      mock.timers.reset();
    }
  });

  it('stops releasing, and keeps nothing, once a release made the task lose its last follower', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const released: number[] = [];
      const events: TaskEventOrder = new TaskEventOrder((event) => {
        released.push(event.fromSeq);
        if (event.fromSeq === 3) events.forget('t'); // say, a follower closed as too slow a reader
      }, 250);
      events.offer(update('t', 1));
      events.offer(update('t', 3));
      events.offer(update('t', 4));
      mock.timers.tick(250);
      assert.deepEqual(released, [1, 3], 'nothing after the task was forgotten');
      events.offer(update('t', 10));
      assert.deepEqual(released, [1, 3, 10], 'a new first event is not held behind a forgotten past');
      assert.equal(events.heldCount, 0);
    } finally {
      mock.timers.reset();
    }
  });
});
