// The console's screens, listed once: the top bar's navigation is drawn from this list.
// A new screen is one line here, its page in operator_ui.PAGES and its dictionary keys.
import { get } from './api.js';
import { h } from './dom.js';
import { FRAME, FRAME_EVENT } from './frames.js';
import { t } from './i18n.js';
import { PAGE, PATHS } from './paths.js';

const STAFF = ['manager', 'supervisor', 'admin'];

export const PAGES = [
  { path: PAGE.console, key: 'nav.console' },
  { path: PAGE.wallboard, key: 'nav.wallboard', roles: STAFF },
  { path: PAGE.tasks, key: 'nav.tasks', counts: true },
  { path: PAGE.board, key: 'nav.board' },
];

// A page that made, moved or finished a task says so with this event: the top bar's counts are read again.
export const TASKS_CHANGED = 'switchboard:tasks-changed';

let countsSeq = 0;

// Overdue and due-today counts beside "My tasks", read again when a reminder falls due (an item just
// became overdue), when this page changed a task, and when the page comes back into view.
async function showTaskCounts(nav) {
  const slot = nav.querySelector('.nav-counts');
  if (!slot) return;
  const mine = ++countsSeq;
  let counts;
  try { counts = await get(PATHS.taskCounts); } catch { return; }
  if (mine !== countsSeq) return;
  const badge = (cls, value, key) => (value > 0
    ? [h('span', { class: `badge ${cls}`, title: t(key, { count: value }), 'aria-label': t(key, { count: value }),
      text: String(value) })]
    : []);
  slot.replaceChildren(
    ...badge('nav-overdue', counts.overdue, 'nav.tasks_overdue'),
    ...badge('nav-today', counts.today, 'nav.tasks_today'));
}

let listening = false;

function follow(nav) {
  if (listening) return;
  listening = true;
  const again = () => showTaskCounts(nav);
  window.addEventListener(FRAME_EVENT, (event) => { if (event.detail.type === FRAME.TASK_DUE) again(); });
  window.addEventListener(TASKS_CHANGED, again);
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') again(); });
}

// Fill <nav id="nav"> with the screens this user may open; the current one is marked for screen readers.
export function renderNav(user, nav = document.getElementById('nav')) {
  if (!nav) return;
  nav.replaceChildren(...PAGES
    .filter((page) => !page.roles || page.roles.includes(user.role))
    .map((page) => {
      const link = h('a', { href: page.path }, t(page.key));
      if (page.counts) link.append(' ', h('span', { class: 'nav-counts' }));
      if (location.pathname === page.path) link.setAttribute('aria-current', 'page');
      return link;
    }));
  follow(nav);
  showTaskCounts(nav);
}
