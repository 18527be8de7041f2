// Every HTTP path the console calls, defined once (the server's routes: gateway/api/, listed in gateway/openapi.py).
// Ids are coerced to numbers here so that no caller can smuggle a path segment in.
const id = (value) => Number(value);

export const PATHS = Object.freeze({
  login: '/api/v1/auth/login',
  logout: '/api/v1/auth/logout',
  me: '/api/v1/me',
  config: '/api/v1/config',
  users: '/api/v1/users',
  calls: '/api/v1/calls',
  queueStats: '/api/v1/queues/stats',
  leads: '/api/v1/leads',
  leadCounts: '/api/v1/leads/counts',
  lead: (leadId) => `/api/v1/leads/${id(leadId)}`,
  leadTake: (leadId) => `/api/v1/leads/${id(leadId)}/take`,
  leadReply: (leadId) => `/api/v1/leads/${id(leadId)}/reply`,
  attachment: (interactionId, index) => `/api/v1/interactions/${id(interactionId)}/attachments/${id(index)}`,
  // GET /api/v1/leads with a query (URLSearchParams does the escaping).
  leadsWhere: (params) => `/api/v1/leads?${new URLSearchParams(params)}`,
  tasks: '/api/v1/tasks',
  taskCounts: '/api/v1/tasks/counts',
  task: (taskId) => `/api/v1/tasks/${id(taskId)}`,
  tasksWhere: (params) => `/api/v1/tasks?${new URLSearchParams(params)}`,
  templatesWhere: (params) => `/api/v1/templates?${new URLSearchParams(params)}`,
});

// The pages of this site (served by gateway/ui_routes.py).
export const PAGE = Object.freeze({
  login: '/login', console: '/console', wallboard: '/wallboard', tasks: '/tasks', board: '/board',
});
