import { existsSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type MiddlewareHandler } from 'hono';
import { etag, RETAINED_304_HEADERS } from 'hono/etag';
import { ROUTES } from '../../protocol/index.js';
import type { AppEnv } from '../http/app-env.js';
import { readCors } from '../http/read-cors.js';

export interface StaticDeps {
  /** The build output: `agent-task-status.js` (+ chunks) at the top, the demo page in `demo/`. */
  dir: string;
  allowedOrigins: readonly string[];
}

/**
 * The built widget at ROUTES.widget and the demo at `/`, mounted last so API routes win. Every
 * file gets CORS: a `<script type="module">` (and each chunk it imports) from another origin is
 * fetched in CORS mode and fails without it. Paths under /api/ are never looked up on disk.
 */
export function staticRoutes({ dir, allowedOrigins }: StaticDeps) {
  const cors = readCors(allowedOrigins);
  const top = filesFrom(dir);
  const demo = filesFrom(join(dir, 'demo'));
  const notApi: MiddlewareHandler<AppEnv> = async function notApi(c, next) {
    // A NUL byte (`/%00`) is in no file name; node:fs would throw on it rather than say "no such file".
    if (c.req.path.startsWith('/api/') || c.req.path.includes('\0')) return c.notFound();
    await next();
  };
  return new Hono<AppEnv>()
    .on(['GET', 'OPTIONS'], ROUTES.widget, notApi, cors, revalidatedWhole, noCache, top)
    .on(['GET', 'OPTIONS'], '*', notApi, cors, demo, top);
}

/**
 * The widget's URL never changes, so browsers check it on each page load and get a 304 while it is
 * unchanged: a deploy reaches every host page at once, and the widget always speaks the protocol
 * of the server it came from. The ETag is the body's (per encoding); a 304 keeps the CORS headers.
 */
const revalidated = etag({
  retainedHeaders: [...RETAINED_304_HEADERS, 'access-control-allow-origin', 'access-control-expose-headers'],
});
/** hono/etag hashes the body it sees, so a Range answer (a slice) gets none rather than a wrong one. */
const revalidatedWhole: MiddlewareHandler<AppEnv> = async function revalidatedWhole(c, next) {
  if (c.req.header('range') !== undefined) return next();
  return revalidated(c, next);
};
const noCache: MiddlewareHandler<AppEnv> = async function noCache(c, next) {
  await next();
  if (c.res.ok) c.res.headers.set('Cache-Control', 'no-cache');
};

/**
 * serveStatic over `root`, created only once the directory exists: the build may appear while the
 * server runs, and serveStatic logs an error when created over a missing directory. A browser that
 * accepts Brotli or gzip gets the copy the build compressed (scripts/precompress.ts); every answer
 * varies by Accept-Encoding, the uncompressed one too, so no shared cache hands one to the other.
 */
function filesFrom(root: string): MiddlewareHandler<AppEnv> {
  let serve: { compressed: MiddlewareHandler; plain: MiddlewareHandler } | null = null;
  return async function filesFrom(c, next) {
    if (serve === null) {
      if (!existsSync(root)) return next();
      serve = {
        compressed: serveStatic({ root, precompressed: true }),
        plain: serveStatic({ root }),
      };
    }
    const use = copiesAreFresh(join(root, c.req.path)) ? serve.compressed : serve.plain;
    const res = (await use(c, next)) as Response | undefined;
    if (res?.ok && !/accept-encoding/i.test(res.headers.get('vary') ?? '')) {
      res.headers.append('Vary', 'Accept-Encoding');
    }
    return res;
  };
}

/**
 * False when a compressed copy beside the file at `path` (or its index.html) is older than the
 * file: it was edited or copied without a build, so the copy would serve the old code. Paths that
 * are not files answer true; serveStatic decides about those (and refuses `..`).
 */
function copiesAreFresh(path: string): boolean {
  let file = path;
  let source = statOf(file);
  if (source?.isDirectory()) source = statOf((file = join(file, 'index.html')));
  if (!source?.isFile()) return true;
  return ['.br', '.gz'].every((suffix) => {
    const copy = statOf(file + suffix);
    return !copy || copy.mtimeMs >= source.mtimeMs;
  });
}

/**
 * The file's stats, or undefined when there is none there: also for paths no file can have, such
 * as one through a file (`/agent-task-status.js/x`, ENOTDIR) or one too long (ENAMETOOLONG), which
 * a client may well ask for and which are a 404, not a failure.
 */
function statOf(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}
