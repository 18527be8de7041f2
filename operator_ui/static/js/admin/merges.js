// Merge suggestions: the two clients side by side (name, phones / e-mails / messenger ids, leads, owner);
// keep the left or the right one, or reject; a merge just made can be undone, and any merge by its number.
import { get, post } from '../api.js';
import { h } from '../dom.js';
import { formatDateTime } from '../format.js';
import { label, t } from '../i18n.js';
import { PAGE, PATHS } from '../paths.js';
import { field, input, showError, statusLine } from './form.js';

export async function render(root, ctx) {
  const { items } = await get(PATHS.mergeSuggestions);
  const status = statusLine();
  const done = h('div', { id: 'merge-done', role: 'status' });
  const reload = async () => { root.replaceChildren(); await render(root, ctx); };
  root.append(h('h2', { text: t('admin.merges.title') }), status, done);
  if (!items.length) root.append(h('p', { class: 'muted', text: t('admin.merges.none') }));

  async function undo(mergeId, where) {
    try {
      const answer = await post(PATHS.mergeUndo(mergeId), {});
      await reload();
      root.querySelector('#merge-done').textContent = t('admin.merges.undone', { id: answer.restored_contact_id });
    } catch (exc) { showError(where, exc, status); }
  }

  async function decide(s, accept, survivorId, where) {
    try {
      const answer = await post(PATHS.mergeDecision(s.id, accept), accept ? { survivor_id: survivorId } : {});
      await reload();
      if (answer.status === 'accepted') {
        const note = root.querySelector('#merge-done');
        note.replaceChildren(h('span', { text: t('admin.merges.merged', { id: answer.merge_id }) }), ' ',
          h('button', { type: 'button', class: 'merge-undo', text: t('admin.merges.undo'),
            onclick: (ev) => undo(answer.merge_id, ev.currentTarget.parentElement) }));
      }
    } catch (exc) { showError(where, exc, status); }
  }

  for (const s of items) {
    const [a, b] = await Promise.all(s.contact_ids.map((id) => get(PATHS.contact(id)).catch(() => ({ id, identities: [], leads: [] }))));
    const box = h('article', { class: 'merge', dataset: { suggestionId: String(s.id) } },
      h('p', { class: 'muted', text: t('admin.merges.why', { reason: s.reason, at: formatDateTime(s.created_at) }) }),
      h('div', { class: 'merge-pair' }, side(a), side(b)),
      h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'merge-keep-a', text: t('admin.merges.keep', { name: name(a) }),
          onclick: (ev) => decide(s, true, a.id, ev.currentTarget.parentElement.parentElement) }),
        h('button', { type: 'button', class: 'merge-keep-b', text: t('admin.merges.keep', { name: name(b) }),
          onclick: (ev) => decide(s, true, b.id, ev.currentTarget.parentElement.parentElement) }),
        h('button', { type: 'button', class: 'merge-reject', text: t('admin.merges.reject'),
          onclick: (ev) => decide(s, false, null, ev.currentTarget.parentElement.parentElement) })),
      h('p', { class: 'error row-error', role: 'status' }));
    root.append(box);
  }

  const mergeId = input({ type: 'number', min: 1, step: 1 });
  const form = h('form', { id: 'undo-form', class: 'admin-form inline-form', novalidate: true },
    field('merge_id', 'admin.merges.merge_id', mergeId), h('button', { type: 'submit', text: t('admin.merges.undo') }));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); if (mergeId.value) undo(Number(mergeId.value), form); });
  root.append(form);
}

const name = (c) => c.display_name || `#${c.id}`;

function side(c) {
  return h('section', { class: 'merge-side', dataset: { contactId: String(c.id) } },
    h('h3', {}, h('a', { href: PAGE.client(c.id), text: name(c) })),
    h('ul', {}, (c.identities || []).map((i) => h('li', { text: `${label('client.idkind', i.kind)}: ${i.value}` }))),
    h('p', { text: t('admin.merges.leads', { n: (c.leads || []).length }) }),
    c.owner ? h('p', { text: t('admin.merges.owner', { name: c.owner.display_name }) }) : []);
}
