// The audit log: who read or changed what. Filters (user, action, target lead or client, days), pages of
// 50 newest first (keyset: "older" asks for entries before the last one shown), and the same filters as CSV or XLSX.
import { get } from '../api.js';
import { h } from '../dom.js';
import { formatDateTime } from '../format.js';
import { t } from '../i18n.js';
import { PATHS } from '../paths.js';
import { field, input, select, showError, statusLine } from './form.js';

const PAGE_SIZE = 50;
const OUTCOMES = ['ok', 'denied', 'unauthenticated'];

export async function render(root) {
  const people = await get(PATHS.users).catch(() => ({ items: [] }));
  const c = {
    user_id: select([['', t('admin.audit.anyone')], ...people.items.map((u) => [u.id, `${u.display_name} (${u.username})`])], ''),
    action: input({ maxlength: 60, placeholder: 'user.' }),
    target: select([['lead_id', t('admin.audit.lead')], ['contact_id', t('admin.audit.client')]], 'lead_id'),
    target_id: input({ type: 'number', min: 1, step: 1 }),
    outcome: select([['', t('admin.audit.any_outcome')], ...OUTCOMES.map((o) => [o, t(`admin.audit.outcome_${o}`)])], ''),
    since: input({ type: 'date' }),
    until: input({ type: 'date' }),
  };
  const status = statusLine();
  const body = h('tbody', {});
  const older = h('button', { type: 'button', id: 'audit-older', text: t('admin.audit.older'), hidden: true });
  const newest = h('button', { type: 'button', id: 'audit-newest', text: t('admin.audit.newest'), hidden: true });
  const csv = h('a', { id: 'audit-csv', class: 'button', download: 'audit.csv', text: t('admin.audit.csv') });
  const xlsx = h('a', { id: 'audit-xlsx', class: 'button', download: 'audit.xlsx', text: t('admin.audit.xlsx') });
  const form = h('form', { id: 'audit-filters', class: 'admin-form filters', novalidate: true },
    field('user_id', 'admin.audit.user', c.user_id), field('action', 'admin.audit.action', c.action),
    field('target', 'admin.audit.target', c.target), field(c.target.value, 'admin.audit.target_id', c.target_id),
    field('outcome', 'admin.audit.outcome', c.outcome), field('since', 'admin.audit.since', c.since),
    field('until', 'admin.audit.until', c.until),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', text: t('admin.audit.apply') }), csv, xlsx));
  // The id's error slot follows the target chosen, so that the API's "lead_id" / "contact_id" lands there.
  c.target.addEventListener('change', () => { c.target_id.closest('.form-field').dataset.field = c.target.value; });
  const table = h('table', { id: 'audit-table', class: 'admin-table' },
    h('thead', {}, h('tr', {}, ['at', 'user', 'action', 'outcome', 'target', 'ip', 'detail']
      .map((k) => h('th', { scope: 'col', text: t(`admin.audit.col_${k}`) })))), body);
  root.append(h('h2', { text: t('admin.audit.title') }), form, status, table, h('div', { class: 'form-actions' }, newest, older));

  function filters() {
    const out = {};
    for (const name of ['user_id', 'action', 'outcome', 'since', 'until']) if (c[name].value.trim()) out[name] = c[name].value.trim();
    if (c.target_id.value) out[c.target.value] = c.target_id.value;
    return out;
  }

  async function load(before = null) {
    const params = filters();
    csv.href = PATHS.auditWhere({ ...params, format: 'csv' });
    xlsx.href = PATHS.auditWhere({ ...params, format: 'xlsx' });
    try {
      const { items } = await get(PATHS.auditWhere({ ...params, limit: PAGE_SIZE, ...(before ? { before } : {}) }));
      body.replaceChildren(...items.map(row));
      if (!items.length) body.append(h('tr', {}, h('td', { colspan: 7, class: 'muted', text: t('admin.audit.none') })));
      status.textContent = '';
      older.hidden = items.length < PAGE_SIZE;
      older.onclick = () => load(items[items.length - 1].id);
      newest.hidden = !before;
      newest.onclick = () => load();
    } catch (exc) { showError(form, exc, status); }
  }

  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  await load();
}

function row(e) {
  const target = [e.lead_id ? t('admin.audit.lead_n', { id: e.lead_id }) : '', e.contact_id ? t('admin.audit.client_n', { id: e.contact_id }) : '']
    .filter(Boolean).join(', ');
  return h('tr', { dataset: { entryId: String(e.id), action: e.action } },
    h('td', { text: formatDateTime(e.at) }), h('td', { text: e.username || (e.detail && e.detail.actor) || '' }),
    h('td', { class: 'audit-action', text: e.action }), h('td', { text: t(`admin.audit.outcome_${e.outcome}`) }),
    h('td', { text: target }), h('td', { text: e.ip || '' }),
    h('td', { class: 'audit-detail', text: JSON.stringify(e.detail || {}) }));
}
