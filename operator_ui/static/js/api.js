// The REST API, same origin, signed in by the HttpOnly session cookie.
import { PAGE, PATHS } from './paths.js';

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || null;
    this.field = error.field || null;
    this.body = body;
  }
}

export async function api(method, path, body, { redirectOn401 = true } = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (exc) {
    throw new ApiError(0, { error: { code: 'network', message: String(exc.message || exc) } });
  }
  let data = null;
  const type = response.headers.get('Content-Type') || '';
  if (type.includes('json')) data = await response.json().catch(() => null);
  if (response.status === 401 && redirectOn401) {
    toSignIn();
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// A file upload (multipart/form-data: the browser writes the boundary), answered with JSON like the rest; the header
// tells the server's cross-site check (gateway/csrf.py) that our own script sent it.
export async function upload(path, form) {
  let response;
  try {
    response = await fetch(path, { method: 'POST', credentials: 'same-origin', headers: { Accept: 'application/json', 'X-Switchboard-Upload': '1' }, body: form });
  } catch (exc) {
    throw new ApiError(0, { error: { code: 'network', message: String(exc.message || exc) } });
  }
  const data = await response.json().catch(() => null);
  if (response.status === 401) toSignIn();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

export async function logout() {
  try { await api('POST', PATHS.logout, {}, { redirectOn401: false }); } catch { /* signed out anyway */ }
  toSignIn();
}

// Once: signing out also closes this page's socket (4401), whose session check would navigate a second time
// and abort the first navigation.
let leaving = false;
function toSignIn() {
  if (leaving) return;
  leaving = true;
  location.assign(PAGE.login);
}
