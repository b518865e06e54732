// Issue 15, "count it": DynamoDB requests and capacity units per operation of our server, counted
// where DynamoDB would bill them. A dynalite server in this process (in memory) stands for
// DynamoDB, behind a meter (lib/capacity-meter.ts) that counts each request by its X-Amz-Target
// and the units dynalite reports for it; our server runs in its own process with
// DYNAMODB_ENDPOINT pointed at the meter. Each operation is done N times in a row with nothing else
// running (no demo agents, no clients), so what is counted meanwhile is that operation's.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { WebSocket } from 'ws';
import { ROUTES } from '../protocol/index.js';
import { DEFAULT_HEAD_FRESH_MS } from '../server/store/dynamodb/known-heads.js';
import { DynamoDbLocal } from '../test/support/dynamodb-local.js';
import { startCapacityMeter } from './lib/capacity-meter.js';
import { startBenchServer } from './lib/servers.js';
import { renderMarkdown } from './lib/table.js';

export interface CostResult {
  operation: string;
  /** Requests per operation, by DynamoDB action (GetItem, Query, PutItem...). */
  perOperation: Record<string, number>;
  total: number;
  /** Capacity units per operation, as DynamoDB bills them (refused conditional writes apart). */
  readUnits: number;
  writeUnits: number;
  refusedWrites: number;
  /** The target for the operation, in requests (null: none). */
  target: number | null;
}

/** How many times each operation is repeated. */
const REPEATS = 100;
/** POSTs to one task in flight together, for group commit. */
const CONCURRENT_POSTS = 8;

/**
 * What stands for DynamoDB: dynalite (what the embedded store runs), or Amazon's DynamoDB Local,
 * which has transactions as DynamoDB does; there the server runs with DYNAMODB_TRANSACTIONS=1 (a
 * keyed POST's batch and IDEM item in one request).
 */
export const COST_UPSTREAMS = ['dynalite', 'DynamoDB Local'] as const;
export type CostUpstream = (typeof COST_UPSTREAMS)[number];

async function startUpstream(upstream: CostUpstream): Promise<{ endpoint: string; close(): Promise<void> }> {
  if (upstream === 'DynamoDB Local') return DynamoDbLocal.start();
  const db = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  db.listen(0, '127.0.0.1');
  await once(db, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(db.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => db.close(() => resolve())),
  };
}

