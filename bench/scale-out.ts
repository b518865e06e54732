// 6. Scale-out (issue 14): the fan-out of "2,000 subscribers on 1 task" through one instance (the
// in-process bus), one instance with the Redis bus, and three instances on one Redis, in the same
// run. All on one dynalite server process (the shared store; its CPU is not counted: the same
// work in every case) and one redis-server, whose CPU is counted with the instances'. Subscribers
// and posts are spread round-robin over the instances' own ports (no balancer: its cost is not the
// bus's). On 2 cores, three instances and Redis compete with the load for the same CPU, so
// deliveries/s cannot grow much here; what the rows show is the cost of the bus per delivery.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Child } from '../scripts/cluster/child.js';
import { freePort } from '../scripts/cluster/free-port.js';
import { startChild } from './lib/ipc.js';
import { startBenchServer, type BenchServer } from './lib/servers.js';

const REPO = path.resolve(import.meta.dirname, '..');

export interface ScaleOutSetup {
  name: string;
  instances: number;
  redis: boolean;
}

export const SCALE_OUT_SETUPS: readonly ScaleOutSetup[] = [
  { name: '1 instance, in-process bus', instances: 1, redis: false },
  { name: '1 instance, Redis bus', instances: 1, redis: true },
  { name: '3 instances, Redis bus', instances: 3, redis: true },
];

const SUBSCRIBERS = 2_000;
const RATE = 5;
const CONCURRENCY = 2;

export interface ScaleOutResult {
  setup: ScaleOutSetup;
  p50: number;
  p99: number;
  /** CPU of every instance and of Redis per 10,000 deliveries, at the fixed rate. */
  cpuPer10k: number;
  saturatedPerSec: number;
  lost: number;
}

/** A process's user + system CPU in ms, from /proc (clock ticks of 10 ms on Linux). */
async function processCpuMs(pid: number | null): Promise<number> {
  if (pid === null) return 0;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export async function scaleOut(
  timing: { warmupMs: number; fixedMs: number; saturateMs: number },
  log: (line: string) => void,
): Promise<ScaleOutResult[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ats-scale-'));
  const dynalitePort = await freePort();
  const redisPort = await freePort();
  const dynalite = new Child(
    'dynalite',
    process.execPath,
    [
      path.join(REPO, 'node_modules/dynalite/cli.js'),
      '--port',
      String(dynalitePort),
      '--host',
      '127.0.0.1',
      '--createTableMs',
      '0',
    ],
    { ready: /Dynalite listening/ },
  );
  const redis = new Child(
    'redis',
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { ready: /Ready to accept connections/ },
  );
  const results: ScaleOutResult[] = [];
  try {
    await Promise.all([dynalite.start(), redis.start()]);
    for (const [index, setup] of SCALE_OUT_SETUPS.entries()) {
      log(`scale-out: ${setup.name}, ${SUBSCRIBERS} subscribers on 1 task...`);
      const env = {
        STORE: 'dynamodb',
        DYNAMODB_ENDPOINT: `http://127.0.0.1:${dynalitePort}`,
        // A table per setup: the load names its tasks bench-0, bench-1...
        TABLE_NAME: `scale-out-${index}`,
        ...(setup.redis ? { REDIS_URL: `redis://127.0.0.1:${redisPort}` } : {}),
      };
      const servers: BenchServer[] = [];
      // One after another: the first creates the table.
      for (let i = 0; i < setup.instances; i++) servers.push(await startBenchServer('ours', { env }));
      const load = startChild('load/fanout-load.ts');
      try {
        const ports = servers.map((server) => server.port);
        await load.request('setup', { kind: 'ours', port: ports[0], ports, taskCount: 1 });
        await load.request('connect', { subscribers: SUBSCRIBERS });
        await load.request('run', { mode: 'rate', rate: RATE, durationMs: timing.warmupMs });
        const cpuNow = async () =>
          (await Promise.all(servers.map((server) => server.cpuMs()))).reduce((a, b) => a + b, 0) +
          (setup.redis ? await processCpuMs(redis.pid) : 0);
        const measure = async (args: object) => {
          const cpu0 = await cpuNow();
          const r = await load.request<{
            delivered: number;
            expected: number;
            elapsedMs: number;
            p50: number;
            p99: number;
          }>('run', args);
          return { ...r, cpuMs: (await cpuNow()) - cpu0 };
        };
        const fixed = await measure({ mode: 'rate', rate: RATE, durationMs: timing.fixedMs });
        const saturated = await measure({
          mode: 'saturate',
          durationMs: timing.saturateMs,
          concurrency: CONCURRENCY,
        });
        results.push({
          setup,
          p50: fixed.p50,
          p99: fixed.p99,
          cpuPer10k: (fixed.cpuMs / 1_000 / fixed.delivered) * 10_000,
          saturatedPerSec: (saturated.delivered / saturated.elapsedMs) * 1_000,
          lost: fixed.expected - fixed.delivered + (saturated.expected - saturated.delivered),
        });
      } finally {
        await load.request('closeAll').catch(() => {});
        await load.stop();
        for (const server of servers) await server.stop();
      }
    }
  } finally {
    await redis.stop('SIGKILL');
    await dynalite.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}
