// Issue "Persist in DynamoDB": the real server, killed with SIGKILL while an agent posts, comes
// back on the same DATA_DIR with every acknowledged event, the seq chain intact, and
// Idempotency-Keys still remembered.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LOG_LEVELS, type LogEntry, type StatusUpdateInput, type Task } from '../../../protocol/index.js';
import {
  createTask,
  getStatus,
  postStatus,
  readAllLogs,
  tempDir,
  type Answer,
} from './support/agent-http.js';
import { ServerRun, type Exit } from '../../support/server-process.js';

const WORKERS = 4;
/** Workers below this index send every post with an Idempotency-Key; the others never do. */
const KEYED_WORKERS = 2;
const LINES_PER_POST = 5;
/** Acknowledged posts before the kill: enough for several pages and many DynamoDB items. */
const KILL_AFTER_ACKS = 40;

interface Attempt {
  n: number;
  update: StatusUpdateInput;
  key: string | undefined;
  /** The 200 answer: the post was acknowledged. */
  ack?: Answer<{ task: Task }>;
  /** No answer at all: the server died with the request in flight (or refused the connection). */
  lost?: boolean;
}

/** Post n: five lines and a status change, so it takes six seqs: its lines, then the status. */
function updateFor(n: number): StatusUpdateInput {
  return {
    progress: n % 101,
    message: `post ${n}`,
    logs: Array.from({ length: LINES_PER_POST }, (_, j) => ({
      level: LOG_LEVELS[j % LOG_LEVELS.length],
      message: `post ${n} line ${j}`,
    })),
  };
}

/** Stored lines by post number; a post stored twice would show up as ten lines. */
function linesByPost(logs: readonly LogEntry[]): Map<number, LogEntry[]> {
  const byPost = new Map<number, LogEntry[]>();
  for (const line of logs) {
    const match = /^post (\d+) line (\d)$/.exec(line.message);
    if (!match) continue;
    const n = Number(match[1]);
    byPost.set(n, [...(byPost.get(n) ?? []), line]);
  }
  return byPost;
}

