// Zod-free on purpose: the widget imports this at run time and must stay small.

// One export per route the widget uses, so the bundler leaves out the rest (issue 7, size budget).
export const taskStatusRoute = (taskId: string) => `/api/agent-tasks/${encodeURIComponent(taskId)}/status`;
export const taskLogsRoute = (taskId: string) => `/api/agent-tasks/${encodeURIComponent(taskId)}/logs`;
export const activeTaskRoute = (agentId: string) => `/api/agents/${encodeURIComponent(agentId)}/active-task`;
export const WS_ROUTE = '/api/agent-tasks/ws';

/** Routes, so the widget and the server cannot disagree on a path. */
export const ROUTES = {
  tasks: '/api/agent-tasks',
  taskStatus: taskStatusRoute,
  taskLogs: taskLogsRoute,
  /** POST, admin token: a new agent token for the task; the old one stops working at once. */
  taskAgentToken: (taskId: string) => `/api/agent-tasks/${encodeURIComponent(taskId)}/agent-token`,
  activeTask: activeTaskRoute,
  /** POST, admin token: a viewer token scoped to tasks and agents (needs VIEWER_TOKEN_KEYS). */
  viewerTokens: '/api/viewer-tokens',
  ws: WS_ROUTE,
  widget: '/agent-task-status.js',
} as const;
