// Issue "Persist in DynamoDB": one server per DATA_DIR. A second one on the same directory fails
// at start, with a message that says what to do, and leaves the first one undisturbed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTask, getStatus, postStatus, tempDir } from './support/agent-http.js';
import { ServerRun, type Exit } from '../../support/server-process.js';

describe('a second server started on a DATA_DIR that a running server holds', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let first: ServerRun;
  let firstUrl: string;
  let second: ServerRun;
  let secondExit: Exit;

  before(async () => {
    data = await tempDir('ats-datadir-');
    // Blank AWS_REGION and DYNAMODB_ENDPOINT (ServerRun sets them so) count as unset: embedded.
    first = ServerRun.start({ DATA_DIR: data.dir });
    firstUrl = await first.listening();
    second = ServerRun.start({ DATA_DIR: data.dir });
    secondExit = await second.exited;
  });

  after(async () => {
    await second?.kill('SIGKILL');
    await first?.kill('SIGTERM');
    await data?.remove();
  });

  test('exits 1 at start, before listening, naming the directory and what to do', () => {
    assert.deepEqual(secondExit, { code: 1, signal: null });
    assert.doesNotMatch(second.stdout, /listening/);
    assert.equal(
      second.stderr.trim(),
      `agent-task-status failed to start: DATA_DIR ${data.dir}/dynalite is in use by another process; stop it or set DATA_DIR`,
    );
  });

  test('the first server keeps serving reads and writes', async () => {
    const { task, agentToken } = await createTask(firstUrl, 'agent-first');
    const res = await postStatus(firstUrl, task.id, agentToken, { logs: [{ message: 'still here' }] });
    assert.equal(res.status, 200);
    const page = await getStatus(firstUrl, task.id);
    assert.deepEqual(
      page.body.logs.map((line) => line.message),
      ['still here'],
    );
  });

  test('the first server stops cleanly on SIGTERM, and frees the directory for the next one', async () => {
    assert.deepEqual(await first.kill('SIGTERM'), { code: 0, signal: null });
    const third = ServerRun.start({ DATA_DIR: data.dir });
    try {
      await third.listening();
    } finally {
      await third.kill('SIGTERM');
    }
  });
});
