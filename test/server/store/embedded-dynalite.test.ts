import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it, test } from 'node:test';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  DataDirInUseError,
  startEmbeddedDynalite,
} from '../../../server/store/dynamodb/embedded-dynalite.js';
import { DynaliteFixture, testClient } from './dynalite-harness.js';

const DYNALITE = createRequire(import.meta.url).resolve('dynalite');

/** Another process with dynalite open on `dir`, as a second server on the same DATA_DIR would be. */
async function holdInAnotherProcess(dir: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require(${JSON.stringify(DYNALITE)})({ path: ${JSON.stringify(dir)} }).listen(0, '127.0.0.1', () => console.log('ready'))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', () => resolve());
  });
  // dynalite says "listening" before LevelDB has opened (and locked) the directory.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return child;
}

describe('embedded dynalite', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ats-embedded-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts on a free loopback port, creating the data directory', async () => {
    const dataDir = path.join(dir, 'nested', 'dynalite');
    const dynalite = await startEmbeddedDynalite({ dataDir });
    try {
      assert.match(dynalite.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      const client = testClient(dynalite.endpoint);
      assert.deepEqual((await client.send(new ListTablesCommand({}))).TableNames, []);
      client.destroy();
    } finally {
      await dynalite.close();
    }
  });

  it('refuses, with a clear message, a data directory another process holds', async () => {
    const child = await holdInAnotherProcess(dir);
    try {
      await assert.rejects(startEmbeddedDynalite({ dataDir: dir }), (error: unknown) => {
        assert.ok(error instanceof DataDirInUseError);
        assert.equal(error.message, `DATA_DIR ${dir} is in use by another process; stop it or set DATA_DIR`);
        return true;
      });
    } finally {
      child.kill();
      await new Promise((resolve) => child.once('exit', resolve));
    }
    const dynalite = await startEmbeddedDynalite({ dataDir: dir });
    await dynalite.close();
  });

  it('refuses a data directory this process already serves', async () => {
    const first = await startEmbeddedDynalite({ dataDir: dir });
    try {
      // A second start that wrongly succeeds is closed, so a failure cannot keep the file running.
      const second = startEmbeddedDynalite({ dataDir: dir }).then(async (started) => {
        await started.close();
        return started;
      });
      await assert.rejects(second, DataDirInUseError);
    } finally {
      await first.close();
    }
  });
});

// Issue 18: dynalite 4 ended its LevelDB iterators with `iterator.return()`, which abstract-level
// iterators lack, so every Query kept one open (and the native memory it pins) for good.
test("the store's Queries close their LevelDB iterators, cut short by Limit or read to the end", async (t) => {
  const now = new Date('2026-11-02T10:00:00.000Z');
  const fixture = await DynaliteFixture.start(() => now);
  t.after(() => fixture.close());
  // A store that knows no head, so that every append and read here queries dynalite.
  const store = fixture.store({ knownTasks: 0 });
  const before = await fixture.dynalite.stats();

  await store.createTask({ id: 't-1', agentId: 'agent-1', title: null, tokenHash: 'h', now });
  for (let i = 1; i <= 3; i++) {
    // Each append reads the tail with a Query of Limit 1, newest first.
    await store.append('t-1', { update: { logs: [{ level: 'info', message: `line ${i}` }] }, now });
  }
  // Forward from a cursor (BETWEEN, read to the end), the latest page (newest first, Limit),
  // and the agent's latest task (a Query of Limit 1 on the byAgent index).
  assert.equal((await store.readPage('t-1', { afterSeq: 1, limit: 10 }))?.logs.length, 2);
  assert.equal((await store.readPage('t-1', { limit: 2 }))?.logs.length, 2);
  assert.equal((await store.getActiveTask('agent-1'))?.id, 't-1');

  const after = await fixture.dynalite.stats();
  assert.ok(after.iteratorsOpened - before.iteratorsOpened >= 9, 'each of those Queries opened an iterator');
  assert.equal(after.openIterators, 0);
  assert.equal(after.pendingOperations, 0);
});
