import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ROUTES } from '../../../protocol/index.js';
import { StoreUnavailableError } from '../../../server/store/store-errors.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';
import { errorOf, harness } from './harness.js';

const TWO_MB = 2 * 1024 * 1024;

/** A body of `bytes` bytes of valid JSON: one long message. */
function bigBody(bytes: number): string {
  return JSON.stringify({ message: 'x'.repeat(bytes) });
}

/** The same bytes as a stream in 64 KiB chunks: no Content-Length, as a chunked upload. */
function chunkedStream(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + 65_536));
      offset += 65_536;
    },
  });
}

describe('request bodies', () => {
  test('a 2 MB body with Content-Length answers 413', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    const res = await h.postStatus(task.id, agentToken, bigBody(TWO_MB));
    assert.equal(res.status, 413);
    const error = await errorOf(res);
    assert.equal(error.code, 'payload_too_large');
    assert.deepEqual(error.details, { maxBytes: 256 * 1024 });
  });

  test('a 2 MB chunked body without Content-Length answers 413', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    const res = await h.request(ROUTES.taskStatus(task.id), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${agentToken}` },
      body: chunkedStream(bigBody(TWO_MB)),
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
    assert.equal((await errorOf(res)).code, 'payload_too_large');
  });

  test('a chunked body under the limit is accepted', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    const res = await h.request(ROUTES.taskStatus(task.id), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${agentToken}` },
      body: chunkedStream(JSON.stringify({ message: 'y'.repeat(1000) })),
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 200);
  });

  test('a body that is not JSON answers 400 invalid_json', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    const res = await h.postStatus(task.id, agentToken, '{"phase": "running"');
    assert.equal(res.status, 400);
    assert.equal((await errorOf(res)).code, 'invalid_json');
  });

  test('an unknown field answers 400 validation_failed with details', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    const res = await h.postStatus(task.id, agentToken, {
      phase: 'running',
      colour: 'green',
    } as unknown as { phase: 'running' });
    assert.equal(res.status, 400);
    const error = await errorOf(res);
    assert.equal(error.code, 'validation_failed');
    assert.match(error.message, /colour/);
    assert.ok(Array.isArray(error.details));
    assert.deepEqual(Object.keys((error.details as object[])[0]!).sort(), ['message', 'path']);
  });

  test('every problem of a body is listed with its path', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    const res = await h.postStatus(task.id, agentToken, {
      progress: 150,
      logs: [{ message: '' }],
    });
    const error = await errorOf(res);
    assert.equal(res.status, 400);
    assert.deepEqual((error.details as { path: string }[]).map((issue) => issue.path).sort(), [
      'logs.0.message',
      'progress',
    ]);
  });

  test('an empty update answers 400 saying what to send', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    const res = await h.postStatus(task.id, agentToken, {});
    assert.equal(res.status, 400);
    assert.match((await errorOf(res)).message, /at least one of phase, progress, message/);
  });

  test('a non-JSON Content-Type answers 415', async () => {
    const h = harness();
    const { task, agentToken } = await h.createTask();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const res = await h.request(ROUTES.taskStatus(task.id), {
        method: 'POST',
        headers: { 'Content-Type': type, Authorization: `Bearer ${agentToken}` },
        body: '{"phase":"running"}',
      });
      assert.equal(res.status, 415, type);
      assert.equal((await errorOf(res)).code, 'unsupported_media_type');
    }
    const none = await h.request(ROUTES.tasks, { method: 'POST', body: '{"agentId":"a"}' });
    assert.equal(none.status, 415);
  });

  test('a JSON Content-Type with a charset is accepted', async () => {
    const h = harness();
    const res = await h.request(ROUTES.tasks, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
      body: '{"agentId":"agent-1"}',
    });
    assert.equal(res.status, 201);
  });

  test('an invalid task id in the path answers 400', async () => {
    const h = harness();
    const res = await h.request('/api/agent-tasks/bad%20id/status');
    assert.equal(res.status, 400);
    assert.match((await errorOf(res)).message, /task id/);
  });
});

describe('error answers', () => {
  test('an unknown route answers 404 JSON', async () => {
    const h = harness();
    const res = await h.request('/api/nothing-here');
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.match((await errorOf(res)).message, /no route for GET \/api\/nothing-here/);
  });

  test('an unavailable store answers 503 store_unavailable with Retry-After', async () => {
    const store = new MemoryTaskStore();
    const h = harness({ store });
    const { task, agentToken } = await h.createTask();
    store.append = async () => {
      throw new StoreUnavailableError('throttled', 7);
    };
    const res = await h.postStatus(task.id, agentToken, { phase: 'running' });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '7');
    assert.equal((await errorOf(res)).code, 'store_unavailable');
    assert.equal(h.logged[0]?.level, 'warn');
  });

  test('an unexpected failure answers 500 internal, logs it, and leaks no stack', async () => {
    const store = new MemoryTaskStore();
    const h = harness({ store });
    store.getActiveTask = async () => {
      throw new TypeError('secret detail at /srv/app.ts:12');
    };
    const res = await h.request(ROUTES.activeTask('agent-1'));
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.equal(text.includes('secret detail'), false);
    assert.equal(JSON.parse(text).error.code, 'internal');
    assert.equal(h.logged[0]?.level, 'error');
    assert.ok(
      h.logged[0]?.args.some((arg) => arg instanceof TypeError),
      'the error itself is logged',
    );
  });
});
