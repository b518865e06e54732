import { Hono } from 'hono';
import { ApiError } from '../http/api-error.js';
import type { AppEnv } from '../http/app-env.js';
import { readCors } from '../http/read-cors.js';
import { requireAgentCovered } from '../http/reader-auth.js';
import { validate } from '../http/validate.js';
import type { RouteDeps } from './deps.js';
import { AgentParamSchema } from './params.js';

/** Mounted at /api/agents: which task an agent is on (its most recently created one). */
export function agentRoutes({ store, config, limits, readers }: RouteDeps) {
  const cors = readCors(config.allowedOrigins);
  return new Hono<AppEnv>()
    .options('/:agentId/active-task', cors)
    .get('/:agentId/active-task', cors, limits.limitReads, validate('param', AgentParamSchema), async (c) => {
      const { agentId } = c.req.valid('param');
      requireAgentCovered(await readers.grantOf(c), agentId);
      const task = await store.getActiveTask(agentId);
      if (!task) throw new ApiError(404, 'not_found', `agent "${agentId}" has no task yet`);
      c.header('Cache-Control', 'no-cache');
      return c.json({ task }, 200);
    });
}
