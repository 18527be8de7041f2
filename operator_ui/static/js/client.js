// The client's page (/clients/{id}): phones, e-mails and messenger ids, companies, tags, custom fields,
// every lead, and one timeline across them all with the calls' recordings. Text only, never HTML.
import { ApiError, api, get, logout, patch, post } from './api.js';
import { $, clear, h } from './dom.js';
import { identityText, personName, timelineItem } from './cardview.js';
import { fieldText, fieldsEditor, markInvalid } from './fields.js';
import { formatDateTime, formatDuration } from './format.js';
import { applyI18n, label, setLocale, t } from './i18n.js';
import { renderNav } from './pages.js';

const KINDS = ['phone', 'email', 'telegram', 'whatsapp', 'viber'];
const ctx = { config: null, user: null, homeRegion: null, client: null, timeline: [], more: false };
const clientId = Number(location.pathname.split('/').filter(Boolean)[1]);
const url = `/api/v1/contacts/${clientId}`;

async function main() {
  await setLocale(localStorage.getItem('switchboard.locale') || navigator.language);
  ctx.config = await get('/api/v1/config');
  ctx.user = ctx.config.user;
  ctx.homeRegion = ctx.config.phone_region || null;
  await setLocale(ctx.user.locale || 'en');
  applyI18n();
  renderNav(ctx.user);
  $('#whoami').textContent = ctx.user.display_name;
  $('#logout').addEventListener('click', logout);
  await load();
}

async function load() {
  let body;
  try {
    body = await get(url);
  } catch (exc) {
    showError(exc.status === 404 ? t('client.not_found') : t('error.generic', { message: exc.message }));
    return;
  }
  ctx.client = body;
  ctx.timeline = body.timeline.items;
  ctx.more = body.timeline.more;
  render();
}

function showError(text) {
  clear($('#client')).append(h('p', { class: 'error', role: 'alert', text }));
}

function render() {
  const c = ctx.client;
  document.title = `${c.display_name || t('card.unknown')} — Switchboard`;
  clear($('#client')).append(
    h('div', { class: 'client-main' },
      nameBlock(c), identitiesBlock(c), companiesBlock(c), tagsBlock(c),
      fieldsEditor({ specs: ctx.config.fields.contact, values: c.fields, directories: ctx.config.directories,
        title: t('client.fields'), save: (fields) => patch(url, { fields }),
        onSaved: (_, fresh) => { ctx.client = { ...ctx.client, ...fresh }; } }),
      leadsBlock(c)),
    h('div', { class: 'client-timeline' }, h('h2', { text: t('card.timeline') }), timelineBlock()));
}

function nameBlock(c) {
  const input = h('input', { name: 'display_name', 'data-field': 'display_name', value: c.display_name || '',
    'aria-label': t('client.name') });
  const status = h('span', { class: 'form-status', role: 'status' });
  const form = h('form', { class: 'client-name-form row' }, h('h1', { class: 'client-title', text: c.display_name || t('card.unknown') }),
    input, h('button', { type: 'submit', class: 'small', text: t('client.rename') }), status);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    change(status, form, () => patch(url, { display_name: input.value }));
  });
  return h('section', { class: 'client-head' }, form,
    h('div', { class: 'owner' }, h('span', { class: 'muted', text: `${t('card.owner')}: ` }),
      h('span', { class: 'owner-name', text: personName(c.owner) })),
    c.merged_into_id ? h('p', {}, h('a', { href: `/clients/${Number(c.merged_into_id)}`, text: t('client.merged') })) : null);
}

// Run a change, then draw the page again; a refusal stays on screen, naming the field.
async function change(status, form, action) {
  status.textContent = '';
  status.classList.remove('error');
  try {
    await action();
    await load();
  } catch (exc) {
    if (form) markInvalid(form, exc);
    status.textContent = t('error.generic', { message: exc.message });
    status.classList.add('error');
  }
}

