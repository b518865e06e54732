import type { LogsPage, TaskStatusPage } from '../../protocol/http.js';
import type { LogEntry, Task } from '../../protocol/task.js';
import type { ServerMessage } from '../../protocol/ws-messages.js';

// The widget cannot afford zod; these checks are just enough that a malformed message is
// dropped instead of corrupting the merge (seq arithmetic on undefined, say).

type Fields = Record<string, unknown>;

const isRecord = (value: unknown): value is Fields => typeof value === 'object' && value !== null;

/** Number.isInteger is false for anything that is not a number. */
const isSeq = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0;

const isString = (value: unknown): value is string => typeof value === 'string';

export const isTask = (value: unknown): value is Task =>
  isRecord(value) &&
  isString(value.id) &&
  isString(value.agentId) &&
  isString(value.phase) &&
  isSeq(value.seq);

const isLogs = (value: unknown): value is LogEntry[] =>
  Array.isArray(value) && value.every((line) => isRecord(line) && isSeq(line.seq) && isString(line.message));

export const isLogsPage = (value: unknown): value is LogsPage =>
  isRecord(value) &&
  isLogs(value.logs) &&
  isSeq(value.nextAfterSeq) &&
  typeof value.hasMore === 'boolean' &&
  typeof value.hasOlder === 'boolean';

export const isTaskStatusPage = (value: unknown): value is TaskStatusPage =>
  isLogsPage(value) && isTask((value as Fields).task);

/** `GET /api/agents/:agentId/active-task` (the protocol exports only its schema). */
export const isActiveTaskResponse = (value: unknown): value is { task: Task } =>
  isRecord(value) && isTask(value.task);

/** Whether a parsed frame is a well-formed message of its type. */
function isWellFormed(m: Fields): boolean {
  switch (m.type) {
    case 'hello':
      return typeof m.protocol === 'number' && isSeq(m.heartbeatMs);
    case 'snapshot':
      return isString(m.taskId) && isTaskStatusPage(m);
    case 'update':
      return isString(m.taskId) && isSeq(m.fromSeq) && isTask(m.task) && isLogs(m.logs);
    case 'agent-task':
      return isString(m.agentId) && (m.task === null || isTask(m.task));
    case 'error':
      return isString(m.code);
    default:
      // An authorize's answer (`authorized`) is dropped here too: a refusal also answers each
      // subscribe it concerned, which is where the panel hears it.
      return m.type === 'pong';
  }
}

/** Parses a frame; null for anything that is not a well-formed server message we know. */
export function parseServerMessage(data: unknown): ServerMessage | null {
  try {
    // A binary frame (Blob, ArrayBuffer) stringifies to "[object …]", which does not parse.
    const message: unknown = JSON.parse(data as string);
    return isRecord(message) && isWellFormed(message) ? (message as ServerMessage) : null;
  } catch {
    return null;
  }
}
