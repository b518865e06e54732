import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import {
  ActiveTaskResponseSchema,
  AgentTokenResponseSchema,
  CreateTaskResponseSchema,
  CreateTaskSchema,
  CursorQuerySchema,
  ErrorBodySchema,
  LogsPageSchema,
  MintViewerTokenSchema,
  ROUTES,
  StatusResponseSchema,
  StatusUpdateSchema,
  TaskStatusPageSchema,
  ViewerTokenResponseSchema,
  type ErrorCode,
} from '../../protocol/index.js';
import { AgentParamSchema, IdempotencyHeaderSchema, TaskParamSchema } from '../routes/params.js';

/**
 * The HTTP API as an OpenAPI 3.1 document (served at /openapi.json), generated from the same zod
 * schemas the routes validate with (`protocol/`, `server/routes/params.ts`) by
 * @asteasolutions/zod-to-openapi: what is written here by hand is only which route takes and
 * answers which schema, and a test holds that against the routes the app really mounts and the
 * answers it really gives (test/server/openapi.test.ts). The WebSocket protocol is not HTTP and
 * is described in README.md ("WebSocket protocol"); its route appears here with its 426.
 */

/** What /healthz answers. */
export const HealthSchema = z.object({ ok: z.literal(true) });
/** What /readyz answers (server/http/readiness.ts). */
export const ReadinessSchema = z.object({
  ready: z.boolean(),
  draining: z.boolean(),
  store: z.enum(['ok', 'unavailable', 'not checked']),
  redis: z.enum(['ok', 'down', 'not used']),
});

const ERROR_MEANING: Record<number, string> = {
  400: 'the body, query, path or a header is not valid (`invalid_json`, `validation_failed`)',
  401: 'no token, a wrong one (`unauthorized`), or an expired viewer token (`token_expired`)',
  403: 'the token does not cover this (`forbidden`)',
  404: 'no such task or agent (`not_found`)',
  409: 'the id is taken (`task_exists`) or the phase cannot move there (`phase_conflict`)',
  413: 'the body is too large (`payload_too_large`) or the task log is full (`log_quota_exceeded`)',
  415: 'the body is not `application/json` (`unsupported_media_type`)',
  422: 'an `Idempotency-Key` reused with another body (`idempotency_mismatch`)',
  426: 'a plain GET on the WebSocket route: connect with a WebSocket client',
  429: 'over a rate limit (`rate_limited`); wait `Retry-After` seconds',
  503: 'the store cannot answer now (`store_unavailable`, `server_busy`); retry after `Retry-After` seconds',
};

const RETRY_AFTER = {
  'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer' as const } },
};

const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

/** Every error answer has the same body: `{ error: { code, message, details? } }`. */
function errors(...statuses: (keyof typeof ERROR_MEANING)[]): RouteConfig['responses'] {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        ...json(ErrorBodySchema, ERROR_MEANING[status]!),
        ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
      },
    ]),
  );
}

/** A ROUTES builder's path with OpenAPI's `{name}` where the id goes. */
const template = (route: (id: string) => string, name: string) =>
  route(`{${name}}`).replace(encodeURIComponent(`{${name}}`), `{${name}}`);

const PATHS = {
  tasks: ROUTES.tasks,
  taskStatus: template(ROUTES.taskStatus, 'id'),
  taskLogs: template(ROUTES.taskLogs, 'id'),
  taskAgentToken: template(ROUTES.taskAgentToken, 'id'),
  activeTask: template(ROUTES.activeTask, 'agentId'),
  viewerTokens: ROUTES.viewerTokens,
  ws: ROUTES.ws,
};

