// The load process of the fan-out and memory benchmarks: opens the subscribers, plays the agent,
// and reports deliveries, latency and its own CPU (to show whether the load side saturated).
import { setTimeout as sleep } from 'node:timers/promises';
import type { WebSocket } from 'ws';
import { serveRequests } from '../lib/ipc.js';
import { percentile } from '../lib/stats.js';
import { BenchAgent, type TaskHandle } from './agent.js';
import { newDeliveries, subscribe, type ServerKind } from './subscriber.js';

const CONNECT_BATCH = 100;

let agent: BenchAgent;
/** One agent per instance (scale-out: posts go round-robin over the instances); else just `agent`. */
let agents: BenchAgent[] = [];
let tasks: TaskHandle[] = [];
let sockets: WebSocket[] = [];
let perTask = 0;
let serverKind: ServerKind = 'ours';
let serverPorts: number[] = [];
const deliveries = newDeliveries(4_000_000);

async function setup({
  kind,
  port,
  ports = [port],
  taskCount,
  agentSockets = 16,
}: {
  kind: ServerKind;
  port: number;
  /** Several instances of one service (scale-out): subscribers and posts spread over them. */
  ports?: number[];
  taskCount: number;
  agentSockets?: number;
}) {
  serverKind = kind;
  serverPorts = ports;
  agents = ports.map((each) => new BenchAgent(each, Math.max(2, Math.round(agentSockets / ports.length))));
  agent = agents[0]!;
  tasks = [];
  for (let i = 0; i < taskCount; i += 1) tasks.push(await agent.createTask(`bench-${i}`));
  for (const task of tasks) {
    const status = await agent.post(task, { phase: 'running', message: 'started' });
    if (status !== 200) throw new Error(`first post: ${status}`);
  }
  return { tasks: tasks.length };
}

/** Opens `subscribers` more sockets, spread round-robin over the tasks, each live once its snapshot is in. */
async function connect({ subscribers }: { subscribers: number }) {
  const started = performance.now();
  const from = sockets.length;
  for (let i = from; i < from + subscribers; i += CONNECT_BATCH) {
    const batch: Promise<WebSocket>[] = [];
    for (let j = i; j < Math.min(from + subscribers, i + CONNECT_BATCH); j += 1)
      batch.push(
        subscribe(serverKind, serverPorts[j % serverPorts.length]!, tasks[j % tasks.length]!.id, deliveries),
      );
    sockets.push(...(await Promise.all(batch)));
  }
  perTask = sockets.length / tasks.length;
  return { connected: sockets.length, connectMs: performance.now() - started };
}

/**
 * `rate`: POSTs at a fixed rate, round-robin over the tasks, latency recorded.
 * `saturate`: `concurrency` POSTs in flight, back to back, as fast as the server answers.
 * Then waits until every expected delivery arrived (or nothing arrived for a second).
 */
async function run({
  mode,
  rate = 0,
  durationMs,
  concurrency = 4,
}: {
  mode: 'rate' | 'saturate';
  rate?: number;
  durationMs: number;
  concurrency?: number;
}) {
  deliveries.count = 0;
  deliveries.recorded = 0;
  deliveries.recording = mode === 'rate';
  const cpu0 = process.cpuUsage();
  let sent = 0;
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  const postNext = () => {
    const n = sent++;
    const p = agents[n % agents.length]!.stamped(tasks[n % tasks.length]!, n).then(
      (status) => {
        if (status !== 200) failed += 1;
      },
      () => {
        failed += 1;
      },
    );
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    return tracked;
  };
  const start = performance.now();
  const end = start + durationMs;
  if (mode === 'rate') {
    while (performance.now() < end) {
      const due = Math.floor(((performance.now() - start) * rate) / 1_000);
      while (sent < due) void postNext();
      await sleep(1);
    }
  } else {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) await postNext();
      }),
    );
  }
  const sendEnd = performance.now();
  await Promise.all(inFlight);
  const expected = (sent - failed) * perTask;
  let last = deliveries.count;
  let lastChange = performance.now();
  while (deliveries.count < expected && performance.now() - lastChange < 1_000) {
    await sleep(20);
    if (deliveries.count !== last) {
      last = deliveries.count;
      lastChange = performance.now();
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const elapsedMs = Math.max(deliveries.lastAt, sendEnd) - start;
  const latencies = deliveries.latencies.subarray(0, deliveries.recorded).slice().sort();
  return {
    posts: sent,
    failed,
    expected,
    delivered: deliveries.count,
    elapsedMs,
    sendMs: sendEnd - start,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    loadCpuMs: (cpu.user + cpu.system) / 1_000,
  };
}

async function closeAll() {
  for (const ws of sockets) ws.terminate();
  sockets = [];
  for (const each of agents) each.close();
  await sleep(200);
  return { closed: true };
}

serveRequests({ setup, connect, run, closeAll });
