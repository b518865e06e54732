import { z } from 'zod';
import { AgentIdSchema, TaskIdSchema } from './ids.js';
import { LIMITS, PROTOCOL_VERSION } from './constants.js';
import { LogsPageSchema } from './http.js';
import { LogEntrySchema, TaskSchema } from './task.js';
import { VIEWER_TOKEN } from './viewer-token.js';

// ---- client → server ----------------------------------------------------------------------

/**
 * A task's stream to start (or restart): a snapshot, then live updates. With `afterSeq` the
 * snapshot holds the lines after it (resume); without, the latest lines (a fresh panel).
 */
export const TaskSubscriptionSchema = z.strictObject({
  taskId: TaskIdSchema,
  afterSeq: z.int().min(0).optional(),
});

/** A request id: chosen by the client, echoed by every answer to the request that carried it. */
const RequestIdSchema = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

const batch = <T extends z.ZodType>(item: T) => z.array(item).max(LIMITS.subscribeBatch).optional();

/** At least one id, and no more than one batch, whichever lists carry them. */
const oneBatch = (message: { tasks?: unknown[] | undefined; agents?: unknown[] | undefined }) => {
  const count = (message.tasks?.length ?? 0) + (message.agents?.length ?? 0);
  return count >= 1 && count <= LIMITS.subscribeBatch;
};
const ONE_BATCH_RULE = `name 1 to ${LIMITS.subscribeBatch} tasks and agents in all`;

export const ClientMessageSchema = z.discriminatedUnion('type', [
  /**
   * Follow tasks (snapshot-then-stream each) and agents (their active task, now and on change),
   * many in one message: a dashboard of hundreds of panels subscribes in a few messages. Every
   * task and agent is answered on its own (`snapshot`, `agent-task` or `error`), each answer
   * carrying `requestId`. A task subscribed again while its answer is on its way is answered
   * once, for the latest request.
   */
  z
    .strictObject({
      type: z.literal('subscribe'),
      requestId: RequestIdSchema,
      tasks: batch(TaskSubscriptionSchema),
      agents: batch(AgentIdSchema),
    })
    .refine(oneBatch, ONE_BATCH_RULE),
  z
    .strictObject({
      type: z.literal('unsubscribe'),
      tasks: batch(TaskIdSchema),
      agents: batch(AgentIdSchema),
    })
    .refine(oneBatch, ONE_BATCH_RULE),
  /** Browsers cannot see ping frames, so the client's watchdog uses this app-level ping. */
  z.strictObject({ type: z.literal('ping') }),
  /**
   * Viewer tokens for this connection (issue 13), as many as one subscribe batch names (a
   * dashboard may give each of its panels a token of its own): answered `authorized` when any is
   * accepted, else one `error` (`token_expired` when each refused one had expired, else
   * `unauthorized`), with the same `requestId`. Checked at once, so they apply to every subscribe
   * sent after them. The connection keeps grants for up to 4,096 ids; every page of an origin
   * shares the socket, so together they are one viewer. A later token covering a live
   * subscription extends it. Each refused token (other than an expired one) spends from its
   * address's BAD_TOKENS_PER_MINUTE budget; once spent, the socket is closed with 1008.
   */
  z.strictObject({
    type: z.literal('authorize'),
    requestId: RequestIdSchema,
    tokens: z.array(z.string().min(1).max(VIEWER_TOKEN.maxChars)).min(1).max(LIMITS.subscribeBatch),
  }),
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
  requestId: RequestIdSchema,
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

/**
 * An agent's active task, in answer to a subscribe (with its `requestId`) and whenever a new
 * task starts (without); null: none yet.
 */
export const AgentTaskMessageSchema = z.object({
  type: z.literal('agent-task'),
  requestId: RequestIdSchema.optional(),
  agentId: AgentIdSchema,
  task: TaskSchema.nullable(),
});

/**
 * The answer to `authorize`: the token is kept for this connection until `expiresAt` (epoch ms);
 * null when it never expires (the admin token) or when the server has no viewer tokens at all
 * (reads are public; the token was not looked at).
 */
export const AuthorizedMessageSchema = z.object({
  type: z.literal('authorized'),
  requestId: RequestIdSchema,
  expiresAt: z.int().nullable(),
});

/**
 * With viewer tokens on, a subscription is refused with `unauthorized` (no token on the connection),
 * `token_expired` (only expired tokens would cover it) or `forbidden` (none covers it). A live
 * subscription whose tokens expire is dropped with `token_expired` and no `requestId` (news):
 * authorize a fresh token and subscribe again from the cursor.
 */
export const ErrorMessageSchema = z.object({
  type: z.literal('error'),
  code: z.enum([
    'invalid_message',
    'not_found',
    'too_many_subscriptions',
    'store_unavailable',
    'unauthorized',
    'forbidden',
    'token_expired',
    'internal',
  ]),
  message: z.string(),
  /** The subscribe or authorize this answers, when it answers one. */
  requestId: RequestIdSchema.optional(),
  /** The task or agent the error is about, when there is one. */
  taskId: TaskIdSchema.optional(),
  agentId: AgentIdSchema.optional(),
});

export const PongMessageSchema = z.object({ type: z.literal('pong') });

export const ServerMessageSchema = z.discriminatedUnion('type', [
  HelloMessageSchema,
  AuthorizedMessageSchema,
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
export type AuthorizedMessage = z.infer<typeof AuthorizedMessageSchema>;
export type ErrorMessage = z.infer<typeof ErrorMessageSchema>;
