import { activeTaskRoute, taskStatusRoute, WS_ROUTE } from '../../protocol/routes.js';
import type { FeedKey } from './feed-key.js';

/**
 * `path` under the server's base URL. An empty or relative endpoint is taken against the page,
 * as the element's default ("the page's origin") implies; a base path is kept (a server behind
 * a prefix), with or without its trailing slash.
 */
function under(endpoint: string, path: string): URL {
  const page = globalThis.location?.href;
  const base = page === undefined ? new URL(endpoint) : new URL(endpoint || '/', page);
  return new URL(base.pathname.replace(/\/+$/, '') + path, base);
}

/** `query` values that are null or undefined are left out. */
export function httpUrl(
  endpoint: string,
  path: string,
  query: Record<string, number | null | undefined> = {},
): string {
  const url = under(endpoint, path);
  for (const [key, value] of Object.entries(query))
    if (value != null) url.searchParams.set(key, String(value));
  return url.href;
}

/** http → ws, https → wss (a page on https may only open wss). */
export function wsUrl(endpoint: string): string {
  const url = under(endpoint, WS_ROUTE);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/** What a polled key reads: a task's status from `afterSeq`, or an agent's active task. */
export function pollUrl(endpoint: string, key: FeedKey, afterSeq: number | null): string {
  return key.kind === 'task-poll'
    ? httpUrl(endpoint, taskStatusRoute(key.id), { afterSeq })
    : httpUrl(endpoint, activeTaskRoute(key.id));
}
