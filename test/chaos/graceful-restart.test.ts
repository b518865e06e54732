// Issue 5, graceful restart: on SIGTERM the real server (a child process, embedded DynamoDB)
// stops accepting, tells WebSocket clients to come back (1012), finishes the writes in flight,
// then exits; started again on the same port and DATA_DIR, every acknowledged write is there and
// every panel resyncs to exactly the stored log.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { ROUTES, type Task } from '../../protocol/index.js';
import { Agent } from './support/agent.js';
import { assertAlwaysContiguous, assertSameLog } from './support/log-checks.js';
import { NodePanel } from './support/node-panel.js';
import { ServerProcess } from './support/server-process.js';

const PANELS = 5;

/**
 * A status POST whose headers the server has read (it answered `100 Continue`) and whose body is
 * still on its way: a request in flight, for as long as the test likes.
 */
async function startSlowPost(url: string, taskId: string, token: string, body: string) {
  const target = new URL(url + ROUTES.taskStatus(taskId));
  const req: ClientRequest = request({
    host: target.hostname,
    port: target.port,
    path: target.pathname,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      authorization: `Bearer ${token}`,
      expect: '100-continue',
    },
  });
  const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.once('response', (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.once('error', reject);
  });
  answered.catch(() => {}); // awaited by the test; this only keeps a failed run from crashing
  req.flushHeaders();
  await once(req, 'continue');
  return { finish: () => req.end(body), answered };
}

describe('graceful restart on SIGTERM', () => {
  const server = new ServerProcess({ HEARTBEAT_MS: '5000' });
  let agent: Agent;
  const panels: NodePanel[] = [];

  before(async () => {
    await server.start();
    agent = await Agent.create(() => server.url, 'agent-graceful');
  });

  after(async () => {
    agent?.dispose();
    for (const panel of panels) panel.stop();
    await server.dispose();
  });

  it('stops accepting, closes sockets with 1012, answers the write in flight, exits 0, and loses nothing', async () => {
    const started = Date.now();
    await agent.post(3, { phase: 'running' });
    for (let i = 0; i < PANELS; i++) {
      const panel = new NodePanel({ endpoint: server.url, taskId: agent.taskId });
      panels.push(panel);
      panel.start();
    }
    await Promise.all(panels.map((p) => p.waitFor((v) => v.connectionState === 'live', 10_000, 'live')));
    // A plain client too, to read the close code the server sends.
    const watcher = new WebSocket(server.url.replace('http', 'ws') + ROUTES.ws);
    watcher.on('error', () => {});
    await once(watcher, 'open');
    const watcherClosed = new Promise<number>((resolve) => watcher.once('close', (code) => resolve(code)));

    agent.start(20);
    await agent.post(1); // the steady stream is flowing
    const slowTask = await createWriter(server.url);
    const inFlight = await startSlowPost(
      server.url,
      slowTask.task.id,
      slowTask.token,
      JSON.stringify({ phase: 'running', logs: [{ message: 'written during shutdown' }] }),
    );

    const run = server.current;
    run.child.kill('SIGTERM');
    await run.waitFor(/SIGTERM: closing connections/);

    assert.equal(await watcherClosed, 1012, 'the server tells clients to come back with 1012');
    await assert.rejects(
      fetch(server.url + '/healthz'),
      'a new connection is refused while the server drains',
    );
    assert.equal(run.exit, null, 'the process waits for the request in flight');

    inFlight.finish();
    const answer = await inFlight.answered;
    assert.equal(answer.status, 200, `the write in flight is answered: ${answer.body}`);
    const answeredAt = Date.now();
    const acknowledged = (JSON.parse(answer.body) as { task: Task }).task;
    const exit = await run.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, `exit after SIGTERM:\n${run.output}`);
    // Idle keep-alive connections (the agent's, this request's) must not hold the exit back until
    // their keep-alive timeout (5 s).
    const lingered = Date.now() - answeredAt;
    assert.ok(lingered < 2_000, `exited ${lingered} ms after the last answer`);

    // Back on the same port and DATA_DIR: the acknowledged write is there.
    await server.start();
    const stored = await fetch(`${server.url}${ROUTES.taskStatus(slowTask.task.id)}?afterSeq=0`);
    const page = (await stored.json()) as { task: Task; logs: { message: string }[] };
    assert.deepEqual(
      page.logs.map((line) => line.message),
      ['written during shutdown'],
    );
    assert.equal(page.task.seq, acknowledged.seq, 'the status the answer acknowledged is stored');

    await agent.stop();
    await agent.post(1, { phase: 'completed' });
    const truth = await agent.stored();
    assert.equal(truth.lines.length, agent.linesQueued, 'every acknowledged line is stored once');
    await Promise.all(
      panels.map((panel, i) =>
        panel.waitFor(
          (v) =>
            v.task?.phase === 'completed' &&
            v.task.seq === truth.task.seq &&
            v.logs.length >= truth.lines.length,
          20_000,
          `panel ${i} complete`,
        ),
      ),
    );
    panels.forEach((panel, i) => {
      assertSameLog(`panel ${i}`, panel.view.logs, truth.lines);
      assertAlwaysContiguous(`panel ${i}`, panel.shown, truth.lines);
    });
    console.log(
      `graceful restart: ${truth.lines.length} lines, ${agent.failedAttempts} failed post attempts, ${Date.now() - started} ms`,
    );
  });
});

async function createWriter(url: string): Promise<{ task: Task; token: string }> {
  const response = await fetch(url + ROUTES.tasks, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ agentId: 'agent-slow-writer' }),
  });
  const body = (await response.json()) as { task: Task; agentToken: string };
  return { task: body.task, token: body.agentToken };
}
