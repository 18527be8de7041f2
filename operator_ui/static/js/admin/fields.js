// Custom fields of leads, clients and companies, and the directories (value lists) some of them use:
// everyone here sees them; admins create, edit, retire and bring back fields, directories' labels and values.
import { get, patch, post } from '../api.js';
import { append, h } from '../dom.js';
import { label, t } from '../i18n.js';
import { PATHS } from '../paths.js';
import { field, input, list, select, showError, statusLine } from './form.js';

const ENTITIES = ['lead', 'contact', 'company'];
const KINDS = ['text', 'number', 'money', 'date', 'choice', 'multi_choice', 'directory'];

export async function render(root, ctx) {
  const [defs, dirs] = await Promise.all([get(PATHS.fields), get(PATHS.directories)]);
  const status = statusLine();
  const reload = async () => { root.replaceChildren(); await render(root, ctx); };
  const act = async (work, where) => {
    try { await work(); await reload(); } catch (exc) { showError(where, exc, status); }
  };
  const dirName = new Map(dirs.items.map((d) => [d.id, d.label]));
  append(root, [h('h2', { text: t('admin.fields.title') }), status,
    h('table', { id: 'fields-table', class: 'admin-table' },
      h('thead', {}, h('tr', {}, ['entity', 'name', 'label', 'label_ru', 'kind', 'required', 'state', 'actions']
        .map((k) => h('th', { scope: 'col', text: t(`admin.fields.${k}`) })))),
      h('tbody', {}, defs.items.map((d) => fieldRow(d, dirName, ctx, act)))),
    ctx.isAdmin ? newField(dirs.items, act) : [],
    h('h2', { text: t('admin.directories.title') }),
    dirs.items.map((d) => directory(d, ctx, act)),
    ctx.isAdmin ? newDirectory(act) : []]);
}

function fieldRow(d, dirName, ctx, act) {
  const row = h('tr', { dataset: { fieldId: String(d.id), name: d.name }, class: d.active ? '' : 'inactive' });
  const kind = d.kind === 'directory' ? `${label('admin.fields.kind', d.kind)}: ${dirName.get(d.directory_id) || ''}`
    : [label('admin.fields.kind', d.kind), d.choices.join(', ')].filter(Boolean).join(': ');
  const state = h('td', { text: t(d.active ? 'admin.pipelines.live' : 'admin.pipelines.retired') });
  if (!ctx.isAdmin) {
    row.append(h('td', { text: label('admin.fields.entity', d.entity) }), h('td', { text: d.name }), h('td', { text: d.label }),
      h('td', { text: d.label_ru || '' }), h('td', { text: kind }), h('td', { text: t(d.required ? 'admin.yes' : 'admin.no') }), state, h('td'));
    return row;
  }
  const lab = input({ value: d.label, maxlength: 200, 'aria-label': t('admin.fields.label_of', { name: d.name }) });
  const labRu = input({ value: d.label_ru || '', maxlength: 200, 'aria-label': t('admin.fields.label_ru_of', { name: d.name }) });
  const required = h('input', { type: 'checkbox', checked: d.required, 'aria-label': t('admin.fields.required_of', { name: d.name }) });
  const change = (body) => act(() => patch(PATHS.field(d.id), body), row);
  row.append(h('td', { text: label('admin.fields.entity', d.entity) }), h('td', { text: d.name }), h('td', {}, lab), h('td', {}, labRu),
    h('td', { text: kind }), h('td', {}, required), state,
    h('td', {},
      h('button', { type: 'button', text: t('admin.save'),
        onclick: () => change({ label: lab.value, label_ru: labRu.value || null, required: required.checked }) }),
      h('button', { type: 'button', class: 'field-retire', text: t(d.active ? 'admin.pipelines.retire' : 'admin.pipelines.restore'),
        onclick: () => change({ active: !d.active }) }),
      h('span', { class: 'error row-error', role: 'status' })));
  return row;
}

