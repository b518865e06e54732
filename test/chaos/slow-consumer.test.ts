// Issue 5, scenario 4: a slow consumer. A live panel stops reading (the proxy stops passing the
// server's data to it, so the server's writes back up). The server must cut it off at its bound
// (WS_MAX_BUFFERED_BYTES) instead of buffering without limit, and when the panel reads again it
// must resync from its cursor: every stored line once, in order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent } from './support/agent.js';
import { startProxiedServer, type ProxiedServer } from './support/in-process-server.js';
import { assertAlwaysContiguous, assertSameLog, until } from './support/log-checks.js';
import { NodePanel } from './support/node-panel.js';
import { MERGE_LIMITS } from '../../widget/connection/seq-merge.js';

/** The default bound (1 MiB). */
const MAX_BUFFERED = 1024 * 1024;
/** One post: 30 lines of 8 KB (the longest a line may be), a 240 KB update frame. */
const LINES_PER_POST = 30;
const LINE_SIZE = 7_980;
/**
 * 48 MB: several times what loopback socket buffers hold here (about 16 MB between the server's
 * send buffer and the proxy's receive buffer), so without a cut-off the server would buffer the rest.
 */
const MAX_POSTS = 200;

describe('a slow consumer', () => {
  let env: ProxiedServer;
  let agent: Agent;
  let panel: NodePanel;

  before(async () => {
    env = await startProxiedServer({
      WS_MAX_BUFFERED_BYTES: String(MAX_BUFFERED),
      // Long enough that the heartbeat cannot be what cuts the consumer off.
      HEARTBEAT_MS: '60000',
    });
    agent = await Agent.create(() => env.server.url, 'agent-slow-consumer');
  });

  after(async () => {
    agent?.dispose();
    panel?.stop();
    await env?.close();
  });

  it('is cut off at the bounded buffer while the server keeps serving, and resyncs when it reads again', async () => {
    await agent.post(3, { phase: 'running' });
    panel = new NodePanel({ endpoint: env.proxy.url, taskId: agent.taskId });
    panel.start();
    await panel.waitFor((v) => v.connectionState === 'live' && v.logs.length === 3, 5_000, 'live');

    const stalled = env.proxy.stall('websocket', 'to-client');
    assert.equal(stalled.length, 1);
    let posts = 0;
    let peakBuffered = 0;
    // Cut off = unsubscribed from the hub at once; the socket itself goes a second later, when
    // the server gives up waiting for its close frame to pass.
    while (posts < MAX_POSTS && env.server.realtimeStats()!.subscriptions > 0) {
      await agent.post(LINES_PER_POST, { progress: posts % 100 }, LINE_SIZE);
      posts += 1;
      peakBuffered = Math.max(peakBuffered, env.server.realtimeStats()!.bufferedBytes);
    }
    const posted = posts * LINES_PER_POST * LINE_SIZE;
    assert.equal(
      env.server.realtimeStats()!.subscriptions,
      0,
      `still subscribed after ${posts} posts (${posted} bytes) to a consumer that does not read`,
    );
    const cutAt = Date.now();
    await until(() => env.server.realtimeStats()!.connections === 0, 5_000, 'the socket closed');
    // A close frame may follow a full buffer.
    assert.ok(peakBuffered <= MAX_BUFFERED + 1_024, `the server buffered ${peakBuffered} bytes for it`);
    assert.equal(panel.view.connectionState, 'live', 'the consumer has not noticed yet');
    const subscribesBefore = panel.sent.filter((s) => s.message.type === 'subscribe').length;

    // The consumer reads again: what the network held arrives, then the close; it reconnects
    // and asks for everything after its cursor.
    env.proxy.resume();
    await agent.post(2);
    await agent.post(1, { phase: 'completed' });
    const truth = await agent.stored();
    const lastLine = truth.lines.at(-1)!.seq;
    await panel.waitFor(
      (v) =>
        v.task?.phase === 'completed' && v.task.seq === truth.task.seq && v.logs.at(-1)?.seq === lastLine,
      15_000,
      'every line and the final status',
    );
    // The resubscribe after the cut-off asked for what came after the panel's cursor, not for a
    // fresh tail: the panel resumed where it stopped.
    const resubscribes = panel.sent.filter((s) => s.message.type === 'subscribe').slice(subscribesBefore);
    assert.ok(resubscribes.length >= 1, 'the panel subscribed again');
    const resubscribe = resubscribes[0]!.message;
    const resumedFrom = resubscribe.type === 'subscribe' ? resubscribe.tasks?.[0]?.afterSeq : undefined;
    assert.ok(resumedFrom !== undefined && resumedFrom > 3, `resubscribed with afterSeq ${resumedFrom}`);
    // Over the socket again, not by polling: the snapshot after the cursor fits the socket's bound.
    const after = panel.states.filter((change) => change.at >= cutAt).map((change) => change.state);
    assert.deepEqual(after, ['reconnecting', 'live'], `states after the cut-off: ${after.join(' → ')}`);
    // A panel holds at most MERGE_LIMITS.maxLogs lines (older ones are a "load older" away):
    // it must hold exactly the newest of the stored lines, none missing, none twice.
    const kept = Math.min(truth.lines.length, MERGE_LIMITS.maxLogs);
    assert.equal(panel.view.hasOlder, truth.lines.length > kept);
    assertSameLog('panel', panel.view.logs, truth.lines.slice(-kept));
    assertAlwaysContiguous('panel', panel.shown, truth.lines);
    console.log(
      `slow consumer: cut off after ${posts} posts (${(posted / 1e6).toFixed(1)} MB), ` +
        `peak server buffer ${peakBuffered} bytes (bound ${MAX_BUFFERED}); resubscribed after seq ${resumedFrom}; ` +
        `${truth.lines.length} lines stored, ${kept} held; ` +
        `states ${panel.states.map((s) => s.state).join(' → ')}`,
    );
  });
});
