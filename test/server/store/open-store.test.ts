import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { startEmbeddedDynalite } from '../../../server/store/dynamodb/embedded-dynalite.js';
import { DataDirInUseError } from '../../../server/store/dynamodb/embedded-dynalite.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import { openStore, type OpenStoreOptions } from '../../../server/store/open-store.js';
import { DynamoDbLocal } from '../../support/dynamodb-local.js';

describe('openStore', () => {
  let dir: string;
  /**
   * Closed after each test even when it fails (closing twice is harmless): a dynalite left open
   * would keep the process, and so the whole run, from ever ending.
   */
  const toClose: { close(): Promise<void> }[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ats-open-'));
  });
  afterEach(async () => {
    const closed = await Promise.allSettled(toClose.splice(0).map((resource) => resource.close()));
    await rm(dir, { recursive: true, force: true });
    for (const result of closed) if (result.status === 'rejected') throw result.reason;
  });

  async function open(options: OpenStoreOptions) {
    const opened = await openStore(options);
    toClose.push(opened);
    return opened;
  }

  it('opens the memory store', async () => {
    const opened = await open({ kind: 'memory', dataDir: dir, logTtlDays: 30 });
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
    const first = await open(options);
    assert.match(first.description, /embedded dynalite/);
    assert.ok(
      (await stat(path.join(dir, 'dynalite', 'LOCK'))).isFile(),
      'LevelDB lives in <DATA_DIR>/dynalite',
    );
    // Written with the real clock, which the store also reads with (lines expire after 30 days).
    const now = new Date();
    await first.store.createTask({ id: 't-1', agentId: 'a', title: null, tokenHash: 'h', now });
    await first.store.append('t-1', { update: { logs: [{ level: 'info', message: 'hello' }] }, now });
    await assert.rejects(open(options), DataDirInUseError, 'a second server on the same DATA_DIR');
    await first.close();

    const second = await open(options);
    const page = await second.store.readPage('t-1', { limit: 10 });
    assert.deepEqual(
      page?.logs.map((l) => l.message),
      ['hello'],
    );
    await second.close();
  });

  it('uses a configured endpoint and creates the table there when missing', async () => {
    const external = await startEmbeddedDynalite({ dataDir: path.join(dir, 'external') });
    toClose.push(external);
    const opened = await open({
      kind: 'dynamodb',
      dataDir: path.join(dir, 'unused'),
      logTtlDays: 30,
      dynamodb: { endpoint: external.endpoint, tableName: 'custom-table' },
    });
    assert.equal(opened.description, `dynamodb (${external.endpoint}, table custom-table)`);
    await opened.store.createTask({ id: 't-1', agentId: 'a', title: null, tokenHash: 'h', now: new Date() });
    assert.equal((await opened.store.getActiveTask('a'))?.id, 't-1');
    await opened.close();
  });

  it('uses transactions when asked, and refuses to start when the endpoint has none', async () => {
    const external = await startEmbeddedDynalite({ dataDir: path.join(dir, 'external') });
    toClose.push(external);
    const options = {
      kind: 'dynamodb',
      dataDir: path.join(dir, 'unused'),
      logTtlDays: 30,
      transactions: true,
    } as const;
    await assert.rejects(
      open({ ...options, dynamodb: { endpoint: external.endpoint, tableName: 'no-transactions' } }),
      /DYNAMODB_TRANSACTIONS=1, but it has no transactions/,
    );
    await assert.rejects(open(options), /the embedded dynalite has no transactions/);

    const local = await DynamoDbLocal.start();
    toClose.push(local);
    const opened = await open({
      ...options,
      dynamodb: { endpoint: local.endpoint, tableName: 'with-transactions' },
    });
    assert.equal(
      opened.description,
      `dynamodb (${local.endpoint}, table with-transactions, with transactions)`,
    );
    const now = new Date();
    await opened.store.createTask({ id: 't-1', agentId: 'a', title: null, tokenHash: 'h', now });
    const update = { logs: [{ level: 'info' as const, message: 'once' }] };
    const idempotency = { key: 'k', fingerprint: 'f' };
    await opened.store.append('t-1', { update, now, idempotency });
    const retry = await opened.store.append('t-1', { update, now, idempotency });
    assert.equal(retry.replayed, true);
  });
});
