// Diagnostic only (bench/profile.ts heap hono-ws): Hono + @hono/node-server's upgradeWebSocket with
// trivial handlers and the same protocol as bare-ws, to show what the helper itself keeps per socket.
import { serve, upgradeWebSocket } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { serveRequests } from '../lib/ipc.js';
import { BaselineTasks } from './baseline-tasks.js';
import { processStats } from './process-stats.js';
const tasks = new BaselineTasks();
const topics = new Map<string, Set<WebSocket>>();
const HELLO = Buffer.from(JSON.stringify({ type: 'hello', protocol: 1, heartbeatMs: 25_000 }));
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const app = new Hono()
  .post('/api/agent-tasks', async (c) =>
    c.json({ task: tasks.create(await c.req.json()), agentToken: 'x' }, 201),
  )
  .post('/api/agent-tasks/:id/status', async (c) => {
    const u = tasks.append(c.req.param('id'), await c.req.json())!;
    return c.json({ task: u.task });
  })
  .get(
    '/api/agent-tasks/ws',
    upgradeWebSocket(() => ({
      onOpen(_e, ctx) {
        (ctx.raw as WebSocket).send(HELLO);
      },
      onMessage(e, ctx) {
        const m = JSON.parse(String(e.data));
        const ws = ctx.raw as WebSocket;
        let s = topics.get(m.taskId);
        if (!s) topics.set(m.taskId, (s = new Set()));
        s.add(ws);
        ws.send(Buffer.from(JSON.stringify(tasks.snapshot(m.taskId))));
      },
    })),
  );
let server: Server;
serveRequests({
  ...processStats,
  async listen() {
    server = serve({
      fetch: app.fetch,
      port: 0,
      hostname: '127.0.0.1',
      websocket: { server: wss },
    }) as Server;
    await new Promise<void>((r) => server.once('listening', r));
    return { port: (server.address() as AddressInfo).port };
  },
});
