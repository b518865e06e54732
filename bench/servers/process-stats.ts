import { setTimeout as sleep } from 'node:timers/promises';
import { writeHeapSnapshot } from 'node:v8';

/** What every bench server answers besides its own commands: CPU used so far, and memory after a full GC. */
export const processStats = {
  cpu() {
    const { user, system } = process.cpuUsage();
    return { cpuMs: (user + system) / 1_000 };
  },
  async mem() {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('run the server with --expose-gc');
    // Twice, with a turn between, so weak references and finalizers settle.
    for (let i = 0; i < 3; i += 1) {
      gc();
      await sleep(50);
    }
    const { heapUsed, heapTotal, rss, external, arrayBuffers } = process.memoryUsage();
    return { heapUsed, heapTotal, rss, external, arrayBuffers };
  },
  /** For profiling by hand (bench/heap-summary.ts reads it). */
  heapSnapshot({ path }: { path: string }) {
    return { path: writeHeapSnapshot(path) };
  },
};
