import { StoreUnavailableError } from '../store-errors.js';

/** Error names the SDK gives throttling once its own retries are spent. */
const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
]);

/** Node and SDK errors that mean "could not reach DynamoDB" (or it stopped answering). */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);
const UNREACHABLE_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

interface SdkErrorLike {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: 'client' | 'server';
}

/** A conditional write lost: control flow for the store, never shown to a caller. */
export function isConditionalCheckFailed(error: unknown): boolean {
  return (error as SdkErrorLike | null)?.name === 'ConditionalCheckFailedException';
}

/**
 * Maps what the SDK throws after its retries to StoreUnavailableError (routes answer 503 with
 * Retry-After) when waiting could help: throttling, unreachable, 5xx. Anything else (a bug, a
 * missing table, bad credentials) is returned unchanged, to be reported as an internal error.
 */
export function toStoreError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError) return error;
  const e = (error ?? {}) as SdkErrorLike;
  const name = e.name ?? '';
  if (THROTTLING.has(name)) {
    return new StoreUnavailableError(`DynamoDB is throttling requests (${name})`, 1, { cause: error });
  }
  const status = e.$metadata?.httpStatusCode;
  const code = e.code ?? (error as { cause?: SdkErrorLike } | null)?.cause?.code ?? '';
  if (
    UNREACHABLE_CODES.has(code) ||
    UNREACHABLE_NAMES.has(name) ||
    (status !== undefined && status >= 500) ||
    (status === undefined && e.$fault === 'server')
  ) {
    return new StoreUnavailableError(`DynamoDB is unavailable: ${e.message ?? name}`, 5, { cause: error });
  }
  return error;
}
