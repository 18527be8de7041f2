// Teams: the list with how many active people each has; admins create, rename and delete an empty team
// (the server refuses a team that still has people, leads or companies, and the page says why).
import { del, get, patch, post } from '../api.js';
import { h } from '../dom.js';
import { formatNumber } from '../format.js';
import { t } from '../i18n.js';
import { PATHS } from '../paths.js';
import { field, input, showError, statusLine } from './form.js';

export async function render(root, ctx) {
  const { items } = await get(PATHS.teams);
  const status = statusLine();
  const reload = async () => { root.replaceChildren(); await render(root, ctx); };
  const act = async (work, where = root) => {
    try { await work(); await reload(); } catch (exc) { showError(where, exc, status); }
  };

  const rows = items.map((team) => {
    const name = input({ value: team.name, maxlength: 100, 'aria-label': t('admin.teams.name_of', { name: team.name }) });
    const cells = ctx.isAdmin ? [
      h('td', {}, h('form', { class: 'inline-form', onsubmit: (ev) => { ev.preventDefault(); act(() => patch(PATHS.team(team.id), { name: name.value }), ev.currentTarget); } },
        name, h('button', { type: 'submit', text: t('admin.teams.rename') }))),
      h('td', {}, h('button', { type: 'button', class: 'team-delete', text: t('admin.teams.delete'),
        onclick: (ev) => act(() => del(PATHS.team(team.id)), ev.currentTarget) }),
        h('span', { class: 'error row-error', role: 'status' })),
    ] : [h('td', { text: team.name })];
    return h('tr', { dataset: { teamId: String(team.id), name: team.name } }, cells.slice(0, 1),
      h('td', { class: 'team-members', text: formatNumber(team.members) }), cells.slice(1));
  });
  const table = h('table', { id: 'teams-table', class: 'admin-table' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: t('admin.teams.name') }),
      h('th', { scope: 'col', text: t('admin.teams.members') }), ctx.isAdmin ? h('th', { scope: 'col', text: t('admin.users.actions') }) : [])),
    h('tbody', {}, rows));
  root.append(h('h2', { text: t('admin.teams.title') }), status,
    items.length ? table : h('p', { class: 'muted', text: t('admin.teams.none') }));
  if (!ctx.isAdmin) return;
  const name = input({ maxlength: 100 });
  const form = h('form', { id: 'team-form', class: 'admin-form', novalidate: true },
    h('h3', { text: t('admin.teams.new') }), field('name', 'admin.teams.name', name),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', text: t('admin.teams.create') })));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); act(() => post(PATHS.teams, { name: name.value }), form); });
  root.append(form);
}
