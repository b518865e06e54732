// `npm run bench`: every benchmark of issue 7 in one run, printed as one table in which each of
// our figures stands beside its baselines from the same run. Usage:
//   node --import tsx bench/run.ts [--only=fanout,memory,ingest,size,recovery,cost,scaleout,soak] [--quick]
// The soak (issue 18) takes 11 minutes per store, so it runs only when named:
//   npm run bench -- --only=soak [--soak-minutes=10] [--soak-warmup-minutes=1] [--soak-stores=memory,dynamodb]
// (--quick: 2 minutes after a 30 s warm-up).
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { FANOUT_LAYOUTS, fanout, type FanoutResult } from './fanout.js';
import { dynaliteConditionalPutRate } from './dynalite-floor.js';
import { ingest, type IngestResult } from './ingest.js';
import { memory, type MemoryResult } from './memory.js';
import { recovery, type RecoveryResult } from './recovery.js';
import { renderSoakTable, soak, SOAK_STORES, SOAK_TIMING, type SoakResult } from './soak.js';
import { scaleOut, SCALE_OUT_SETUPS } from './scale-out.js';
import { sizes } from './size.js';
import {
  COST_UPSTREAMS,
  renderCostTable,
  renderMillionsTable,
  storeCost,
  type CostResult,
  type CostUpstream,
} from './store-cost.js';
import { fmt, renderTable, type Row } from './lib/table.js';
import type { ServerKind } from './load/subscriber.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
const wanted = (name: string) => !only || only.includes(name);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const KINDS: ServerKind[] = ['bare-ws', 'socketio', 'ours'];
const FANOUT_TIMING = quick
  ? { warmupMs: 1_000, fixedMs: 2_000, saturateMs: 2_000 }
  : { warmupMs: 1_000, fixedMs: 3_000, saturateMs: 2_500 };
const MEMORY_CONNECTIONS = quick ? 2_000 : 5_000;
const INGEST_TIMING = quick
  ? { seconds: 2, warmupSeconds: 1, connections: 16 }
  : { seconds: 5, warmupSeconds: 1, connections: 16 };
const RECOVERY_CLIENTS = 1_000;
const SOAK = {
  ...SOAK_TIMING,
  warmupMs: Number(flag('soak-warmup-minutes') ?? (quick ? 0.5 : 1)) * 60_000,
  measureMs: Number(flag('soak-minutes') ?? (quick ? 2 : 10)) * 60_000,
};
const SOAK_NAMES = flag('soak-stores')?.split(',');
/** Cores other processes may keep busy around the run before the table warns about them. */
const OTHERS_BUSY_LIMIT = 0.25;
/**
 * Fan-out rounds per contender. Other work on the machine only ever makes a figure worse, so each
 * contender keeps its best round (lowest cost and latency, highest rate), the same rule for all.
 */
const ROUNDS = Number(args.find((a) => a.startsWith('--rounds='))?.slice(9) ?? (quick ? 1 : 3));

function rotate<T>(list: readonly T[], by: number): T[] {
  return list.map((_, i) => list[(i + by) % list.length]!);
}

function bestOf(runs: FanoutResult[]): FanoutResult {
  const min = (pick: (r: FanoutResult) => number) => Math.min(...runs.map(pick));
  const max = (pick: (r: FanoutResult) => number) => Math.max(...runs.map(pick));
  return {
    ...runs[0]!,
    fixed: {
      deliveredPerSec: max((r) => r.fixed.deliveredPerSec),
      p50: min((r) => r.fixed.p50),
      p99: min((r) => r.fixed.p99),
      cpuPer10k: min((r) => r.fixed.cpuPer10k),
      lost: max((r) => r.fixed.lost),
      loadCpuShare: min((r) => r.fixed.loadCpuShare),
    },
    saturated: {
      deliveredPerSec: max((r) => r.saturated.deliveredPerSec),
      cpuPer10k: min((r) => r.saturated.cpuPer10k),
      lost: max((r) => r.saturated.lost),
      // The load share of the run that set the best rate.
      loadCpuShare: runs.reduce((a, b) => (b.saturated.deliveredPerSec > a.saturated.deliveredPerSec ? b : a))
        .saturated.loadCpuShare,
    },
  };
}

