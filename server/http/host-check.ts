import type { MiddlewareHandler } from 'hono';
import { ApiError } from './api-error.js';
import type { AppEnv } from './app-env.js';
import { HOST_NOT_ALLOWED_STATUS, hostNotAllowed, isHostAllowed, type HostAllowlist } from './hosts.js';

/** Every HTTP request, first: a Host this server does not answer to gets 421 (see hosts.ts). */
export function checkHost(allowed: HostAllowlist): MiddlewareHandler<AppEnv> {
  return async function checkHost(c, next) {
    const host = c.req.header('host');
    if (host === undefined || isHostAllowed(host, allowed)) return next();
    c.set('routeLabel', 'unmatched');
    const { code, message } = hostNotAllowed(host);
    throw new ApiError(HOST_NOT_ALLOWED_STATUS, code, message);
  };
}
