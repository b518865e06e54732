// README's Python agent (issue 16, "OpenAPI"): the python block of README.md, run as it is with
// python3 against a real server with an admin token, ends its task completed with its lines.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROUTES, type TaskStatusPage } from '../../protocol/index.js';
import { startServer, type RunningServer } from '../../server/serve.js';
import { testConfig } from './routes/harness.js';
import { ADMIN_TOKEN } from './viewer-tokens/tokens.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function python3(): string {
  const found = spawnSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8' }).stdout.trim();
  if (!found)
    throw new Error(
      "python3 not found: run 'sudo apt-get install -y python3' (npm test installs it as root)",
    );
  return found;
}

describe("README's Python agent", { timeout: 60_000 }, () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer({ config: testConfig({ PORT: '0', ADMIN_TOKEN }), realtime: false });
  });
  after(async () => {
    await server?.close();
  });

  it('creates a task, posts its progress and lines, and completes it', async () => {
    const blocks = [...README.matchAll(/```python\n([\s\S]*?)```/g)].map((match) => match[1]!);
    assert.equal(blocks.length, 1, 'one python block in README.md');
    const { stdout } = await promisify(execFile)(python3(), ['-c', blocks[0]!], {
      env: { ...process.env, BASE: server.url, ADMIN_TOKEN },
      timeout: 30_000,
    });
    const taskId = stdout.trim();
    const response = await fetch(`${server.url}${ROUTES.taskStatus(taskId)}?afterSeq=0`);
    const page = (await response.json()) as TaskStatusPage;
    assert.equal(page.task.phase, 'completed');
    assert.equal(page.task.progress, 100);
    assert.deepEqual(
      page.logs.map((line) => line.message),
      ['step 1 done', 'step 2 done', 'step 3 done'],
    );
  });
});
