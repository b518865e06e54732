// Zod-free on purpose: the widget imports this at run time and must stay small.

/** Routes, so the widget and the server cannot disagree on a path. */
export const ROUTES = {
  tasks: '/api/agent-tasks',
  taskStatus: (taskId: string) => `/api/agent-tasks/${encodeURIComponent(taskId)}/status`,
  taskLogs: (taskId: string) => `/api/agent-tasks/${encodeURIComponent(taskId)}/logs`,
  activeTask: (agentId: string) => `/api/agents/${encodeURIComponent(agentId)}/active-task`,
  ws: '/api/agent-tasks/ws',
  widget: '/agent-task-status.js',
} as const;
