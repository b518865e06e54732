import { Hono } from 'hono';
import { MintViewerTokenSchema, VIEWER_TOKEN } from '../../protocol/index.js';
import { ApiError } from '../http/api-error.js';
import type { AppEnv } from '../http/app-env.js';
import { requireAdmin } from '../http/auth.js';
import { jsonBody } from '../http/json-body.js';
import { validate } from '../http/validate.js';
import { signViewerToken } from '../viewer-tokens/jwt.js';
import type { RouteDeps } from './deps.js';

const NO_KEYS = new ApiError(
  403,
  'forbidden',
  'this server has no VIEWER_TOKEN_KEYS; set it to issue viewer tokens',
);

/**
 * Mounted at ROUTES.viewerTokens: mints a viewer token for the host's backend, which hands it to
 * the page that shows the panels. Guarded exactly as task creation is (the admin token, open only
 * while ADMIN_TOKEN is unset). No CORS: a browser is never meant to hold the admin token.
 */
export function viewerTokenRoutes({ config, now, limits, viewerKeys }: RouteDeps) {
  return new Hono<AppEnv>().post(
    '/',
    requireAdmin(config.adminToken, limits),
    async function requireKeys(_c, next) {
      if (viewerKeys === null) throw NO_KEYS;
      await next();
    },
    jsonBody({ maxBytes: config.bodyLimitBytes }),
    validate('json', MintViewerTokenSchema),
    async (c) => {
      const { ttlSeconds, ...scope } = c.req.valid('json');
      const { token, expiresAt } = signViewerToken(viewerKeys!, scope, ttlSeconds, now());
      if (token.length > VIEWER_TOKEN.maxChars) {
        throw new ApiError(
          400,
          'validation_failed',
          `this scope makes a token of ${token.length} characters, over the ${VIEWER_TOKEN.maxChars} a server accepts; name fewer or shorter ids, or mint several tokens`,
        );
      }
      // A bearer secret: keep it out of every cache.
      c.header('Cache-Control', 'no-store');
      return c.json({ token, expiresAt: new Date(expiresAt).toISOString() }, 201);
    },
  );
}
