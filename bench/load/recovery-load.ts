// The load process of the recovery benchmark. Ours and the bare `ws` baseline are driven by the
// widget's own connection, a TabLink alone in its "tab" (full-jitter backoff, 5 s spread after
// 1012, resubscribe with the cursor); Socket.IO by socket.io-client with its default
// reconnection, rejoining on connect.
import { setTimeout as sleep } from 'node:timers/promises';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { systemClock } from '../../widget/connection/clock.js';
import { feedKey } from '../../widget/connection/feed-key.js';
import type { WebSocketCtor } from '../../widget/connection/socket-link.js';
import { tabLink } from '../../widget/connection/tab-link.js';
import { serveRequests } from '../lib/ipc.js';
import { percentile } from '../lib/stats.js';
import { BenchAgent, type TaskHandle } from './agent.js';
import { wsUrl, type ServerKind } from './subscriber.js';

interface Client {
  cursor: number;
  snapshots: number;
  closedAt: number | null;
  resyncedAt: number | null;
  stop(): void;
}

let clients: Client[] = [];
let attempts: number[] = [];
let armed = false;

/** Browsers send an Origin; so do these. */
class BrowserishWebSocket extends WebSocket {
  constructor(url: string) {
    super(url, { origin: 'http://localhost:5173', perMessageDeflate: false });
    // A browser reports errors as events; `ws` throws on an 'error' nobody listens to.
    this.on('error', () => {});
  }
}

function linkClient(kind: ServerKind, port: number, taskId: string): Client {
  // No BroadcastChannel or Web Locks here: each link leads its own tab and owns its socket.
  const link = tabLink({
    url: wsUrl(kind, port),
    endpoint: `http://127.0.0.1:${port}`,
    WebSocket: BrowserishWebSocket as unknown as WebSocketCtor,
    fetch: () => Promise.reject(new Error('the recovery bench never polls')),
    clock: systemClock,
  });
  const client: Client = {
    cursor: 0,
    snapshots: 0,
    closedAt: null,
    resyncedAt: null,
    stop: () => link.close(),
  };
  link.onStatus((status) => {
    if (!armed) return;
    if (status.kind === 'down' && client.closedAt === null) client.closedAt = performance.now();
    if (status.kind === 'connecting') attempts.push(performance.now());
  });
  link.open();
  link.join(feedKey('task', taskId), {
    cursor: () => client.cursor,
    on(event) {
      if (event.source !== 'socket') return;
      const { message } = event;
      if (message.type === 'snapshot') {
        client.cursor = Math.max(client.cursor, message.nextAfterSeq);
        client.snapshots += 1;
        if (armed && client.closedAt !== null && client.resyncedAt === null)
          client.resyncedAt = performance.now();
      } else if (message.type === 'update') {
        client.cursor = Math.max(client.cursor, message.task.seq);
      }
    },
  });
  return client;
}

function socketIoClient(port: number, taskId: string): Client {
  const socket: Socket = io(`http://127.0.0.1:${port}`, {
    forceNew: true,
    transports: ['websocket'],
    extraHeaders: { origin: 'http://localhost:5173' },
  });
  const client: Client = {
    cursor: 0,
    snapshots: 0,
    closedAt: null,
    resyncedAt: null,
    stop: () => socket.close(),
  };
  socket.on('connect', () => socket.emit('subscribe', { taskId, afterSeq: client.cursor }));
  socket.on('disconnect', () => {
    if (armed && client.closedAt === null) client.closedAt = performance.now();
  });
  socket.io.on('reconnect_attempt', () => {
    if (armed) attempts.push(performance.now());
  });
  socket.on('snapshot', (message: { nextAfterSeq: number }) => {
    client.cursor = Math.max(client.cursor, message.nextAfterSeq);
    client.snapshots += 1;
    if (armed && client.closedAt !== null && client.resyncedAt === null)
      client.resyncedAt = performance.now();
  });
  socket.on('update', (message: { task: { seq: number } }) => {
    client.cursor = Math.max(client.cursor, message.task.seq);
  });
  return client;
}

async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > end) return false;
    await sleep(10);
  }
  return true;
}

async function setup({
  kind,
  port,
  taskCount,
  clientCount,
}: {
  kind: ServerKind;
  port: number;
  taskCount: number;
  clientCount: number;
}) {
  const agent = new BenchAgent(port, 8);
  const tasks: TaskHandle[] = [];
  for (let i = 0; i < taskCount; i += 1) tasks.push(await agent.createTask(`recover-${i}`));
  for (const task of tasks) {
    await agent.post(task, { phase: 'running', logs: [{ message: 'started' }, { message: 'working' }] });
  }
  clients = [];
  for (let i = 0; i < clientCount; i += 1) {
    clients.push(
      kind === 'socketio'
        ? socketIoClient(port, tasks[i % taskCount]!.id)
        : linkClient(kind, port, tasks[i % taskCount]!.id),
    );
    if (i % 100 === 99) await sleep(20);
  }
  const live = await until(() => clients.every((c) => c.snapshots > 0), 30_000);
  // Some progress after the snapshots, so every cursor is past 0 when the server restarts.
  for (const task of tasks) await agent.post(task, { progress: 50, logs: [{ message: 'half way' }] });
  agent.close();
  await sleep(300);
  if (!live)
    throw new Error(
      `only ${clients.filter((c) => c.snapshots > 0).length} of ${clientCount} clients went live`,
    );
  armed = true;
  attempts = [];
  return { live: clients.length };
}

/** Resolves when every client has been closed and has its snapshot again (or after `timeoutMs`). */
async function waitResynced({ timeoutMs }: { timeoutMs: number }) {
  await until(() => clients.every((c) => c.resyncedAt !== null), timeoutMs);
  const closes = clients.map((c) => c.closedAt).filter((t): t is number => t !== null);
  const start = Math.min(...closes);
  const times = clients
    .map((c) => (c.resyncedAt === null ? NaN : c.resyncedAt - start))
    .filter((t) => !Number.isNaN(t))
    .sort((a, b) => a - b);
  // The herd: most reconnect attempts that started in any 100 ms slice.
  const slices = new Map<number, number>();
  for (const at of attempts)
    slices.set(Math.floor((at - start) / 100), (slices.get(Math.floor((at - start) / 100)) ?? 0) + 1);
  return {
    resynced: times.length,
    clients: clients.length,
    allMs: times.length === clients.length ? times[times.length - 1]! : NaN,
    p50Ms: percentile(times, 0.5),
    peakAttemptsPer100ms: Math.max(0, ...slices.values()),
    attempts: attempts.length,
  };
}

async function closeAll() {
  armed = false;
  for (const c of clients) c.stop();
  clients = [];
  await sleep(200);
  return { closed: true };
}

serveRequests({ setup, waitResynced, closeAll });
