// The load process of the soak benchmark (issue 18): raw `ws` clients following tasks, an agent
// posting status updates with a log line each at a steady rate, and churn (half the clients
// dropped and reconnected with their cursor every period). At the end every client's log is
// compared with the stored one. Raw clients rather than the widget's link: the soak measures the
// server, and 500 links in one process would measure the load process as much.
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { ROUTES, type LogEntry, type LogsPage } from '../../protocol/index.js';
import type { ServerMessage } from '../../protocol/ws-messages.js';
import { serveRequests } from '../lib/ipc.js';
import { BenchAgent, type TaskHandle } from './agent.js';
import { wsUrl } from './subscriber.js';

interface Client {
  task: TaskHandle;
  /** Every event up to here is covered (the protocol's cursor). */
  cursor: number;
  /** Log lines received, by seq. */
  lines: Map<number, string>;
  /** Lines received again after they were already held. */
  duplicates: number;
  /** Updates that skipped past the cursor (the client resubscribed from it). */
  gaps: number;
  ws: WebSocket | null;
  requestId: number;
}

let port = 0;
let agent: BenchAgent;
let tasks: TaskHandle[] = [];
let clients: Client[] = [];
/** Each task's seq after the last answered post. */
const lastSeq = new Map<string, number>();
const counts = { posts: 0, failedPosts: 0, reconnects: 0, churns: 0 };
/** Why posts failed: the HTTP status, or the error a request threw (a reset, a timeout). */
const failures = new Map<string, number>();
function failed(why: string): void {
  counts.failedPosts += 1;
  failures.set(why, (failures.get(why) ?? 0) + 1);
}
let stopLoad: (() => Promise<void>) | null = null;

function take(client: Client, logs: readonly LogEntry[]): void {
  for (const line of logs) {
    if (client.lines.has(line.seq)) client.duplicates += 1;
    else client.lines.set(line.seq, line.message);
  }
}

async function logsPage(taskId: string, afterSeq: number, limit: number): Promise<LogsPage> {
  const res = await fetch(
    `http://127.0.0.1:${port}${ROUTES.taskLogs(taskId)}?afterSeq=${afterSeq}&limit=${limit}`,
  );
  if (!res.ok) throw new Error(`logs of ${taskId}: ${res.status}`);
  return (await res.json()) as LogsPage;
}

/** Lines after the cursor that a snapshot left for the logs route (`hasMore`). */
async function pageOn(client: Client): Promise<void> {
  for (;;) {
    const page = await logsPage(client.task.id, client.cursor, 200);
    take(client, page.logs);
    client.cursor = Math.max(client.cursor, page.nextAfterSeq);
    if (!page.hasMore) return;
  }
}

function subscribe(client: Client): void {
  client.requestId += 1;
  client.ws!.send(
    JSON.stringify({
      type: 'subscribe',
      requestId: client.requestId,
      tasks: [{ taskId: client.task.id, afterSeq: client.cursor }],
    }),
  );
}

/** Opens the client's socket and resolves on its first snapshot; reconnects whenever it closes. */
function connect(client: Client): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl('ours', port), {
      perMessageDeflate: false,
      origin: 'http://localhost:5173',
    });
    client.ws = ws;
    ws.on('error', reject);
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(String(data)) as ServerMessage;
      if (message.type === 'hello') subscribe(client);
      else if (message.type === 'snapshot') {
        if (message.requestId !== client.requestId) return;
        take(client, message.logs);
        client.cursor = Math.max(client.cursor, message.nextAfterSeq);
        if (message.hasMore) void pageOn(client).then(resolve, reject);
        else resolve();
      } else if (message.type === 'update') {
        if (message.fromSeq > client.cursor + 1) {
          client.gaps += 1;
          subscribe(client);
          return;
        }
        take(client, message.logs);
        client.cursor = Math.max(client.cursor, message.task.seq);
      } else if (message.type === 'error') reject(new Error(String(data)));
    });
    ws.on('close', () => {
      if (client.ws !== ws) return;
      // Closed by the server (a restart, a slow consumer): back with the cursor, as a panel would.
      client.ws = null;
      counts.reconnects += 1;
      setTimeout(() => void connect(client).catch(() => {}), 100);
    });
  });
}

/** Drops the client's socket (as a network would) and reconnects it from its cursor. */
async function drop(client: Client): Promise<void> {
  const ws = client.ws;
  client.ws = null;
  ws?.terminate();
  counts.reconnects += 1;
  await connect(client);
}

