import { Hono, type Context } from 'hono';
import { CursorQuerySchema, LIMITS, type CursorQuery } from '../../protocol/index.js';
import { ApiError } from '../http/api-error.js';
import type { AppEnv } from '../http/app-env.js';
import { ifNoneMatchHits, pageEtag, type PageQuery } from '../http/etag.js';
import { readCors } from '../http/read-cors.js';
import { validate } from '../http/validate.js';
import type { RouteDeps } from './deps.js';
import { TaskParamSchema } from './params.js';

/**
 * The read routes, mounted at ROUTES.tasks: a task's status page and its log pages. Public
 * (task ids are the capability), CORS-enabled for the allowed origins, revalidated by ETag.
 */
export function taskReadRoutes({ store, config, limits }: RouteDeps) {
  const cors = readCors(config.allowedOrigins);

  /** 304 when the client's copy is current, else the page (with its own, possibly newer, ETag). */
  async function readPage(c: Context<AppEnv>, id: string, cursor: CursorQuery) {
    const query: PageQuery = { ...cursor, limit: cursor.limit ?? LIMITS.tailLines };
    c.header('Cache-Control', 'no-cache');
    const stored = await store.getTask(id);
    if (!stored) throw new ApiError(404, 'not_found', `no task with id "${id}"`);
    const etag = pageEtag(stored.task, query);
    if (ifNoneMatchHits(c.req.header('if-none-match'), etag)) {
      c.header('ETag', etag);
      return null;
    }
    const page = await store.readPage(id, query);
    if (!page) throw new ApiError(404, 'not_found', `no task with id "${id}"`);
    c.header('ETag', pageEtag(page.task, query));
    return page;
  }

  return new Hono<AppEnv>()
    .options('/:id/status', cors)
    .options('/:id/logs', cors)
    .get(
      '/:id/status',
      cors,
      limits.limitReads,
      validate('param', TaskParamSchema),
      validate('query', CursorQuerySchema),
      async (c) => {
        const page = await readPage(c, c.req.valid('param').id, c.req.valid('query'));
        return page ? c.json(page, 200) : c.body(null, 304);
      },
    )
    .get(
      '/:id/logs',
      cors,
      limits.limitReads,
      validate('param', TaskParamSchema),
      validate('query', CursorQuerySchema),
      async (c) => {
        const page = await readPage(c, c.req.valid('param').id, c.req.valid('query'));
        if (!page) return c.body(null, 304);
        const { task: _task, ...logsPage } = page;
        return c.json(logsPage, 200);
      },
    );
}
