// Pipelines and their stages: admins create a pipeline, add, rename, reorder (up / down buttons: the keyboard
// works as for any button), change the required fields and deadline of, retire and bring back stages.
// A refused retire (leads still in the stage, the last open stage) is shown next to that stage.
import { get, patch, post } from '../api.js';
import { append, h } from '../dom.js';
import { formatNumber } from '../format.js';
import { label, t } from '../i18n.js';
import { PATHS } from '../paths.js';
import { field, input, list, select, showError, statusLine } from './form.js';

const KINDS = ['open', 'won', 'lost', 'closed'];

export async function render(root, ctx) {
  const { items } = await get(`${PATHS.pipelines}?retired=1`);
  const status = statusLine();
  const reload = async (focus) => {
    root.replaceChildren();
    await render(root, ctx);
    if (focus) root.querySelector(focus)?.focus();
  };
  const act = async (work, where, focus) => {
    try { await work(); await reload(focus); } catch (exc) { showError(where, exc, status); }
  };
  append(root, [h('h2', { text: t('admin.pipelines.title') }), status,
    items.map((p) => pipeline(p, ctx, act)), ctx.isAdmin ? newPipeline(act) : []]);
}

function pipeline(p, ctx, act) {
  const name = input({ value: p.name, maxlength: 200, 'aria-label': t('admin.pipelines.name') });
  const head = ctx.isAdmin
    ? h('form', { class: 'inline-form pipeline-name', onsubmit: (ev) => { ev.preventDefault(); act(() => patch(PATHS.pipeline(p.id), { name: name.value }), ev.currentTarget); } },
      name, h('button', { type: 'submit', text: t('admin.pipelines.rename') }))
    : h('h3', { text: p.name });
  const rows = p.stages.map((s, i) => stage(p, s, p.stages[i - 1], p.stages[i + 1], ctx, act));
  return h('section', { class: 'pipeline', dataset: { pipelineId: String(p.id), key: p.key } }, head,
    h('table', { class: 'admin-table stages' },
      h('thead', {}, h('tr', {}, ['stage', 'kind', 'required', 'deadline', 'state', 'actions']
        .map((k) => h('th', { scope: 'col', text: t(`admin.pipelines.${k}`) })))),
      h('tbody', {}, rows)),
    ctx.isAdmin ? newStage(p, act) : []);
}

function stage(p, s, before, after, ctx, act) {
  const row = h('tr', { dataset: { stageId: String(s.id), name: s.name }, class: s.retired ? 'inactive' : '' });
  const kind = h('td', { text: label('board.kind', s.kind) });
  const state = h('td', { text: t(s.retired ? 'admin.pipelines.retired' : 'admin.pipelines.live') });
  if (!ctx.isAdmin) {
    row.append(h('td', { text: s.name }), kind, h('td', { text: s.required_fields.join(', ') }),
      h('td', { text: s.deadline_hours ? formatNumber(s.deadline_hours, 1) : '' }), state, h('td'));
    return row;
  }
  const name = input({ value: s.name, maxlength: 200, 'aria-label': t('admin.pipelines.stage_name_of', { name: s.name }) });
  const required = input({ value: s.required_fields.join(', '), 'aria-label': t('admin.pipelines.required_of', { name: s.name }) });
  const deadline = input({ type: 'number', min: 0, step: 'any', value: s.deadline_hours ?? '',
    'aria-label': t('admin.pipelines.deadline_of', { name: s.name }) });
  const change = (body, focus) => act(() => patch(PATHS.stage(p.id, s.id), body), row, focus);
  const move = (other, dir) => h('button', { type: 'button', class: `stage-${dir}`, disabled: !other,
    'aria-label': t(`admin.pipelines.${dir}_of`, { name: s.name }), text: t(`admin.pipelines.${dir}`),
    onclick: () => change({ position: other.position }, `tr[data-stage-id='${s.id}'] .stage-${dir}:not([disabled])`) });
  row.append(
    h('td', {}, name), kind, h('td', {}, required), h('td', {}, deadline), state,
    h('td', { class: 'stage-actions' },
      h('button', { type: 'button', class: 'stage-save', text: t('admin.save'), onclick: () => change({
        name: name.value, required_fields: list(required.value),
        deadline_hours: deadline.value === '' ? null : Number(deadline.value) }) }),
      move(before, 'up'), move(after, 'down'),
      h('button', { type: 'button', class: 'stage-retire', text: t(s.retired ? 'admin.pipelines.restore' : 'admin.pipelines.retire'),
        onclick: () => change({ retired: !s.retired }) }),
      h('span', { class: 'error row-error', role: 'status' })));
  return row;
}

function newStage(p, act) {
  const c = { name: input({ maxlength: 200 }), kind: select(KINDS.map((k) => [k, label('board.kind', k)]), 'open'),
    required_fields: input({ placeholder: 'amount, close_date' }), deadline_hours: input({ type: 'number', min: 0, step: 'any' }) };
  const form = h('form', { class: 'admin-form new-stage', novalidate: true },
    h('h4', { text: t('admin.pipelines.add_stage') }),
    field('name', 'admin.pipelines.stage', c.name), field('kind', 'admin.pipelines.kind', c.kind),
    field('required_fields', 'admin.pipelines.required', c.required_fields),
    field('deadline_hours', 'admin.pipelines.deadline', c.deadline_hours),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', text: t('admin.pipelines.add') })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(() => post(PATHS.stages(p.id), { name: c.name.value, kind: c.kind.value, required_fields: list(c.required_fields.value),
      deadline_hours: c.deadline_hours.value === '' ? null : Number(c.deadline_hours.value) }), form);
  });
  return form;
}

function newPipeline(act) {
  const key = input({ maxlength: 60, placeholder: 'wholesale' });
  const name = input({ maxlength: 200 });
  const form = h('form', { id: 'pipeline-form', class: 'admin-form', novalidate: true },
    h('h3', { text: t('admin.pipelines.new') }), field('key', 'admin.pipelines.key', key), field('name', 'admin.pipelines.name', name),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', text: t('admin.pipelines.create') })));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); act(() => post(PATHS.pipelines, { key: key.value, name: name.value }), form); });
  return form;
}