async function setup({
  port: serverPort,
  taskCount,
  clientCount,
}: {
  port: number;
  taskCount: number;
  clientCount: number;
}) {
  port = serverPort;
  agent = new BenchAgent(port, 8);
  tasks = [];
  for (let i = 0; i < taskCount; i += 1) tasks.push(await agent.createTask(`soak-${i}`));
  for (const task of tasks) {
    const status = await agent.post(task, { phase: 'running', logs: [{ message: 'started' }] });
    if (status !== 200) throw new Error(`first post to ${task.id}: ${status}`);
  }
  clients = Array.from({ length: clientCount }, (_, i) => ({
    task: tasks[i % taskCount]!,
    cursor: 0,
    lines: new Map<number, string>(),
    duplicates: 0,
    gaps: 0,
    ws: null,
    requestId: 0,
  }));
  for (let i = 0; i < clients.length; i += 50) await Promise.all(clients.slice(i, i + 50).map(connect));
  return { tasks: tasks.length, clients: clients.length };
}

/** Posts at `postsPerSecond` (round robin over the tasks) and churns half the clients every `churnEveryMs`. */
function start({ postsPerSecond, churnEveryMs }: { postsPerSecond: number; churnEveryMs: number }) {
  const began = performance.now();
  let sent = 0;
  const inFlight = new Set<Promise<void>>();
  const post = (n: number) => {
    const task = tasks[n % tasks.length]!;
    const body = { progress: n % 100, message: `step ${n}`, logs: [{ message: `line ${n}` }] };
    const done = agent
      .call('POST', ROUTES.taskStatus(task.id), body, task.token)
      .then(({ status, body: answer }) => {
        if (status !== 200) return failed(String(status));
        counts.posts += 1;
        const seq = (JSON.parse(answer) as { task: { seq: number } }).task.seq;
        lastSeq.set(task.id, Math.max(lastSeq.get(task.id) ?? 0, seq));
      })
      .catch((error: unknown) => failed(error instanceof Error ? error.message : String(error)))
      .finally(() => inFlight.delete(done));
    inFlight.add(done);
  };
  // Catches up on the posts due by now, so the rate holds whatever the timer's jitter.
  const poster = setInterval(() => {
    const due = Math.floor(((performance.now() - began) / 1000) * postsPerSecond);
    while (sent < due) post(sent++);
  }, 20);
  let half = 0;
  let churning: Promise<unknown> = Promise.resolve();
  const churner = setInterval(() => {
    counts.churns += 1;
    const dropped = clients.filter((_, i) => i % 2 === half);
    half = 1 - half;
    churning = Promise.all(dropped.map((c) => drop(c).catch(() => {})));
  }, churnEveryMs);
  stopLoad = async () => {
    clearInterval(poster);
    clearInterval(churner);
    await Promise.all(inFlight);
    await churning;
  };
  return { started: true };
}

/** Stops the load, waits for every client to reach its task's last seq, then checks each log. */
async function finish({ timeoutMs }: { timeoutMs: number }) {
  await stopLoad?.();
  const end = performance.now() + timeoutMs;
  const behind = () => clients.filter((c) => c.cursor < (lastSeq.get(c.task.id) ?? 0));
  while (behind().length > 0 && performance.now() < end) await sleep(50);
  const stored = new Map<string, LogEntry[]>();
  for (const task of tasks) {
    const lines: LogEntry[] = [];
    let afterSeq = 0;
    for (;;) {
      const page = await logsPage(task.id, afterSeq, 1000);
      lines.push(...page.logs);
      afterSeq = page.nextAfterSeq;
      if (!page.hasMore) break;
    }
    stored.set(task.id, lines);
  }
  const whole = clients.filter((c) => {
    const lines = stored.get(c.task.id)!;
    return (
      c.duplicates === 0 &&
      c.lines.size === lines.length &&
      lines.every((line) => c.lines.get(line.seq) === line.message)
    );
  }).length;
  const storedLines = [...stored.values()].reduce((sum, lines) => sum + lines.length, 0);
  return {
    ...counts,
    failures: Object.fromEntries(failures),
    clients: clients.length,
    whole,
    behind: behind().length,
    duplicates: clients.reduce((sum, c) => sum + c.duplicates, 0),
    gaps: clients.reduce((sum, c) => sum + c.gaps, 0),
    storedLines,
  };
}

async function closeAll() {
  await stopLoad?.();
  for (const c of clients) {
    const ws = c.ws;
    c.ws = null;
    ws?.terminate();
  }
  clients = [];
  agent?.close();
  return { closed: true };
}

serveRequests({ setup, start, finish, closeAll });
