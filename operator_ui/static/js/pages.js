// The console's screens, listed once: the top bar's navigation is drawn from this list.
// A new screen is one line here, its page in operator_ui.PAGES and its dictionary keys.
import { get, logout, patch } from './api.js';
import { h } from './dom.js';
import { FRAME, FRAME_EVENT } from './frames.js';
import { applyI18n, label, languages, setLocale, t } from './i18n.js';
import { PAGE, PATHS } from './paths.js';

const STAFF = ['manager', 'supervisor', 'admin'];
// Read before the first request at sign-in and on every page, so the words are right before /config answers.
export const LOCALE_KEY = 'switchboard.locale';
const SUPERVISORS = ['supervisor', 'admin'];

export const PAGES = [
  { path: PAGE.console, key: 'nav.console' },
  { path: PAGE.wallboard, key: 'nav.wallboard', roles: STAFF },
  { path: PAGE.tasks, key: 'nav.tasks', counts: true },
  { path: PAGE.board, key: 'nav.board' },
  { path: PAGE.reports, key: 'nav.reports', roles: SUPERVISORS },
  { path: PAGE.admin, key: 'nav.admin', roles: SUPERVISORS },
  { path: PAGE.imports, key: 'nav.imports', roles: ['admin'] },
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

// What every signed-in page does first: the words (the stored choice at once, then the user's own), the
// page's static text, the top bar, and the sign-out button. Returns /api/v1/config.
export async function startPage() {
  await setLocale(localStorage.getItem(LOCALE_KEY) || navigator.language);
  const config = await get(PATHS.config);
  await setLocale(config.user.locale || 'en');
  applyI18n();
  renderNav(config.user);
  document.getElementById('logout')?.addEventListener('click', logout);
  return config;
}

// Fill <nav id="nav"> with the screens this user may open (the current one is marked for screen readers),
// put the user menu (who I am, my language) next to it, and keep the task counts beside "My tasks".
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
  if (user.locale) localStorage.setItem(LOCALE_KEY, user.locale);
  renderUserMenu(user, nav);
  follow(nav);
  showTaskCounts(nav);
}

function renderUserMenu(user, nav) {
  document.getElementById('user-menu')?.remove();
  const select = h('select', { id: 'language', name: 'locale' });
  const status = h('span', { class: 'user-menu-status', role: 'status' });
  const menu = h('details', { id: 'user-menu', class: 'user-menu' },
    h('summary', { text: t('menu.title') }),
    h('div', { class: 'user-menu-body' },
      h('p', { class: 'user-menu-who', text: `${user.display_name || user.username} · ${label('role', user.role)}` }),
      h('label', { for: 'language', text: t('menu.language') }), select, status));
  nav.after(menu);
  // Escape closes the menu and gives the keyboard back to where it was.
  menu.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && menu.open) { menu.open = false; menu.querySelector('summary').focus(); }
  });
  languages().then((offered) => {
    for (const [code, name] of Object.entries(offered)) select.append(h('option', { value: code, lang: code, text: name }));
    select.value = code(user.locale, offered);
  });
  select.addEventListener('change', async () => {
    select.disabled = true;
    try {
      await patch(PATHS.me, { locale: select.value });
      localStorage.setItem(LOCALE_KEY, select.value);
      location.reload();          // every word on the page, and the dates and numbers, in the new language
    } catch (exc) {
      status.textContent = t('error.generic', { message: exc.message });
      select.disabled = false;
    }
  });
}

function code(locale, offered) {
  const lang = String(locale || 'en').slice(0, 2).toLowerCase();
  return lang in offered ? lang : 'en';
}
