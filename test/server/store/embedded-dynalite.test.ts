import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  DataDirInUseError,
  startEmbeddedDynalite,
} from '../../../server/store/dynamodb/embedded-dynalite.js';
import { testClient } from './dynalite-harness.js';

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
      await assert.rejects(startEmbeddedDynalite({ dataDir: dir }), DataDirInUseError);
    } finally {
      await first.close();
    }
  });
});
