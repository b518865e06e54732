import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ROUTES } from '../../../protocol/index.js';
import { PAGE_READS_CONCURRENT, PAGE_READS_WAITING } from '../../../server/routes/task-reads.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import type { ReadPageInput } from '../../../server/store/task-store.js';
import { errorOf, harness } from './harness.js';

/** A memory store whose page reads wait until `release()`; counts the reads that started. */
class HeldStore extends MemoryTaskStore {
  started = 0;
  #release!: () => void;
  readonly #released = new Promise<void>((resolve) => (this.#release = resolve));

  override async readPage(taskId: string, input: ReadPageInput) {
    this.started += 1;
    await this.#released;
    return super.readPage(taskId, input);
  }

  release(): void {
    this.#release();
  }
}

describe('the log page gate', () => {
  test('reads a few pages at a time, queues a bounded number, and answers 503 server_busy past that', async () => {
    const store = new HeldStore();
    const h = harness({ store, env: { READS_PER_MINUTE: '0' } });
    const { task } = await h.createTask();
    const read = () => h.request(ROUTES.taskLogs(task.id));
    const queued = Array.from({ length: PAGE_READS_CONCURRENT + PAGE_READS_WAITING }, read);
    // Every request has reached the gate once the refused one is answered: requests run in order.
    const refused = await read();
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal((await errorOf(refused)).code, 'server_busy');
    assert.equal(store.started, PAGE_READS_CONCURRENT, 'only the gate’s reads started');

    store.release();
    const answers = await Promise.all(queued);
    assert.deepEqual(new Set(answers.map((res) => res.status)), new Set([200]));
    assert.equal((await read()).status, 200, 'the gate is open again');
  });
});
