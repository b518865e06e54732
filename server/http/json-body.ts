import type { MiddlewareHandler } from 'hono';
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
export function jsonBody({ maxBytes }: JsonBodyOptions): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError(
        413,
        'payload_too_large',
        `the request body is larger than ${maxBytes} bytes; send fewer or shorter log lines per request`,
        { details: { maxBytes } },
      );
    },
  });
  return async function jsonBody(c, next) {
    const contentType = c.req.header('content-type');
    const mediaType = contentType?.split(';')[0]?.trim() ?? '';
    if (!JSON_MEDIA_TYPE.test(mediaType)) {
      throw new ApiError(
        415,
        'unsupported_media_type',
        `send the body as JSON with "Content-Type: application/json" (got ${contentType ? `"${contentType}"` : 'no Content-Type'})`,
      );
    }
    await limit(c, async () => {
      try {
        await c.req.json();
      } catch {
        throw new ApiError(400, 'invalid_json', 'the request body is not valid JSON');
      }
      await next();
    });
  };
}
