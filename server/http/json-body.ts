import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from './api-error.js';

/** `application/json` or any `application/*+json`, parameters (charset) ignored. */
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

export interface JsonBodyOptions {
  maxBytes: number;
}

/**
 * The gate in front of every JSON body: 415 unless the Content-Type is JSON (hono's validator
 * would silently read such a body as `{}`), 413 past `maxBytes` (hono's bodyLimit also counts
 * chunked bodies without Content-Length as they stream in), 400 `invalid_json` when it does not
 * parse. The parsed body is cached on the request, so `validate('json', ...)` reads it for free.
 */
export function jsonBody(options: JsonBodyOptions): MiddlewareHandler {
  const read = jsonBodyReader(options);
  return async function jsonBody(c, next) {
    await read(c);
    await next();
  };
}

/**
 * The same gate as `jsonBody()`, as a function for a route that does its own steps in one
 * handler: resolves to the parsed (and cached) body, or throws the same ApiError.
 */
export function jsonBodyReader({ maxBytes }: JsonBodyOptions): (c: Context) => Promise<unknown> {
  const tooLarge = (): never => {
    throw new ApiError(
      413,
      'payload_too_large',
      `the request body is larger than ${maxBytes} bytes; send fewer or shorter log lines per request`,
      { details: { maxBytes } },
    );
  };
  // Bodies without a Content-Length (chunked): hono's bodyLimit counts them as they stream in.
  const limit = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async function readJsonBody(c) {
    const contentType = c.req.header('content-type');
    const mediaType = contentType?.split(';')[0]?.trim() ?? '';
    if (!JSON_MEDIA_TYPE.test(mediaType)) {
      throw new ApiError(
        415,
        'unsupported_media_type',
        `send the body as JSON with "Content-Type: application/json" (got ${contentType ? `"${contentType}"` : 'no Content-Type'})`,
      );
    }
    // With a Content-Length (and no Transfer-Encoding) Node's parser reads exactly that many
    // bytes, so the header alone decides, as it does inside hono's bodyLimit. Deciding here keeps
    // us off `c.req.raw.body`, which makes @hono/node-server build a full web Request (stream,
    // AbortController, Headers): about half the CPU of a status POST (bench/, BENCHMARKS.md).
    const length = c.req.header('content-length');
    if (length !== undefined && DIGITS.test(length) && c.req.header('transfer-encoding') === undefined) {
      if (Number(length) > maxBytes) return tooLarge();
      return parse(c);
    }
    let value: unknown;
    await limit(c, async () => {
      value = await parse(c);
    });
    return value;
  };
}

const DIGITS = /^\d+$/;

/** Parses (and so caches) the JSON body; module-level so no request allocates it. */
async function parse(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new ApiError(400, 'invalid_json', 'the request body is not valid JSON');
  }
}
