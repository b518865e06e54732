import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { isTerminal, ROUTES, type Task } from '../../../protocol/index.js';
import { loadConfig } from '../../../server/config.js';
import { SimulatedAgent } from '../../../server/demo/simulated-agent.js';
import { startServer } from '../../../server/serve.js';
import { MemoryTaskStore } from '../../../server/store/memory-store.js';

const env = { PORT: '0', STORE: 'memory', STATIC_DIR: '/nonexistent' };

// Every server (and agent) is stopped after its test even when the test fails: one left running
// would keep the process, and so the whole run, from ever ending. Closing twice is harmless.
describe('demo mode', () => {
  it('mounts the chaos controls only when DEMO=1', async (t) => {
    const plain = await startServer({ config: loadConfig(env) });
    t.after(() => plain.close());
    const missing = await fetch(`${plain.url}/demo/api/state`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    await plain.close();

    const demo = await startServer({ config: loadConfig({ ...env, DEMO: '1' }) });
    t.after(() => demo.close());
    const state = (await (await fetch(`${demo.url}/demo/api/state`)).json()) as { agentsRunning: boolean };
    assert.equal(state.agentsRunning, true);
    await demo.close();
  });

  it("mints the demo panels' viewer tokens when the server requires them, and none otherwise", async (t) => {
    const keys = 'demo:a-demo-secret-of-at-least-32-characters';
    const server = await startServer({ config: loadConfig({ ...env, DEMO: '1', VIEWER_TOKEN_KEYS: keys }) });
    t.after(() => server.close());
    const { token } = (await (
      await fetch(`${server.url}/demo/api/viewer-token`, { method: 'POST' })
    ).json()) as {
      token: string;
    };
    // The demo agents create their first tasks once the server listens.
    for (let tries = 0; ; tries++) {
      const state = (await (await fetch(`${server.url}/demo/api/state`)).json()) as {
        firstTaskId: string | null;
      };
      if (state.firstTaskId) break;
      assert.ok(tries < 250, 'the demo builder created no task');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const task = (await (
      await fetch(`${server.url}${ROUTES.activeTask('demo-builder')}`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as { task: Task };
    assert.equal(task.task.agentId, 'demo-builder', 'the token reads the demo agents');
    const refused = await fetch(`${server.url}${ROUTES.activeTask('demo-builder')}`);
    assert.equal(refused.status, 401, 'and nothing reads them without it');
    await refused.body?.cancel();
    await server.close();

    const open = await startServer({ config: loadConfig({ ...env, DEMO: '1' }) });
    t.after(() => open.close());
    const none = (await (await fetch(`${open.url}/demo/api/viewer-token`, { method: 'POST' })).json()) as {
      token: null;
    };
    assert.equal(none.token, null, 'reads are public: no token needed');
    await open.close();
  });

  it('refuses upgrades and drops sockets on request, and rejects a malformed control', async (t) => {
    const server = await startServer({ config: loadConfig({ ...env, DEMO: '1' }) });
    t.after(() => server.close());
    const wsUrl = server.url.replace('http', 'ws') + ROUTES.ws;
    const control = (path: string, body: unknown) =>
      fetch(`${server.url}/demo/api/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    const ws = new WebSocket(wsUrl);
    await once(ws, 'open');
    const dropped = (await (await control('drop-sockets', {})).json()) as { dropped: number };
    assert.equal(dropped.dropped, 1);
    const [code] = (await once(ws, 'close')) as [number];
    assert.equal(code, 1012);

    const invalid = await control('refuse-upgrades', { refuse: 'yes' });
    assert.equal(invalid.status, 400);
    assert.match(((await invalid.json()) as { error: { message: string } }).error.message, /refuse/);
    const refuse = await control('refuse-upgrades', { refuse: true });
    assert.equal(refuse.status, 200);
    await refuse.body?.cancel();
    const refused = new WebSocket(wsUrl);
    const [, response] = (await once(refused, 'unexpected-response')) as [
      unknown,
      { statusCode: number; resume(): void },
    ];
    assert.equal(response.statusCode, 503);
    response.resume();

    const stop = await control('agents', { running: false });
    assert.equal(stop.status, 200);
    await stop.body?.cancel();
    const state = (await (await fetch(`${server.url}/demo/api/state`)).json()) as { agentsRunning: boolean };
    assert.equal(state.agentsRunning, false);
    await server.close();
  });
});

describe('the simulated agent', () => {
  it('runs a task through the phases to an outcome over HTTP, like a real agent', async (t) => {
    const store = new MemoryTaskStore();
    const server = await startServer({ config: loadConfig(env), store });
    const agent = new SimulatedAgent({ baseUrl: server.url, agentId: 'sim', stepMs: 1, failEvery: 1 });
    t.after(() => {
      agent.stop();
      return server.close();
    });
    agent.start();
    let task: Task | null = null;
    while (!task || !isTerminal(task.phase)) {
      await new Promise((resolve) => setImmediate(resolve));
      task = await store.getActiveTask('sim');
    }
    agent.stop();
    assert.equal(task.phase, 'failed', 'failEvery: 1 makes the first task fail');
    const page = await store.readPage(task.id, { afterSeq: 0, limit: 1000 });
    assert.ok(page!.logs.some((line) => line.level === 'error'));
    assert.ok(page!.logs.length > 3);
    await server.close();
  });
});
