import { Hono } from 'hono';
import { CreateTaskSchema, ROUTES, StatusUpdateSchema } from '../../protocol/index.js';
import type { AppEnv } from '../http/app-env.js';
import { requireAdmin, requireAgentToken } from '../http/auth.js';
import { hashToken, newAgentToken } from '../http/credentials.js';
import { fingerprint } from '../http/fingerprint.js';
import { jsonBody } from '../http/json-body.js';
import { rateLimitPerToken } from '../http/rate-limit.js';
import { RateLimiter } from '../http/rate-limiter.js';
import { newTaskId } from '../http/task-id.js';
import { validate } from '../http/validate.js';
import { publish, type RouteDeps } from './deps.js';
import { IdempotencyHeaderSchema, TaskParamSchema } from './params.js';

/** The write routes, mounted at ROUTES.tasks: create a task, post its status. */
export function taskWriteRoutes(deps: RouteDeps) {
  const { store, config, now } = deps;
  const body = jsonBody({ maxBytes: config.bodyLimitBytes });
  const limiter =
    config.rateLimitPerMinute > 0 ? new RateLimiter({ perMinute: config.rateLimitPerMinute, now }) : null;

  return new Hono<AppEnv>()
    .post('/', requireAdmin(config.adminToken), body, validate('json', CreateTaskSchema), async (c) => {
      const input = c.req.valid('json');
      const agentToken = newAgentToken();
      const task = await store.createTask({
        id: input.id ?? newTaskId(),
        agentId: input.agentId,
        title: input.title ?? null,
        tokenHash: hashToken(agentToken),
        now: new Date(now()),
      });
      publish(deps, { type: 'agent-task', agentId: task.agentId, task });
      // The token is shown once: keep it out of every cache.
      c.header('Cache-Control', 'no-store');
      c.header('Location', ROUTES.taskStatus(task.id));
      return c.json({ task, agentToken }, 201);
    })
    .post(
      '/:id/status',
      validate('param', TaskParamSchema),
      // Auth and rate limit before the body is read: refused callers cost no parsing.
      requireAgentToken(store),
      rateLimitPerToken(limiter),
      validate('header', IdempotencyHeaderSchema),
      body,
      validate('json', StatusUpdateSchema),
      async (c) => {
        const { id } = c.req.valid('param');
        const update = c.req.valid('json');
        const key = c.req.valid('header')['idempotency-key'];
        const result = await store.append(id, {
          update,
          now: new Date(now()),
          // Fingerprint of the parsed body: key order and defaulted fields do not count as changes.
          idempotency: key === undefined ? undefined : { key, fingerprint: fingerprint(update) },
        });
        if (result.replayed) {
          c.header('Idempotent-Replayed', 'true');
        } else {
          publish(deps, {
            type: 'update',
            taskId: id,
            fromSeq: result.fromSeq,
            task: result.task,
            logs: result.logs,
          });
        }
        return c.json({ task: result.task }, 200);
      },
    );
}
