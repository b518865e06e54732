// 3. Ingest: wrk (a separate process) POSTs status to tasks spread round-robin, with a valid agent
// token each; our server on the memory and the embedded DynamoDB store, against bare Hono.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBenchServer, type AnyServerKind } from './lib/servers.js';
import { BenchAgent, type TaskHandle } from './load/agent.js';

export const STATUS_BODY = { progress: 42, message: 'compiling module 12 of 40' };
export const LOGS_BODY = {
  logs: Array.from({ length: 50 }, (_, i) => ({
    level: 'info',
    message: `line ${i}: npm warn deprecated glob@7.2.3: Glob versions prior to v9 are no longer supported`,
  })),
};

export interface IngestResult {
  kind: AnyServerKind;
  store: string;
  body: 'status' | 'logs50';
  requestsPerSec: number;
  /** Server process CPU per request in the measured run: unlike requests/s, it does not follow
   * how busy the machine was while this contender ran. */
  cpuUsPerRequest: number;
  non2xx: number;
  p99Ms: number;
}

const TASKS = 64;

function luaScript(tasks: TaskHandle[], body: unknown): string {
  const list = tasks.map(
    (t) => `{${JSON.stringify(`/api/agent-tasks/${t.id}/status`)}, ${JSON.stringify(`Bearer ${t.token}`)}}`,
  );
  return `
local tasks = { ${list.join(',\n')} }
local body = ${JSON.stringify(JSON.stringify(body))}
local i = 0
request = function()
  i = i + 1
  local t = tasks[(i % #tasks) + 1]
  return wrk.format("POST", t[1], { ["Content-Type"] = "application/json", ["Authorization"] = t[2] }, body)
end
`;
}

function runWrk(port: number, script: string, seconds: number, connections: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'wrk',
      ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, `http://127.0.0.1:${port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (out += c));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}: ${out}`))));
  });
}

function parseWrk(out: string) {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in/.exec(out);
  if (!rps || !total) throw new Error(`cannot read wrk output:\n${out}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const unit = { us: 0.001, ms: 1, s: 1_000 } as const;
  return {
    requestsPerSec: Number(rps[1]),
    requests: Number(total[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    p99Ms: p99 ? Number(p99[1]) * unit[p99[2] as keyof typeof unit] : NaN,
  };
}

/** Both bodies against one server process, so a store is set up once. */
export async function ingest(
  kind: AnyServerKind,
  store: 'memory' | 'dynamodb' | '-',
  timing: { seconds: number; warmupSeconds: number; connections: number },
): Promise<IngestResult[]> {
  const server = await startBenchServer(kind, { env: store === '-' ? {} : { STORE: store } });
  const dir = mkdtempSync(join(tmpdir(), 'ats-wrk-'));
  const agent = new BenchAgent(server.port, 4);
  try {
    const tasks: TaskHandle[] = [];
    for (let i = 0; i < TASKS; i += 1) tasks.push(await agent.createTask(`ingest-${i}`));
    for (const task of tasks) await agent.post(task, { phase: 'running' });
    const results: IngestResult[] = [];
    for (const [name, body] of [
      ['status', STATUS_BODY],
      ['logs50', LOGS_BODY],
    ] as const) {
      const script = join(dir, `${name}.lua`);
      writeFileSync(script, luaScript(tasks, body));
      await runWrk(server.port, script, timing.warmupSeconds, timing.connections);
      const cpuBefore = await server.cpuMs();
      const { requests, ...parsed } = parseWrk(
        await runWrk(server.port, script, timing.seconds, timing.connections),
      );
      const cpuUsPerRequest = (((await server.cpuMs()) - cpuBefore) * 1000) / requests;
      results.push({ kind, store, body: name, cpuUsPerRequest, ...parsed });
    }
    return results;
  } finally {
    agent.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