function identitiesBlock(c) {
  const status = h('p', { class: 'form-status identity-status', role: 'status' });
  const rows = c.identities.map((identity) => {
    const row = h('li', { class: `identity kind-${identity.kind}`, dataset: { identityId: identity.id } });
    const show = () => clear(row).append(
      h('span', { class: 'identity-kind muted', text: label('client.idkind', identity.kind) }), ' ',
      h('span', { class: 'identity-value', text: identityText(identity, ctx), title: identity.value }), ' ',
      h('button', { type: 'button', class: 'small link', text: t('client.edit'), onclick: edit }),
      h('button', { type: 'button', class: 'small link', text: t('client.remove'), onclick: () => {
        if (confirm(t('client.remove_confirm', { value: identity.value }))) {
          change(status, null, () => api('DELETE', `${url}/identities/${identity.id}`));
        }
      } }));
    const edit = () => {
      const input = h('input', { name: 'value', 'data-field': 'value', value: identity.value,
        'aria-label': label('client.idkind', identity.kind) });
      const form = h('form', { class: 'row' }, input, h('button', { type: 'submit', class: 'small', text: t('client.save') }),
        h('button', { type: 'button', class: 'small', text: t('close.cancel'), onclick: show }));
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        change(status, form, () => patch(`${url}/identities/${identity.id}`, { value: input.value }));
      });
      clear(row).append(form);
      input.focus();
    };
    show();
    return row;
  });
  const kind = h('select', { name: 'kind', 'aria-label': t('client.kind') },
    KINDS.map((k) => h('option', { value: k, text: label('client.idkind', k) })));
  const value = h('input', { name: 'value', 'data-field': 'value', placeholder: t('client.new_identity'),
    'aria-label': t('client.new_identity') });
  const add = h('form', { class: 'row add-identity' }, kind, value, h('button', { type: 'submit', text: t('client.add') }));
  add.addEventListener('submit', (event) => {
    event.preventDefault();
    change(status, add, () => post(`${url}/identities`, { kind: kind.value, value: value.value }));
  });
  return h('section', { class: 'client-identities' }, h('h2', { text: t('card.identities') }),
    h('ul', { class: 'identities' }, rows), add, status);
}

function companiesBlock(c) {
  const status = h('p', { class: 'form-status', role: 'status' });
  const list = h('ul', { class: 'companies' }, c.companies.map((company) => h('li', { dataset: { companyId: company.id } },
    h('span', { class: 'company-name', text: company.name }),
    company.position ? h('span', { class: 'muted', text: ` · ${company.position}` }) : null,
    company.tax_id ? h('span', { class: 'muted', text: ` · ${t('client.tax_id')} ${company.tax_id}` }) : null, ' ',
    h('button', { type: 'button', class: 'small link', text: t('client.leave'),
      onclick: () => change(status, null, () => api('DELETE', `${url}/companies/${company.id}`)) }))));
  const q = h('input', { type: 'search', name: 'company', placeholder: t('client.company_search'),
    'aria-label': t('client.company_search') });
  const position = h('input', { name: 'position', placeholder: t('client.position'), 'aria-label': t('client.position') });
  const found = h('ul', { class: 'company-results' });
  const join = (id) => change(status, null, () => api('PUT', `${url}/companies/${id}`, { position: position.value || null }));
  const search = h('form', { class: 'row company-search' }, q, position, h('button', { type: 'submit', text: t('search.go') }));
  search.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear(found);
    const name = q.value.trim();
    if (!name) return;
    try {
      const body = await get(`/api/v1/companies?q=${encodeURIComponent(name)}`);
      for (const company of body.items) {
        found.append(h('li', {}, h('button', { type: 'button', class: 'link', text: company.name,
          onclick: () => join(company.id) })));
      }
      found.append(h('li', {}, h('button', { type: 'button', class: 'small create-company',
        text: t('client.create_company', { name }), onclick: async () => {
          try {
            const made = await post('/api/v1/companies', { name });
            await join(made.id);
          } catch (exc) {
            status.textContent = t('error.generic', { message: exc.message });
          }
        } })));
    } catch (exc) {
      status.textContent = t('error.generic', { message: exc.message });
    }
  });
  return h('section', { class: 'client-companies' }, h('h2', { text: t('client.companies') }), list, search, found, status);
}

