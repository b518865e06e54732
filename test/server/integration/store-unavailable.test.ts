// Issue "Persist in DynamoDB": the server on a DynamoDB endpoint that goes away answers 503 with
// Retry-After, writes nothing half-way, keeps its WebSocket subscribers, and recovers by itself.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LogEntry, StatusUpdateInput } from '../../../protocol/index.js';
import { loadConfig } from '../../../server/config.js';
import { startServer, type RunningServer } from '../../../server/serve.js';
import { TestClient } from '../realtime/realtime-harness.js';
import { createTask, getStatus, postStatus, readAllLogs, tempDir } from './support/agent-http.js';
import { operationOf, StandaloneDynalite } from './support/standalone-dynalite.js';

function lines(prefix: string, count: number, chars = 0): StatusUpdateInput['logs'] {
  return Array.from({ length: count }, (_, i) => ({
    message: `${prefix} line ${i}`.padEnd(chars, '.'),
  }));
}

describe('the server while its DynamoDB endpoint goes away and comes back', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let dynamo: StandaloneDynalite;
  let server: RunningServer;
  let taskId: string;
  let token: string;
  let otherTaskId: string;
  let subscriber: TestClient;
  const warnings: string[] = [];
  /** Every line the server acknowledged (200), as (seq, message). */
  const acknowledged: Pick<LogEntry, 'seq' | 'message'>[] = [];
  let seqBeforeOutage = 0;

  async function post(update: StatusUpdateInput) {
    const res = await postStatus(server.url, taskId, token, update);
    if (res.status === 200) {
      const first =
        res.body.task.seq - (update.logs?.length ?? 0) - (update.message === undefined ? 0 : 1) + 1;
      (update.logs ?? []).forEach((line, i) => acknowledged.push({ seq: first + i, message: line.message }));
    }
    return res;
  }

  before(async () => {
    data = await tempDir('ats-outage-');
    dynamo = await StandaloneDynalite.start(path.join(data.dir, 'dynalite'));
    const config = loadConfig({
      STORE: 'dynamodb',
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      PORT: '0',
      DATA_DIR: path.join(data.dir, 'unused'),
      RATE_LIMIT_PER_MINUTE: '0',
      BODY_LIMIT_BYTES: String(1024 * 1024),
      STATIC_DIR: '/nonexistent/agent-task-status-dist',
    });
    server = await startServer({
      config,
      log: {
        error: (...args: unknown[]) => console.error(...args),
        warn: (line: string) => warnings.push(line),
      },
    });
  });

  after(async () => {
    subscriber?.close();
    await server?.close();
    await dynamo?.stop();
    await data?.remove();
  });

  test('answers 200 and streams to a subscriber while DynamoDB is up', async () => {
    ({
      task: { id: taskId },
      agentToken: token,
    } = await createTask(server.url, 'agent-outage'));
    otherTaskId = (await createTask(server.url, 'agent-other')).task.id;
    const res = await post({ phase: 'running', message: 'before', logs: lines('before', 3) });
    assert.equal(res.status, 200);
    seqBeforeOutage = res.body.task.seq;

    subscriber = await TestClient.connect(server.url.replace('http', 'ws') + '/api/agent-tasks/ws');
    subscriber.subscribe(taskId, 0);
    const snapshot = await subscriber.expect('snapshot');
    assert.equal(snapshot.task.seq, seqBeforeOutage);
    assert.equal(snapshot.logs.length, 3);
  });

  test('a POST answers 503 store_unavailable with Retry-After and a clear message while DynamoDB is down', async () => {
    await dynamo.stop();
    const res = await post({ message: 'during', logs: lines('during', 2) });
    assert.equal(res.status, 503);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    assert.equal(res.body.error?.code, 'store_unavailable');
    assert.equal(
      res.body.error?.message,
      `the task store is unavailable right now; retry in ${res.headers.get('retry-after')} s`,
    );
    assert.ok(
      warnings.some((line) => line.startsWith(`store unavailable on POST /api/agent-tasks/${taskId}/status`)),
      'the outage is logged as a warning',
    );
  });

  test('GET status and GET logs answer 503 likewise', async () => {
    for (const res of [
      await getStatus(server.url, taskId),
      await getStatus(server.url, taskId, '?afterSeq=0'),
    ]) {
      assert.equal(res.status, 503);
      assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      assert.equal(res.body.error?.code, 'store_unavailable');
    }
    const logs = await fetch(`${server.url}/api/agent-tasks/${taskId}/logs?afterSeq=0`);
    assert.equal(logs.status, 503);
    assert.ok(logs.headers.get('retry-after'));
  });

  test('the WebSocket subscriber stays connected; a subscribe meanwhile is answered with an error, not a close', async () => {
    // A task this server has not seen lately: only the store can answer (one whose head it wrote
    // or read within HEAD_FRESH_MS, with nothing to read after the cursor, it answers itself).
    subscriber.subscribe(otherTaskId);
    subscriber.subscribe('t-not-seen-here');
    const known = await subscriber.expect('snapshot');
    assert.equal(known.taskId, otherTaskId, 'created here a moment ago, nothing written since');
    const error = await subscriber.expect('error');
    assert.equal(error.code, 'store_unavailable');
    assert.equal(error.taskId, 't-not-seen-here');
    assert.equal(subscriber.ws.readyState, subscriber.ws.OPEN);
  });

  test('a POST cut off while its first item is being written stores nothing at all', async () => {
    // Up again, but it dies as the first PutItem of the next write arrives: a write big enough
    // to need overflow parts, so the cut falls between its first part and its batch item.
    await dynamo.start();
    let cut: Promise<void> | null = null;
    dynamo.onRequest = (request) => {
      if (operationOf(request) === 'PutItem') cut ??= dynamo.stop();
    };
    const res = await post({ message: 'cut', logs: lines('cut', 100, 4_000) });
    assert.ok(cut, 'the write reached DynamoDB');
    assert.equal(res.status, 503);
    assert.equal(res.body.error?.code, 'store_unavailable');
    dynamo.onRequest = null;
  });

  test('once DynamoDB is back the same server answers 200 again, continuing right after the acknowledged seqs', async () => {
    await dynamo.start();
    const res = await post({ message: 'after', logs: lines('after', 2) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.task.seq, seqBeforeOutage + 3, 'nothing from the outage took a seq');
  });

  test('the store holds exactly the acknowledged lines, nothing from the refused or cut-off posts', async () => {
    const { logs } = await readAllLogs(server.url, taskId, 4);
    assert.deepEqual(
      logs.map(({ seq, message }) => ({ seq, message })),
      acknowledged,
    );
    assert.deepEqual(
      acknowledged.map((line) => line.message),
      ['before line 0', 'before line 1', 'before line 2', 'after line 0', 'after line 1'],
    );
  });

  test('the subscriber, never disconnected, receives the update after the recovery', async () => {
    const update = await subscriber.expect('update');
    assert.equal(update.taskId, taskId);
    assert.equal(update.fromSeq, seqBeforeOutage + 1, 'no gap: the outage published nothing');
    assert.deepEqual(
      update.logs.map((line) => line.message),
      ['after line 0', 'after line 1'],
    );
    assert.equal(update.task.message, 'after');
    assert.equal(subscriber.ws.readyState, subscriber.ws.OPEN);
    // And it can subscribe to what failed during the outage.
    subscriber.subscribe(otherTaskId);
    assert.equal((await subscriber.expect('snapshot')).taskId, otherTaskId);
  });
});
