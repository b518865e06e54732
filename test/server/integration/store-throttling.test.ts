// Issue "Persist in DynamoDB": throttling that outlasts the SDK's retries is a 503 with
// Retry-After, stores nothing, and ends by itself when DynamoDB stops throttling.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunningServer } from '../../../server/serve.js';
import type { DynamoTaskStore } from '../../../server/store/dynamodb/dynamo-task-store.js';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createTask, getStatus, postStatus, readAllLogs, tempDir } from './support/agent-http.js';
import { dynamoStore, serveStore } from './support/dynamo-store.js';
import { injectThrottling } from './support/sdk-faults.js';
import { StandaloneDynalite } from './support/standalone-dynalite.js';

/** The SDK's attempts per request in createDynamoClient (its retries included). */
const SDK_ATTEMPTS = 3;

describe('the server while DynamoDB throttles its requests', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let dynamo: StandaloneDynalite;
  let client: DynamoDBDocumentClient;
  let store: DynamoTaskStore;
  let server: RunningServer;
  let taskId: string;
  let token: string;
  let seq = 0;

  before(async () => {
    data = await tempDir('ats-throttle-');
    dynamo = await StandaloneDynalite.start(path.join(data.dir, 'dynalite'));
    ({ client, store } = await dynamoStore(dynamo.endpoint));
    server = await serveStore(store);
    ({
      task: { id: taskId },
      agentToken: token,
    } = await createTask(server.url, 'agent-throttled'));
    const res = await postStatus(server.url, taskId, token, { logs: [{ message: 'before' }] });
    assert.equal(res.status, 200);
    seq = res.body.task.seq;
  });

  after(async () => {
    await server?.close();
    await store?.close();
    await dynamo?.stop();
    await data?.remove();
  });

  test('a POST whose write stays throttled through the SDK retries answers 503 with Retry-After: 1 and stores nothing', async () => {
    const throttling = injectThrottling(client, ['PutItem']);
    try {
      const res = await postStatus(server.url, taskId, token, { logs: [{ message: 'throttled' }] });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '1');
      assert.equal(res.body.error?.code, 'store_unavailable');
      assert.equal(res.body.error?.message, 'the task store is unavailable right now; retry in 1 s');
      assert.equal(throttling.hits, SDK_ATTEMPTS, 'the SDK retried the throttled put before giving up');
    } finally {
      throttling.remove();
    }
    const status = await getStatus(server.url, taskId);
    assert.equal(status.status, 200);
    assert.equal(status.body.task.seq, seq);
  });

  test('a GET whose reads are throttled answers 503 with Retry-After: 1', async () => {
    const throttling = injectThrottling(client);
    try {
      const res = await getStatus(server.url, taskId);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '1');
      assert.equal(res.body.error?.code, 'store_unavailable');
    } finally {
      throttling.remove();
    }
  });

  test('without the throttling the same server answers 200 again and holds only what it acknowledged', async () => {
    const res = await postStatus(server.url, taskId, token, { logs: [{ message: 'after' }] });
    assert.equal(res.status, 200);
    assert.equal(res.body.task.seq, seq + 1);
    const { logs } = await readAllLogs(server.url, taskId, 10);
    assert.deepEqual(
      logs.map(({ seq, message }) => ({ seq, message })),
      [
        { seq: 1, message: 'before' },
        { seq: 2, message: 'after' },
      ],
    );
  });
});
