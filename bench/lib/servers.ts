import { startChild, type Child } from './ipc.js';
import type { ServerKind } from '../load/subscriber.js';

export type AnyServerKind = ServerKind | 'bare-hono' | 'hono-ws';

const SCRIPTS: Record<AnyServerKind, string> = {
  ours: 'servers/ours.ts',
  'bare-ws': 'servers/bare-ws.ts',
  socketio: 'servers/socketio.ts',
  'bare-hono': 'servers/bare-hono.ts',
  'hono-ws': 'servers/hono-ws.ts',
};

export interface BenchServer {
  child: Child;
  port: number;
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

/** A server of `kind` in its own process, listening on 127.0.0.1. */
export async function startBenchServer(
  kind: AnyServerKind,
  options: { env?: Record<string, string>; execArgv?: string[] } = {},
): Promise<BenchServer> {
  const child = startChild(SCRIPTS[kind], { gc: true, ...options });
  const { port } = await child.request<{ port: number }>('listen', {});
  return {
    child,
    port,
    cpuMs: async () => (await child.request<{ cpuMs: number }>('cpu')).cpuMs,
    stop: () => child.stop(),
  };
}
