// 1. Fan-out: subscribers in a separate load process, an agent POSTing at a fixed rate (latency,
// CPU per delivery) and then flat out (saturated delivery rate).
import { startChild } from './lib/ipc.js';
import { startBenchServer } from './lib/servers.js';
import type { ServerKind } from './load/subscriber.js';

export interface FanoutLayout {
  name: string;
  subscribers: number;
  tasks: number;
  /** POSTs per second of the fixed-rate run (all tasks together). */
  rate: number;
  /** POSTs in flight during the saturated run. */
  concurrency: number;
}

export const FANOUT_LAYOUTS: readonly FanoutLayout[] = [
  // The same 10,000 deliveries/s in both: 5 POST/s × 2,000, or 1,000 POST/s × 10.
  { name: '2,000 subscribers on 1 task, 5 POST/s', subscribers: 2_000, tasks: 1, rate: 5, concurrency: 2 },
  {
    name: '2,000 over 200 tasks, 1,000 POST/s',
    subscribers: 2_000,
    tasks: 200,
    rate: 1_000,
    concurrency: 48,
  },
];

export interface FanoutResult {
  kind: ServerKind;
  layout: string;
  frameBytes?: number;
  fixed: {
    deliveredPerSec: number;
    p50: number;
    p99: number;
    cpuPer10k: number;
    lost: number;
    loadCpuShare: number;
  };
  saturated: { deliveredPerSec: number; cpuPer10k: number; lost: number; loadCpuShare: number };
}

export async function fanout(
  kind: ServerKind,
  layout: FanoutLayout,
  timing: { fixedMs: number; saturateMs: number; warmupMs: number },
): Promise<FanoutResult> {
  const server = await startBenchServer(kind);
  const load = startChild('load/fanout-load.ts');
  try {
    await load.request('setup', { kind, port: server.port, taskCount: layout.tasks });
    await load.request('connect', { subscribers: layout.subscribers });
    // Warm the JIT on both sides with the same traffic, unmeasured.
    await load.request('run', { mode: 'rate', rate: layout.rate, durationMs: timing.warmupMs });
    const measure = async (args: object) => {
      const cpu0 = await server.cpuMs();
      const r = await load.request('run', args);
      const cpu = (await server.cpuMs()) - cpu0;
      return {
        deliveredPerSec: (r.delivered / r.elapsedMs) * 1_000,
        p50: r.p50 as number,
        p99: r.p99 as number,
        cpuPer10k: (cpu / 1_000 / r.delivered) * 10_000,
        lost: r.expected - r.delivered,
        loadCpuShare: r.loadCpuMs / r.elapsedMs,
      };
    };
    const fixed = await measure({ mode: 'rate', rate: layout.rate, durationMs: timing.fixedMs });
    const saturated = await measure({
      mode: 'saturate',
      durationMs: timing.saturateMs,
      concurrency: layout.concurrency,
    });
    return { kind, layout: layout.name, fixed, saturated };
  } finally {
    await load.request('closeAll').catch(() => {});
    await load.stop();
    await server.stop();
  }
}
