import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { isOriginAllowed } from './origins.js';

/**
 * CORS for what host pages read across origins: the GET routes and the widget file. Only GET and
 * HEAD, no credentials (nothing here uses cookies). Not for the POST routes (agents are not
 * browsers) and never on the WebSocket upgrade, which checks Origin itself.
 */
export function readCors(allowedOrigins: readonly string[]): MiddlewareHandler {
  return cors({
    origin: (origin, c) => (isOriginAllowed(origin, allowedOrigins, c.req.header('host')) ? origin : null),
    allowMethods: ['GET', 'HEAD'],
    // A poller revalidating by hand sends If-None-Match, which is not CORS-safelisted.
    allowHeaders: ['If-None-Match'],
    exposeHeaders: ['ETag', 'Retry-After'],
    maxAge: 600,
  });
}
