// Issue "Persist in DynamoDB": a DynamoDB that accepts connections but stops answering (a hung
// process, a network that drops packets) is a 503 within the client's time bounds, not a request
// that hangs; and the same server answers again once DynamoDB does.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunningServer } from '../../../server/serve.js';
import type { DynamoTaskStore } from '../../../server/store/dynamodb/dynamo-task-store.js';
import { openStore, REMOTE_REQUEST_TIMEOUT_MS, type OpenedStore } from '../../../server/store/open-store.js';
import { StoreUnavailableError } from '../../../server/store/store-errors.js';
import { createTask, getStatus, postStatus, tempDir } from './support/agent-http.js';
import { dynamoStore, serveStore, TABLE_NAME } from './support/dynamo-store.js';
import { FreezableEndpoint } from './support/freezable-endpoint.js';
import { StandaloneDynalite } from './support/standalone-dynalite.js';

/** Short bounds so the test is quick; production's are 1.5 s and 3 attempts (open-store.ts). */
const REQUEST_TIMEOUT_MS = 300;
const ATTEMPTS = 2;
/** The 503 must come well within this; a hung request would hit it (fetch gives up). */
const ANSWER_WITHIN_MS = 5_000;

describe('the server while DynamoDB accepts connections but stops answering', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let dynamo: StandaloneDynalite;
  let relay: FreezableEndpoint;
  let store: DynamoTaskStore;
  let server: RunningServer;
  /** The store as the server opens it for a DYNAMODB_ENDPOINT: production's bounds. */
  let production: OpenedStore;
  let taskId: string;
  let token: string;
  let seq = 0;

  before(async () => {
    data = await tempDir('ats-hung-');
    dynamo = await StandaloneDynalite.start(path.join(data.dir, 'dynalite'));
    relay = await FreezableEndpoint.start(Number(new URL(dynamo.endpoint).port));
    ({ store } = await dynamoStore(relay.endpoint, {
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      maxAttempts: ATTEMPTS,
    }));
    server = await serveStore(store, { realtime: false });
    production = await openStore({
      kind: 'dynamodb',
      dataDir: data.dir,
      logTtlDays: 30,
      dynamodb: { endpoint: relay.endpoint, tableName: TABLE_NAME },
    });
    ({
      task: { id: taskId },
      agentToken: token,
    } = await createTask(server.url, 'agent-hung'));
    const res = await postStatus(server.url, taskId, token, { logs: [{ message: 'before' }] });
    assert.equal(res.status, 200);
    seq = res.body.task.seq;
  });

  after(async () => {
    relay?.thaw();
    await production?.close();
    await server?.close();
    await store?.close();
    await relay?.close();
    await dynamo?.stop();
    await data?.remove();
  });

  async function timed<T>(work: (signal: AbortSignal) => Promise<T>): Promise<{ result: T; ms: number }> {
    const started = Date.now();
    const result = await work(AbortSignal.timeout(ANSWER_WITHIN_MS));
    return { result, ms: Date.now() - started };
  }

  test('a POST answers 503 with Retry-After once the request timeouts are spent', async () => {
    relay.freeze();
    const { result: res, ms } = await timed(async (signal) => {
      const response = await fetch(`${server.url}/api/agent-tasks/${taskId}/status`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: JSON.stringify({ logs: [{ message: 'while hung' }] }),
        signal,
      });
      return {
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        body: await response.json(),
      };
    });
    assert.equal(res.status, 503);
    assert.equal(res.retryAfter, '5');
    assert.equal((res.body as { error: { code: string } }).error.code, 'store_unavailable');
    assert.ok(ms >= REQUEST_TIMEOUT_MS, `answered after ${ms} ms: it did wait for DynamoDB`);
  });

  test('a GET answers 503 the same way', async () => {
    const { result: status } = await timed(async (signal) => {
      const response = await fetch(`${server.url}/api/agent-tasks/${taskId}/status`, { signal });
      return response.status;
    });
    assert.equal(status, 503);
  });

  test("with production's bounds a hung DynamoDB is unavailable after about 5 s (3 attempts of 1.5 s)", async () => {
    const started = Date.now();
    await assert.rejects(production.store.getTask('t-never-seen-here'), StoreUnavailableError);
    const ms = Date.now() - started;
    const attempts = 3;
    assert.ok(
      ms >= attempts * REMOTE_REQUEST_TIMEOUT_MS,
      `gave up after ${ms} ms: it waited each attempt out`,
    );
    // The SDK's retry delays add well under a second.
    assert.ok(ms < attempts * REMOTE_REQUEST_TIMEOUT_MS + 1_500, `gave up after ${ms} ms`);
  });

  test('once DynamoDB answers again, the same server answers 200 and nothing from the hang was stored', async () => {
    relay.thaw();
    const res = await postStatus(server.url, taskId, token, { logs: [{ message: 'after' }] });
    assert.equal(res.status, 200);
    assert.equal(res.body.task.seq, seq + 1);
    const page = await getStatus(server.url, taskId, '?afterSeq=0');
    assert.deepEqual(
      page.body.logs.map((line) => line.message),
      ['before', 'after'],
    );
  });
});
