// Custom fields (lead, contact, company; defined by admins, seeded from `leads.fields`): one input per kind,
// filled in during a call or on the client's page, checked again by the server (a 422 names `fields.<name>`).
import { ApiError, patch } from './api.js';
import { h } from './dom.js';
import { formatMoney } from './format.js';
import { locale, t } from './i18n.js';
import { PATHS } from './paths.js';

export function fieldLabel(spec) {
  const text = locale().startsWith('ru') && spec.label_ru ? spec.label_ru : (spec.label || spec.name);
  return spec.required ? `${text} *` : text;
}

function directoryOf(spec, directories) {
  return (directories || []).find((d) => d.id === spec.directory_id) || { values: [] };
}

// The value as a person reads it: a directory's text, a sum with its currency, a list joined.
export function fieldText(spec, value, directories) {
  if (value === null || value === undefined || value === '') return '';
  if (spec.kind === 'directory') {
    const found = directoryOf(spec, directories).values.find((v) => v.id === value);
    return found ? found.value : String(value);
  }
  if (spec.kind === 'money' && typeof value === 'object') {
    return formatMoney(value.amount, value.currency);
  }
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}

// One input for one field; `read()` gives what the API takes ('' or [] clears the field).
export function fieldInput(spec, value, directories) {
  const name = spec.name;
  const attrs = { name, 'data-field': name, 'data-kind': spec.kind || 'text' };
  const kind = spec.kind || (spec.choices && spec.choices.length ? 'choice' : 'text');
  let el;
  let read;
  if (kind === 'choice') {
    el = h('select', attrs, h('option', { value: '', text: '—' }),
      spec.choices.map((c) => h('option', { value: c, text: c, selected: c === value })));
    read = () => el.value;
  } else if (kind === 'multi_choice') {
    const chosen = new Set(Array.isArray(value) ? value : []);
    const boxes = spec.choices.map((c) => h('input', { type: 'checkbox', value: c, checked: chosen.has(c) }));
    el = h('span', { ...attrs, class: 'multi', role: 'group' },
      boxes.map((box) => h('label', { class: 'check' }, box, ' ', box.value)));
    read = () => boxes.filter((b) => b.checked).map((b) => b.value);
  } else if (kind === 'directory') {
    const values = directoryOf(spec, directories).values;
    el = h('select', attrs, h('option', { value: '', text: '—' }),
      values.filter((v) => v.active || v.id === value).map((v) => h('option', {
        value: String(v.id), text: v.value, selected: v.id === value })));
    read = () => (el.value ? Number(el.value) : '');
  } else if (kind === 'money') {
    const amount = value && typeof value === 'object' ? value.amount : (value ?? '');
    const input = h('input', { type: 'number', step: '0.01', inputmode: 'decimal', value: amount });
    el = h('span', { ...attrs, class: 'money' }, input, ' ',
      h('span', { class: 'muted', text: (value && value.currency) || spec.currency || 'RUB' }));
    read = () => input.value;
  } else {
    const type = { number: 'number', date: 'date' }[kind] || 'text';
    el = h('input', { ...attrs, type, step: kind === 'number' ? 'any' : undefined, value: value ?? '' });
    read = () => el.value;
  }
  return { el, read };
}

// A form of fields that saves them all with `save(values)`; null when there are none.
export function fieldsEditor({ specs, values, directories, title, save, onSaved }) {
  if (!specs || !specs.length) return null;
  const status = h('span', { class: 'form-status', role: 'status' });
  const inputs = specs.map((spec) => ({ spec, ...fieldInput(spec, (values || {})[spec.name], directories) }));
  const form = h('form', { class: 'fields-form' }, h('h4', { text: title }),
    inputs.map(({ spec, el }) => h('label', { class: 'field' }, h('span', { text: fieldLabel(spec) }), el)),
    h('div', { class: 'row' }, h('button', { type: 'submit', text: t('card.save_fields') }), status));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const given = {};
    for (const { spec, el, read } of inputs) {
      el.classList.remove('invalid');
      given[spec.name] = read();
    }
    status.textContent = '';
    status.classList.remove('error');
    try {
      const result = await save(given);
      status.textContent = t('card.saved');
      if (onSaved) onSaved(given, result);
    } catch (exc) {
      markInvalid(form, exc);
      status.textContent = t('error.generic', { message: exc.message });
      status.classList.add('error');
    }
  });
  return form;
}

// The lead's fields, on the card and in the in-call form.
export function fieldsForm(ctx, leadId, values, { onSaved } = {}) {
  const specs = Object.entries((ctx.config && ctx.config.lead_fields) || {}).map(([name, spec]) => ({ name, ...spec }));
  return fieldsEditor({ specs, values, directories: ctx.config && ctx.config.directories, title: t('card.fields'),
    save: (fields) => patch(PATHS.lead(leadId), { fields }), onSaved });
}

// A 422 names the field ("budget" or "fields.budget"): outline it in every form on the card.
export function markInvalid(root, exc) {
  if (!(exc instanceof ApiError) || !exc.field) return;
  const name = exc.field.replace(/^fields\./, '');
  for (const input of root.querySelectorAll(`[data-field="${CSS.escape(name)}"]`)) input.classList.add('invalid');
}
