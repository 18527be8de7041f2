// Every HTTP path the console calls, defined once (the server's routes: gateway/api/, listed in gateway/openapi.py).
// Ids are coerced to numbers here so that no caller can smuggle a path segment in.
const id = (value) => Number(value);

export const PATHS = Object.freeze({
  login: '/api/v1/auth/login',
  logout: '/api/v1/auth/logout',
  me: '/api/v1/me',
  myPassword: '/api/v1/me/password',
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
  // The admin screens.
  user: (userId) => `/api/v1/users/${id(userId)}`,
  userPassword: (userId) => `/api/v1/users/${id(userId)}/password`,
  teams: '/api/v1/teams',
  team: (teamId) => `/api/v1/teams/${id(teamId)}`,
  pipelines: '/api/v1/pipelines',
  pipeline: (pipelineId) => `/api/v1/pipelines/${id(pipelineId)}`,
  pipelineBoard: (pipelineId, params) => `/api/v1/pipelines/${id(pipelineId)}/board?${new URLSearchParams(params)}`,
  stages: (pipelineId) => `/api/v1/pipelines/${id(pipelineId)}/stages`,
  stage: (pipelineId, stageId) => `/api/v1/pipelines/${id(pipelineId)}/stages/${id(stageId)}`,
  fields: '/api/v1/fields',
  field: (fieldId) => `/api/v1/fields/${id(fieldId)}`,
  directories: '/api/v1/directories',
  directory: (directoryId) => `/api/v1/directories/${id(directoryId)}`,
  directoryValues: (directoryId) => `/api/v1/directories/${id(directoryId)}/values`,
  directoryValue: (directoryId, valueId) => `/api/v1/directories/${id(directoryId)}/values/${id(valueId)}`,
  contact: (contactId) => `/api/v1/contacts/${id(contactId)}`,
  mergeSuggestions: '/api/v1/merge-suggestions',
  mergeDecision: (suggestionId, accept) => `/api/v1/merge-suggestions/${id(suggestionId)}/${accept ? 'accept' : 'reject'}`,
  mergeUndo: (mergeId) => `/api/v1/merges/${id(mergeId)}/undo`,
  // GET /api/v1/audit with filters; with format=csv it is a download.
  auditWhere: (params) => `/api/v1/audit?${new URLSearchParams(params)}`,
  imports: '/api/v1/imports',
  importJob: (importId) => `/api/v1/imports/${id(importId)}`,
  importPreview: (importId) => `/api/v1/imports/${id(importId)}/preview`,
  importRun: (importId) => `/api/v1/imports/${id(importId)}/run`,
  importCancel: (importId) => `/api/v1/imports/${id(importId)}/cancel`,
  importRejects: (importId) => `/api/v1/imports/${id(importId)}/rejects.csv`,
  // Reports and downloads: the same query with `format: 'csv' | 'xlsx'` is the file.
  reportManagers: (params) => `/api/v1/reports/managers?${new URLSearchParams(params)}`,
  reportFunnel: (params) => `/api/v1/reports/funnel?${new URLSearchParams(params)}`,
  reportSources: (params) => `/api/v1/reports/sources?${new URLSearchParams(params)}`,
  reportHourly: (params) => `/api/v1/reports/hourly?${new URLSearchParams(params)}`,
  agentActivity: (userId, params) => `/api/v1/agents/${id(userId)}/activity?${new URLSearchParams(params)}`,
  exportLeads: (params) => `/api/v1/exports/leads?${new URLSearchParams(params)}`,
  tasks: '/api/v1/tasks',
  taskCounts: '/api/v1/tasks/counts',
  task: (taskId) => `/api/v1/tasks/${id(taskId)}`,
  tasksWhere: (params) => `/api/v1/tasks?${new URLSearchParams(params)}`,
  templatesWhere: (params) => `/api/v1/templates?${new URLSearchParams(params)}`,
});

// The pages of this site (served by gateway/ui_routes.py).
export const PAGE = Object.freeze({
  login: '/login', console: '/console', wallboard: '/wallboard', tasks: '/tasks', board: '/board',
  admin: '/admin', imports: '/imports', reports: '/reports',
  client: (contactId) => `/clients/${id(contactId)}`,
});
