import type { Clock } from './clock.js';

/** The part of `fetch` we use; injected so tests answer requests themselves. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export type HttpResult =
  | { kind: 'ok'; body: unknown; etag: string | null }
  | { kind: 'not-modified' }
  | { kind: 'not-found' }
  /** `status` null: no response (network, abort, unreadable body). */
  | { kind: 'failed'; status: number | null; retryAfterMs: number | null };

export interface GetOptions {
  signal: AbortSignal;
  /** Sent as If-None-Match. */
  etag?: string | null;
  clock: Pick<Clock, 'now'>;
}

/** GET a JSON read route; never throws, so callers handle one result type. */
export async function getJson(fetch: FetchLike, url: string, options: GetOptions): Promise<HttpResult> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.etag) headers['if-none-match'] = options.etag;
  let response: Response;
  try {
    // no-store: revalidation is ours (ETag per cursor URL); the HTTP cache would only add a copy.
    response = await fetch(url, { headers, signal: options.signal, cache: 'no-store', credentials: 'omit' });
  } catch {
    return { kind: 'failed', status: null, retryAfterMs: null };
  }
  if (response.status === 304) return { kind: 'not-modified' };
  if (response.status === 404) return { kind: 'not-found' };
  if (!response.ok) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), options.clock.now());
    return { kind: 'failed', status: response.status, retryAfterMs };
  }
  try {
    return { kind: 'ok', body: await response.json(), etag: response.headers.get('etag') };
  } catch {
    return { kind: 'failed', status: response.status, retryAfterMs: null };
  }
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isFinite(at) ? Math.max(0, at - now) : null;
}
