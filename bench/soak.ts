// 6. Soak (issue 18): the server under steady load for minutes, its memory read every 30 s, per
// store. 500 WebSocket clients follow 50 tasks, an agent posts about 14 status updates a second
// with a log line each, and half the clients are dropped and reconnect every minute. Memory is
// read in the server process after a full GC (RSS, JS heap, external); the figure that matters is
// the RSS slope after the warm-up (least squares), and at the end every client must hold exactly
// the stored log.
import { startChild } from './lib/ipc.js';
import { startBenchServer } from './lib/servers.js';
import { slope } from './lib/stats.js';
import { renderMarkdown } from './lib/table.js';

export interface SoakStore {
  name: string;
  /** The server's environment for this store (bench/servers/ours.ts reads STORE). */
  env: Record<string, string>;
}

/** Every store the soak compares, beside each other in one table. */
export const SOAK_STORES: readonly SoakStore[] = [
  { name: 'memory', env: { STORE: 'memory' } },
  { name: 'dynamodb', env: { STORE: 'dynamodb' } },
  // The Redis bus goes here once it exists (issue "multi-instance fan-out"), e.g.
  // { name: 'redis', env: { STORE: 'dynamodb', BUS: 'redis', REDIS_URL: ... } }, with the bench
  // starting its redis-server (TOOLCHAIN.md has the command line).
];

export interface SoakTiming {
  warmupMs: number;
  measureMs: number;
  sampleEveryMs: number;
  churnEveryMs: number;
  postsPerSecond: number;
  tasks: number;
  clients: number;
}

export const SOAK_TIMING: SoakTiming = {
  warmupMs: 60_000,
  measureMs: 600_000,
  sampleEveryMs: 30_000,
  churnEveryMs: 60_000,
  postsPerSecond: 14,
  tasks: 50,
  clients: 500,
};

export interface SoakSample {
  /** Minutes since the load started. */
  minute: number;
  rss: number;
  heapUsed: number;
  /** The JS heap V8 holds from the system (used or not): part of RSS, returned lazily. */
  heapTotal: number;
  external: number;
  /** The embedded dynalite's figures from /metrics (null on other stores). */
  dynalite: { openIterators: number; leveldbMemoryBytes: number } | null;
}

/** What the load process counted, and how the clients ended (bench/load/soak-load.ts). */
export interface SoakEnd {
  posts: number;
  failedPosts: number;
  /** Failed posts by HTTP status or error message. */
  failures: Record<string, number>;
  clients: number;
  whole: number;
  duplicates: number;
  gaps: number;
  reconnects: number;
  storedLines: number;
}

export interface SoakResult extends SoakEnd {
  store: string;
  samples: SoakSample[];
  /** MB per minute after the warm-up (least squares). */
  rssSlope: number;
  heapSlope: number;
  externalSlope: number;
}

const MB = 1024 * 1024;

async function dynaliteFigures(port: number): Promise<SoakSample['dynalite']> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const openIterators = read('agent_task_status_dynalite_open_iterators');
  if (Number.isNaN(openIterators)) return null;
  return { openIterators, leveldbMemoryBytes: read('agent_task_status_dynalite_leveldb_memory_bytes') };
}

function describe(store: string, s: SoakSample): string {
  const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
  const dynalite = s.dynalite
    ? `, iterators open ${s.dynalite.openIterators}, LevelDB ${mb(s.dynalite.leveldbMemoryBytes)}`
    : '';
  return `soak ${store} ${s.minute.toFixed(1)} min: RSS ${mb(s.rss)}, JS heap ${mb(s.heapUsed)} of ${mb(s.heapTotal)} held, outside it ${mb(s.rss - s.heapTotal)}, external ${mb(s.external)}${dynalite}`;
}

