import type { Phase } from '../../protocol/index.js';
import type { LogQuota, LogUsage } from './log-quota.js';

export class TaskNotFoundError extends Error {
  constructor(readonly taskId: string) {
    super(`no task with id "${taskId}"`);
    this.name = 'TaskNotFoundError';
  }
}

export class TaskExistsError extends Error {
  constructor(readonly taskId: string) {
    super(`a task with id "${taskId}" already exists`);
    this.name = 'TaskExistsError';
  }
}

export class PhaseConflictError extends Error {
  constructor(
    readonly currentPhase: Phase,
    readonly requestedPhase: Phase,
  ) {
    super(
      `the task is "${currentPhase}" and cannot move to "${requestedPhase}": phases only move forward and a finished task is final`,
    );
    this.name = 'PhaseConflictError';
  }
}

export class IdempotencyMismatchError extends Error {
  constructor(readonly key: string) {
    super(`Idempotency-Key "${key}" was already used with a different request body`);
    this.name = 'IdempotencyMismatchError';
  }
}

/** A write whose lines would take its task past TASK_LOG_MAX_LINES or TASK_LOG_MAX_BYTES. */
export class LogQuotaExceededError extends Error {
  constructor(
    readonly taskId: string,
    readonly stored: LogUsage,
    readonly adding: LogUsage,
    readonly quota: LogQuota,
  ) {
    super(
      `task "${taskId}" holds ${stored.lines} log lines (${stored.bytes} bytes); ${adding.lines} more ` +
        `(${adding.bytes} bytes) would pass its cap of ${quota.maxLines} lines or ${quota.maxBytes} bytes`,
    );
    this.name = 'LogQuotaExceededError';
  }
}

/** The backing store is unreachable or throttling beyond retries; the write did not happen. */
export class StoreUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds = 2,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}
