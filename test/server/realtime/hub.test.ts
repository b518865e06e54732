import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpdateMessage } from '../../../protocol/index.js';
import type { BusEvent } from '../../../server/bus/task-bus.js';
import { Hub, type HubMember } from '../../../server/realtime/hub.js';

function member() {
  const frames: Buffer[] = [];
  const m: HubMember & { frames: Buffer[] } = {
    frames,
    deliver: (_e: BusEvent, frame: Buffer) => frames.push(frame),
  };
  return m;
}

const update = (taskId: string): UpdateMessage => ({
  type: 'update',
  taskId,
  fromSeq: 1,
  logs: [],
  task: {
    id: taskId,
    agentId: 'a',
    title: null,
    phase: 'running',
    progress: null,
    message: null,
    seq: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  },
});

describe('hub', () => {
  it('frames a broadcast once and hands every subscriber the same bytes', () => {
    const hub = new Hub();
    const members = Array.from({ length: 50 }, member);
    for (const m of members) hub.addTask('t1', m);
    hub.publish(update('t1'));
    const first = members[0]!.frames[0]!;
    // FIN + text, then a 16-bit length: the update is 126 bytes or more.
    assert.deepEqual([first[0], first[1]], [0x81, 126]);
    assert.equal(first.readUInt16BE(2), first.length - 4);
    assert.deepEqual(JSON.parse(first.subarray(4).toString()), update('t1'));
    for (const m of members) assert.equal(m.frames[0], first, 'the very same Buffer, not a copy');
    assert.equal(hub.delivered, 50);
  });

  it('counts subscriptions once per member and forgets empty topics', () => {
    const hub = new Hub();
    const a = member();
    hub.addTask('t1', a);
    hub.addTask('t1', a);
    hub.addAgent('agent', a);
    assert.equal(hub.subscriptions, 2);
    hub.removeTask('t1', a);
    hub.removeTask('t1', a);
    hub.removeAgent('agent', a);
    assert.equal(hub.subscriptions, 0);
    hub.publish(update('t1'));
    assert.equal(a.frames.length, 0);
  });
});
