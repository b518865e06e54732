import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { ROUTES, type CreateTaskResponse } from '../../../protocol/index.js';
import type { Realtime } from '../../../server/realtime/realtime.js';
import { startServer, type RunningServer } from '../../../server/serve.js';
import { errorOf, harness, testConfig } from './harness.js';

/** What @hono/node-server gives a handler about the connection, for a client at `remoteAddress`. */
function connectionFrom(remoteAddress: string) {
  return { incoming: { socket: { remoteAddress } } };
}

/** GET /metrics in-process, as a client on this machine would. */
function metricsOf(h: ReturnType<typeof harness>, headers: Record<string, string> = {}) {
  return Promise.resolve(h.app.request('/metrics', { headers }, connectionFrom('127.0.0.1')));
}

test('/healthz answers ok', async () => {
  const res = await harness().request('/healthz');
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ok: true });
});

test('/metrics counts requests by route pattern and status in Prometheus text', async () => {
  const h = harness();
  const { task } = await h.createTask();
  await h.request(ROUTES.taskStatus(task.id));
  await h.request(ROUTES.taskStatus('missing'));
  await h.request('/no/such/route');
  const res = await metricsOf(h);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /^# TYPE agent_task_status_http_requests_total counter$/m);
  assert.equal(requestsCounted(text, 'POST', '/api/agent-tasks', 201), 1);
  assert.equal(requestsCounted(text, 'GET', '/api/agent-tasks/:id/status', 200), 1);
  assert.equal(requestsCounted(text, 'GET', '/api/agent-tasks/:id/status', 404), 1);
  assert.equal(requestsCounted(text, 'GET', 'unmatched', 404), 1);
  assert.match(text, /^process_uptime_seconds \d+(\.\d+)?$/m);
  assert.equal(text.includes('agent_task_status_ws_'), false, 'no WebSocket figures without realtime');
});

