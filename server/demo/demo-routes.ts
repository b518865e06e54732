import { Hono } from 'hono';
import { validator } from 'hono/validator';
import { z } from 'zod';
import type { Realtime } from '../realtime/realtime.js';
import type { SimulatedAgent } from './simulated-agent.js';

const RefuseSchema = z.strictObject({ refuse: z.boolean() });
const AgentsSchema = z.strictObject({ running: z.boolean() });

function json<T extends z.ZodType>(schema: T) {
  return validator('json', (value, c) => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      return c.json({ error: { code: 'validation_failed', message: z.prettifyError(parsed.error) } }, 400);
    }
    return parsed.data as z.infer<T>;
  });
}

/**
 * The demo's chaos controls. Mounted only in demo mode (`DEMO=1`, set by `npm start`): they let
 * anyone who can reach the server drop connections, so never in production.
 */
export function demoRoutes(realtime: Realtime, agents: readonly SimulatedAgent[]) {
  return new Hono()
    .get('/state', (c) =>
      c.json({
        agentsRunning: agents.some((a) => a.running),
        firstTaskId: agents.at(-1)?.firstTaskId ?? null,
        realtime: realtime.stats(),
      }),
    )
    .post('/drop-sockets', (c) => {
      const dropped = realtime.stats().connections;
      realtime.dropConnections();
      return c.json({ dropped });
    })
    .post('/refuse-upgrades', json(RefuseSchema), (c) => {
      realtime.refuseUpgrades(c.req.valid('json').refuse);
      return c.json({ refusing: c.req.valid('json').refuse });
    })
    .post('/agents', json(AgentsSchema), (c) => {
      const { running } = c.req.valid('json');
      for (const agent of agents) running ? agent.start() : agent.stop();
      return c.json({ running });
    });
}
