import { Hono } from 'hono';
import { CreateTaskSchema, ROUTES, StatusUpdateSchema } from '../../protocol/index.js';
import type { AppEnv } from '../http/app-env.js';
import { authenticateAgent, requireAdmin, requireAdminToken } from '../http/auth.js';
import { hashToken, newAgentToken } from '../http/credentials.js';
import { fingerprint } from '../http/fingerprint.js';
import { jsonBody, jsonBodyReader } from '../http/json-body.js';
import { enforceRateLimit } from '../http/rate-limit.js';
import { newTaskId } from '../http/task-id.js';
import { TokenVerifier } from '../http/token-verifier.js';
import { parseOrThrow, validate } from '../http/validate.js';
import { catchUpUpdate } from '../bus/catch-up.js';
import { publish, type RouteDeps } from './deps.js';
import { IdempotencyHeaderSchema, TaskParamSchema } from './params.js';

/** The write routes, mounted at ROUTES.tasks: create a task, post its status, replace its agent token. */
export function taskWriteRoutes(deps: RouteDeps) {
  const { store, config, now, limits } = deps;
  const body = jsonBody({ maxBytes: config.bodyLimitBytes });
  const readBody = jsonBodyReader({ maxBytes: config.bodyLimitBytes });
  const tokens = new TokenVerifier();

  return new Hono<AppEnv>()
    .post(
      '/',
      requireAdmin(config.adminToken, limits),
      limits.limitCreates,
      body,
      validate('json', CreateTaskSchema),
      async (c) => {
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
      },
    )
    .post('/:id/status', async function postStatus(c) {
      // One handler, the steps in the order the middleware chain had them (each throws the same
      // ApiError): path, auth and rate limit before the body is read (refused callers cost no
      // parsing), then the Idempotency-Key header, the body gate, the body schema. One Hono hop
      // instead of seven, each header read once (BENCHMARKS.md, ingest).
      const { id } = parseOrThrow('param', TaskParamSchema, { id: c.req.param('id') });
      const tokenHash = await authenticateAgent(
        store,
        tokens,
        c.req.header('authorization'),
        id,
        limits,
        limits.clientKey(c),
      );
      await enforceRateLimit(
        limits.agentPosts,
        tokenHash,
        'too many status posts for this task (RATE_LIMIT_PER_MINUTE); batch log lines into fewer posts',
      );
      const keyHeader = c.req.header('idempotency-key');
      const key =
        keyHeader === undefined
          ? undefined
          : parseOrThrow('header', IdempotencyHeaderSchema, { 'idempotency-key': keyHeader })[
              'idempotency-key'
            ];
      const update = parseOrThrow('json', StatusUpdateSchema, await readBody(c));
      const result = await store.append(id, {
        update,
        now: new Date(now()),
        // Fingerprint of the parsed body: key order and defaulted fields do not count as changes.
        idempotency: key === undefined ? undefined : { key, fingerprint: fingerprint(update) },
      });
      if (result.replayed) {
        c.header('Idempotent-Replayed', 'true');
        // Its first attempt may have been stored and then failed (a 503 from the status update):
        // never announced, then. Announce what the store holds from it on; whoever has it already
        // drops it by seq. Not awaited: the answer does not wait for a read.
        void catchUpUpdate(store, id, result.fromSeq - 1).then(
          (event) => event && publish(deps, event),
          () => {},
        );
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
    })
    .post(
      '/:id/agent-token',
      requireAdminToken(config.adminToken, limits),
      async function replaceAgentToken(c) {
        // Revocation: the old token's hash is gone from the store, and every POST compares against
        // the stored hash (TokenVerifier remembers a token only with the hash it matched), so the
        // old token is refused at its next request here, and on other instances within
        // HEAD_FRESH_MS (the store's known heads).
        const { id } = parseOrThrow('param', TaskParamSchema, { id: c.req.param('id') });
        const agentToken = newAgentToken();
        await store.replaceTokenHash(id, hashToken(agentToken));
        c.header('Cache-Control', 'no-store');
        return c.json({ agentToken }, 200);
      },
    );
}
