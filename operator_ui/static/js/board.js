// The kanban board of one pipeline: columns = stages, drag a card (or choose from its menu) to move it; live.
import { get, patch, post } from './api.js';
import { $, clear, h } from './dom.js';
import { formatDateTime, formatMoney, formatNumber } from './format.js';
import { FRAME } from './frames.js';
import { label, t } from './i18n.js';
import { startPage } from './pages.js';
import { PATHS } from './paths.js';
import { LiveSocket } from './socket.js';
import { quickTaskForm, responseBadge } from './taskform.js';

let pipelines = [];
let current = null;
let dragged = null;
let reloadTimer = null;

// Amounts come in minor units (kopecks, cents).
const money = (minor, currency) => (minor === null || minor === undefined ? '' : formatMoney(minor / 100, currency));
const days = (iso) => (iso ? Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 86400000)) : 0);

function showError(message) {
  const el = $('#board-error');
  el.textContent = message || '';
  el.hidden = !message;
}

function query() {
  const params = new URLSearchParams();
  if ($('#owner').value) params.set('owner', $('#owner').value);
  if ($('#source').value) params.set('source', $('#source').value);
  if ($('#team').value) params.set('team', $('#team').value);
  return params.toString();
}

async function move(leadId, stage) {
  const body = { stage_id: stage.id };
  if (stage.kind === 'lost') {
    const reason = window.prompt(t('board.lost_reason'));
    if (reason === null) return;
    body.lost_reason = reason;
  }
  try {
    await patch(`/api/v1/leads/${leadId}`, body);
    showError('');
  } catch (exc) {
    showError(t('board.refused', { message: exc.message }));
  }
  await load();
}

function card(item, stages, stage) {
  const menu = h('select', { class: 'card-move', 'aria-label': t('board.move_to'), dataset: { leadId: String(item.id) } },
    h('option', { value: '', text: t('board.move_to') }),
    stages.filter((s) => s.id !== stage.id).map((s) => h('option', { value: String(s.id), text: label('stage', s.name) })));
  menu.addEventListener('change', () => {
    const target = stages.find((s) => String(s.id) === menu.value);
    if (target) move(item.id, target);
  });
  // A follow-up from the board: the card opens the same small form as the lead card, with the quick choices.
  const taskSlot = h('div', { class: 'card-task-form', hidden: true });
  const addTask = h('button', { type: 'button', class: 'link small card-add-task', 'aria-expanded': 'false',
    text: t('board.add_task') });
  addTask.addEventListener('click', () => {
    const opening = taskSlot.hidden;
    taskSlot.replaceChildren(...(opening ? [quickTaskForm(item.id, () => { taskSlot.hidden = true; reloadSoon(); })] : []));
    taskSlot.hidden = !opening;
    addTask.setAttribute('aria-expanded', String(opening));
  });
  const el = h('article', { class: `card${item.overdue ? ' overdue' : ''}`, draggable: 'true', tabindex: '0',
    dataset: { leadId: String(item.id) } },
    h('a', { class: 'card-client', href: `/console#lead=${item.id}`, text: item.client || item.subject || `#${item.id}` }),
    h('div', { class: 'card-amount', text: money(item.amount, item.currency) }),
    h('div', { class: 'card-meta muted', text: [item.owner || t('board.nobody'), label('channel', item.channel),
      t('board.age', { days: days(item.stage_entered_at) })].join(' · ') }),
    item.overdue ? h('div', { class: 'card-due', text: t('board.overdue') }) : [],
    item.next_task ? h('div', { class: `card-task${item.next_task.overdue ? ' overdue' : ''}`,
      text: t('board.next_task', { kind: label('tasks.kind', item.next_task.kind),
        due: formatDateTime(item.next_task.due_at) }) }) : [],
    responseBadge(item.response),
    h('div', { class: 'card-actions' }, menu, addTask), taskSlot);
  el.addEventListener('dragstart', (ev) => {
    dragged = item.id;
    ev.dataTransfer.setData('text/plain', String(item.id));
    ev.dataTransfer.effectAllowed = 'move';
  });
  return el;
}

function column(col, stages) {
  const totals = Object.entries(col.amounts || {}).map(([cur, v]) => money(v, cur)).join(' + ');
  const el = h('section', { class: `column kind-${col.stage.kind}`, dataset: { stageId: String(col.stage.id) } },
    h('header', { class: 'column-head' },
      h('h2', { text: label('stage', col.stage.name) }),
      h('span', { class: 'column-count', text: formatNumber(col.count) }),
      h('span', { class: 'column-total muted', text: totals })),
    col.cards.map((item) => card(item, stages, col.stage)),
    col.count > col.cards.length ? h('p', { class: 'muted', text: t('board.more', { n: col.count - col.cards.length }) }) : []);
  el.addEventListener('dragover', (ev) => { ev.preventDefault(); el.classList.add('drop'); });
  el.addEventListener('dragleave', () => el.classList.remove('drop'));
  el.addEventListener('drop', (ev) => {
    ev.preventDefault();
    el.classList.remove('drop');
    const id = Number(ev.dataTransfer.getData('text/plain') || dragged);
    if (id && !col.cards.some((c) => c.id === id)) move(id, col.stage);
  });
  return el;
}

async function load() {
  if (!current) return;
  try {
    const board = await get(`/api/v1/pipelines/${current}/board?${query()}`);
    const stages = board.columns.map((c) => c.stage);
    const root = $('#board');
    clear(root);
    for (const col of board.columns) root.append(column(col, stages));
  } catch (exc) {
    showError(t('error.generic', { message: exc.message }));
  }
}

function reloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(load, 200);
}

async function addStage(ev) {
  ev.preventDefault();
  const required = $('#stage-required').value.split(',').map((s) => s.trim()).filter(Boolean);
  try {
    await post(`/api/v1/pipelines/${current}/stages`, { name: $('#stage-name').value, kind: $('#stage-kind').value,
      required_fields: required });
    $('#stage-name').value = '';
    showError('');
  } catch (exc) {
    showError(t('board.refused', { message: exc.message }));
  }
  await load();
}

async function main() {
  const config = await startPage();
  pipelines = (await get('/api/v1/pipelines')).items;
  const select = $('#pipeline');
  for (const p of pipelines) select.append(h('option', { value: String(p.id), text: label('pipeline', p.name) }));
  current = pipelines.length ? pipelines[0].id : null;
  for (const channel of ['form', 'email', 'voice', 'telegram', 'whatsapp', 'viber', 'manual']) {
    $('#source').append(h('option', { value: channel, text: label('channel', channel) }));
  }
  // The teams this user may filter by (everyone's for supervisors and admins, their own otherwise).
  const teams = (await get(PATHS.teams).catch(() => ({ items: [] }))).items;
  for (const team of teams) $('#team').append(h('option', { value: String(team.id), text: team.name }));
  $('#team-filter').hidden = teams.length === 0;
  $('#team').addEventListener('change', load);
  select.addEventListener('change', () => { current = Number(select.value); load(); });
  $('#owner').addEventListener('change', load);
  $('#source').addEventListener('change', load);
  if (config.user.role === 'admin') {
    $('#stage-admin').hidden = false;
    $('#stage-admin').addEventListener('submit', addStage);
  }
  await load();
  new LiveSocket({
    watch: 'board',
    onState: (state) => { $('#conn-banner').hidden = state === 'open'; },
    onFrame: (type, data) => { if (type === FRAME.LEAD_MOVED && data.pipeline_id === current) reloadSoon(); },
  }).connect();
}

main().catch((exc) => showError(t('error.generic', { message: exc.message })));
