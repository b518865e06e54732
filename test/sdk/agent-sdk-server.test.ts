// The agent SDK (issue 16) against the real server: a server killed with SIGKILL and restarted
// mid-stream loses and duplicates nothing the SDK was told; a refused token fails flush() with the
// server's reason; a 429 is waited out by its Retry-After.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { freePort } from '../../scripts/cluster/free-port.js';
import { AgentTaskError, createTask, openTask } from '../../sdk/agent/index.js';
import { readAllLogs, tempDir } from '../server/integration/support/agent-http.js';
import { ServerRun } from '../support/server-process.js';

describe('the agent SDK against the real server', { timeout: 90_000 }, () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  });

  async function serve(env: Record<string, string>): Promise<{ run: ServerRun; url: string }> {
    const run = ServerRun.start(env);
    cleanup.push(() => run.kill('SIGKILL'));
    return { run, url: await run.listening() };
  }

  it('loses and duplicates nothing across a server killed with SIGKILL and restarted mid-stream', async () => {
    const data = await tempDir('ats-sdk-');
    cleanup.push(data.remove);
    const env = { DATA_DIR: data.dir, PORT: String(await freePort()) };
    let server = await serve(env);
    const retries: string[] = [];
    const task = await createTask({
      baseUrl: server.url,
      agentId: 'sdk-agent',
      title: 'restart mid-stream',
      batchDelayMs: 5,
      retryBaseMs: 50,
      retryCapMs: 500,
      onRetry: (error) => retries.push(error.message),
    });
    task.phase('running');
    const LINES = 600;
    for (let i = 1; i <= LINES; i++) {
      task.log(`line ${i}`);
      if (i % 20 === 0) task.progress(Math.floor((i / LINES) * 100));
      if (i === 200) {
        // Mid-stream: batches are in flight or waiting when the process dies.
        await new Promise((resolve) => setTimeout(resolve, 30));
        await server.run.kill('SIGKILL');
      }
      if (i === 400) server = await serve(env);
      if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    task.status({ phase: 'completed', progress: 100 });
    await task.close();
    assert.ok(retries.length > 0, 'the SDK met the dead server and retried');

    const { logs } = await readAllLogs(server.url, task.id, 1_000);
    assert.deepEqual(
      logs.map((line) => line.message),
      Array.from({ length: LINES }, (_, i) => `line ${i + 1}`),
      'every line once, in order',
    );
    const status = await (await fetch(`${server.url}/api/agent-tasks/${task.id}/status?limit=1`)).json();
    assert.deepEqual([status.task.phase, status.task.progress], ['completed', 100]);
  });

  it('retries a batch whose answer was lost with the same key: stored once', async () => {
    const { url } = await serve({ STORE: 'memory' });
    let posts = 0;
    const task = await createTask({
      baseUrl: url,
      agentId: 'lossy',
      batchDelayMs: 1,
      retryBaseMs: 10,
      // The third POST (the create, "one", then this) reaches the server; its answer is lost.
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (init?.method === 'POST' && ++posts === 3) throw new TypeError('fetch failed: socket hang up');
        return response;
      },
    });
    task.log('one');
    await task.flush();
    task.log('two');
    task.phase('running');
    await task.close();
    assert.equal(posts, 4, 'the batch whose answer was lost was sent once more');
    const { logs } = await readAllLogs(url, task.id, 10);
    assert.deepEqual(
      logs.map((line) => line.message),
      ['one', 'two'],
    );
  });

  it('fails flush() with the server reason when it refuses for good, and refuses more', async () => {
    const { url } = await serve({ STORE: 'memory' });
    const task = openTask({ baseUrl: url, taskId: 'nope', agentToken: 'not-a-token', batchDelayMs: 1 });
    task.log('refused');
    await assert.rejects(task.flush(), (error: unknown) => {
      assert.ok(error instanceof AgentTaskError);
      assert.equal(error.status, 401);
      assert.match(error.message, /not valid for task "nope"/);
      return true;
    });
    assert.throws(() => task.log('more'), AgentTaskError);
  });

  it("waits out a 429's Retry-After, then delivers", async () => {
    // A burst of 60, then one a second: the 61st and 62nd POSTs are told to wait.
    const { url } = await serve({ STORE: 'memory', RATE_LIMIT_PER_MINUTE: '60' });
    const delays: number[] = [];
    const task = await createTask({
      baseUrl: url,
      agentId: 'limited',
      batchDelayMs: 1,
      onRetry: (_error, delayMs) => delays.push(delayMs),
    });
    // One POST per flush.
    for (let i = 1; i <= 62; i++) {
      task.log(`posted ${i}`);
      await task.flush();
    }
    assert.ok(delays.length > 0, 'the limit was hit');
    assert.ok(
      delays.every((ms) => ms >= 1_000),
      `Retry-After honoured: ${delays.join(', ')} ms`,
    );
    const { logs } = await readAllLogs(url, task.id, 100);
    assert.equal(logs.length, 62);
  });
});
