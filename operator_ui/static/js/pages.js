// The console's screens, listed once: the top bar's navigation is drawn from this list.
// A new screen is one line here, its page in operator_ui.PAGES and its dictionary keys.
import { patch } from './api.js';
import { h } from './dom.js';
import { label, languages, t } from './i18n.js';
import { PAGE, PATHS } from './paths.js';

const STAFF = ['manager', 'supervisor', 'admin'];
// Read before the first request at sign-in and on every page, so the words are right before /config answers.
export const LOCALE_KEY = 'switchboard.locale';
const SUPERVISORS = ['supervisor', 'admin'];

export const PAGES = [
  { path: PAGE.console, key: 'nav.console' },
  { path: PAGE.wallboard, key: 'nav.wallboard', roles: STAFF },
  { path: '/tasks', key: 'nav.tasks' },
  { path: '/board', key: 'nav.board' },
  { path: PAGE.reports, key: 'nav.reports', roles: SUPERVISORS },
  { path: PAGE.admin, key: 'nav.admin', roles: SUPERVISORS },
  { path: PAGE.imports, key: 'nav.imports', roles: ['admin'] },
];

// Fill <nav id="nav"> with the screens this user may open (the current one is marked for screen readers),
// and put the user menu (who I am, my language) next to it.
export function renderNav(user, nav = document.getElementById('nav')) {
  if (!nav) return;
  nav.replaceChildren(...PAGES
    .filter((page) => !page.roles || page.roles.includes(user.role))
    .map((page) => {
      const link = h('a', { href: page.path }, t(page.key));
      if (location.pathname === page.path) link.setAttribute('aria-current', 'page');
      return link;
    }));
  if (user.locale) localStorage.setItem(LOCALE_KEY, user.locale);
  renderUserMenu(user, nav);
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
