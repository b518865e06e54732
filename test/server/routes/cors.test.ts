import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ROUTES } from '../../../protocol/index.js';
import type { Realtime } from '../../../server/realtime/realtime.js';
import { harness } from './harness.js';

describe('CORS on the read routes', () => {
  test('an allowed origin may read status, logs and the active task, with ETag exposed', async () => {
    const h = harness({ env: { ALLOWED_ORIGINS: 'https://dash.example.com' } });
    const { task } = await h.createTask({ agentId: 'agent-1' });
    for (const path of [ROUTES.taskStatus(task.id), ROUTES.taskLogs(task.id), ROUTES.activeTask('agent-1')]) {
      const res = await h.request(path, { headers: { Origin: 'https://dash.example.com' } });
      assert.equal(res.headers.get('access-control-allow-origin'), 'https://dash.example.com', path);
      assert.match(res.headers.get('access-control-expose-headers') ?? '', /ETag/);
      assert.match(res.headers.get('vary') ?? '', /Origin/);
    }
  });

  test('another origin gets no Access-Control-Allow-Origin', async () => {
    const h = harness({ env: { ALLOWED_ORIGINS: 'https://dash.example.com' } });
    const { task } = await h.createTask();
    const res = await h.request(ROUTES.taskStatus(task.id), { headers: { Origin: 'https://evil.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  test('the default list allows any localhost port', async () => {
    const h = harness();
    const { task } = await h.createTask();
    const res = await h.request(ROUTES.taskStatus(task.id), { headers: { Origin: 'http://localhost:5173' } });
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:5173');
  });

  test('a preflight for a revalidating GET allows If-None-Match', async () => {
    const h = harness({ env: { ALLOWED_ORIGINS: 'https://dash.example.com' } });
    const { task } = await h.createTask();
    const res = await h.request(ROUTES.taskStatus(task.id), {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://dash.example.com',
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'if-none-match',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://dash.example.com');
    assert.equal(res.headers.get('access-control-allow-methods'), 'GET,HEAD');
    assert.equal(res.headers.get('access-control-allow-headers'), 'If-None-Match,Authorization');
  });

  test('the status POST gets no CORS headers: agents are not browsers', async () => {
    const h = harness({ env: { ALLOWED_ORIGINS: '*' } });
    const { task, agentToken } = await h.createTask();
    const res = await h.postStatus(
      task.id,
      agentToken,
      { progress: 1 },
      { Origin: 'https://dash.example.com' },
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  test('the WebSocket route gets no CORS middleware', async () => {
    const realtime = {
      stats: () => ({ connections: 0, subscriptions: 0, delivered: 0 }),
    } as unknown as Realtime;
    const h = harness({ env: { ALLOWED_ORIGINS: '*' }, realtime });
    const res = await h.request(ROUTES.ws, { headers: { Origin: 'https://dash.example.com' } });
    assert.equal(res.status, 426);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });
});
