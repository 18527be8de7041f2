// The short form of the lead card (settings `leads.fields`): filled in during a call, saved with PATCH.
import { ApiError, patch } from './api.js';
import { h } from './dom.js';
import { locale, t } from './i18n.js';
import { PATHS } from './paths.js';

function fieldLabel(name, spec) {
  const text = locale().startsWith('ru') && spec.label_ru ? spec.label_ru : (spec.label || name);
  return spec.required ? `${text} *` : text;
}

export function fieldsForm(ctx, leadId, values, { onSaved } = {}) {
  const specs = (ctx.config && ctx.config.lead_fields) || {};
  const names = Object.keys(specs);
  if (!names.length) return null;
  const status = h('span', { class: 'form-status', role: 'status' });
  const inputs = {};
  const rows = names.map((name) => {
    const spec = specs[name];
    const current = (values && values[name]) || '';
    let input;
    if (spec.choices && spec.choices.length) {
      input = h('select', { name, 'data-field': name },
        h('option', { value: '', text: '—' }),
        spec.choices.map((choice) => h('option', { value: choice, text: choice, selected: choice === current })));
    } else {
      input = h('input', { name, 'data-field': name, value: current });
    }
    inputs[name] = input;
    return h('label', { class: 'field' }, h('span', { text: fieldLabel(name, spec) }), input);
  });
  const form = h('form', { class: 'fields-form' }, h('h4', { text: t('card.fields') }), rows,
    h('div', { class: 'row' }, h('button', { type: 'submit', text: t('card.save_fields') }), status));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const fields = {};
    for (const [name, input] of Object.entries(inputs)) {
      input.classList.remove('invalid');
      fields[name] = input.value;
    }
    status.textContent = '';
    status.classList.remove('error');
    try {
      await patch(PATHS.lead(leadId), { fields });
      status.textContent = t('card.saved');
      if (onSaved) onSaved(fields);
    } catch (exc) {
      markInvalid(form, exc);
      status.textContent = t('error.generic', { message: exc.message });
      status.classList.add('error');
    }
  });
  return form;
}

// A 422 names the field ("budget" or "fields.budget"): outline it in every form on the card.
export function markInvalid(root, exc) {
  if (!(exc instanceof ApiError) || !exc.field) return;
  const name = exc.field.replace(/^fields\./, '');
  for (const input of root.querySelectorAll(`[data-field="${CSS.escape(name)}"]`)) input.classList.add('invalid');
}
