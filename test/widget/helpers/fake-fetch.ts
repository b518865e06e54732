import type { FetchLike } from '../../../widget/connection/http-get.js';

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RecordedRequest {
  url: URL;
  headers: Record<string, string>;
  aborted: boolean;
  settled: boolean;
}

type Route = (url: URL, headers: Record<string, string>) => Reply | 'network-error' | 'hang';

/**
 * A fetch answered by a route function, with responses that settle in microtasks (no real
 * I/O). Honours AbortSignal like the real one; counts requests still in flight.
 */
export class FakeFetch {
  readonly requests: RecordedRequest[] = [];
  route: Route;

  constructor(route: Route = () => ({ status: 404, body: { error: { code: 'not_found', message: '' } } })) {
    this.route = route;
  }

  get inFlight(): number {
    return this.requests.filter((r) => !r.settled).length;
  }

  readonly fetch: FetchLike = (input, init) => {
    const url = new URL(input);
    const headers = { ...((init.headers as Record<string, string> | undefined) ?? {}) };
    const request: RecordedRequest = { url, headers, aborted: false, settled: false };
    this.requests.push(request);
    return new Promise<Response>((resolve, reject) => {
      const signal = init.signal;
      const onAbort = () => {
        request.aborted = true;
        request.settled = true;
        reject(new DOMException('aborted', 'AbortError'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const reply = this.route(url, headers);
      if (reply === 'hang') return;
      signal?.removeEventListener('abort', onAbort);
      request.settled = true;
      if (reply === 'network-error') return reject(new TypeError('Failed to fetch'));
      resolve(fakeResponse(reply));
    });
  };

  /** Requests whose path ends with `suffix`. */
  to(suffix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.url.pathname.endsWith(suffix));
  }
}

function fakeResponse(reply: Reply): Response {
  const headers = new Headers(reply.headers ?? {});
  return {
    status: reply.status,
    ok: reply.status >= 200 && reply.status < 300,
    headers,
    json: () => Promise.resolve(reply.body),
  } as Response;
}
