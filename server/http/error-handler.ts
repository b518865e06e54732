import type { Context, ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '../../protocol/index.js';
import {
  IdempotencyMismatchError,
  LogQuotaExceededError,
  PhaseConflictError,
  StoreUnavailableError,
  TaskExistsError,
  TaskNotFoundError,
} from '../store/store-errors.js';
import { ApiError, errorResponse } from './api-error.js';

export type ErrorLog = Pick<Console, 'error' | 'warn'>;

/** Every failure becomes our JSON error body; store errors map to their statuses here, once. */
export function handleErrors(log: ErrorLog): ErrorHandler {
  return function handleErrors(error, c) {
    return errorResponse(c, toApiError(error, c, log));
  };
}

function toApiError(error: unknown, c: Context, log: ErrorLog): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof TaskNotFoundError) return new ApiError(404, 'not_found', error.message);
  if (error instanceof TaskExistsError) {
    return new ApiError(409, 'task_exists', `${error.message}; pick another id or leave it out`, {
      details: { taskId: error.taskId },
    });
  }
  if (error instanceof PhaseConflictError) {
    return new ApiError(409, 'phase_conflict', error.message, {
      details: { currentPhase: error.currentPhase, requestedPhase: error.requestedPhase },
    });
  }
  if (error instanceof IdempotencyMismatchError) {
    return new ApiError(422, 'idempotency_mismatch', `${error.message}; use a new key for a new update`);
  }
  if (error instanceof LogQuotaExceededError) {
    const { stored, adding, quota } = error;
    return new ApiError(
      413,
      'log_quota_exceeded',
      `${error.message}; nothing of this write was stored. Start a new task for further output, ` +
        'send status without logs to finish this one, or raise TASK_LOG_MAX_LINES / TASK_LOG_MAX_BYTES',
      { details: { stored, adding, quota } },
    );
  }
  if (error instanceof StoreUnavailableError) {
    log.warn(`store unavailable on ${c.req.method} ${c.req.path}: ${error.message}`);
    const seconds = String(error.retryAfterSeconds);
    return new ApiError(
      503,
      'store_unavailable',
      `the task store is unavailable right now; retry in ${seconds} s`,
      { headers: { 'Retry-After': seconds } },
    );
  }
  if (error instanceof HTTPException && error.status < 500) {
    // Thrown by hono's own middleware; ours throw ApiError.
    return new ApiError(error.status as ContentfulStatusCode, codeForStatus(error.status), error.message);
  }
  log.error(`unhandled error on ${c.req.method} ${c.req.path}`, error);
  return new ApiError(500, 'internal', 'the server failed to handle this request; the error was logged');
}

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    case 429:
      return 'rate_limited';
    default:
      return 'validation_failed';
  }
}