export async function storeCost(
  log: (line: string) => void = console.error,
  upstream: CostUpstream = 'dynalite',
): Promise<CostResult[]> {
  const db = await startUpstream(upstream);
  const meter = await startCapacityMeter(db.endpoint);
  const server = await startBenchServer('ours', {
    env: {
      STORE: 'dynamodb',
      DYNAMODB_ENDPOINT: meter.endpoint,
      DYNAMODB_TRANSACTIONS: upstream === 'dynalite' ? '0' : '1',
    },
  });
  const base = `http://127.0.0.1:${server.port}`;
  const results: CostResult[] = [];

  /**
   * Runs `step` REPEATS times in a row and records the requests per operation (a step does
   * `perStep` operations at once).
   */
  async function measure(
    operation: string,
    target: number | null,
    step: (i: number) => Promise<void>,
    perStep = 1,
  ) {
    log(`store cost (${upstream}): ${operation}, ${REPEATS * perStep} times...`);
    meter.reset();
    for (let i = 0; i < REPEATS; i++) await step(i);
    const { requests, readUnits, writeUnits, refusedWrites } = meter.counts;
    const operations = REPEATS * perStep;
    const perOperation = Object.fromEntries([...requests].map(([action, n]) => [action, n / operations]));
    const total = [...requests.values()].reduce((a, b) => a + b, 0) / operations;
    results.push({
      operation,
      perOperation,
      total,
      target,
      readUnits: readUnits / operations,
      writeUnits: writeUnits / operations,
      refusedWrites: refusedWrites / operations,
    });
  }

  const json = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(base + path, init);
    const body = response.status === 304 ? null : await response.json();
    if (!response.ok && response.status !== 304)
      throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
    return { response, body: body as Record<string, unknown> };
  };
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    json(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  try {
    const created: { id: string; token: string }[] = [];
    await measure('create a task', null, async (i) => {
      const { body } = await post(ROUTES.tasks, { agentId: `cost-agent-${i % 10}` });
      created.push({ id: (body.task as { id: string }).id, token: body.agentToken as string });
    });
    const { id, token } = created[0]!;
    const auth = { authorization: `Bearer ${token}` };
    await measure('status POST (a progress, a message, one log line)', 2, (i) =>
      post(
        ROUTES.taskStatus(id),
        { progress: i % 100, message: `step ${i}`, logs: [{ message: `line ${i}` }] },
        auth,
      ).then(() => {}),
    );
    // Agents (or one agent's parallel workers) posting lines to one task at once: the writes that
    // queue behind the one in flight go to DynamoDB together (group commit).
    await measure(
      `log POST, ${CONCURRENT_POSTS} to one task at once (group commit)`,
      null,
      (i) =>
        Promise.all(
          Array.from({ length: CONCURRENT_POSTS }, (_, j) =>
            post(ROUTES.taskStatus(id), { logs: [{ message: `worker ${j} line ${i}` }] }, auth),
          ),
        ).then(() => {}),
      CONCURRENT_POSTS,
    );
    await measure('status POST with an Idempotency-Key', 2, (i) =>
      post(
        ROUTES.taskStatus(id),
        { message: `keyed ${i}` },
        { ...auth, 'idempotency-key': `cost-${i}` },
      ).then(() => {}),
    );
    const { response } = await json(ROUTES.taskStatus(id));
    const etag = response.headers.get('etag') ?? '';
    // Steady state: the heads this instance knows are older than HEAD_FRESH_MS, and only the bus
    // vouching that no write went unheard spares the reads.
    await letHeadsAge();
    await measure('poll answered 304 (nothing new)', 0, async () => {
      const { response: polled } = await json(ROUTES.taskStatus(id), { headers: { 'if-none-match': etag } });
      if (polled.status !== 304) throw new Error(`expected 304, got ${polled.status}`);
    });
    let cursor = 0;
    const news: string[] = [];
    for (let i = 0; i < REPEATS; i++) {
      await post(
        ROUTES.taskStatus(created[1]!.id),
        { logs: [{ message: `news ${i}` }] },
        { authorization: `Bearer ${created[1]!.token}` },
      );
      news.push(`${i}`);
    }
    await measure('poll with news (from its cursor)', null, async () => {
      const { body } = await json(`${ROUTES.taskStatus(created[1]!.id)}?afterSeq=${cursor}&limit=1`);
      cursor = body.nextAfterSeq as number;
    });
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}${ROUTES.ws}`);
    const messages: { type: string; requestId?: number; task?: { id: string; seq: number } }[] = [];
    const waiters: (() => void)[] = [];
    socket.on('message', (data) => {
      messages.push(JSON.parse(String(data)));
      for (const wake of waiters.splice(0)) wake();
    });
    const answer = async (requestId: number) => {
      while (!messages.some((m) => m.requestId === requestId))
        await new Promise<void>((r) => waiters.push(r));
      // Under the server's limit of 50 messages a second per socket.
      await new Promise((resolve) => setTimeout(resolve, 25));
    };
    socket.on('close', (code, reason) => log(`store cost: the socket closed ${code} ${String(reason)}`));
    await once(socket, 'open');
    let requestId = 0;
    await measure('WebSocket subscribe (a fresh panel: the tail)', null, async (i) => {
      socket.send(
        JSON.stringify({ type: 'subscribe', requestId: ++requestId, tasks: [{ taskId: created[i]!.id }] }),
      );
      await answer(requestId);
    });
    // Each panel's cursor: the head its snapshot was cut at.
    const headSeq = new Map(
      messages.flatMap((m) => (m.type === 'snapshot' && m.task ? [[m.task.id, m.task.seq] as const] : [])),
    );
    await letHeadsAge();
    await measure('WebSocket resubscribe with nothing new (from its cursor)', 0, async (i) => {
      socket.send(
        JSON.stringify({
          type: 'subscribe',
          requestId: ++requestId,
          tasks: [{ taskId: created[i]!.id, afterSeq: headSeq.get(created[i]!.id) }],
        }),
      );
      await answer(requestId);
    });
    socket.close();
  } finally {
    await server.stop();
    await meter.close();
    await db.close();
  }
  return results;
}

const letHeadsAge = () => new Promise((resolve) => setTimeout(resolve, DEFAULT_HEAD_FRESH_MS + 100));

const fmt = (n: number | undefined) => (n === undefined ? '' : n.toFixed(2).replace(/\.00$/, ''));

export function renderCostTable(results: CostResult[]): string {
  const actions = [...new Set(results.flatMap((r) => Object.keys(r.perOperation)))].sort();
  const head = ['operation', ...actions, 'total', 'target', '', 'read units', 'write units'];
  const lines = results.map((r) => [
    r.operation,
    ...actions.map((a) => fmt(r.perOperation[a])),
    fmt(r.total),
    r.target === null ? '' : `≤${r.target}`,
    r.target === null ? '' : r.total <= r.target ? 'holds' : 'MISSES',
    fmt(r.readUnits),
    fmt(r.writeUnits + r.refusedWrites),
  ]);
  // Numbers right-aligned: every column but the first and the verdict.
  return renderMarkdown(head, lines, (column) => column > 0 && column !== actions.length + 3);
}

/**
 * DynamoDB on-demand prices, us-east-1, since the cut of November 2024: USD per million write
 * request units and per million read request units. Other regions cost more; check before quoting.
 */
export const ON_DEMAND_USD_PER_MILLION = { write: 0.625, read: 0.125 } as const;

/** What a million of each operation costs on on-demand pricing. */
export function renderMillionsTable(results: CostResult[]): string {
  const head = ['1,000,000 ×', 'requests', 'read units', 'write units', 'USD on demand'];
  const lines = results.map((r) => {
    const writeUnits = r.writeUnits + r.refusedWrites;
    const usd = r.readUnits * ON_DEMAND_USD_PER_MILLION.read + writeUnits * ON_DEMAND_USD_PER_MILLION.write;
    return [
      r.operation,
      `${fmt(r.total)} M`,
      `${fmt(r.readUnits)} M`,
      `${fmt(writeUnits)} M`,
      `$${usd.toFixed(2)}`,
    ];
  });
  return renderMarkdown(head, lines, (column) => column > 0);
}

if (process.argv[1]?.endsWith('store-cost.ts')) {
  console.log(`DynamoDB requests per operation, ${REPEATS} of each in a row, counted at the endpoint:\n`);
  const results = await storeCost();
  console.log(renderCostTable(results));
  console.log(`\n${renderMillionsTable(results)}`);
}
