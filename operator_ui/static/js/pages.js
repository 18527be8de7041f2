// The console's screens, listed once: the top bar's navigation is drawn from this list.
// A new screen is one line here, its page in operator_ui.PAGES and its dictionary keys.
import { h } from './dom.js';
import { t } from './i18n.js';
import { PAGE } from './paths.js';

const STAFF = ['manager', 'supervisor', 'admin'];
const SUPERVISORS = ['supervisor', 'admin'];

export const PAGES = [
  { path: PAGE.console, key: 'nav.console' },
  { path: PAGE.wallboard, key: 'nav.wallboard', roles: STAFF },
  { path: '/tasks', key: 'nav.tasks' },
  { path: '/board', key: 'nav.board' },
  { path: PAGE.reports, key: 'nav.reports', roles: SUPERVISORS },
];

// Fill <nav id="nav"> with the screens this user may open; the current one is marked for screen readers.
export function renderNav(user, nav = document.getElementById('nav')) {
  if (!nav) return;
  nav.replaceChildren(...PAGES
    .filter((page) => !page.roles || page.roles.includes(user.role))
    .map((page) => {
      const link = h('a', { href: page.path }, t(page.key));
      if (location.pathname === page.path) link.setAttribute('aria-current', 'page');
      return link;
    }));
}