function tagsBlock(c) {
  const status = h('span', { class: 'form-status', role: 'status' });
  const input = h('input', { name: 'tags', 'data-field': 'tags', value: (c.tags || []).join(', '),
    placeholder: t('client.tags_hint'), 'aria-label': t('client.tags') });
  const form = h('form', { class: 'row' }, input, h('button', { type: 'submit', class: 'small', text: t('client.save') }), status);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    change(status, form, () => patch(url, { tags: input.value.split(',') }));
  });
  return h('section', { class: 'client-tags' }, h('h2', { text: t('client.tags') }),
    h('ul', { class: 'tags' }, (c.tags || []).map((tag) => h('li', { class: 'tag', text: tag }))), form);
}

// One line per lead: the funnel's columns (stage, amount) join here.
function leadRow(lead) {
  const fields = Object.entries(lead.fields || {}).map(([name, value]) => {
    const spec = (ctx.config.fields.lead || []).find((s) => s.name === name) || { name };
    return `${spec.label || name}: ${fieldText(spec, value, ctx.config.directories)}`;
  });
  return h('tr', { dataset: { leadId: lead.id } },
    h('td', {}, h('a', { href: `/console#lead=${Number(lead.id)}`, text: `#${lead.id}` })),
    h('td', {}, h('span', { class: `badge status-${lead.status}`, text: label('status', lead.status) })),
    h('td', { text: label('channel', lead.channel) }),
    h('td', { text: lead.subject || '' }),
    h('td', { text: personName(lead.assignee) }),
    h('td', { text: formatDateTime(lead.created_at) }),
    h('td', { class: 'muted', text: [lead.lost_reason, ...fields].filter(Boolean).join(' · ') }));
}

function leadsBlock(c) {
  return h('section', { class: 'client-leads' }, h('h2', { text: t('client.leads') }),
    c.leads.length ? h('table', { class: 'leads-table' }, h('tbody', {}, c.leads.map(leadRow)))
      : h('p', { class: 'muted', text: t('leads.none') }));
}

function callBlock(call) {
  const who = (p) => (p ? (p.name || (p.kind === 'client' ? t('client.the_client') : '—')) : '—');
  return h('div', { class: 'call' },
    h('div', { class: 'call-line', text: [
      label('client.calldir', call.direction),
      t('client.rang', { who: who(call.rang) }),
      t('client.answered', { who: call.answered ? who(call.answered) : t('client.nobody_answered') }),
      t('client.wait', { time: formatDuration(call.wait_seconds) }),
      t('client.talk', { time: formatDuration(call.talk_seconds) }),
      call.outcome ? label('client.outcome', call.outcome) : null].filter(Boolean).join(' · ') }),
    call.recording_url ? h('audio', { controls: true, preload: 'metadata', src: call.recording_url,
      class: 'recording', 'aria-label': t('client.recording') }) : null);
}

function timelineBlock() {
  if (!ctx.timeline.length) return h('p', { class: 'muted', text: t('card.no_timeline') });
  const list = h('ol', { class: 'timeline client-timeline-list' }, ctx.timeline.map((item) => {
    const li = timelineItem(item);
    li.querySelector('.meta').append(' · ', h('a', { href: `/console#lead=${Number(item.lead_id)}`, text: `#${item.lead_id}` }));
    if (item.call) li.append(callBlock(item.call));
    return li;
  }));
  const more = ctx.more ? h('button', { type: 'button', class: 'more', text: t('client.more'), onclick: async () => {
    try {
      const page = await get(`${url}/timeline?offset=${ctx.timeline.length}`);
      ctx.timeline = ctx.timeline.concat(page.items);
      ctx.more = page.more;
      render();
    } catch (exc) {
      if (!(exc instanceof ApiError)) throw exc;
      more.textContent = t('error.generic', { message: exc.message });
    }
  } }) : null;
  return [list, more];
}

main().catch((exc) => {
  console.error(exc);
  showError(t('error.generic', { message: exc.message }));
});
