// 2. Memory: JS heap and RSS per idle subscribed connection, read in the server process after a
// full GC, before and after the load process opens the connections.
import { startChild } from './lib/ipc.js';
import { startBenchServer } from './lib/servers.js';
import type { ServerKind } from './load/subscriber.js';

export interface MemoryResult {
  kind: ServerKind;
  connections: number;
  heapPerConn: number;
  rssPerConn: number;
}

interface Mem {
  heapUsed: number;
  rss: number;
}

export async function memory(kind: ServerKind, connections: number, tasks: number): Promise<MemoryResult> {
  const server = await startBenchServer(kind);
  const load = startChild('load/fanout-load.ts');
  try {
    await load.request('setup', { kind, port: server.port, taskCount: tasks });
    // A few connections first, so lazily loaded code and first-use caches are not counted per connection.
    await load.request('connect', { subscribers: 100 });
    const before = await server.child.request<Mem>('mem');
    await load.request('connect', { subscribers: connections });
    const after = await server.child.request<Mem>('mem');
    return {
      kind,
      connections,
      heapPerConn: (after.heapUsed - before.heapUsed) / connections,
      rssPerConn: (after.rss - before.rss) / connections,
    };
  } finally {
    await load.request('closeAll').catch(() => {});
    await load.stop();
    await server.stop();
  }
}
