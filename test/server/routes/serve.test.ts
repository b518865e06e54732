import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ROUTES, type CreateTaskResponse } from '../../../protocol/index.js';
import { startServer, type RunningServer } from '../../../server/serve.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import { testConfig } from './harness.js';

/** POSTs `totalBytes` with Transfer-Encoding: chunked and no Content-Length; resolves the answer. */
function postChunked(url: string, headers: Record<string, string>, totalBytes: number) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'Transfer-Encoding': 'chunked' } });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // The server may answer and close before the whole body is sent: that is the point.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    req.write('{"message":"');
    let sent = 0;
    const pump = () => {
      while (sent < totalBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end('"}');
    };
    pump();
  });
}

describe('startServer on a real socket', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer({ config: testConfig({ PORT: '0' }), realtime: false });
  });
  after(() => server.close());

  test('listens on the port it was given (0: a free one) and serves the API', async () => {
    assert.ok(server.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
    const res = await fetch(`${server.url}/healthz`);
    assert.deepEqual(await res.json(), { ok: true });
  });

  test('a 2 MB chunked body without Content-Length answers 413', async () => {
    const created = await fetch(`${server.url}${ROUTES.tasks}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ agentId: 'agent-1' }),
    });
    const { task, agentToken } = (await created.json()) as CreateTaskResponse;
    const res = await postChunked(
      `${server.url}${ROUTES.taskStatus(task.id)}`,
      { 'Content-Type': 'application/json', Authorization: `Bearer ${agentToken}` },
      2 * 1024 * 1024,
    );
    assert.equal(res.status, 413);
    assert.equal(JSON.parse(res.body).error.code, 'payload_too_large');
  });
});

test('close() stops accepting connections and leaves a given store open', async () => {
  const store = new MemoryTaskStore();
  let closed = false;
  store.close = async () => {
    closed = true;
  };
  const server = await startServer({ config: testConfig({ PORT: '0' }), store, realtime: false });
  await server.close();
  await assert.rejects(fetch(`${server.url}/healthz`));
  assert.equal(closed, false);
});

test('startServer rejects when the port is taken', async () => {
  const first = await startServer({ config: testConfig({ PORT: '0' }), realtime: false });
  try {
    await assert.rejects(
      startServer({ config: testConfig({ PORT: String(first.port) }), realtime: false }),
      /EADDRINUSE/,
    );
  } finally {
    await first.close();
  }
});

test('startServer mounts the realtime hub unless told not to', async () => {
  const server = await startServer({ config: testConfig({ PORT: '0' }) });
  try {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^agent_task_status_ws_connections 0$/m);
  } finally {
    await server.close();
  }
});
