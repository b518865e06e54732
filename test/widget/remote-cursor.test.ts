import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskStatusPage } from '../../protocol/http.js';
import type { SnapshotMessage } from '../../protocol/ws-messages.js';
import type { LinkEvent, StreamMessage } from '../../widget/connection/link.js';
import type { PollResult } from '../../widget/connection/poller.js';
import { advance } from '../../widget/connection/remote-cursor.js';
import { lines, page, snapshot, task, update } from './helpers/fixtures.js';

/** A subscribe's answer covering every event up to `nextAfterSeq`, for a request from `requested`. */
function snapshotEvent(nextAfterSeq: number, requested: number | null): LinkEvent {
  const message: SnapshotMessage = {
    ...snapshot(page(lines(1, nextAfterSeq), nextAfterSeq, { nextAfterSeq })),
    requestId: 1,
  };
  return { source: 'socket', message, requested };
}

/** News on the socket: it answers no request. */
function news(message: StreamMessage): LinkEvent {
  return { source: 'socket', message, requested: null };
}

function polled(body: unknown, requested: number | null): LinkEvent {
  const result: PollResult = { kind: 'ok', body, etag: null, consecutiveFailures: 0 };
  return { source: 'poll', result, requested };
}

describe('advance', () => {
  it("moves a tab with no cursor to a snapshot's nextAfterSeq", () => {
    assert.equal(advance(null, snapshotEvent(14, null)), 14);
    assert.equal(advance(null, snapshotEvent(14, 3)), 14);
  });

  it('moves the cursor on a snapshot asked from at or below it', () => {
    assert.equal(advance(10, snapshotEvent(25, 10)), 25, 'asked from the cursor itself');
    assert.equal(advance(10, snapshotEvent(25, 4)), 25, 'asked from below: the events overlap');
  });

  it('never moves the cursor back on a snapshot that ends before it', () => {
    assert.equal(advance(30, snapshotEvent(25, 20)), 30);
  });

  it('leaves the cursor on a snapshot asked from beyond it (it skips events the tab never saw)', () => {
    assert.equal(advance(10, snapshotEvent(25, 11)), 10);
    assert.equal(advance(10, snapshotEvent(25, 18)), 10);
  });

  it('leaves the cursor on a tail snapshot, which may not reach back to it', () => {
    assert.equal(advance(10, snapshotEvent(25, null)), 10);
  });

  it("acts on a polled status page's nextAfterSeq as on a snapshot's", () => {
    const body: TaskStatusPage = page(lines(6, 9), 9, { nextAfterSeq: 9 });
    assert.equal(advance(null, polled(body, null)), 9);
    assert.equal(advance(5, polled(body, 5)), 9);
    assert.equal(advance(5, polled(body, 7)), 5, 'a page from beyond the cursor');
  });

  it('leaves the cursor on a poll that brought no page', () => {
    const notModified: LinkEvent = {
      source: 'poll',
      result: { kind: 'not-modified', consecutiveFailures: 0 },
      requested: 5,
    };
    const failed: LinkEvent = {
      source: 'poll',
      result: { kind: 'failed', status: 503, retryAfterMs: null, consecutiveFailures: 1 },
      requested: 5,
    };
    assert.equal(advance(5, notModified), 5);
    assert.equal(advance(5, failed), 5);
    assert.equal(advance(5, polled({ task: task(40) }, null)), 5, "an agent's active task has no page");
  });

  it("moves the cursor to an update's task.seq when the update joins it", () => {
    assert.equal(advance(10, news(update(11, 13))), 13, 'right after the cursor');
    assert.equal(advance(10, news(update(8, 13))), 13, 'overlapping the cursor');
  });

  it('never moves the cursor back on an update it already holds', () => {
    assert.equal(advance(20, news(update(12, 15))), 20);
  });

  it('leaves the cursor on an update after a gap', () => {
    assert.equal(advance(10, news(update(12, 14))), 10);
  });

  it('leaves a tab with no cursor without one on an update', () => {
    assert.equal(advance(null, news(update(1, 3))), null);
  });

  it("leaves the cursor on an agent's task and on an error", () => {
    const agentTask: StreamMessage = { type: 'agent-task', requestId: 2, agentId: 'agent-1', task: task(50) };
    const error: StreamMessage = {
      type: 'error',
      code: 'store_unavailable',
      message: 'down',
      requestId: 3,
      taskId: 't-1',
    };
    assert.equal(advance(10, { source: 'socket', message: agentTask, requested: null }), 10);
    assert.equal(advance(null, { source: 'socket', message: agentTask, requested: null }), null);
    assert.equal(advance(10, { source: 'socket', message: error, requested: 10 }), 10);
    assert.equal(advance(null, { source: 'socket', message: error, requested: null }), null);
  });
});
