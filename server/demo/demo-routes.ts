import { Hono } from 'hono';
import { validator } from 'hono/validator';
import { z } from 'zod';
import type { Realtime } from '../realtime/realtime.js';
import { signViewerToken, type ViewerKeyRing } from '../viewer-tokens/jwt.js';
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

/** The demo's panels follow these agents: its viewer tokens name them. */
export const DEMO_AGENT_IDS = ['demo-researcher', 'demo-builder'] as const;
/** Short, so that the demo shows its panels renewing their tokens (a minute before expiry). */
const DEMO_TOKEN_TTL_SECONDS = 120;

/**
 * The demo's chaos controls, and the viewer tokens of its panels when the server requires them
 * (VIEWER_TOKEN_KEYS): a host's backend would mint those (sdk/viewer-token.ts); the demo page has
 * none, so this route does it. Mounted only in demo mode (`DEMO=1`, set by `npm start`): they let
 * anyone who can reach the server drop connections and read the demo agents, so never in production.
 */
export function demoRoutes(
  realtime: Realtime,
  agents: readonly SimulatedAgent[],
  viewer: { ring: ViewerKeyRing | null; now: () => number } = { ring: null, now: Date.now },
) {
  return new Hono()
    .post('/viewer-token', (c) =>
      c.json({
        token: viewer.ring
          ? signViewerToken(viewer.ring, { agents: DEMO_AGENT_IDS }, DEMO_TOKEN_TTL_SECONDS, viewer.now())
              .token
          : null,
      }),
    )
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
