// Issue "Persist in DynamoDB": the limits of a POST, through the real server on the default store
// (embedded dynalite): a line over the limit is refused with the limit named; the biggest allowed
// POST (500 lines of 8,000 characters) is stored whole and reads back through the logs route,
// across DynamoDB's 1 MB Query pages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LIMITS, type LogEntry } from '../../../protocol/index.js';
import { loadConfig } from '../../../server/config.js';
import { startServer, type RunningServer } from '../../../server/serve.js';
import { PAGE_MAX_BYTES } from '../../../server/store/page-collector.js';
import { createTask, getStatus, postStatus, readAllLogs, tempDir } from './support/agent-http.js';

/** A line of exactly `chars` characters (UTF-16 code units, as zod counts), unique by `tag`. */
function line(tag: string, chars: number, filler: string): string {
  const head = `${tag}|`;
  return head + filler.repeat(chars - head.length);
}

/** Lines a page holds from the start of `lines`: `limit`, or up to the one that reaches 1 MiB of text. */
function pageSize(lines: readonly string[], limit: number): number {
  let bytes = 0;
  const most = Math.min(limit, lines.length);
  for (let i = 0; i < most; i++) {
    bytes += Buffer.byteLength(lines[i]!);
    if (bytes >= PAGE_MAX_BYTES) return i + 1;
  }
  return most;
}

/** Pages a forward read of `lines` takes. */
function pageCount(lines: readonly string[], limit: number): number {
  let pages = 0;
  for (let at = 0; at < lines.length; pages++) at += pageSize(lines.slice(at), limit);
  return pages;
}

describe('POST limits through the real server on embedded dynalite', () => {
  let data: Awaited<ReturnType<typeof tempDir>>;
  let server: RunningServer;
  let taskId: string;
  let token: string;
  /** Every line posted and acknowledged, in order. */
  const posted: string[] = [];

  before(async () => {
    data = await tempDir('ats-limits-');
    server = await startServer({
      config: loadConfig({
        STORE: 'dynamodb',
        DATA_DIR: data.dir,
        PORT: '0',
        RATE_LIMIT_PER_MINUTE: '0',
        // The biggest POST is about 8 MB of JSON here; the default limit is 256 KiB.
        BODY_LIMIT_BYTES: String(16 * 1024 * 1024),
        STATIC_DIR: '/nonexistent/agent-task-status-dist',
      }),
      realtime: false,
    });
    ({
      task: { id: taskId },
      agentToken: token,
    } = await createTask(server.url, 'agent-big'));
  });

  after(async () => {
    await server?.close();
    await data?.remove();
  });

  test('a log line one character over the limit is refused with 400 naming the limit, and nothing is stored', async () => {
    const res = await postStatus(server.url, taskId, token, {
      logs: [{ message: 'fine' }, { message: 'x'.repeat(LIMITS.logLineChars + 1) }],
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error?.code, 'validation_failed');
    assert.match(
      res.body.error?.message ?? '',
      new RegExp(`logs\\.1\\.message: .*\\b${LIMITS.logLineChars}\\b`),
    );
    assert.equal((await getStatus(server.url, taskId)).body.task.seq, 0);
  });

  test(`a POST of ${LIMITS.logLinesPerPost} lines of ${LIMITS.logLineChars} characters is stored whole`, async () => {
    // Half ASCII, half three-byte UTF-8 ("€"): about 8 MB, split over many overflow items.
    const lines = Array.from({ length: LIMITS.logLinesPerPost }, (_, i) =>
      line(`big ${i}`, LIMITS.logLineChars, i % 2 === 0 ? 'a' : '€'),
    );
    const res = await postStatus(server.url, taskId, token, { logs: lines.map((message) => ({ message })) });
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
    assert.equal(res.body.task.seq, LIMITS.logLinesPerPost);
    posted.push(...lines);
  });

  test('POSTs stored inline, together over 1 MB, follow it', async () => {
    // 36 lines of 8,000 ASCII characters fit one item (< 300 KB): five of them are 1.4 MB of
    // items, more than one DynamoDB Query page.
    for (let post = 0; post < 5; post++) {
      const lines = Array.from({ length: 36 }, (_, i) =>
        line(`inline ${post}.${i}`, LIMITS.logLineChars, 'b'),
      );
      const res = await postStatus(server.url, taskId, token, {
        logs: lines.map((message) => ({ message })),
      });
      assert.equal(res.status, 200);
      posted.push(...lines);
    }
  });

  function assertAllLines(logs: readonly LogEntry[]): void {
    assert.equal(logs.length, posted.length);
    logs.forEach((entry, i) => {
      assert.equal(entry.seq, i + 1, `line ${i} has seq ${i + 1}`);
      assert.ok(
        entry.message === posted[i],
        `line ${i} reads back complete (${entry.message.length} characters)`,
      );
    });
  }

  test('every line reads back complete through the logs route, in pages of 50', async () => {
    const { logs, pages } = await readAllLogs(server.url, taskId, 50);
    assertAllLines(logs);
    assert.equal(pages, pageCount(posted, 50));
  });

  test(`every line reads back complete in pages of ${LIMITS.logsPageMax}, each stopped at 1 MiB of text`, async () => {
    const { logs, pages } = await readAllLogs(server.url, taskId, LIMITS.logsPageMax);
    assertAllLines(logs);
    assert.equal(pages, pageCount(posted, LIMITS.logsPageMax));
    assert.ok(pages > 1, 'about 5.5 MB of lines take several pages');
  });

  test('the tail and the page before it read back the latest lines', async () => {
    const tail = await getStatus(server.url, taskId);
    assert.equal(tail.status, 200);
    assert.equal(tail.body.hasOlder, true);
    const newestFirst = posted.toReversed();
    const tailSize = pageSize(newestFirst, LIMITS.tailLines);
    assert.ok(
      tail.body.logs.map((entry) => entry.message).join('\n') === posted.slice(-tailSize).join('\n'),
      `the tail is the latest ${tailSize} lines`,
    );
    const before = await getStatus(server.url, taskId, `?beforeSeq=${tail.body.logs[0]!.seq}&limit=300`);
    const beforeSize = pageSize(newestFirst.slice(tailSize), 300);
    assert.ok(
      before.body.logs.map((entry) => entry.message).join('\n') ===
        posted.slice(-tailSize - beforeSize, -tailSize).join('\n'),
      `the page before it is the ${beforeSize} lines before those`,
    );
  });
});
