import type { HttpBindings } from '@hono/node-server';
import type { MiddlewareHandler } from 'hono';
import type { TaskStore } from '../store/task-store.js';
import type { AbuseLimits } from './abuse-limits.js';
import { ApiError } from './api-error.js';
import type { AppEnv } from './app-env.js';
import { readBearerToken, secretsEqual } from './credentials.js';
import { isLoopback } from './hosts.js';
import type { TokenVerifier } from './token-verifier.js';

/**
 * One rule for both kinds of token, after RFC 6750 §3.1: 401 `unauthorized` both when no usable
 * credentials are sent and when the token is not valid here (a wrong admin token, another task's
 * agent token, a made-up one). A per-task token cannot be told from a wrong one without an index
 * by token, and answering "valid elsewhere" differently would leak that it is valid.
 */
export const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="agent-task-status"' };
export const INVALID_TOKEN = {
  'WWW-Authenticate': 'Bearer realm="agent-task-status", error="invalid_token"',
};

/** The bearer token of an Authorization header, or 401 with the challenge and the fitting message. */
function bearerOr401(header: string | undefined, whenMissing: string, whenMalformed: string): string {
  const token = readBearerToken(header);
  if (token === 'missing' || token === 'malformed') {
    throw new ApiError(401, 'unauthorized', token === 'missing' ? whenMissing : whenMalformed, {
      headers: CHALLENGE,
    });
  }
  return token;
}

/**
 * Creating tasks: open when no admin token is configured (main.ts warns), else the admin token.
 * A refused token spends from its address's budget of failures; past it, 429 before any check.
 */
export function requireAdmin(adminToken: string | null, limits: AbuseLimits): MiddlewareHandler<AppEnv> {
  return async function requireAdmin(c, next) {
    if (adminToken === null) return next();
    const client = limits.clientKey(c);
    await limits.checkAuthBudget(client);
    const token = bearerOr401(
      c.req.header('authorization'),
      'creating a task needs the admin token: send "Authorization: Bearer <ADMIN_TOKEN>"',
      'the Authorization header must be "Bearer <ADMIN_TOKEN>"',
    );
    if (!secretsEqual(token, adminToken)) {
      await limits.recordAuthFailure(client);
      throw new ApiError(401, 'unauthorized', 'the admin token is not valid for this server', {
        headers: INVALID_TOKEN,
      });
    }
    await next();
  };
}

/**
 * Replacing an agent token: the admin token, and never open. Without ADMIN_TOKEN anyone could
 * take a task away from its agent (and post as it), so the route is refused outright.
 */
export function requireAdminToken(adminToken: string | null, limits: AbuseLimits): MiddlewareHandler<AppEnv> {
  if (adminToken !== null) return requireAdmin(adminToken, limits);
  return async function requireAdminToken() {
    throw new ApiError(
      403,
      'forbidden',
      'replacing an agent token needs the admin token, and this server has none: set ADMIN_TOKEN and send it as "Authorization: Bearer <ADMIN_TOKEN>"',
    );
  };
}

/**
 * Posting a task's status: the agent token returned when that task was created. Resolves to the
 * task's stored token hash (the rate-limit key), or throws: 429 while `client` (its address key)
 * is out of failures, 401 without a bearer token, then 401 (a failure spent) for a token that is
 * not this task's, and the same for a task that does not exist: with viewer tokens the reads are
 * not public, so a stranger's POST must not tell which task ids exist.
 */
export async function authenticateAgent(
  store: TaskStore,
  tokens: TokenVerifier,
  authorization: string | undefined,
  taskId: string,
  limits: AbuseLimits,
  client: string,
): Promise<string> {
  await limits.checkAuthBudget(client);
  const token = bearerOr401(
    authorization,
    'send the task\'s agent token as "Authorization: Bearer <agentToken>" (it was returned when the task was created)',
    'the Authorization header must be "Bearer <agentToken>"',
  );
  const stored = await store.getTask(taskId, { forTokenCheck: true });
  if (!stored || !tokens.matches(token, stored.tokenHash)) {
    await limits.recordAuthFailure(client);
    throw new ApiError(
      401,
      'unauthorized',
      `this agent token is not valid for task "${taskId}"; use the token returned when that task was created`,
      { headers: INVALID_TOKEN },
    );
  }
  return stored.tokenHash;
}

/** Headers a proxy adds: a request carrying one came through a proxy, whatever its peer address. */
const FORWARDED_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'];

/**
 * /metrics: with METRICS_TOKEN, that bearer token from every client; without it, loopback clients
 * only. A request a proxy forwarded is not a loopback client even when the proxy runs on this
 * machine (its peer address is then 127.0.0.1), so a same-host proxy does not publish /metrics.
 */
export function requireMetricsAccess(metricsToken: string | null): MiddlewareHandler<AppEnv> {
  return async function requireMetricsAccess(c, next) {
    if (metricsToken !== null) {
      const token = bearerOr401(
        c.req.header('authorization'),
        '/metrics needs the metrics token: send "Authorization: Bearer <METRICS_TOKEN>"',
        'the Authorization header must be "Bearer <METRICS_TOKEN>"',
      );
      if (!secretsEqual(token, metricsToken)) {
        throw new ApiError(401, 'unauthorized', 'the metrics token is not valid for this server', {
          headers: INVALID_TOKEN,
        });
      }
      return next();
    }
    const peer = (c.env as Partial<HttpBindings> | undefined)?.incoming?.socket.remoteAddress;
    const proxied = FORWARDED_HEADERS.some((name) => c.req.header(name) !== undefined);
    if (peer === undefined || !isLoopback(peer) || proxied) {
      throw new ApiError(
        403,
        'forbidden',
        '/metrics answers only clients on this machine that did not come through a proxy; set METRICS_TOKEN to read it from elsewhere with "Authorization: Bearer <METRICS_TOKEN>"',
      );
    }
    await next();
  };
}
