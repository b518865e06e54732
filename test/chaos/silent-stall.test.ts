// Issue 5, scenario 2: a silent stall. The path between a live panel and the server goes dead
// without a close on either side (a NAT that forgot the flow, a laptop that slept). Both sides
// must notice by themselves within the configured bound (HEARTBEAT_MS), and the panel must
// reconnect and resync from its cursor: every stored line once, in order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent } from './support/agent.js';
import { startProxiedServer, type ProxiedServer } from './support/in-process-server.js';
import { assertAlwaysContiguous, assertSameLog, until } from './support/log-checks.js';
import { NodePanel } from './support/node-panel.js';

const HEARTBEAT_MS = 1_000;
/**
 * The client's watchdog ticks every heartbeat/4, pings after a heartbeat without a message and
 * gives up when the ping is unanswered for another heartbeat: at most two heartbeats and two
 * ticks after the last message, plus timer slack.
 */
const CLIENT_BOUND_MS = 2 * HEARTBEAT_MS + 2 * (HEARTBEAT_MS / 4) + 250;
/** The server pings every heartbeat and terminates a peer that missed the previous ping. */
const SERVER_BOUND_MS = 2 * HEARTBEAT_MS + 250;

describe('a silent stall (half-open connection)', () => {
  let env: ProxiedServer;
  let agent: Agent;
  let panel: NodePanel;

  before(async () => {
    env = await startProxiedServer({ HEARTBEAT_MS: String(HEARTBEAT_MS) });
    agent = await Agent.create(() => env.server.url, 'agent-stall');
  });

  after(async () => {
    agent?.dispose();
    panel?.stop();
    await env?.close();
  });

  it('is detected on both sides within the heartbeat bound, then the panel reconnects and resyncs', async () => {
    await agent.post(5, { phase: 'running' });
    panel = new NodePanel({ endpoint: env.proxy.url, taskId: agent.taskId });
    panel.start();
    await panel.waitFor((v) => v.connectionState === 'live', 5_000, 'live');
    agent.start(20);
    await panel.waitFor((v) => v.logs.length >= 15, 5_000, 'lines arriving live');

    const [stalled, ...others] = env.proxy.stall('websocket', 'both');
    assert.ok(stalled !== undefined && others.length === 0, 'exactly the panel socket is stalled');
    const stalledAt = Date.now();
    const seenAtStall = panel.view.logs.length;

    await panel.waitFor((v) => v.connectionState !== 'live', 3 * HEARTBEAT_MS + 1_000, 'the stall noticed');
    const clientDetected = Date.now() - stalledAt;
    assert.ok(
      clientDetected <= CLIENT_BOUND_MS,
      `the client noticed after ${clientDetected} ms (bound ${CLIENT_BOUND_MS} ms)`,
    );
    assert.ok(panel.view.logs.length <= seenAtStall + 2, 'nothing passed the stalled path');

    await until(
      () => env.proxy.connections().find((c) => c.id === stalled)?.serverGoneAt != null,
      3 * HEARTBEAT_MS,
      'the server dropped the dead peer',
    );
    const serverGoneAt = env.proxy.connections().find((c) => c.id === stalled)!.serverGoneAt!;
    const serverDetected = serverGoneAt - stalledAt;
    assert.ok(
      serverDetected <= SERVER_BOUND_MS,
      `the server dropped the dead peer after ${serverDetected} ms (bound ${SERVER_BOUND_MS} ms)`,
    );

    await panel.waitFor((v) => v.connectionState === 'live', 5_000, 'live again');
    const liveAgain = Date.now() - stalledAt;
    await agent.stop();
    await agent.post(1, { phase: 'completed' });
    const truth = await agent.stored();
    await panel.waitFor(
      (v) => v.task?.phase === 'completed' && v.task.seq === truth.task.seq,
      5_000,
      'the final status',
    );
    assertSameLog('panel', panel.view.logs, truth.lines);
    assertAlwaysContiguous('panel', panel.shown, truth.lines);
    console.log(
      `silent stall: client noticed in ${clientDetected} ms, server in ${serverDetected} ms, ` +
        `live again after ${liveAgain} ms; ${truth.lines.length} lines`,
    );
  });
});
