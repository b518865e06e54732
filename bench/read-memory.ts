// What heavy log reads cost the server's memory (issue 13): a task holding 1,000 lines of 8,000
// characters, read by `READERS` concurrent `GET .../logs?afterSeq=0&limit=1000`, `ROUNDS` times.
// Prints the server's RSS before the reads and its peak during them (VmHWM, reset before).
//
//   node --import tsx bench/read-memory.ts [repo dir, default: this one]   (STORE=memory to compare)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const READERS = Number(process.env.READERS ?? 8);
const ROUNDS = 5;
const repo = resolve(process.argv[2] ?? join(import.meta.dirname, '..'));

function freePort(): Promise<number> {
  return new Promise((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });
}

const mib = (kb: number) => `${Math.round(kb / 1024)} MB`;
function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(field));
  return Number(/(\d+)/.exec(line ?? '')?.[1]);
}

const dataDir = mkdtempSync(join(tmpdir(), 'ats-read-memory-'));
const port = await freePort();
const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'server/main.ts')], {
  cwd: repo,
  env: {
    ...process.env,
    PORT: String(port),
    DATA_DIR: dataDir,
    STORE: process.env.STORE ?? 'dynamodb',
    BODY_LIMIT_BYTES: String(16 * 1024 * 1024),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
try {
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (i > 200) throw new Error('the server did not start');
    const up = await fetch(`${base}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const created = (await (
    await fetch(`${base}/api/agent-tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agentId: 'reader-bench' }),
    })
  ).json()) as { task: { id: string }; agentToken: string };
  for (let post = 0; post < 2; post++) {
    const logs = Array.from({ length: 500 }, (_, i) => ({ message: `${post}:${i} `.padEnd(8000, 'x') }));
    const res = await fetch(`${base}/api/agent-tasks/${created.task.id}/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${created.agentToken}` },
      body: JSON.stringify({ logs }),
    });
    if (!res.ok) throw new Error(`post answered ${res.status}: ${await res.text()}`);
  }
  const pid = child.pid!;
  const before = statusKb(pid, 'VmRSS');
  writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
  let bytes = 0;
  let pages = 0;
  const statuses = new Map<number, number>();
  const started = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    await Promise.all(
      Array.from({ length: READERS }, async () => {
        // One page, as in the report; a client would page on while hasMore.
        const res = await fetch(`${base}/api/agent-tasks/${created.task.id}/logs?afterSeq=0&limit=1000`);
        const body = await res.arrayBuffer();
        bytes += body.byteLength;
        pages += 1;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }),
    );
  }
  const ms = performance.now() - started;
  console.log(
    `${process.env.STORE ?? 'dynamodb'}: RSS ${mib(before)} before, peak ${mib(statusKb(pid, 'VmHWM'))} during ` +
      `${ROUNDS} rounds of ${READERS} concurrent reads; ${Math.round(bytes / pages / 1024)} KB a page, ` +
      `${Math.round(ms / ROUNDS)} ms a round; answers ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