export async function soak(
  store: SoakStore,
  timing: SoakTiming,
  log: (line: string) => void,
): Promise<SoakResult> {
  const server = await startBenchServer('ours', { env: store.env });
  const load = startChild('load/soak-load.ts');
  try {
    await load.request('setup', { port: server.port, taskCount: timing.tasks, clientCount: timing.clients });
    await load.request('start', { postsPerSecond: timing.postsPerSecond, churnEveryMs: timing.churnEveryMs });
    const began = performance.now();
    const samples: SoakSample[] = [];
    for (let at = 0; at <= timing.warmupMs + timing.measureMs; at += timing.sampleEveryMs) {
      const wait = began + at - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const mem = await server.child.request<{
        rss: number;
        heapUsed: number;
        heapTotal: number;
        external: number;
      }>('mem');
      const sample = { minute: at / 60_000, ...mem, dynalite: await dynaliteFigures(server.port) };
      samples.push(sample);
      log(describe(store.name, sample));
    }
    const end = await load.request<SoakEnd>('finish', { timeoutMs: 30_000 });
    const measured = samples.filter((s) => s.minute * 60_000 >= timing.warmupMs);
    const slopeOf = (pick: (s: SoakSample) => number) =>
      slope(measured.map((s) => ({ x: s.minute, y: pick(s) / MB })));
    return {
      store: store.name,
      samples,
      rssSlope: slopeOf((s) => s.rss),
      heapSlope: slopeOf((s) => s.heapUsed),
      externalSlope: slopeOf((s) => s.external),
      ...end,
    };
  } finally {
    await load.request('closeAll').catch(() => {});
    await load.stop();
    await server.stop();
  }
}

/** The target: at most this many MB a minute of RSS growth after the warm-up, on every store. */
export const RSS_SLOPE_TARGET = 1;

/** One column per store, in the style of the main table. */
export function renderSoakTable(results: readonly SoakResult[]): string {
  const mb = (v: number) => `${(v / MB).toFixed(1)} MB`;
  const perMinute = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)} MB/min`;
  const last = (r: SoakResult) => r.samples[r.samples.length - 1]!;
  /** measure, a store's cell, and the target with its test (absent: no target). */
  const rows: [string, (r: SoakResult) => string, string?, ((r: SoakResult) => boolean)?][] = [
    [
      'RSS slope after warm-up',
      (r) => perMinute(r.rssSlope),
      `≤${RSS_SLOPE_TARGET} MB/min`,
      (r) => r.rssSlope <= RSS_SLOPE_TARGET,
    ],
    ['RSS at the end', (r) => mb(last(r).rss)],
    ['JS heap slope', (r) => perMinute(r.heapSlope)],
    ['JS heap at the end', (r) => mb(last(r).heapUsed)],
    ['external slope', (r) => perMinute(r.externalSlope)],
    ['external at the end', (r) => mb(last(r).external)],
    ['dynalite iterators open at the end', (r) => String(last(r).dynalite?.openIterators ?? '-')],
    ['LevelDB memory at the end', (r) => (last(r).dynalite ? mb(last(r).dynalite!.leveldbMemoryBytes) : '-')],
    [
      'status posts answered',
      (r) =>
        `${r.posts} (${r.failedPosts} failed${
          r.failedPosts
            ? `: ${Object.entries(r.failures)
                .map(([why, n]) => `${n}× ${why}`)
                .join(', ')}`
            : ''
        })`,
      'none failed',
      (r) => r.failedPosts === 0,
    ],
    [
      'clients with exactly the stored log',
      (r) => `${r.whole} of ${r.clients}`,
      'all',
      (r) => r.whole === r.clients,
    ],
    ['lines delivered twice', (r) => String(r.duplicates), '0', (r) => r.duplicates === 0],
    ['gaps seen (resubscribed)', (r) => String(r.gaps)],
    ['reconnects', (r) => String(r.reconnects)],
  ];
  const head = ['measure', ...results.map((r) => r.store), 'target', ''];
  const body = rows.map(([measure, cell, target = '', ok]) => [
    measure,
    ...results.map(cell),
    target,
    ok === undefined ? '' : results.every(ok) ? 'holds' : 'MISSES',
  ]);
  return renderMarkdown(head, body, (i) => i > 0 && i <= results.length);
}