test('/metrics includes the realtime figures when realtime is mounted', async () => {
  const realtime = {
    stats: () => ({ connections: 3, subscriptions: 5, delivered: 42 }),
  } as unknown as Realtime;
  const text = await (await metricsOf(harness({ realtime }))).text();
  assert.match(text, /^agent_task_status_ws_connections 3$/m);
  assert.match(text, /^agent_task_status_ws_subscriptions 5$/m);
  assert.match(text, /^# TYPE agent_task_status_ws_delivered_total counter$/m);
  assert.match(text, /^agent_task_status_ws_delivered_total 42$/m);
});

test('/metrics counts a plain GET of the WebSocket route under its path, and paths beside it as unmatched', async () => {
  const realtime = {
    stats: () => ({ connections: 0, subscriptions: 0, delivered: 0 }),
  } as unknown as Realtime;
  const h = harness({ realtime });
  assert.equal((await h.request(ROUTES.ws)).status, 426);
  assert.equal((await h.request(`${ROUTES.tasks}/wss`)).status, 404);
  const text = await (await metricsOf(h)).text();
  assert.equal(requestsCounted(text, 'GET', '/api/agent-tasks/ws', 426), 1);
  assert.equal(requestsCounted(text, 'GET', 'unmatched', 404), 1);
});

test('the WebSocket route answers 404 when realtime is not mounted', async () => {
  const res = await harness().request(ROUTES.ws);
  assert.equal(res.status, 404);
});

/** A WebSocket client that queues what it hears, so a test can await the next message of a type. */
async function client(url: string) {
  const ws = new WebSocket(url);
  const heard: { type: string }[] = [];
  let wake = (): void => {};
  ws.on('message', (data) => {
    heard.push(JSON.parse(String(data)) as { type: string });
    wake();
  });
  await once(ws, 'open');
  return {
    ws,
    send: (message: object) => ws.send(JSON.stringify(message)),
    async next(type: string): Promise<void> {
      for (;;) {
        const at = heard.findIndex((m) => m.type === type);
        if (at >= 0) return void heard.splice(0, at + 1);
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

test('/metrics reports the real sockets, their subscriptions and the events delivered to them', async () => {
  const server = await startServer({ config: testConfig({ PORT: '0' }) });
  const metrics = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const read = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
    return {
      connections: read('agent_task_status_ws_connections'),
      subscriptions: read('agent_task_status_ws_subscriptions'),
      delivered: read('agent_task_status_ws_delivered_total'),
    };
  };
  const clients: Awaited<ReturnType<typeof client>>[] = [];
  try {
    const created = await fetch(`${server.url}${ROUTES.tasks}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agentId: 'agent-m' }),
    });
    const { task, agentToken } = (await created.json()) as CreateTaskResponse;
    assert.deepEqual(await metrics(), { connections: 0, subscriptions: 0, delivered: 0 });

    for (let i = 0; i < 2; i++) {
      const c = await client(server.url.replace(/^http/, 'ws') + ROUTES.ws);
      c.send({ type: 'subscribe', requestId: 1, tasks: [{ taskId: task.id }] });
      await c.next('snapshot');
      clients.push(c);
    }
    assert.deepEqual(await metrics(), { connections: 2, subscriptions: 2, delivered: 0 });

    await fetch(`${server.url}${ROUTES.taskStatus(task.id)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${agentToken}` },
      body: JSON.stringify({ logs: [{ message: 'one' }] }),
    });
    for (const c of clients) await c.next('update');
    assert.deepEqual(await metrics(), { connections: 2, subscriptions: 2, delivered: 2 });

    clients[1]!.send({ type: 'unsubscribe', tasks: [task.id] });
    clients[1]!.send({ type: 'ping' });
    await clients[1]!.next('pong'); // answered in order: the unsubscribe is done
    assert.deepEqual(await metrics(), { connections: 2, subscriptions: 1, delivered: 2 });
  } finally {
    for (const c of clients) c.ws.terminate();
    await server.close();
  }
});

/** Every unlabelled sample of a /metrics text, by name. */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const match of text.matchAll(/^([a-z_]+) (\S+)$/gm)) found.set(match[1]!, Number(match[2]));
  return found;
}

test('/metrics reports where memory is: resident, V8 heap and external', async (t) => {
  const server = await startServer({ config: testConfig({ PORT: '0' }), realtime: false });
  t.after(() => server.close());
  const figures = samples(await (await fetch(`${server.url}/metrics`)).text());
  const rss = figures.get('process_resident_memory_bytes')!;
  const heapUsed = figures.get('nodejs_heap_size_used_bytes')!;
  const heapTotal = figures.get('nodejs_heap_size_total_bytes')!;
  const external = figures.get('nodejs_external_memory_bytes')!;
  assert.ok(heapUsed > 0 && heapUsed <= heapTotal, `heap used ${heapUsed} of ${heapTotal}`);
  assert.ok(external > 0, `external ${external}`);
  assert.ok(rss > heapUsed, `resident ${rss} holds the heap in use ${heapUsed}`);
  assert.equal(
    [...figures.keys()].some((name) => name.startsWith('agent_task_status_dynalite_')),
    false,
    'no dynalite figures on the memory store',
  );
});

test("/metrics reports the embedded dynalite's own figures, its iterators closed after use", async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'ats-metrics-'));
  let started: RunningServer | undefined;
  t.after(async () => {
    await started?.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const server = (started = await startServer({
    config: testConfig({ PORT: '0', STORE: 'dynamodb', DATA_DIR: dataDir }),
    realtime: false,
  }));
  const created = await fetch(`${server.url}${ROUTES.tasks}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ agentId: 'agent-m' }),
  });
  const { task, agentToken } = (await created.json()) as CreateTaskResponse;
  for (let i = 0; i < 3; i++) {
    const posted = await fetch(`${server.url}${ROUTES.taskStatus(task.id)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${agentToken}` },
      body: JSON.stringify({ logs: [{ message: `line ${i}` }] }),
    });
    assert.equal(posted.status, 200);
  }
  assert.equal((await fetch(`${server.url}${ROUTES.taskStatus(task.id)}`)).status, 200);

  const text = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(text, /^# TYPE agent_task_status_dynalite_iterators_opened_total counter$/m);
  const figures = samples(text);
  // The posts read nothing (the store knows the head it wrote); the GET of the latest lines queries.
  assert.ok(
    figures.get('agent_task_status_dynalite_iterators_opened_total')! >= 1,
    'the read of the latest lines queried dynalite',
  );
  assert.equal(figures.get('agent_task_status_dynalite_open_iterators'), 0);
  assert.equal(figures.get('agent_task_status_dynalite_pending_operations'), 0);
  const leveldbMemory = figures.get('agent_task_status_dynalite_leveldb_memory_bytes')!;
  assert.ok(leveldbMemory > 0 && leveldbMemory < figures.get('process_resident_memory_bytes')!);
  assert.ok(figures.get('agent_task_status_dynalite_leveldb_disk_bytes')! >= 0);
});

/** The request counter of one method, route pattern and status in /metrics text (0 when absent). */
function requestsCounted(text: string, method: string, route: string, status: number): number {
  const prefix = `agent_task_status_http_requests_total{method="${method}",route="${route}",status="${status}"} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(prefix.length));
}

describe('who may read /metrics', () => {
  test('without METRICS_TOKEN: a loopback client over HTTP, not one that came through a proxy', async (t) => {
    const server = await startServer({ config: testConfig({ PORT: '0' }), realtime: false });
    t.after(() => server.close());
    assert.equal((await fetch(`${server.url}/metrics`)).status, 200);
    for (const header of ['X-Forwarded-For', 'Forwarded', 'X-Real-IP']) {
      const res = await fetch(`${server.url}/metrics`, { headers: { [header]: 'for=203.0.113.9' } });
      assert.equal(res.status, 403, header);
      const error = await errorOf(res);
      assert.equal(error.code, 'forbidden');
      assert.match(error.message, /METRICS_TOKEN/);
    }
  });

  test('without METRICS_TOKEN: a client on another machine gets 403 forbidden', async () => {
    const h = harness();
    for (const address of ['10.0.0.7', '::ffff:192.0.2.1', '2001:db8::1']) {
      const res = await h.app.request('/metrics', {}, connectionFrom(address));
      assert.equal(res.status, 403, address);
      assert.equal((await errorOf(res)).code, 'forbidden');
    }
  });

  test('with METRICS_TOKEN: that bearer token from everyone, loopback included; 401 without it', async (t) => {
    const token = 'a-metrics-token-for-prometheus';
    const server = await startServer({
      config: testConfig({ PORT: '0', METRICS_TOKEN: token }),
      realtime: false,
    });
    t.after(() => server.close());
    const missing = await fetch(`${server.url}/metrics`);
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer /);
    assert.equal((await errorOf(missing)).code, 'unauthorized');
    const wrong = await fetch(`${server.url}/metrics`, {
      headers: { Authorization: 'Bearer not-the-metrics-token' },
    });
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get('www-authenticate') ?? '', /invalid_token/);
    const right = await fetch(`${server.url}/metrics`, {
      headers: { Authorization: `Bearer ${token}`, 'X-Forwarded-For': '203.0.113.9' },
    });
    assert.equal(right.status, 200);
    assert.match(await right.text(), /^process_uptime_seconds /m);
    const remote = await harness({ env: { METRICS_TOKEN: token } }).app.request(
      '/metrics',
      { headers: { Authorization: `Bearer ${token}` } },
      connectionFrom('10.0.0.7'),
    );
    assert.equal(remote.status, 200, 'from another machine too');
  });
});
