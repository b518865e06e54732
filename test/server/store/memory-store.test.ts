import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import { describeTaskStoreContract } from './task-store-contract.js';

// One process, one map: the "second instance" is the same store.
describeTaskStoreContract(
  'MemoryTaskStore',
  async (_clock, limits) => {
    const store = new MemoryTaskStore(limits);
    return { store, peer: async () => store, close: () => store.close() };
  },
  { persists: false },
);

describe('MemoryTaskStore idempotency answers', () => {
  const now = new Date('2026-11-02T10:00:00.000Z');

  it("keeps a bounded number of answers per task, so one agent's flood of keys never evicts another task's key", async () => {
    const store = new MemoryTaskStore({ idempotencyKeysPerTask: 3 });
    for (const id of ['quiet', 'flood']) {
      await store.createTask({ id, agentId: id, title: null, tokenHash: 'h', now });
    }
    const quietKey = { key: 'quiet-1', fingerprint: 'fq' };
    await store.append('quiet', { update: { progress: 1 }, now, idempotency: quietKey });
    for (let i = 0; i < 50; i++) {
      await store.append('flood', {
        update: { progress: i },
        now,
        idempotency: { key: `flood-${i}`, fingerprint: `f${i}` },
      });
    }

    const replay = await store.append('quiet', { update: { progress: 1 }, now, idempotency: quietKey });
    assert.equal(replay.replayed, true, "the other task's key is still answered");
    const latest = await store.append('flood', {
      update: { progress: 49 },
      now,
      idempotency: { key: 'flood-49', fingerprint: 'f49' },
    });
    assert.equal(latest.replayed, true, "the flooding task's recent keys are kept");
    const oldest = await store.append('flood', {
      update: { progress: 0 },
      now,
      idempotency: { key: 'flood-0', fingerprint: 'f0' },
    });
    assert.equal(oldest.replayed, false, "past 3 keys the flooding task's oldest is forgotten");
  });
});
