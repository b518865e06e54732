import { z } from 'zod';
import { AgentIdSchema, TaskIdSchema } from './ids.js';
import { LIMITS } from './constants.js';
import { LogEntrySchema, LogLevelSchema, PhaseSchema, TaskSchema } from './task.js';
import { scopeProblem, VIEWER_TOKEN } from './viewer-token.js';

/** Body of `POST /api/agent-tasks`. */
export const CreateTaskSchema = z.strictObject({
  agentId: AgentIdSchema,
  title: z.string().trim().min(1).max(LIMITS.titleChars).optional(),
  id: TaskIdSchema.optional(),
});
export type CreateTask = z.infer<typeof CreateTaskSchema>;

export const CreateTaskResponseSchema = z.object({
  task: TaskSchema,
  /** Bearer token for this task only; shown once, stored hashed. */
  agentToken: z.string(),
});
export type CreateTaskResponse = z.infer<typeof CreateTaskResponseSchema>;

/** A replaced agent token (POST .../agent-token): the previous one is refused from now on. */
export const AgentTokenResponseSchema = CreateTaskResponseSchema.pick({ agentToken: true });
export type AgentTokenResponse = z.infer<typeof AgentTokenResponseSchema>;

export const LogInputSchema = z.strictObject({
  level: LogLevelSchema.default('info'),
  message: z.string().min(1).max(LIMITS.logLineChars),
  /** When the agent saw it; the server's clock when absent. */
  at: z.iso.datetime({ offset: true }).optional(),
});
export type LogInput = z.infer<typeof LogInputSchema>;

/** Body of `POST /api/agent-tasks/:id/status`: any of the fields, at least one. */
export const StatusUpdateSchema = z
  .strictObject({
    phase: PhaseSchema.optional(),
    progress: z.number().min(0).max(100).nullable().optional(),
    message: z.string().max(LIMITS.messageChars).nullable().optional(),
    logs: z.array(LogInputSchema).max(LIMITS.logLinesPerPost).optional(),
  })
  .refine(
    (u) =>
      u.phase !== undefined ||
      u.progress !== undefined ||
      u.message !== undefined ||
      (u.logs?.length ?? 0) > 0,
    { message: 'send at least one of phase, progress, message or a non-empty logs array' },
  );
export type StatusUpdate = z.infer<typeof StatusUpdateSchema>;
/** What an agent sends (before defaults such as `level: 'info'` are applied). */
export type StatusUpdateInput = z.input<typeof StatusUpdateSchema>;

export const StatusResponseSchema = z.object({ task: TaskSchema });

/**
 * A page of log lines, in seq order.
 * - Forward (`afterSeq` given): the lines after it. `nextAfterSeq` is the cursor to ask with next:
 *   every event up to it is covered (status-only events have no line, so it can pass the last
 *   line's seq); `hasMore` says asking again right away would return more.
 * - Tail (no cursor) or backward (`beforeSeq`): the latest lines (before `beforeSeq`); `hasOlder`
 *   says there are earlier ones to load on demand. `nextAfterSeq` is still the forward cursor.
 */
export const LogsPageSchema = z.object({
  logs: z.array(LogEntrySchema),
  nextAfterSeq: z.int().min(0),
  hasMore: z.boolean(),
  hasOlder: z.boolean(),
});
export type LogsPage = z.infer<typeof LogsPageSchema>;

/** `GET /api/agent-tasks/:id/status?afterSeq=N`: the current task and the lines after N. */
export const TaskStatusPageSchema = LogsPageSchema.extend({ task: TaskSchema });
export type TaskStatusPage = z.infer<typeof TaskStatusPageSchema>;

export const ActiveTaskResponseSchema = z.object({ task: TaskSchema });

/** Query of the read routes: `afterSeq` (forward), `beforeSeq` (backward) or neither (tail). */
export const CursorQuerySchema = z
  .strictObject({
    afterSeq: z.coerce.number().int().min(0).optional(),
    beforeSeq: z.coerce.number().int().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(LIMITS.logsPageMax).optional(),
  })
  .refine((q) => q.afterSeq === undefined || q.beforeSeq === undefined, {
    message: 'use afterSeq or beforeSeq, not both',
  });
export type CursorQuery = z.infer<typeof CursorQuerySchema>;

/**
 * Body of `POST /api/viewer-tokens` (admin token): what the token may read, and for how long. A
 * task is covered when named in `tasks` or when its agent is named in `agents`.
 */
export const MintViewerTokenSchema = z
  .strictObject({
    tasks: z.array(TaskIdSchema).max(VIEWER_TOKEN.maxScopeEntries).optional(),
    agents: z.array(AgentIdSchema).max(VIEWER_TOKEN.maxScopeEntries).optional(),
    ttlSeconds: z
      .int()
      .min(VIEWER_TOKEN.ttlSeconds.min)
      .max(VIEWER_TOKEN.ttlSeconds.max)
      .default(VIEWER_TOKEN.ttlSeconds.default),
  })
  .refine((scope) => scopeProblem(scope) === null, {
    message: `name 1 to ${VIEWER_TOKEN.maxScopeEntries} tasks and agents in all`,
  });
export type MintViewerToken = z.input<typeof MintViewerTokenSchema>;

/** A minted viewer token; send it as `Authorization: Bearer <token>` or in a WebSocket `authorize`. */
export const ViewerTokenResponseSchema = z.object({
  token: z.string(),
  /** When it stops being accepted (ISO 8601). */
  expiresAt: z.iso.datetime(),
});
export type ViewerTokenResponse = z.infer<typeof ViewerTokenResponseSchema>;

export const ERROR_CODES = [
  'invalid_json',
  'validation_failed',
  'unauthorized',
  /** A viewer token that was valid and has expired: mint (or fetch) a fresh one. */
  'token_expired',
  'forbidden',
  'not_found',
  'host_not_allowed',
  'task_exists',
  'phase_conflict',
  'idempotency_mismatch',
  'payload_too_large',
  'log_quota_exceeded',
  'unsupported_media_type',
  'rate_limited',
  'store_unavailable',
  'server_busy',
  'realtime_unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;