describe('the server killed with SIGKILL mid-stream and restarted on the same DATA_DIR', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let first: ServerRun;
  let second: ServerRun;
  let url: string;
  let taskId: string;
  let token: string;
  let killed: Exit;
  /** Whether a reader saw a write no answer had reported yet, just before the kill. */
  let killedMidWrite = false;
  /** The task's seq as a reader last saw it before the kill. */
  let seenBeforeKill = 0;
  const attempts: Attempt[] = [];
  /** task.seq right after the restart, and after the test that posts once more. */
  let seqAfterRestart = 0;
  let seqNow = 0;

  before(async () => {
    data = await tempDir('ats-sigkill-');
    first = ServerRun.start({ DATA_DIR: data.dir });
    const firstUrl = await first.listening();
    const created = await createTask(firstUrl, 'agent-crash');
    taskId = created.task.id;
    token = created.agentToken;

    // The agent: several posts in flight at all times; every answer is recorded.
    let next = 0;
    let acked = 0;
    let enough!: () => void;
    const enoughAcked = new Promise<void>((resolve) => (enough = resolve));
    async function worker(index: number): Promise<void> {
      for (;;) {
        const n = ++next;
        const attempt: Attempt = {
          n,
          update: updateFor(n),
          key: index < KEYED_WORKERS ? `crash-key-${n}` : undefined,
        };
        attempts.push(attempt);
        let answer;
        try {
          answer = await postStatus(firstUrl, taskId, token, attempt.update, attempt.key);
        } catch {
          attempt.lost = true;
          return; // the server is gone; this worker's last post is in doubt
        }
        if (answer.status !== 200) {
          throw new Error(
            `post ${n} answered ${answer.status} before the kill: ${JSON.stringify(answer.body)}`,
          );
        }
        attempt.ack = answer;
        if (++acked >= KILL_AFTER_ACKS) enough();
      }
    }
    const agent = Promise.all(Array.from({ length: WORKERS }, (_, index) => worker(index)));
    await Promise.race([enoughAcked, agent]);
    // Aim the kill inside a write: a reader that sees a seq no answer has reported yet caught a
    // write whose batch item is stored while its IDEM item, status item or answer may not be.
    const ackedSeq = () => Math.max(...attempts.map((a) => a.ack?.body.task.seq ?? 0));
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      seenBeforeKill = (await getStatus(firstUrl, taskId)).body.task.seq;
      if (seenBeforeKill > ackedSeq()) {
        killedMidWrite = true;
        break;
      }
    }
    killed = await first.kill('SIGKILL');
    await agent;

    second = ServerRun.start({ DATA_DIR: data.dir });
    url = await second.listening();
  });

  after(async () => {
    await first?.kill('SIGKILL');
    await second?.kill('SIGTERM');
    await data?.remove();
  });

  test('starts again cleanly although the killed process left its LevelDB LOCK file behind', async (t) => {
    assert.equal(killed.signal, 'SIGKILL');
    assert.ok((await stat(path.join(data.dir, 'dynalite', 'LOCK'))).isFile(), 'the LOCK file is still there');
    assert.match(second.stdout, /store: dynamodb \(embedded dynalite, .*dynalite, table agent-task-status\)/);
    assert.doesNotMatch(second.stderr, /in use|failed to start/);
    const lost = attempts.filter((a) => a.lost).length;
    assert.equal(lost, WORKERS, 'each worker had exactly one post in flight when the server died');
    t.diagnostic(
      `${attempts.filter((a) => a.ack).length} posts acknowledged, ${lost} in flight at the kill, ` +
        `${killedMidWrite ? `a reader saw seq ${seenBeforeKill} before its answer` : 'no unanswered write seen'}`,
    );
  });

  test('every acknowledged post is stored, with the seqs it was acknowledged with', async () => {
    const byPost = linesByPost((await readAllLogs(url, taskId, 7)).logs);
    for (const { n, update, ack } of attempts) {
      if (!ack) continue;
      const lines = byPost.get(n);
      assert.ok(lines, `acknowledged post ${n} is missing`);
      // Its lines take the seqs just before the acknowledged task.seq (the status change).
      const last = ack.body.task.seq - 1;
      assert.deepEqual(
        lines.map(({ seq, level, message }) => ({ seq, level, message })),
        update.logs!.map((line, j) => ({
          seq: last - LINES_PER_POST + 1 + j,
          level: line.level,
          message: line.message,
        })),
        `post ${n}`,
      );
    }
  });

  test('seqs run 1..N with no hole and no seq used twice, and the status is the latest write', async (t) => {
    const status = await getStatus(url, taskId);
    assert.equal(status.status, 200);
    seqAfterRestart = status.body.task.seq;
    const byPost = linesByPost((await readAllLogs(url, taskId, 50)).logs);
    const taken: number[] = [];
    let latest = 0;
    for (const [n, lines] of byPost) {
      assert.equal(lines.length, LINES_PER_POST, `post ${n} is stored whole and once`);
      lines.forEach((line, j) =>
        assert.equal(line.seq, lines[0]!.seq + j, `post ${n}'s lines are contiguous`),
      );
      const statusSeq = lines[0]!.seq + LINES_PER_POST;
      taken.push(...lines.map((line) => line.seq), statusSeq);
      if (statusSeq === seqAfterRestart) latest = n;
    }
    taken.sort((a, b) => a - b);
    assert.deepEqual(
      taken,
      Array.from({ length: seqAfterRestart }, (_, i) => i + 1),
    );
    assert.ok(latest > 0, 'the latest seq is the status change of a stored post');
    assert.ok(seqAfterRestart >= seenBeforeKill, 'a write a reader has seen is never lost');
    assert.equal(status.body.task.message, `post ${latest}`);
    assert.equal(status.body.task.progress, latest % 101);
    const landed = attempts.filter((a) => a.lost && byPost.has(a.n)).length;
    t.diagnostic(`N = ${seqAfterRestart}; ${landed} of the posts in flight at the kill were stored`);
  });

  test('the next post continues the chain at N+1', async () => {
    const res = await postStatus(url, taskId, token, {
      message: 'after the restart',
      logs: [{ message: 'first line after the restart' }],
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.task.seq, seqAfterRestart + 2, 'one line and one status change');
    const page = await getStatus(url, taskId, `?afterSeq=${seqAfterRestart}`);
    assert.deepEqual(
      page.body.logs.map(({ seq, message }) => ({ seq, message })),
      [{ seq: seqAfterRestart + 1, message: 'first line after the restart' }],
    );
    seqNow = res.body.task.seq;
  });

  test('a retry of an acknowledged Idempotency-Key returns the first answer and stores nothing', async () => {
    const acked = attempts.find((a) => a.key !== undefined && a.ack);
    assert.ok(acked, 'a keyed post was acknowledged before the kill');
    const retry = await postStatus(url, taskId, token, acked.update, acked.key);
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(retry.body, acked.ack!.body);
    assert.equal((await getStatus(url, taskId)).body.task.seq, seqNow);
  });

  test('the same Idempotency-Key with another body is refused with 422 and stores nothing', async () => {
    const acked = attempts.find((a) => a.key !== undefined && a.ack)!;
    const res = await postStatus(
      url,
      taskId,
      token,
      { ...acked.update, message: 'something else' },
      acked.key,
    );
    assert.equal(res.status, 422);
    assert.equal(res.body.error?.code, 'idempotency_mismatch');
    assert.equal((await getStatus(url, taskId)).body.task.seq, seqNow);
  });

  test('retrying the keyed posts that were in flight at the kill stores each of them exactly once', async () => {
    const before = linesByPost((await readAllLogs(url, taskId, 200)).logs);
    const inDoubt = attempts.filter((a) => a.lost && a.key !== undefined);
    assert.equal(inDoubt.length, KEYED_WORKERS);
    for (const attempt of inDoubt) {
      const res = await postStatus(url, taskId, token, attempt.update, attempt.key);
      assert.equal(res.status, 200);
      // Stored before the kill: the retry is a replay. Not stored: the retry stores it now.
      assert.equal(
        res.headers.get('idempotent-replayed') === 'true',
        before.has(attempt.n),
        `post ${attempt.n}`,
      );
    }
    const afterRetries = linesByPost((await readAllLogs(url, taskId, 200)).logs);
    for (const attempt of inDoubt) {
      assert.equal(afterRetries.get(attempt.n)?.length, LINES_PER_POST, `post ${attempt.n} is stored once`);
    }
  });
});
