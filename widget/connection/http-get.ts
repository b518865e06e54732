import type { Clock } from './clock.js';

/** A request that has not answered by then is aborted and counts as a failure. */
export const REQUEST_TIMEOUT_MS = 15_000;

/** The part of `fetch` we use; injected so tests answer requests themselves. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Only an `ok` result has a body: a guard on `body` needs no check of `kind` first. */
export type HttpResult =
  | { kind: 'ok'; body: unknown; etag: string | null }
  | { kind: 'not-modified'; body?: undefined }
  | { kind: 'not-found'; body?: undefined }
  /** `status` null: no response (network, abort, timeout). */
  | { kind: 'failed'; status: number | null; retryAfterMs: number | null; body?: undefined };

export interface GetOptions {
  /** Aborting it cancels the request (and its timeout), e.g. on stop. */
  abort: AbortController;
  /** Sent as If-None-Match. */
  etag?: string | null;
  /** A viewer token, sent as `Authorization: Bearer` (never in the URL, which logs keep). */
  token?: string | null;
  clock: Clock;
}

/**
 * GET a JSON read route, given up after REQUEST_TIMEOUT_MS; never throws, so callers handle one
 * result type.
 */
export async function getJson(fetch: FetchLike, url: string, options: GetOptions): Promise<HttpResult> {
  const { abort, etag, token, clock } = options;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (etag) headers['if-none-match'] = etag;
  if (token) headers.authorization = `Bearer ${token}`;
  const { signal } = abort;
  const timer = clock.setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  // Cleared at once on abort, so a stopped caller leaves no timer behind.
  const done = () => clock.clearTimeout(timer);
  signal.addEventListener('abort', done);
  let status: number | null = null;
  try {
    const response = await fetch(url, {
      headers,
      signal,
      // no-store: revalidation is ours (ETag per cursor URL); the HTTP cache would only add a copy.
      cache: 'no-store',
      credentials: 'omit',
    });
    const answer = response.headers;
    status = response.status;
    if (status === 304) return { kind: 'not-modified' };
    if (status === 404) return { kind: 'not-found' };
    if (response.ok) return { kind: 'ok', body: await response.json(), etag: answer.get('etag') };
    return { kind: 'failed', status, retryAfterMs: parseRetryAfter(answer.get('retry-after'), clock.now()) };
  } catch {
    // No response (network, abort, timeout), or a body that is not JSON.
    return { kind: 'failed', status, retryAfterMs: null };
  } finally {
    done();
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
