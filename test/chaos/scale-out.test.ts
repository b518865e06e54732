// Issue 14, proof of scale-out: three instances on one DynamoDB API (a dynalite server) and one
// Redis, behind a real HAProxy health-checking /readyz (scripts/cluster, the same cluster as
// `npm run cluster`). 200 panels (the widget's own data path, run in Node: NodePanel) follow 20
// tasks through the balancer while 20 agents post through it; then an instance is killed, all
// three are restarted one at a time, Redis is restarted and stopped for 10 s. Every panel must end
// with exactly the stored log: none lost, none twice.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, afterEach, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { ROUTES, type ServerMessage } from '../../protocol/index.js';
import type { Cluster } from '../../scripts/cluster/cluster.js';
import { startTestCluster } from './support/test-cluster.js';
import { Agent } from './support/agent.js';
import { assertSameLog } from './support/log-checks.js';
import { NodePanel } from './support/node-panel.js';

const TASKS = 20;
const PANELS_PER_TASK = 10;
/** Per agent: lines a second, in posts every POST_EVERY_MS. */
const LINES_PER_SECOND = 6;
const POST_EVERY_MS = 500;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('three instances behind HAProxy and one Redis (issue 14)', { timeout: 240_000 }, () => {
  let cluster: Awaited<ReturnType<typeof startTestCluster>>;
  let agents: Agent[] = [];
  let panels: NodePanel[] = [];

  before(async () => {
    cluster = await startTestCluster();
  });
  after(async () => {
    await cluster?.dispose();
  });
  afterEach(() => {
    for (const agent of agents) agent.dispose();
    for (const panel of panels) panel.stop();
    agents = [];
    panels = [];
  });

  /** 20 agents posting through the balancer, 10 panels following each task through it, all live. */
  async function underLoad(name: string): Promise<void> {
    agents = await Promise.all(
      Array.from({ length: TASKS }, (_, i) => Agent.create(() => cluster.url, `${name}-agent-${i}`, name)),
    );
    await Promise.all(agents.map((agent) => agent.post(1, { phase: 'running' })));
    for (const agent of agents) {
      for (let j = 0; j < PANELS_PER_TASK; j++) {
        const panel = new NodePanel({ endpoint: cluster.url, taskId: agent.taskId });
        panels.push(panel);
        panel.start();
      }
    }
    await Promise.all(
      panels.map((p, i) => p.waitFor((v) => v.connectionState === 'live', 30_000, `panel ${i} live`)),
    );
    for (const agent of agents) agent.start(LINES_PER_SECOND, POST_EVERY_MS);
    await pause(1_500);
  }

  /** Stops the load, ends every task, and checks every panel holds exactly the stored log. */
  async function everyPanelHasTheStoredLog(): Promise<void> {
    await Promise.all(agents.map((agent) => agent.stop()));
    await Promise.all(agents.map((agent) => agent.post(1, { phase: 'completed' })));
    const truths = await Promise.all(agents.map((agent) => agent.stored()));
    truths.forEach((truth, i) => {
      assert.equal(
        truth.lines.length,
        agents[i]!.linesQueued,
        `task ${i}: every acknowledged line stored once`,
      );
    });
    await Promise.all(
      panels.map((panel, p) => {
        const truth = truths[Math.floor(p / PANELS_PER_TASK)]!;
        return panel.waitFor(
          (view) =>
            view.task?.phase === 'completed' &&
            view.task.seq === truth.task.seq &&
            view.logs.length >= truth.lines.length,
          30_000,
          `panel ${p} complete at seq ${truth.task.seq}`,
        );
      }),
    );
    panels.forEach((panel, p) => {
      const truth = truths[Math.floor(p / PANELS_PER_TASK)]!;
      assertSameLog(`panel ${p}`, panel.view.logs, truth.lines);
    });
  }

  it('loses and duplicates nothing when one of three instances is killed with SIGKILL under load', async () => {
    await underLoad('kill');
    await cluster.instances[1]!.stop('SIGKILL');
    await pause(4_000);
    await cluster.instances[1]!.start();
    await pause(1_000);
    await everyPanelHasTheStoredLog();
  });

  it('loses nothing through a rolling restart of all three (SIGTERM one at a time), no panel ever falling back to polling', async () => {
    await underLoad('roll');
    const since = Date.now();
    for (let i = 0; i < cluster.instances.length; i++) await cluster.rollInstance(i);
    await pause(1_000);
    await everyPanelHasTheStoredLog();
    panels.forEach((panel, p) => {
      const fellBack = panel.states.filter(
        (change) => change.at >= since && (change.state === 'polling' || change.state === 'offline'),
      );
      assert.deepEqual(fellBack, [], `panel ${p} showed "Real-time updates unavailable"`);
    });
  });

  it('loses nothing when Redis restarts, or stops for 10 s, under load', async () => {
    await underLoad('redis');
    await cluster.redis.stop('SIGKILL');
    await cluster.redis.start();
    await pause(2_000);
    await cluster.redis.stop('SIGKILL');
    await pause(10_000);
    await cluster.redis.start();
    await pause(2_000);
    await everyPanelHasTheStoredLog();
  });

  it('lets a panel following an agent on one instance see a task created through another', async () => {
    const [first, second] = cluster.instances.map((_, i) => `http://127.0.0.1:${portOf(cluster, i)}`);
    const ws = new WebSocket(`${second!.replace('http', 'ws')}${ROUTES.ws}`, { origin: second });
    const messages: ServerMessage[] = [];
    const heard = (test: (m: ServerMessage) => boolean) =>
      new Promise<ServerMessage>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`not heard; got ${JSON.stringify(messages)}`)),
          10_000,
        );
        const check = () => {
          const found = messages.find(test);
          if (found) {
            clearTimeout(timer);
            ws.off('message', check);
            resolve(found);
          }
        };
        ws.on('message', check);
        check();
      });
    ws.on('message', (data) => messages.push(JSON.parse(String(data)) as ServerMessage));
    try {
      await once(ws, 'open');
      ws.send(JSON.stringify({ type: 'subscribe', requestId: 1, agents: ['agent-across'] }));
      await heard((m) => m.type === 'agent-task' && m.requestId === 1);
      const agent = await Agent.create(() => first!, 'agent-across', 'created through the first instance');
      const announced = await heard((m) => m.type === 'agent-task' && m.task?.id === agent.taskId);
      assert.equal(announced.type === 'agent-task' && announced.agentId, 'agent-across');
      agent.dispose();
    } finally {
      ws.close();
    }
  });
});

/** An instance's own port, from the environment it was started with. */
function portOf(cluster: Cluster, index: number): string {
  return /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(cluster.instances[index]!.output)![1]!;
}
