import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { startEmbeddedDynalite } from '../../../server/store/dynamodb/embedded-dynalite.js';
import { DataDirInUseError } from '../../../server/store/dynamodb/embedded-dynalite.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import { openStore } from '../../../server/store/open-store.js';

describe('openStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ats-open-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('opens the memory store', async () => {
    const opened = await openStore({ kind: 'memory', dataDir: dir, logTtlDays: 30 });
    assert.ok(opened.store instanceof MemoryTaskStore);
    assert.match(opened.description, /^memory/);
    await opened.close();
  });

  it('opens embedded dynalite under the data directory by default, and keeps data across reopening', async () => {
    const options = {
      kind: 'dynamodb' as const,
      dataDir: dir,
      logTtlDays: 30,
      dynamodb: { tableName: 'agent-task-status' },
    };
    const first = await openStore(options);
    assert.match(first.description, /embedded dynalite/);
    assert.ok(
      (await stat(path.join(dir, 'dynalite', 'LOCK'))).isFile(),
      'LevelDB lives in <DATA_DIR>/dynalite',
    );
    // Written with the real clock, which the store also reads with (lines expire after 30 days).
    const now = new Date();
    await first.store.createTask({ id: 't-1', agentId: 'a', title: null, tokenHash: 'h', now });
    await first.store.append('t-1', { update: { logs: [{ level: 'info', message: 'hello' }] }, now });
    await assert.rejects(openStore(options), DataDirInUseError, 'a second server on the same DATA_DIR');
    await first.close();

    const second = await openStore(options);
    const page = await second.store.readPage('t-1', { limit: 10 });
    assert.deepEqual(
      page?.logs.map((l) => l.message),
      ['hello'],
    );
    await second.close();
  });

  it('uses a configured endpoint and creates the table there when missing', async () => {
    const external = await startEmbeddedDynalite({ dataDir: path.join(dir, 'external') });
    try {
      const opened = await openStore({
        kind: 'dynamodb',
        dataDir: path.join(dir, 'unused'),
        logTtlDays: 30,
        dynamodb: { endpoint: external.endpoint, tableName: 'custom-table' },
      });
      assert.equal(opened.description, `dynamodb (${external.endpoint}, table custom-table)`);
      await opened.store.createTask({
        id: 't-1',
        agentId: 'a',
        title: null,
        tokenHash: 'h',
        now: new Date(),
      });
      assert.equal((await opened.store.getActiveTask('a'))?.id, 't-1');
      await opened.close();
    } finally {
      await external.close();
    }
  });
});
