// Tasks on a lead: the card's task box (the lead's tasks, the form, the response clock) and the small form the
// board's cards reuse. Due times come from quick choices the server computes in the user's own zone.
import { get, post } from './api.js';
import { clear, h } from './dom.js';
import { formatDateTime } from './format.js';
import { t } from './i18n.js';
import { TASKS_CHANGED } from './pages.js';
import { PATHS } from './paths.js';

const KINDS = ['call', 'meeting', 'email', 'message', 'other'];
const QUICK = ['in_1h', 'tomorrow_10', 'next_monday_10'];

// The response clock of a lead whose client waits: drawn only when the answer is at risk or overdue.
export function responseBadge(clock) {
  if (!clock || (clock.state !== 'at_risk' && clock.state !== 'breached')) return [];
  const due = clock.due_at ? t('tasks.response.due', { when: formatDateTime(clock.due_at) }) : '';
  return [h('span', { class: `badge response-${clock.state}`, role: 'status', title: due,
    dataset: { response: clock.state }, text: t(`tasks.response.${clock.state}`) })];
}

// Kind, note and the quick due choices; `made` runs after the server stored the task.
export function quickTaskForm(leadId, made) {
  const kind = h('select', { name: 'kind', class: 'task-kind-select', 'aria-label': t('tasks.kind') },
    KINDS.map((k) => h('option', { value: k, text: t(`tasks.kind.${k}`) })));
  const note = h('input', { type: 'text', name: 'note', maxlength: '5000', class: 'task-note-input',
    placeholder: t('tasks.note'), 'aria-label': t('tasks.note') });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  async function add(due) {
    error.hidden = true;
    try {
      const task = await post(PATHS.tasks, { lead_id: Number(leadId), kind: kind.value, due, note: note.value });
      note.value = '';
      window.dispatchEvent(new CustomEvent(TASKS_CHANGED));
      await made(task);
    } catch (exc) {
      error.textContent = t('tasks.not_added', { message: exc.message });
      error.hidden = false;
    }
  }
  const quick = h('span', { class: 'task-quick' }, QUICK.map((q) => h('button', {
    type: 'button', class: 'small', dataset: { due: q }, text: t(`tasks.quick.${q}`), onclick: () => add(q) })));
  return h('div', { class: 'task-form' }, kind, note, quick, error);
}

export function taskBox(card) {
  const leadId = card.lead.id;
  const list = h('ul', { class: 'task-list' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });

  async function load() {
    try {
      const found = await get(PATHS.tasksWhere({ lead_id: Number(leadId) }));
      clear(list);
      for (const task of found.items) {
        list.append(h('li', { class: `task ${task.bucket}`, dataset: { taskId: String(task.id) } },
          h('span', { class: 'task-kind', text: t(`tasks.kind.${task.kind}`) }),
          h('span', { class: 'muted', text: task.due_local.slice(0, 16).replace('T', ' ') }),
          h('span', { text: task.note || '' }),
          h('span', { class: 'muted', text: task.state === 'open' ? '' : t('tasks.done') })));
      }
      error.hidden = true;
    } catch (exc) {
      error.textContent = exc.message;
      error.hidden = false;
    }
  }

  load();
  return h('section', { class: 'task-box', dataset: { leadId: String(leadId) } },
    h('h3', { text: t('tasks.title_card') }, ' ', responseBadge(card.response)),
    list, quickTaskForm(leadId, load), error);
}
