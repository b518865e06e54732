// 5. Recovery: 1,000 live clients, the server closes every socket with 1012 and listens again on
// the same port; the time from the first close until the last client has its snapshot again.
import { startChild } from './lib/ipc.js';
import { startBenchServer } from './lib/servers.js';
import type { ServerKind } from './load/subscriber.js';

export interface RecoveryResult {
  kind: ServerKind;
  clients: number;
  resynced: number;
  allMs: number;
  p50Ms: number;
  peakAttemptsPer100ms: number;
}

export async function recovery(
  kind: ServerKind,
  clientCount: number,
  taskCount: number,
): Promise<RecoveryResult> {
  const server = await startBenchServer(kind);
  const load = startChild('load/recovery-load.ts');
  try {
    await load.request('setup', { kind, port: server.port, taskCount, clientCount });
    const waiting = load.request('waitResynced', { timeoutMs: 30_000 }, 60_000);
    await server.child.request('restart');
    const result = await waiting;
    return { kind, ...result };
  } finally {
    await load.request('closeAll').catch(() => {});
    await load.stop();
    await server.stop();
  }
}
