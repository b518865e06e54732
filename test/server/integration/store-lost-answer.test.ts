// A DynamoDB write can succeed while its answer is lost (a connection reset, a timeout, a 5xx after
// the fact); the SDK then sends the same request again. The conditional put that claims a seq slot
// (or creates a task) then fails against the item it wrote itself. Through the real server: one
// POST is one write, and one create is one task, also then.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ROUTES } from '../../../protocol/index.js';
import type { RunningServer } from '../../../server/serve.js';
import type { DynamoTaskStore } from '../../../server/store/dynamodb/dynamo-task-store.js';
import { TestClient } from '../realtime/realtime-harness.js';
import { createTask, postStatus, readAllLogs, tempDir } from './support/agent-http.js';
import { dynamoStore, serveStore } from './support/dynamo-store.js';
import { loseNextAnswer } from './support/sdk-faults.js';
import { StandaloneDynalite } from './support/standalone-dynalite.js';

describe('a DynamoDB write whose answer is lost and which the SDK sends again', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let dynamo: StandaloneDynalite;
  let client: DynamoDBDocumentClient;
  let store: DynamoTaskStore;
  let server: RunningServer;

  before(async () => {
    data = await tempDir('ats-lost-answer-');
    dynamo = await StandaloneDynalite.start(path.join(data.dir, 'dynalite'));
    ({ client, store } = await dynamoStore(dynamo.endpoint));
    server = await serveStore(store);
  });

  after(async () => {
    await server?.close();
    await store?.close();
    await dynamo?.stop();
    await data?.remove();
  });

  test('a POST is stored once, answered and published as a first write', async () => {
    const { task, agentToken } = await createTask(server.url, 'agent-lost-1');
    const subscriber = await TestClient.connect(server.url.replace('http', 'ws') + ROUTES.ws);
    try {
      subscriber.subscribe(task.id, 0);
      await subscriber.expect('snapshot');
      const lost = loseNextAnswer(client, 'PutItem');
      const res = await postStatus(server.url, task.id, agentToken, {
        message: 'once',
        logs: [{ message: 'line a' }, { message: 'line b' }],
      });
      assert.equal(lost.hits, 1, 'the answer to the batch put was lost once');
      lost.remove();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('idempotent-replayed'), null);
      assert.equal(res.body.task.seq, 3);
      const { logs } = await readAllLogs(server.url, task.id, 10);
      assert.deepEqual(
        logs.map(({ seq, message }) => ({ seq, message })),
        [
          { seq: 1, message: 'line a' },
          { seq: 2, message: 'line b' },
        ],
      );
      const update = await subscriber.expect('update');
      assert.equal(update.fromSeq, 1);
      assert.equal(update.task.seq, 3);
    } finally {
      subscriber.close();
    }
  });

  test('a POST with an Idempotency-Key is stored once and not answered as a replay', async () => {
    const { task, agentToken } = await createTask(server.url, 'agent-lost-2');
    const lost = loseNextAnswer(client, 'PutItem');
    const res = await postStatus(server.url, task.id, agentToken, { logs: [{ message: 'keyed' }] }, 'key-1');
    assert.equal(lost.hits, 1);
    lost.remove();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('idempotent-replayed'), null, 'the first answer to this key');
    assert.equal(res.body.task.seq, 1);
    assert.equal((await readAllLogs(server.url, task.id, 10)).logs.length, 1);
  });

  test('a task create answers 201 with a token that works', async () => {
    const lost = loseNextAnswer(client, 'PutItem');
    const res = await fetch(server.url + ROUTES.tasks, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ agentId: 'agent-lost-3', id: 't-lost-create' }),
    });
    assert.equal(lost.hits, 1);
    lost.remove();
    const body = (await res.json()) as { agentToken?: string; error?: unknown };
    assert.equal(res.status, 201, JSON.stringify(body));
    const post = await postStatus(server.url, 't-lost-create', body.agentToken!, { message: 'hello' });
    assert.equal(post.status, 200);
  });
});
