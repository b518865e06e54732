import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { isOriginAllowed } from './origins.js';

/**
 * CORS for what host pages read across origins: the GET routes and the widget file. Only GET and
 * HEAD, no credentials: nothing here uses cookies, and a viewer token is a header the page sets
 * (Authorization, allowed below). Not for the POST routes (agents are not browsers; the mint route
 * is for the host's backend) and never on the WebSocket upgrade, which checks Origin itself.
 */
export function readCors(allowedOrigins: readonly string[]): MiddlewareHandler {
  return cors({
    origin: (origin, c) => (isOriginAllowed(origin, allowedOrigins, c.req.header('host')) ? origin : null),
    allowMethods: ['GET', 'HEAD'],
    // A poller revalidating by hand sends If-None-Match, and a viewer token comes as Authorization;
    // neither is CORS-safelisted. The preflight itself needs no token.
    allowHeaders: ['If-None-Match', 'Authorization'],
    exposeHeaders: ['ETag', 'Retry-After'],
    maxAge: 600,
  });
}
