import { z } from 'zod';
import { AgentIdSchema, TaskIdSchema } from './ids.js';
import { LogsPageSchema } from './http.js';
import { LogEntrySchema, TaskSchema } from './task.js';

/** Bumped on an incompatible change of the messages below. */
export const PROTOCOL_VERSION = 1;

// ---- client → server ----------------------------------------------------------------------

export const ClientMessageSchema = z.discriminatedUnion('type', [
  /**
   * Start (or restart) a task's stream: a snapshot, then live updates. With `afterSeq` the
   * snapshot holds the lines after it (resume); without, the latest lines (a fresh panel).
   */
  z.strictObject({ type: z.literal('subscribe'), taskId: TaskIdSchema, afterSeq: z.int().min(0).optional() }),
  z.strictObject({ type: z.literal('unsubscribe'), taskId: TaskIdSchema }),
  /** Follow which task is an agent's active one; answered with `agent-task` now and on change. */
  z.strictObject({ type: z.literal('watch-agent'), agentId: AgentIdSchema }),
  z.strictObject({ type: z.literal('unwatch-agent'), agentId: AgentIdSchema }),
  /** Browsers cannot see ping frames, so the client's watchdog uses this app-level ping. */
  z.strictObject({ type: z.literal('ping') }),
]);
export type ClientMessage = z.input<typeof ClientMessageSchema>;
export type ParsedClientMessage = z.output<typeof ClientMessageSchema>;

// ---- server → client ----------------------------------------------------------------------

export const HelloMessageSchema = z.object({
  type: z.literal('hello'),
  protocol: z.literal(PROTOCOL_VERSION),
  /** The server pings this often; a client that hears nothing for about twice this reconnects. */
  heartbeatMs: z.int().positive(),
});

/**
 * The answer to `subscribe`: the task now and a page of its lines (see LogsPageSchema). Covers
 * every event up to `nextAfterSeq`; when `hasMore`, the client pages on with the logs route.
 */
export const SnapshotMessageSchema = LogsPageSchema.extend({
  type: z.literal('snapshot'),
  taskId: TaskIdSchema,
  task: TaskSchema,
});

/**
 * One stored write: the events `fromSeq`..`task.seq`, i.e. its log lines (in seq order) and,
 * when the write changed the status, the status change as the last event. `task` is the status
 * after it. A client holding cursor C sees a gap when `fromSeq > C + 1`.
 */
export const UpdateMessageSchema = z.object({
  type: z.literal('update'),
  taskId: TaskIdSchema,
  fromSeq: z.int().min(1),
  task: TaskSchema,
  logs: z.array(LogEntrySchema),
});

/** An agent's active task, after `watch-agent` and whenever a new task starts; null: none yet. */
export const AgentTaskMessageSchema = z.object({
  type: z.literal('agent-task'),
  agentId: AgentIdSchema,
  task: TaskSchema.nullable(),
});

export const ErrorMessageSchema = z.object({
  type: z.literal('error'),
  code: z.enum(['invalid_message', 'not_found', 'too_many_subscriptions', 'store_unavailable', 'internal']),
  message: z.string(),
  /** The task or agent the error is about, when there is one. */
  taskId: TaskIdSchema.optional(),
  agentId: AgentIdSchema.optional(),
});

export const PongMessageSchema = z.object({ type: z.literal('pong') });

export const ServerMessageSchema = z.discriminatedUnion('type', [
  HelloMessageSchema,
  SnapshotMessageSchema,
  UpdateMessageSchema,
  AgentTaskMessageSchema,
  ErrorMessageSchema,
  PongMessageSchema,
]);
export type ServerMessage = z.infer<typeof ServerMessageSchema>;
export type SnapshotMessage = z.infer<typeof SnapshotMessageSchema>;
export type UpdateMessage = z.infer<typeof UpdateMessageSchema>;
export type AgentTaskMessage = z.infer<typeof AgentTaskMessageSchema>;
export type ErrorMessage = z.infer<typeof ErrorMessageSchema>;

/** WebSocket close codes we use (RFC 6455 §7.4 and the IANA registry). */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  serviceRestart: 1012,
  tryAgainLater: 1013,
} as const;
