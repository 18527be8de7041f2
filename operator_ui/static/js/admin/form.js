// What every admin section shares: a labelled control with its own error line, the API's refusal shown
// next to the field it names (422 / 409 `field`), and a status line for what concerns no single field.
import { h } from '../dom.js';
import { t } from '../i18n.js';

let counter = 0;

// A labelled control; `name` is the API's field name, so that a refusal naming it lands here.
export function field(name, labelKey, control) {
  counter += 1;
  control.id = control.id || `admin-f${counter}`;
  const error = h('span', { class: 'field-error error', id: `${control.id}-error`, 'aria-live': 'polite' });
  control.setAttribute('aria-describedby', error.id);
  return h('div', { class: 'form-field', dataset: { field: name } },
    h('label', { for: control.id, text: t(labelKey) }), control, error);
}

export const input = (props = {}) => h('input', props);

export function select(options, value, props = {}) {
  return h('select', props, options.map(([v, text]) => h('option', { value: String(v), text, selected: String(v) === String(value ?? '') })));
}

// A status line for a section: messages about the whole form or list, announced to screen readers.
export const statusLine = () => h('p', { class: 'admin-status', role: 'status' });

export function clearErrors(root) {
  for (const el of root.querySelectorAll('.field-error, .row-error')) el.textContent = '';
  for (const el of root.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

// The refusal next to its field (the longest field name that is a prefix of the API's, e.g. capacity.voice),
// else on the status line.
export function showError(root, exc, status) {
  clearErrors(root);
  const named = exc && exc.field ? [...root.querySelectorAll('.form-field[data-field]')]
    .filter((el) => exc.field === el.dataset.field || exc.field.startsWith(`${el.dataset.field}.`))
    .sort((a, b) => b.dataset.field.length - a.dataset.field.length)[0] : null;
  if (named) {
    named.querySelector('.field-error').textContent = exc.message;
    named.querySelector('input, select, textarea')?.setAttribute('aria-invalid', 'true');
    named.querySelector('input, select, textarea')?.focus();
    if (status) status.textContent = '';
    return;
  }
  // A row's own error slot (a refused retire, a team that is not empty) beats the section's status line.
  const slot = root.querySelector('.row-error') || root.closest?.('tr')?.querySelector('.row-error');
  const where = slot || status;
  if (where) where.textContent = t('admin.refused', { message: exc.message });
}

// "sales=3, en" -> {sales: 3, en: 1}; null (and the error shown) when a part is not name=number.
export function parseLevels(text) {
  const out = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, level = '1'] = part.split('=').map((s) => s.trim());
    if (!name || !/^[0-9]{1,4}$/.test(level)) return null;
    out[name] = Number(level);
  }
  return out;
}

export const formatLevels = (levels) => Object.entries(levels || {}).map(([k, v]) => `${k}=${v}`).join(', ');

export const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);
