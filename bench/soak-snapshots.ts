// By hand, for issue 18: the soak's load against our server on the embedded store, with a heap
// snapshot after the warm-up and another minutes later, and the constructors whose counts grew
// between them. Usage: node --import tsx bench/soak-snapshots.ts [minutes between, default 3]
import { heapCounts } from './heap-summary.js';
import { startChild } from './lib/ipc.js';
import { startBenchServer } from './lib/servers.js';
import { SOAK_TIMING, type SoakEnd } from './soak.js';

const between = Number(process.argv[2] ?? 3) * 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const server = await startBenchServer('ours', { env: { STORE: 'dynamodb' } });
const load = startChild('load/soak-load.ts');
try {
  const { tasks, clients, postsPerSecond, churnEveryMs, warmupMs } = SOAK_TIMING;
  await load.request('setup', { port: server.port, taskCount: tasks, clientCount: clients });
  await load.request('start', { postsPerSecond, churnEveryMs });
  await sleep(warmupMs);
  const snapshot = async (name: string) =>
    (
      await server.child.request<{ path: string }>('heapSnapshot', {
        path: `/tmp/ats-soak-${name}.heapsnapshot`,
      })
    ).path;
  const before = heapCounts(await snapshot('a'));
  await sleep(between);
  const after = heapCounts(await snapshot('b'));
  await load.request<SoakEnd>('finish', { timeoutMs: 30_000 });
  const grown = [...after]
    .map(([name, b]) => ({
      name,
      count: b.count - (before.get(name)?.count ?? 0),
      size: b.size - (before.get(name)?.size ?? 0),
    }))
    .filter((g) => g.count > 0)
    .sort((x, y) => y.count - x.count)
    .slice(0, 30);
  console.log(`grown in ${between / 60_000} min (count, bytes, constructor):`);
  for (const g of grown)
    console.log(`${String(g.count).padStart(8)} ${String(g.size).padStart(10)}  ${g.name}`);
} finally {
  await load.stop();
  await server.stop();
}
