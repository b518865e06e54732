import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';

const MAIN = new URL('../../../server/main.ts', import.meta.url).pathname;

/** The CLI as a child process, killed after test `t` if still running (a failed test included). */
function run(t: TestContext, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env: { ...process.env, PORT: '0', ADMIN_TOKEN: '', STORE: 'memory', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code]) => code as number);
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  });
  return { child, exited, out: () => stdout, err: () => stderr };
}

test('--help prints every variable with its default and exits 0', async (t) => {
  const cli = run(t, ['--help']);
  assert.equal(await cli.exited, 0);
  for (const name of ['PORT', 'HOST', 'ADMIN_TOKEN', 'ALLOWED_ORIGINS', 'RATE_LIMIT_PER_MINUTE', 'STORE']) {
    assert.match(cli.out(), new RegExp(`^  ${name} `, 'm'), name);
  }
  assert.match(cli.out(), /default: 8787/);
});

test('a bad configuration exits 1 with the problem on stderr', async (t) => {
  const cli = run(t, [], { PORT: 'abc' });
  assert.equal(await cli.exited, 1);
  assert.match(cli.err(), /PORT must be an integer 0-65535, got "abc"/);
});

test('starts, prints its URL, warns without ADMIN_TOKEN, and exits 0 on SIGTERM', async (t) => {
  const cli = run(t, []);
  while (!/listening on http:\/\/127\.0\.0\.1:\d+/.test(cli.out())) {
    await once(cli.child.stdout, 'data');
  }
  const url = /listening on (http:\/\/\S+)/.exec(cli.out())![1]!;
  assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { ok: true });
  assert.match(cli.err(), /ADMIN_TOKEN is not set/);
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
});
