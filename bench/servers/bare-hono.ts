// The ingest floor: Hono on @hono/node-server with one POST handler and a Map, no validation,
// no auth, no store. Same routes and bodies as ours.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serveRequests } from '../lib/ipc.js';
import { BaselineTasks } from './baseline-tasks.js';
import { processStats } from './process-stats.js';

const tasks = new BaselineTasks();
const app = new Hono()
  .post('/api/agent-tasks', async (c) =>
    c.json({ task: tasks.create(await c.req.json()), agentToken: 'x' }, 201),
  )
  .post('/api/agent-tasks/:id/status', async (c) => {
    const update = tasks.append(c.req.param('id'), await c.req.json());
    if (!update) return c.json({ error: { code: 'not_found', message: 'no such task' } }, 404);
    return c.json({ task: update.task }, 200);
  });

let server: Server;
serveRequests({
  ...processStats,
  async listen() {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await new Promise<void>((resolve) => server.once('listening', resolve));
    return { port: (server.address() as AddressInfo).port };
  },
});