/** Jiffies stolen by the hypervisor, idle (iowait included) and in total, from /proc/stat (null elsewhere). */
function cpuTimes(): { steal: number; idle: number; total: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return {
      steal: fields[7] ?? 0,
      idle: (fields[3] ?? 0) + (fields[4] ?? 0),
      total: fields.reduce((a, b) => a + b, 0),
    };
  } catch {
    return null;
  }
}

/**
 * Cores kept busy by other processes: the machine's busy share over two seconds in which the
 * bench runs nothing, times the core count (null without /proc/stat). The load average cannot tell
 * this: at the end of a run it is mostly the bench's own processes.
 */
async function othersBusyCores(): Promise<number | null> {
  const before = cpuTimes();
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const after = cpuTimes();
  if (!before || !after || after.total <= before.total) return null;
  // Time the hypervisor took (steal) has its own note: count it as idle here.
  const idle = after.idle - before.idle + (after.steal - before.steal);
  const busy = 1 - idle / (after.total - before.total);
  return busy * cpus().length;
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const by = <T extends { kind: string }>(results: T[], kind: string) => results.find((r) => r.kind === kind);

async function main(): Promise<void> {
  const started = performance.now();
  const times0 = cpuTimes();
  const othersAtStart = await othersBusyCores();
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, others busy at start ${othersAtStart?.toFixed(2) ?? '?'} cores`;
  log(`bench: ${machine}`);
  const rows: Row[] = [];
  const notes: string[] = [];

  if (wanted('fanout')) {
    for (const layout of FANOUT_LAYOUTS) {
      const runs: FanoutResult[] = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        // Each round in another order, so a contender is not always the one after the same one.
        for (const kind of rotate(KINDS, round)) {
          log(`fan-out: ${layout.name}, ${kind} (round ${round + 1} of ${ROUNDS})...`);
          const run = await fanout(kind, layout, FANOUT_TIMING);
          // Every round's figures, so the spread behind each best-of is visible.
          log(
            `  CPU per 10k ${fmt.s(run.fixed.cpuPer10k)}, p99 ${fmt.ms(run.fixed.p99)}, saturated ${fmt.rate(run.saturated.deliveredPerSec)}`,
          );
          runs.push(run);
        }
      }
      const results = KINDS.map((kind) => bestOf(runs.filter((r) => r.kind === kind)));
      const [floor, peer, ours] = KINDS.map((k) => by(results, k)!);
      const f = (pick: (r: FanoutResult) => number) => ({
        ours: pick(ours!),
        floor: pick(floor!),
        peer: pick(peer!),
      });
      const cpu = f((r) => r.fixed.cpuPer10k);
      const sat = f((r) => r.saturated.deliveredPerSec);
      const p99 = f((r) => r.fixed.p99);
      rows.push(
        {
          section: `1. Fan-out, ${layout.name}`,
          measure: 'delivered at the fixed rate',
          unit: fmt.rate,
          ...f((r) => r.fixed.deliveredPerSec),
        },
        { measure: 'POST→receive p50', unit: fmt.ms, ...f((r) => r.fixed.p50) },
        {
          measure: 'POST→receive p99',
          unit: fmt.ms,
          ...p99,
          target: '≤1.2× floor',
          ok: p99.ours <= 1.2 * p99.floor,
        },
        {
          measure: 'server CPU per 10k deliveries',
          unit: fmt.s,
          ...cpu,
          target: '≤1.0× floor, ≤0.7× peer',
          ok: cpu.ours <= cpu.floor && cpu.ours <= 0.7 * cpu.peer,
        },
        {
          measure: 'saturated delivery rate',
          unit: fmt.rate,
          ...sat,
          target: '≥0.9× floor, ≥1.25× peer',
          ok: sat.ours >= 0.9 * sat.floor && sat.ours >= 1.25 * sat.peer,
        },
        { measure: 'server CPU per 10k, flat out', unit: fmt.s, ...f((r) => r.saturated.cpuPer10k) },
        {
          measure: 'load process CPU, flat out',
          unit: (v) => `${Math.round(v * 100)}%`,
          ...f((r) => r.saturated.loadCpuShare),
        },
      );
      const lost = results.filter((r) => r.fixed.lost !== 0 || r.saturated.lost !== 0);
      for (const r of lost)
        notes.push(
          `${r.kind}, ${layout.name}: ${r.fixed.lost + r.saturated.lost} deliveries missing at the end of a run`,
        );
    }
  }

  if (wanted('memory')) {
    const results: MemoryResult[] = [];
    for (const kind of KINDS) {
      log(`memory: ${MEMORY_CONNECTIONS} idle subscribed connections, ${kind}...`);
      results.push(await memory(kind, MEMORY_CONNECTIONS, 200));
    }
    const [floor, peer, ours] = KINDS.map((k) => by(results, k)!);
    rows.push(
      {
        section: `2. Memory, ${MEMORY_CONNECTIONS.toLocaleString('en-US')} idle subscribed connections`,
        measure: 'JS heap per connection',
        unit: fmt.bytes,
        ours: ours!.heapPerConn,
        floor: floor!.heapPerConn,
        peer: peer!.heapPerConn,
        target: '≤1.3× floor',
        ok: ours!.heapPerConn <= 1.3 * floor!.heapPerConn,
      },
      {
        measure: 'RSS per connection',
        unit: fmt.bytes,
        ours: ours!.rssPerConn,
        floor: floor!.rssPerConn,
        peer: peer!.rssPerConn,
      },
    );
  }

  if (wanted('ingest')) {
    const results: IngestResult[] = [];
    for (const [kind, store] of [
      ['bare-hono', '-'],
      ['ours', 'memory'],
      ['ours', 'dynamodb'],
    ] as const) {
      log(`ingest: ${kind}${store === '-' ? '' : ` (${store} store)`} with wrk...`);
      results.push(...(await ingest(kind, store, INGEST_TIMING)));
    }
    log('ingest: dynalite alone, conditional puts through the SDK, 16 in flight...');
    const dynalitePuts = await dynaliteConditionalPutRate(INGEST_TIMING.seconds);
    log('ingest: dynalite alone, conditional puts of 50-line items, 16 in flight...');
    const dynaliteLinePuts = await dynaliteConditionalPutRate(INGEST_TIMING.seconds, 50);
    const pick = (store: string, body: string) => results.find((r) => r.store === store && r.body === body)!;
    const hono = pick('-', 'status');
    const mem = pick('memory', 'status');
    rows.push(
      {
        section: '3. Ingest (wrk; floor: bare Hono)',
        measure: 'status POST/s, memory store',
        unit: fmt.rate,
        ours: mem.requestsPerSec,
        floor: hono.requestsPerSec,
        target: '≥0.7× floor',
        ok: mem.requestsPerSec >= 0.7 * hono.requestsPerSec,
      },
      {
        // The same target in CPU: ≥0.7× the rate on the same core is ≤1/0.7 the CPU per POST.
        measure: 'server CPU per status POST, memory',
        unit: fmt.us,
        ours: mem.cpuUsPerRequest,
        floor: hono.cpuUsPerRequest,
        target: '≤1.43× floor (same 0.7×)',
        ok: mem.cpuUsPerRequest <= hono.cpuUsPerRequest / 0.7,
      },
      {
        // Issue 15: against the store underneath, not Hono: a POST is at best one such put.
        measure: 'status POST/s, embedded DynamoDB (floor: dynalite conditional puts/s)',
        unit: fmt.rate,
        ours: pick('dynamodb', 'status').requestsPerSec,
        floor: dynalitePuts,
        target: '≥0.5× floor (issue 15)',
        ok: pick('dynamodb', 'status').requestsPerSec >= 0.5 * dynalitePuts,
      },
      {
        measure: 'log lines/s (50/POST), memory',
        unit: fmt.rate,
        ours: pick('memory', 'logs50').requestsPerSec * 50,
        floor: pick('-', 'logs50').requestsPerSec * 50,
      },
      {
        // Issue 15's target is 10× the 3,600 lines/s of before; the floor is what dynalite itself
        // stores when every POST is one put of its 50 lines (it cannot be more without several
        // tasks' POSTs in one request, which the conditional put of each slot rules out).
        measure: 'log lines/s (50/POST), embedded DynamoDB (floor: dynalite 50-line puts/s ×50)',
        unit: fmt.rate,
        ours: pick('dynamodb', 'logs50').requestsPerSec * 50,
        floor: dynaliteLinePuts * 50,
        target: '≥36,000/s (issue 15)',
        ok: pick('dynamodb', 'logs50').requestsPerSec * 50 >= 36_000,
      },
    );
    for (const r of results)
      if (r.non2xx > 0) notes.push(`ingest ${r.kind} ${r.store} ${r.body}: ${r.non2xx} non-2xx answers`);
  }

  if (wanted('size')) {
    log('widget size: the production build in memory, then gzip -9...');
    const { widget, buildError, all } = await sizes();
    const get = (name: string, size: 'gzipBytes' | 'brotliBytes' = 'gzipBytes') =>
      all.find((s) => s.name === name)?.[size] ?? NaN;
    const ours = widget?.gzipBytes ?? NaN;
    rows.push(
      {
        section: '4. Widget, min + gzip -9, Lit included',
        measure: 'dist file vs socket.io-client',
        unit: fmt.kb,
        ours,
        peer: get('socket.io-client (dist esm.min)'),
        // Issue 12's ceiling, the one test/widget/bundle-budget.test.ts holds.
        target: '≤16.5 KB (issue 12)',
        ok: ours <= 16.5 * 1024,
      },
      { measure: 'dist file vs centrifuge', unit: fmt.kb, ours, peer: get('centrifuge (dist)') },
      {
        // What a browser downloads: the server sends the build's Brotli copy (scripts/precompress.ts).
        measure: 'on the wire (Brotli 11) vs socket.io-client',
        unit: fmt.kb,
        ours: widget?.brotliBytes ?? NaN,
        peer: get('socket.io-client (dist esm.min)', 'brotliBytes'),
      },
      {
        measure: 'esbuild for both vs socket.io-client',
        unit: fmt.kb,
        ours: get('widget (esbuild)'),
        peer: get('socket.io-client (esbuild)'),
      },
    );
    if (buildError) notes.push(`widget not built: ${buildError}`);
  }

  if (wanted('recovery')) {
    const results: RecoveryResult[] = [];
    for (const kind of KINDS) {
      log(`recovery: ${RECOVERY_CLIENTS} clients through a restart (1012), ${kind}...`);
      results.push(await recovery(kind, RECOVERY_CLIENTS, 200));
    }
    const [floor, peer, ours] = KINDS.map((k) => by(results, k)!);
    rows.push(
      {
        section: `5. Recovery, ${RECOVERY_CLIENTS.toLocaleString('en-US')} clients, restart (1012)`,
        measure: 'all live and resynced',
        unit: fmt.secs,
        ours: ours!.allMs,
        floor: floor!.allMs,
        peer: peer!.allMs,
      },
      {
        measure: 'half of them resynced',
        unit: fmt.secs,
        ours: ours!.p50Ms,
        floor: floor!.p50Ms,
        peer: peer!.p50Ms,
      },
      {
        measure: 'reconnects in busiest 100 ms',
        unit: fmt.count,
        ours: ours!.peakAttemptsPer100ms,
        floor: floor!.peakAttemptsPer100ms,
        peer: peer!.peakAttemptsPer100ms,
      },
    );
    for (const r of results)
      if (r.resynced < r.clients)
        notes.push(`recovery ${r.kind}: only ${r.resynced} of ${r.clients} resynced within 30 s`);
  }

  if (wanted('scaleout')) {
    const results = await scaleOut(FANOUT_TIMING, log);
    const [single, singleRedis, three] = SCALE_OUT_SETUPS.map((setup) =>
      results.find((r) => r.setup === setup)!,
    );
    rows.push(
      {
        section:
          '6. Scale-out, 2,000 on 1 task (ours: 3 instances + Redis; floor: 1 instance; peer: 1 + Redis)',
        measure: 'POST→receive p99',
        unit: fmt.ms,
        ours: three!.p99,
        floor: single!.p99,
        peer: singleRedis!.p99,
      },
      {
        measure: 'CPU per 10k deliveries (instances + Redis)',
        unit: fmt.s,
        ours: three!.cpuPer10k,
        floor: single!.cpuPer10k,
        peer: singleRedis!.cpuPer10k,
      },
      {
        measure: 'saturated delivery rate',
        unit: fmt.rate,
        ours: three!.saturatedPerSec,
        floor: single!.saturatedPerSec,
        peer: singleRedis!.saturatedPerSec,
      },
    );
    for (const r of results)
      if (r.lost > 0) notes.push(`scale-out ${r.setup.name}: ${r.lost} deliveries missing`);
  }

  // Requests per operation do not depend on the machine's load: counted, not timed.
  const costs: [CostUpstream, CostResult[]][] = [];
  if (wanted('cost'))
    for (const upstream of COST_UPSTREAMS) costs.push([upstream, await storeCost(log, upstream)]);

  const soaked: SoakResult[] = [];
  if (only?.includes('soak')) {
    for (const store of SOAK_STORES.filter((s) => !SOAK_NAMES || SOAK_NAMES.includes(s.name))) {
      log(
        `soak: ${store.name} store, ${SOAK.clients} clients on ${SOAK.tasks} tasks, ${SOAK.postsPerSecond} posts/s, ` +
          `${SOAK.measureMs / 60_000} min after ${SOAK.warmupMs / 60_000} min of warm-up...`,
      );
      soaked.push(await soak(store, SOAK, log));
    }
  }

  const table = rows.length > 0 ? renderTable(rows, { floor: 'floor', peer: 'peer' }) : '';
  const minutes = ((performance.now() - started) / 60_000).toFixed(1);
  const othersAtEnd = await othersBusyCores();
  const times1 = cpuTimes();
  if (times0 && times1 && times1.total > times0.total) {
    const steal = (times1.steal - times0.steal) / (times1.total - times0.total);
    if (steal > 0.02)
      notes.push(`the hypervisor took ${(steal * 100).toFixed(0)}% of the CPU time during the run (steal)`);
  }
  for (const [when, cores] of [
    ['before', othersAtStart],
    ['after', othersAtEnd],
  ] as const) {
    if (cores !== null && cores > OTHERS_BUSY_LIMIT)
      notes.push(
        `other processes kept ${cores.toFixed(1)} of ${cpus().length} cores busy just ${when} the run: rerun on a quiet machine`,
      );
  }
  console.log(
    `\nagent-task-status benchmarks — ${machine}, at end ${othersAtEnd?.toFixed(2) ?? '?'}; ${minutes} min${quick ? ' (--quick)' : ''}`,
  );
  console.log(
    'floor: bare `ws` broadcast server (fan-out, memory, recovery) or bare Hono POST handler (ingest); peer: Socket.IO 4 with rooms / socket.io-client\n',
  );
  if (table) console.log(table);
  for (const [upstream, results] of costs) {
    console.log(
      `\nstore cost (issue 15) on ${upstream}${upstream === 'dynalite' ? '' : ', DYNAMODB_TRANSACTIONS=1'}: DynamoDB requests and capacity units per operation, counted at the endpoint\n`,
    );
    console.log(renderCostTable(results));
    console.log(
      '\nper million of each, on-demand pricing (us-east-1, USD 0.625 per million write units, 0.125 per million read units)\n',
    );
    console.log(renderMillionsTable(results));
  }
  if (soaked.length > 0) {
    console.log(
      `\nsoak: ${SOAK.clients} clients following ${SOAK.tasks} tasks, ${SOAK.postsPerSecond} status posts/s with a log line each, ` +
        `half the clients dropped and reconnected every ${SOAK.churnEveryMs / 60_000} min; slopes over ` +
        `${SOAK.measureMs / 60_000} min after ${SOAK.warmupMs / 60_000} min of warm-up, memory read after a full GC\n`,
    );
    console.log(renderSoakTable(soaked));
  }
  if (notes.length > 0) console.log(`\nnotes:\n${notes.map((n) => `- ${n}`).join('\n')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
