// The CLI (issue 16) as users run it, a child process against a real server: `run` wraps a command
// (its stdout as info lines, its stderr as warn or error, its exit code and signals passed
// through, the task ended completed or failed); `create` and `post`; `tail` follows a task across
// a server killed and restarted, printing each line once, in order, and ends with the task.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { ROUTES, type TaskStatusPage } from '../../protocol/index.js';
import { freePort } from '../../scripts/cluster/free-port.js';
import { createTask } from '../../sdk/agent/index.js';
import { startServer } from '../../server/serve.js';
import { readAllLogs, tempDir } from '../server/integration/support/agent-http.js';
import { testConfig } from '../server/routes/harness.js';
import { ServerRun } from '../support/server-process.js';

const BIN = new URL('../../bin/agent-task-status.js', import.meta.url).pathname;

interface Cli {
  stdout: string;
  stderr: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  child: ReturnType<typeof spawn>;
  /** Resolves once stdout holds `text`. */
  printed(text: string): Promise<void>;
}

function cli(args: string[]): Cli {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const result: Cli = {
    stdout: '',
    stderr: '',
    child,
    exit: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    printed: (text) =>
      new Promise((resolve) => {
        const check = () => {
          if (!result.stdout.includes(text)) return;
          child.stdout!.off('data', check);
          resolve();
        };
        child.stdout!.on('data', check);
        check();
      }),
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (result.stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (result.stderr += chunk));
  return result;
}

const taskIdOf = (stderr: string) => /agent-task-status: task (\S+)/.exec(stderr)?.[1];

describe('the agent-task-status CLI', { timeout: 90_000 }, () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  });

  async function server({ realtime = false } = {}) {
    const running = await startServer({
      config: testConfig({ PORT: '0' }),
      ...(realtime ? {} : { realtime: false as const }),
    });
    cleanup.push(() => running.close());
    const page = async (taskId: string) =>
      (await (await fetch(`${running.url}${ROUTES.taskStatus(taskId)}?afterSeq=0`)).json()) as TaskStatusPage;
    return { url: running.url, page };
  }

  it('run: streams a command’s output, passes its exit code through, and ends the task failed', async () => {
    const { url, page } = await server();
    const script =
      "console.log('out 1'); console.error('warn 1'); console.error('Error: boom'); console.log('out 2'); process.exit(3)";
    const run = cli(['run', '--url', url, '--title', 'wrapped', '--', process.execPath, '-e', script]);
    const { code } = await run.exit;
    assert.equal(code, 3, run.stderr);
    assert.match(run.stdout, /out 1\nout 2\n/, 'its stdout still reaches the terminal');
    assert.match(run.stderr, /warn 1/);
    const { task, logs } = await page(taskIdOf(run.stderr)!);
    assert.deepEqual([task.title, task.phase, task.message], ['wrapped', 'failed', 'exited with code 3']);
    const byLevel = (level: string) =>
      logs.filter((line) => line.level === level).map((line) => line.message);
    assert.deepEqual(byLevel('info'), ['out 1', 'out 2']);
    assert.deepEqual(byLevel('warn'), ['warn 1']);
    assert.deepEqual(byLevel('error'), ['Error: boom']);
  });

  it('run: a command that succeeds ends the task completed at 100 %', async () => {
    const { url, page } = await server();
    const run = cli(['run', '--url', url, '--', process.execPath, '-e', "console.log('done')"]);
    assert.equal((await run.exit).code, 0, run.stderr);
    const { task, logs } = await page(taskIdOf(run.stderr)!);
    assert.deepEqual([task.phase, task.progress], ['completed', 100]);
    assert.deepEqual(
      logs.map((line) => line.message),
      ['done'],
    );
  });

  it('run: passes SIGTERM to the command, exits as it did (143), and says so in the task', async () => {
    const { url, page } = await server();
    const script = "console.log('ready'); setInterval(() => {}, 1000)";
    const run = cli(['run', '--url', url, '--', process.execPath, '-e', script]);
    await run.printed('ready');
    run.child.kill('SIGTERM');
    assert.equal((await run.exit).code, 143);
    const { task } = await page(taskIdOf(run.stderr)!);
    assert.deepEqual([task.phase, task.message], ['failed', 'killed by SIGTERM']);
  });

  it('run: a command that cannot start exits 127 and fails the task', async () => {
    const { url, page } = await server();
    const run = cli(['run', '--url', url, '--', '/nonexistent/command']);
    assert.equal((await run.exit).code, 127);
    const { task } = await page(taskIdOf(run.stderr)!);
    assert.equal(task.phase, 'failed');
    assert.match(task.message ?? '', /could not start/);
  });

  it('run: stores every line of a command that prints 30,000 at once (its output waits for the server)', async () => {
    const { url } = await server();
    const script = "for (let i = 1; i <= 30000; i++) console.log('line ' + i)";
    const run = cli(['run', '--url', url, '--', process.execPath, '-e', script]);
    assert.equal((await run.exit).code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /not stored|dropped/);
    const taskId = taskIdOf(run.stderr)!;
    const { logs } = await readAllLogs(url, taskId, 1_000);
    assert.equal(logs.length, 30_000);
    assert.equal(logs.at(-1)!.message, 'line 30000');
  });

  it("run: a full task log drops lines, not the end: the command's code, the task failed, the loss told", async () => {
    const running = await startServer({
      config: testConfig({ PORT: '0', TASK_LOG_MAX_LINES: '5' }),
      realtime: false,
    });
    cleanup.push(() => running.close());
    const script = "for (let i = 1; i <= 20; i++) console.log('line ' + i); process.exit(3)";
    const run = cli(['run', '--url', running.url, '--', process.execPath, '-e', script]);
    assert.equal((await run.exit).code, 3, run.stderr);
    assert.match(run.stderr, /lines of output were not stored \(the task's log was full/);
    const page = (await (
      await fetch(`${running.url}${ROUTES.taskStatus(taskIdOf(run.stderr)!)}`)
    ).json()) as TaskStatusPage;
    assert.deepEqual([page.task.phase, page.task.message], ['failed', 'exited with code 3']);
  });

  it('run: exits 128 + n for any signal n that ended the command (SIGSEGV: 139)', async () => {
    const { url } = await server();
    const run = cli(['run', '--url', url, '--', 'sh', '-c', 'kill -SEGV $$']);
    assert.equal((await run.exit).code, 139);
  });

  it('post: gives up after --timeout when the server is unreachable, and says so', async () => {
    const port = await freePort();
    const posted = cli([
      'post',
      '--url',
      `http://127.0.0.1:${port}`,
      '--task',
      't',
      '--token',
      'x',
      '--log',
      'hi',
      '--timeout',
      '1',
    ]);
    assert.equal((await posted.exit).code, 1);
    assert.match(posted.stderr, /not stored within 1 s/);
  });

  it('tail: ends with the reason when the server refuses the task (no retry loop)', async () => {
    const { url } = await server({ realtime: true });
    const tailing = cli(['tail', '--url', url, '--task', 'no-such-task']);
    assert.equal((await tailing.exit).code, 1);
    assert.match(tailing.stderr, /not_found/);
    const badAfter = cli(['tail', '--url', url, '--task', 'x', '--after', 'abc']);
    assert.equal((await badAfter.exit).code, 2);
  });

  it('create and post: a task from the shell, and lines and status posted to it', async () => {
    const { url, page } = await server();
    const created = cli(['create', '--url', url, '--agent', 'shell', '--title', 'from bash']);
    assert.equal((await created.exit).code, 0, created.stderr);
    const { taskId, agentToken } = JSON.parse(created.stdout) as { taskId: string; agentToken: string };
    const posted = cli([
      'post',
      '--url',
      url,
      '--task',
      taskId,
      '--token',
      agentToken,
      '--phase',
      'running',
      '--progress',
      '30',
      '--log',
      'first',
      '--log',
      'second',
    ]);
    assert.equal((await posted.exit).code, 0, posted.stderr);
    const { task, logs } = await page(taskId);
    assert.deepEqual([task.title, task.phase, task.progress], ['from bash', 'running', 30]);
    assert.deepEqual(
      logs.map((line) => line.message),
      ['first', 'second'],
    );
    const refused = cli(['post', '--url', url, '--task', taskId, '--token', 'wrong', '--log', 'x']);
    assert.equal((await refused.exit).code, 1);
    assert.match(refused.stderr, /401 unauthorized/);
    const wrongUse = cli(['post', '--url', url]);
    assert.equal((await wrongUse.exit).code, 2);
    assert.match(wrongUse.stderr, /post needs --task and --token/);
  });

  it('tail: follows a task across a server killed and restarted, each line once, in order', async () => {
    const data = await tempDir('ats-tail-');
    cleanup.push(data.remove);
    const env = { DATA_DIR: data.dir, PORT: String(await freePort()) };
    let run = ServerRun.start(env);
    cleanup.push(() => run.kill('SIGKILL'));
    const url = await run.listening();
    const task = await createTask({
      baseUrl: url,
      agentId: 'tailed',
      batchDelayMs: 1,
      retryBaseMs: 50,
      retryCapMs: 300,
    });
    task.phase('running');
    for (let i = 1; i <= 5; i++) task.log(`line ${i}`);
    await task.flush();

    const tailing = cli(['tail', '--url', url, '--task', task.id]);
    await tailing.printed('line 5');
    for (let i = 6; i <= 10; i++) task.log(`line ${i}`);
    await task.flush();
    await tailing.printed('line 10');
    await run.kill('SIGKILL');
    for (let i = 11; i <= 15; i++) task.log(`line ${i}`);
    run = ServerRun.start(env);
    await run.listening();
    await task.flush();
    task.status({ phase: 'completed', progress: 100 });
    await task.close();

    const { code } = await tailing.exit;
    assert.equal(code, 0, tailing.stderr);
    const printed = tailing.stdout
      .trim()
      .split('\n')
      .map((line) => line.replace(/^\S+ \S+\s+/, ''));
    assert.deepEqual(
      printed,
      Array.from({ length: 15 }, (_, i) => `line ${i + 1}`),
    );
    assert.match(tailing.stderr, /connection lost/);
    assert.match(tailing.stderr, /completed/);
  });
});
