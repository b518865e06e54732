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

/** Resolves with the URL once the CLI says it listens; rejects if it exits first. */
function listening(cli: ReturnType<typeof run>): Promise<string> {
  const pattern = /listening on (http:\/\/\S+)/;
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(cli.out());
      if (!match) return;
      cli.child.stdout.off('data', check);
      cli.child.off('exit', exited);
      resolve(match[1]!);
    };
    const exited = (code: number | null) =>
      reject(new Error(`exited ${code} before listening:\n${cli.err()}`));
    cli.child.stdout.on('data', check);
    cli.child.once('exit', exited);
    check();
  });
}

test('refuses to listen beyond loopback while task creation and reads are open, naming the settings on one line', async (t) => {
  const cli = run(t, [], { HOST: '0.0.0.0' });
  assert.equal(await cli.exited, 1);
  assert.equal(cli.out(), '', 'it never listened');
  const lines = cli.err().trimEnd().split('\n');
  assert.equal(lines.length, 1, cli.err());
  assert.match(lines[0]!, /^refusing to listen on 0\.0\.0\.0 \(beyond loopback\)/);
  assert.match(lines[0]!, /create tasks and read every task and its logs/);
  assert.match(
    lines[0]!,
    /set ADMIN_TOKEN \(or ALLOW_OPEN_CREATION=1\) and VIEWER_TOKEN_KEYS \(or PUBLIC_READS=1\)/,
  );
});

test('with ADMIN_TOKEN set, a start beyond loopback still needs PUBLIC_READS=1 or viewer tokens, since reads are public', async (t) => {
  const cli = run(t, [], { HOST: '0.0.0.0', ADMIN_TOKEN: 'an-admin-token-long-enough' });
  assert.equal(await cli.exited, 1);
  assert.match(
    cli.err(),
    /may read every task and its logs: set VIEWER_TOKEN_KEYS \(or PUBLIC_READS=1\) to start anyway/,
  );
  assert.doesNotMatch(cli.err(), /ALLOW_OPEN_CREATION/);
});

test('starts beyond loopback once the operator accepts what is open, and says what is open in one line', async (t) => {
  const cli = run(t, [], { HOST: '0.0.0.0', ALLOW_OPEN_CREATION: '1', PUBLIC_READS: '1' });
  const url = await listening(cli);
  assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { ok: true });
  assert.equal(
    cli.err(),
    'open: anyone who can reach this server may create tasks and read every task and its logs (ALLOW_OPEN_CREATION=1, PUBLIC_READS=1)\n',
  );
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
});

test('with ADMIN_TOKEN and VIEWER_TOKEN_KEYS a start beyond loopback needs nothing more and announces nothing open', async (t) => {
  const cli = run(t, [], {
    HOST: '0.0.0.0',
    ADMIN_TOKEN: 'an-admin-token-long-enough',
    VIEWER_TOKEN_KEYS: 'k1:a-secret-that-is-long-enough-for-a-key',
  });
  const url = await listening(cli);
  assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { ok: true });
  assert.equal(cli.err(), '');
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
});
