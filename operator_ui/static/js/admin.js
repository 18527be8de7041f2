// The admin and supervisor page: one tab per section, each section its own module under js/admin/.
// The tab is in the address (#users, #audit, ...) so a reload or a link opens the same section.
import { $, h } from './dom.js';
import { t } from './i18n.js';
import { startPage } from './pages.js';
import { PATHS } from './paths.js';
import * as users from './admin/users.js';
import * as teams from './admin/teams.js';
import * as pipelines from './admin/pipelines.js';
import * as fields from './admin/fields.js';
import * as merges from './admin/merges.js';
import * as audit from './admin/audit.js';

const SEE_ALL = ['supervisor', 'admin'];
// Who may open each section; within one, changes are offered to admins only (the API refuses the rest anyway).
const SECTIONS = [
  { name: 'users', module: users, roles: SEE_ALL },
  { name: 'teams', module: teams, roles: SEE_ALL },
  { name: 'pipelines', module: pipelines, roles: SEE_ALL },
  { name: 'fields', module: fields, roles: SEE_ALL },
  { name: 'merges', module: merges, roles: ['manager', ...SEE_ALL] },
  { name: 'audit', module: audit, roles: SEE_ALL },
];

function showError(message) {
  const el = $('#admin-error');
  el.textContent = message || '';
  el.hidden = !message;
}

async function open(section, ctx) {
  for (const tab of document.querySelectorAll('#admin-tabs [role=tab]')) {
    const chosen = tab.dataset.section === section.name;
    tab.setAttribute('aria-selected', String(chosen));
    tab.tabIndex = chosen ? 0 : -1;
  }
  const root = $('#admin-section');
  root.replaceChildren();
  root.dataset.section = section.name;
  showError('');
  try {
    await section.module.render(root, ctx);
  } catch (exc) {
    showError(t('error.generic', { message: exc.message }));
  }
}

function tabs(allowed, ctx) {
  const bar = $('#admin-tabs');
  const buttons = allowed.map((section) => h('button', {
    type: 'button', role: 'tab', id: `tab-${section.name}`, dataset: { section: section.name },
    'aria-controls': 'admin-section', text: t(`admin.tab.${section.name}`),
    onclick: () => { history.replaceState(null, '', `#${section.name}`); open(section, ctx); },
  }));
  // Arrow keys move between tabs, as in any tab list.
  bar.addEventListener('keydown', (ev) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0 || !['ArrowLeft', 'ArrowRight'].includes(ev.key)) return;
    const next = buttons[(i + (ev.key === 'ArrowRight' ? 1 : buttons.length - 1)) % buttons.length];
    next.focus();
    next.click();
  });
  bar.append(...buttons);
}

async function main() {
  const config = await startPage();
  const allowed = SECTIONS.filter((s) => s.roles.includes(config.user.role));
  if (!allowed.length) {
    showError(t('admin.not_allowed'));
    return;
  }
  const ctx = { user: config.user, isAdmin: config.user.role === 'admin', showError };
  tabs(allowed, ctx);
  const wanted = allowed.find((s) => `#${s.name}` === location.hash) || allowed[0];
  await open(wanted, ctx);
}

main().catch((exc) => showError(t('error.generic', { message: exc.message })));
