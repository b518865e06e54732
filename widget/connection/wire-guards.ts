import type { LogsPage, TaskStatusPage } from '../../protocol/http.js';
import type { LogEntry, Task } from '../../protocol/task.js';
import type { ServerMessage } from '../../protocol/ws-messages.js';

// The widget cannot afford zod; these checks are just enough that a malformed message is
// dropped instead of corrupting the merge (seq arithmetic on undefined, say).

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

export function isTask(value: unknown): value is Task {
  return (
    isRecord(value) &&
    typeof value.id === 'string' &&
    typeof value.agentId === 'string' &&
    typeof value.phase === 'string' &&
    isSeq(value.seq)
  );
}

function isLogs(value: unknown): value is LogEntry[] {
  return (
    Array.isArray(value) &&
    value.every((line) => isRecord(line) && isSeq(line.seq) && typeof line.message === 'string')
  );
}

export function isLogsPage(value: unknown): value is LogsPage {
  return (
    isRecord(value) &&
    isLogs(value.logs) &&
    isSeq(value.nextAfterSeq) &&
    typeof value.hasMore === 'boolean' &&
    typeof value.hasOlder === 'boolean'
  );
}

export function isTaskStatusPage(value: unknown): value is TaskStatusPage {
  return isLogsPage(value) && isTask((value as Record<string, unknown>).task);
}

/** `GET /api/agents/:agentId/active-task` (the protocol exports only its schema). */
export function isActiveTaskResponse(value: unknown): value is { task: Task } {
  return isRecord(value) && isTask(value.task);
}

/** Parses a frame; null for anything that is not a well-formed server message we know. */
export function parseServerMessage(data: unknown): ServerMessage | null {
  if (typeof data !== 'string') return null;
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isRecord(message)) return null;
  switch (message.type) {
    case 'hello':
      return typeof message.protocol === 'number' && isSeq(message.heartbeatMs)
        ? (message as ServerMessage)
        : null;
    case 'snapshot':
      return typeof message.taskId === 'string' && isTaskStatusPage(message)
        ? (message as ServerMessage)
        : null;
    case 'update':
      return typeof message.taskId === 'string' &&
        isSeq(message.fromSeq) &&
        isTask(message.task) &&
        isLogs(message.logs)
        ? (message as ServerMessage)
        : null;
    case 'agent-task':
      return typeof message.agentId === 'string' && (message.task === null || isTask(message.task))
        ? (message as ServerMessage)
        : null;
    case 'error':
      return typeof message.code === 'string' ? (message as ServerMessage) : null;
    case 'pong':
      return message as ServerMessage;
    default:
      return null;
  }
}
