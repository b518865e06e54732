import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Hono } from 'hono';
import { routePath } from 'hono/route';
import { ROUTES } from '../protocol/index.js';
import type { TaskBus } from './bus/task-bus.js';
import type { Config } from './config.js';
import { AbuseLimits } from './http/abuse-limits.js';
import { ApiError, errorResponse } from './http/api-error.js';
import type { AppEnv } from './http/app-env.js';
import { handleErrors, type ErrorLog } from './http/error-handler.js';
import { checkHost } from './http/host-check.js';
import { hostAllowlist } from './http/hosts.js';
import { securityHeaders } from './http/security-headers.js';
import { HttpMetrics } from './http/metrics.js';
import { ReaderAuth } from './http/reader-auth.js';
import type { Realtime } from './realtime/realtime.js';
import { agentRoutes } from './routes/agents.js';
import type { RouteDeps } from './routes/deps.js';
import { opsRoutes, type OpsDeps } from './routes/ops.js';
import { staticRoutes } from './routes/static-files.js';
import { taskReadRoutes } from './routes/task-reads.js';
import { taskWriteRoutes } from './routes/tasks.js';
import { viewerTokenRoutes } from './routes/viewer-tokens.js';
import type { TaskStore } from './store/task-store.js';
import { viewerKeyRing } from './viewer-tokens/jwt.js';
import type { Readiness } from './http/readiness.js';

export interface AppOptions {
  store: TaskStore;
  bus: TaskBus;
  config: Config;
  /** The WebSocket hub; without it ROUTES.ws answers 404 and /metrics has no WebSocket figures. */
  realtime?: Realtime | undefined;
  /** Where failures are logged (default: console). */
  log?: ErrorLog;
  /** Milliseconds clock for timestamps and rate limiting (default: Date.now). */
  now?: () => number;
  /** Demo mode's chaos controls, mounted at /demo/api (see server/demo/). */
  demo?: Hono | undefined;
  /** Request counts for /metrics; serve.ts passes one it shares with the upgrade listener. */
  metrics?: HttpMetrics;
  /** The embedded dynalite's figures for /metrics, when the store runs one in this process. */
  embeddedStats?: OpsDeps['embeddedStats'];
  /** The per-address limits; serve.ts passes the ones it shares with the WebSocket side. */
  limits?: AbuseLimits;
  /** What /readyz reports (serve.ts: the store, Redis, draining); absent: always ready. */
  readiness?: Readiness;
}

/** A plain GET at ROUTES.ws: RFC 9110 §15.5.22, 426 names the protocol to upgrade to. */
const UPGRADE_REQUIRED = new ApiError(
  426,
  'validation_failed',
  `${ROUTES.ws} is a WebSocket: connect with a WebSocket client (Upgrade: websocket), or poll GET ${ROUTES.tasks}/:id/status`,
  { headers: { Upgrade: 'websocket' } },
);

/** The whole HTTP surface as a Hono app; listening is serve.ts's job, so tests use app.request(). */
export function createApp({
  store,
  bus,
  config,
  realtime,
  log = console,
  now = Date.now,
  demo,
  metrics = new HttpMetrics(),
  embeddedStats,
  limits = new AbuseLimits(config, now),
  readiness,
}: AppOptions) {
  const viewerKeys = config.viewerTokenKeys === null ? null : viewerKeyRing(config.viewerTokenKeys);
  const readers = new ReaderAuth(viewerKeys, config.adminToken, limits, now);
  const deps: RouteDeps = { store, bus, config, log, now, limits, viewerKeys, readers };
  const app = new Hono<AppEnv>();

  app.use(async function countRequests(c, next) {
    await next();
    metrics.record(c.req.method, c.get('routeLabel') ?? routePath(c), c.res.status);
  });
  app.use(securityHeaders);
  app.use(checkHost(hostAllowlist(config)));

  // Upgrades never reach the app: serve.ts gives them to realtime.handleUpgrade on the HTTP
  // server's 'upgrade' event. A GET here has no Upgrade header, so it is told what the route is
  // for. First and bare: no CORS, no body handling.
  if (realtime) {
    // Registered as the task id parameter the read routes have at that depth: Hono's RegExpRouter
    // cannot hold a static segment beside a parameter for one method, and its fallback, the
    // TrieRouter, costs about a microsecond more on every request (bench/profile.ts ingest).
    app.get(`${ROUTES.tasks}/:id`, function upgradeRequired(c, next) {
      if (c.req.path !== ROUTES.ws) return next();
      c.set('routeLabel', ROUTES.ws);
      return errorResponse(c, UPGRADE_REQUIRED);
    });
  }

  app.route(ROUTES.tasks, taskWriteRoutes(deps));
  app.route(ROUTES.tasks, taskReadRoutes(deps));
  app.route('/api/agents', agentRoutes(deps));
  app.route(ROUTES.viewerTokens, viewerTokenRoutes(deps));
  app.route(
    '/',
    opsRoutes({ metrics, realtime, embeddedStats, metricsToken: config.metricsToken, readiness }),
  );
  if (demo) app.route('/demo/api', demo);
  app.route('/', staticRoutes({ dir: config.staticDir, allowedOrigins: config.allowedOrigins }));

  app.notFound((c) => {
    c.set('routeLabel', 'unmatched');
    return errorResponse(c, notFoundError(c.req.method, c.req.path, config.staticDir));
  });
  app.onError(handleErrors(log));
  return app;
}

function notFoundError(method: string, path: string, staticDir: string): ApiError {
  const wantsBuild = path === '/' || path === ROUTES.widget;
  const built = existsSync(join(staticDir, path === '/' ? 'demo/index.html' : ROUTES.widget.slice(1)));
  if (wantsBuild && !built) {
    return new ApiError(
      404,
      'not_found',
      `${path === '/' ? 'the demo' : 'the widget'} is not built yet: run "npm run build" (looked in ${staticDir})`,
    );
  }
  return new ApiError(404, 'not_found', `no route for ${method} ${path}; see the HTTP API in README.md`);
}
