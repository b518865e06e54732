import { Hono, type Context } from 'hono';
import { CursorQuerySchema, LIMITS, type CursorQuery } from '../../protocol/index.js';
import { ApiError } from '../http/api-error.js';
import type { AppEnv } from '../http/app-env.js';
import { ifNoneMatchHits, pageEtag, type PageQuery } from '../http/etag.js';
import { readCors } from '../http/read-cors.js';
import { requireTaskCovered } from '../http/reader-auth.js';
import { validate } from '../http/validate.js';
import { ReadGate } from '../realtime/read-gate.js';
import type { RouteDeps } from './deps.js';
import { TaskParamSchema } from './params.js';

/**
 * Log pages read from the store at once, and waiting. A page holds up to about a MiB of lines,
 * and a DynamoDB page read several times that while it runs (the Query page and parts it parses):
 * 64 concurrent reads of 1 MB pages took the embedded-dynalite server from 186 to 494 MB RSS
 * ungated, 379 MB with 8 at a time (bench/read-memory.ts). Past the queue, 503 `server_busy`;
 * the widget retries after Retry-After.
 */
export const PAGE_READS_CONCURRENT = 8;
export const PAGE_READS_WAITING = 256;

const SERVER_BUSY = new ApiError(
  503,
  'server_busy',
  `more than ${PAGE_READS_WAITING} log pages are waiting to be read; retry in 1 s`,
  { headers: { 'Retry-After': '1' } },
);

/**
 * The read routes, mounted at ROUTES.tasks: a task's status page and its log pages. Public without
 * VIEWER_TOKEN_KEYS, else for a bearer viewer token covering the task (or the admin token);
 * CORS-enabled for the allowed origins, revalidated by ETag.
 */
export function taskReadRoutes({ store, config, limits, readers }: RouteDeps) {
  const cors = readCors(config.allowedOrigins);
  const pageReads = new ReadGate(PAGE_READS_CONCURRENT, PAGE_READS_WAITING);

  /** 304 when the client's copy is current, else the page (with its own, possibly newer, ETag). */
  async function readPage(c: Context<AppEnv>, id: string, cursor: CursorQuery) {
    const query: PageQuery = { ...cursor, limit: cursor.limit ?? LIMITS.tailLines };
    c.header('Cache-Control', 'no-cache');
    const grant = await readers.grantOf(c);
    const stored = await store.getTask(id);
    requireTaskCovered(grant, id, stored?.task.agentId);
    if (!stored) throw new ApiError(404, 'not_found', `no task with id "${id}"`);
    const etag = pageEtag(stored.task, query);
    if (ifNoneMatchHits(c.req.header('if-none-match'), etag)) {
      c.header('ETag', etag);
      return null;
    }
    const turn = pageReads.tryEnter();
    if (!turn) throw SERVER_BUSY;
    await turn;
    let page;
    try {
      page = await store.readPage(id, query);
    } finally {
      pageReads.done();
    }
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