function newField(directories, act) {
  const c = {
    entity: select(ENTITIES.map((e) => [e, label('admin.fields.entity', e)]), 'lead'),
    name: input({ maxlength: 60, placeholder: 'budget' }), label: input({ maxlength: 200 }), label_ru: input({ maxlength: 200 }),
    kind: select(KINDS.map((k) => [k, label('admin.fields.kind', k)]), 'text'),
    choices: input({ placeholder: 'A, B, C' }),
    directory_id: select([['', '—'], ...directories.map((d) => [d.id, d.label])], ''),
    required: h('input', { type: 'checkbox' }),
  };
  const form = h('form', { id: 'field-form', class: 'admin-form', novalidate: true }, h('h3', { text: t('admin.fields.new') }),
    Object.entries(c).map(([name, control]) => field(name, `admin.fields.${name}`, control)),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', text: t('admin.fields.create') })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = { entity: c.entity.value, name: c.name.value.trim(), label: c.label.value, kind: c.kind.value,
      required: c.required.checked };
    if (c.label_ru.value) body.label_ru = c.label_ru.value;
    if (c.choices.value.trim()) body.choices = list(c.choices.value);
    if (c.directory_id.value) body.directory_id = Number(c.directory_id.value);
    act(() => post(PATHS.fields, body), form);
  });
  return form;
}

function directory(d, ctx, act) {
  const values = d.values.map((v) => h('li', { class: v.active ? '' : 'inactive', dataset: { valueId: String(v.id) } },
    h('span', { text: v.value }), ' ',
    ctx.isAdmin ? h('button', { type: 'button', class: 'value-retire', text: t(v.active ? 'admin.pipelines.retire' : 'admin.pipelines.restore'),
      'aria-label': t(v.active ? 'admin.directories.retire_of' : 'admin.directories.restore_of', { value: v.value }),
      onclick: (ev) => act(() => patch(PATHS.directoryValue(d.id, v.id), { active: !v.active }), ev.currentTarget.parentElement) }) : [],
    h('span', { class: 'error row-error', role: 'status' })));
  const section = h('section', { class: 'directory', dataset: { directoryId: String(d.id), name: d.name } });
  if (!ctx.isAdmin) {
    section.append(h('h3', { text: `${d.label} (${d.name})` }), h('ul', {}, values));
    return section;
  }
  const lab = input({ value: d.label, maxlength: 200, 'aria-label': t('admin.directories.label_of', { name: d.name }) });
  const labRu = input({ value: d.label_ru || '', maxlength: 200, 'aria-label': t('admin.directories.label_ru_of', { name: d.name }) });
  const value = input({ maxlength: 300 });
  const head = h('form', { class: 'inline-form' }, h('strong', { text: d.name }), lab, labRu,
    h('button', { type: 'submit', text: t('admin.save') }), h('span', { class: 'error row-error', role: 'status' }));
  head.addEventListener('submit', (ev) => { ev.preventDefault(); act(() => patch(PATHS.directory(d.id), { label: lab.value, label_ru: labRu.value || null }), head); });
  const add = h('form', { class: 'admin-form inline-form', novalidate: true }, field('value', 'admin.directories.value', value),
    h('button', { type: 'submit', text: t('admin.directories.add_value') }));
  add.addEventListener('submit', (ev) => { ev.preventDefault(); act(() => post(PATHS.directoryValues(d.id), { value: value.value }), add); });
  section.append(head, h('ul', {}, values), add);
  return section;
}

function newDirectory(act) {
  const c = { name: input({ maxlength: 60 }), label: input({ maxlength: 200 }), label_ru: input({ maxlength: 200 }),
    values: input({ placeholder: 'A, B, C' }) };
  const form = h('form', { id: 'directory-form', class: 'admin-form', novalidate: true }, h('h3', { text: t('admin.directories.new') }),
    Object.entries(c).map(([name, control]) => field(name, `admin.directories.${name}`, control)),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', text: t('admin.directories.create') })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = { name: c.name.value.trim(), label: c.label.value, values: list(c.values.value) };
    if (c.label_ru.value) body.label_ru = c.label_ru.value;
    act(() => post(PATHS.directories, body), form);
  });
  return form;
}
