import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROUTES } from '../../../protocol/index.js';
import type { Realtime } from '../../../server/realtime/realtime.js';
import { harness } from './harness.js';

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
  const res = await h.request('/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /^# TYPE agent_task_status_http_requests_total counter$/m);
  assert.match(
    text,
    /^agent_task_status_http_requests_total\{method="POST",route="\/api\/agent-tasks",status="201"\} 1$/m,
  );
  assert.match(
    text,
    /^agent_task_status_http_requests_total\{method="GET",route="\/api\/agent-tasks\/:id\/status",status="200"\} 1$/m,
  );
  assert.match(
    text,
    /^agent_task_status_http_requests_total\{method="GET",route="\/api\/agent-tasks\/:id\/status",status="404"\} 1$/m,
  );
  assert.match(
    text,
    /^agent_task_status_http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m,
  );
  assert.match(text, /^process_uptime_seconds \d+(\.\d+)?$/m);
  assert.equal(text.includes('agent_task_status_ws_'), false, 'no WebSocket figures without realtime');
});

test('/metrics includes the realtime figures when realtime is mounted', async () => {
  const realtime = {
    upgrade: async () => new Response(null, { status: 426 }),
    stats: () => ({ connections: 3, subscriptions: 5, delivered: 42 }),
  } as unknown as Realtime;
  const text = await (await harness({ realtime }).request('/metrics')).text();
  assert.match(text, /^agent_task_status_ws_connections 3$/m);
  assert.match(text, /^agent_task_status_ws_subscriptions 5$/m);
  assert.match(text, /^# TYPE agent_task_status_ws_delivered_total counter$/m);
  assert.match(text, /^agent_task_status_ws_delivered_total 42$/m);
});

test('the WebSocket route answers 404 when realtime is not mounted', async () => {
  const res = await harness().request(ROUTES.ws);
  assert.equal(res.status, 404);
});