function register(registry: OpenAPIRegistry): void {
  const bearer = (description: string) => ({ type: 'http' as const, scheme: 'bearer', description });
  registry.registerComponent(
    'securitySchemes',
    'agentToken',
    bearer("the task's agent token, returned once when the task was created"),
  );
  registry.registerComponent(
    'securitySchemes',
    'adminToken',
    bearer(
      'ADMIN_TOKEN; routes that take it are open while ADMIN_TOKEN is unset (on loopback, or anywhere with ALLOW_OPEN_CREATION=1)',
    ),
  );
  registry.registerComponent(
    'securitySchemes',
    'viewerToken',
    bearer(
      'a viewer token (POST /api/viewer-tokens), or the admin token; reads are open without VIEWER_TOKEN_KEYS',
    ),
  );
  const readSecurity: Record<string, string[]>[] = [{ viewerToken: [] }, {}];

  registry.registerPath({
    method: 'post',
    path: PATHS.tasks,
    operationId: 'createTask',
    summary: 'Create a task; returns it and its agent token (shown once)',
    security: [{ adminToken: [] }, {}],
    request: { body: { required: true, content: { 'application/json': { schema: CreateTaskSchema } } } },
    responses: {
      201: {
        ...json(CreateTaskResponseSchema, 'the task (queued, seq 0) and its agent token'),
        headers: { Location: { description: "the task's status route", schema: { type: 'string' } } },
      },
      ...errors(400, 401, 403, 409, 413, 415, 429, 503),
    },
  });
  registry.registerPath({
    method: 'post',
    path: PATHS.taskStatus,
    operationId: 'postStatus',
    summary: "Post a task's phase, progress, message and log lines (at least one)",
    description:
      'Each log line and each status change takes the next `seq`. Send an `Idempotency-Key` and retry with the same key: a retry is answered as the first was (`Idempotent-Replayed: true`) and stores nothing.',
    security: [{ agentToken: [] }],
    request: {
      params: TaskParamSchema,
      headers: IdempotencyHeaderSchema,
      body: { required: true, content: { 'application/json': { schema: StatusUpdateSchema } } },
    },
    responses: {
      200: {
        ...json(StatusResponseSchema, 'the task after this write'),
        headers: {
          'Idempotent-Replayed': {
            description: '`true` when this answers an earlier write with the same Idempotency-Key',
            schema: { type: 'string' },
          },
        },
      },
      ...errors(400, 401, 409, 413, 415, 422, 429, 503),
    },
  });
  registry.registerPath({
    method: 'post',
    path: PATHS.taskAgentToken,
    operationId: 'replaceAgentToken',
    summary: 'Replace the agent token of a task: the old one is refused from the next request on',
    security: [{ adminToken: [] }],
    request: { params: TaskParamSchema },
    responses: {
      200: json(AgentTokenResponseSchema, 'the new agent token'),
      ...errors(400, 401, 403, 404, 429, 503),
    },
  });
  const pageQuery = {
    params: TaskParamSchema,
    query: CursorQuerySchema,
    headers: z.object({ 'if-none-match': z.string().optional() }),
  };
  const notModified = {
    304: {
      description: 'nothing new since the ETag sent in If-None-Match',
      headers: { ETag: { description: 'the page validator', schema: { type: 'string' as const } } },
    },
  };
  registry.registerPath({
    method: 'get',
    path: PATHS.taskStatus,
    operationId: 'getStatus',
    summary: 'The task and a page of its log lines: after `afterSeq`, before `beforeSeq`, or the latest',
    security: readSecurity,
    request: pageQuery,
    responses: {
      200: json(TaskStatusPageSchema, 'the task and the page'),
      ...notModified,
      ...errors(400, 401, 403, 404, 429, 503),
    },
  });
  registry.registerPath({
    method: 'get',
    path: PATHS.taskLogs,
    operationId: 'getLogs',
    summary: 'A page of the task’s log lines, as the status route without the task',
    security: readSecurity,
    request: pageQuery,
    responses: {
      200: json(LogsPageSchema, 'the page'),
      ...notModified,
      ...errors(400, 401, 403, 404, 429, 503),
    },
  });
  registry.registerPath({
    method: 'get',
    path: PATHS.activeTask,
    operationId: 'getActiveTask',
    summary: "An agent's most recently created task",
    security: readSecurity,
    request: { params: AgentParamSchema },
    responses: {
      200: json(ActiveTaskResponseSchema, 'the task'),
      ...errors(400, 401, 403, 404, 429, 503),
    },
  });
  registry.registerPath({
    method: 'post',
    path: PATHS.viewerTokens,
    operationId: 'mintViewerToken',
    summary: 'Mint a viewer token for tasks and agents (needs VIEWER_TOKEN_KEYS)',
    security: [{ adminToken: [] }, {}],
    request: { body: { required: true, content: { 'application/json': { schema: MintViewerTokenSchema } } } },
    responses: {
      201: json(ViewerTokenResponseSchema, 'the token and when it expires'),
      ...errors(400, 401, 403, 413, 415, 429),
    },
  });
  registry.registerPath({
    method: 'get',
    path: PATHS.ws,
    operationId: 'webSocket',
    summary: 'The WebSocket (subscribe to tasks and agents); a plain GET is refused',
    description: 'Connect with `Upgrade: websocket`. Messages: README.md, "WebSocket protocol".',
    responses: errors(426),
  });
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    operationId: 'health',
    summary: 'Liveness: the process answers',
    responses: { 200: json(HealthSchema, 'alive') },
  });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    operationId: 'ready',
    summary: 'Readiness, for load balancers: 503 while the store does not answer or the server drains',
    responses: {
      200: json(ReadinessSchema, 'ready (Redis down still counts as ready: degraded)'),
      503: json(ReadinessSchema, 'not ready'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus metrics (METRICS_TOKEN as a bearer token, or loopback clients without it)',
    security: [{ metricsToken: [] }, {}],
    responses: {
      200: {
        description: 'the text exposition format',
        content: { 'text/plain': { schema: { type: 'string' } } },
      },
      ...errors(401, 403),
    },
  });
  registry.registerComponent('securitySchemes', 'metricsToken', bearer('METRICS_TOKEN'));
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    operationId: 'openApi',
    summary: 'This document',
    responses: {
      200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } },
    },
  });
  registry.registerPath({
    method: 'get',
    path: ROUTES.widget,
    operationId: 'widget',
    summary: 'The element, as one ES module (and its chunks beside it)',
    responses: {
      200: { description: 'JavaScript', content: { 'text/javascript': { schema: { type: 'string' } } } },
      ...errors(404),
    },
  });
}

let built: object | null = null;

/** The document, built once (it depends on nothing but the schemas). */
export function openApiDocument(): object {
  if (built) return built;
  const registry = new OpenAPIRegistry();
  register(registry);
  built = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'agent-task-status',
      version: '1',
      description:
        'Agents post status and log lines; panels read them (and follow them over the WebSocket). Errors are `{ error: { code, message } }` with the status codes listed per route.',
    },
  });
  return built;
}
