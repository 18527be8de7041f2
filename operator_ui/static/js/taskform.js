// The lead card's tasks: the lead's tasks, a form with quick due choices (computed by the server in the user's
// zone), and the response clock's state when a client waits. Its own module: the card only places it.
import { get, post } from './api.js';
import { clear, h } from './dom.js';
import { loadTaskStrings, tt } from './tasks_i18n.js';

const KINDS = ['call', 'meeting', 'email', 'message', 'other'];
const QUICK = ['in_1h', 'tomorrow_10', 'next_monday_10'];

export function taskBox(card) {
  const leadId = card.lead.id;
  const box = h('section', { class: 'task-box', dataset: { leadId: String(leadId) } });
  const list = h('ul', { class: 'task-list' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const kind = h('select', { name: 'kind', class: 'task-kind-select', 'aria-label': tt('tasks.kind_label') });
  const note = h('input', { type: 'text', name: 'note', maxlength: '5000', class: 'task-note-input',
    'aria-label': tt('tasks.note') });
  const quick = h('span', { class: 'task-quick' });

  async function load() {
    try {
      const found = await get(`/api/v1/tasks?lead_id=${Number(leadId)}`);
      clear(list);
      for (const task of found.items) {
        list.append(h('li', { class: `task ${task.bucket}`, dataset: { taskId: String(task.id) } },
          h('span', { class: 'task-kind', text: tt(`tasks.kind.${task.kind}`) }),
          h('span', { class: 'muted', text: task.due_local.slice(0, 16).replace('T', ' ') }),
          h('span', { text: task.note || '' }),
          h('span', { class: 'muted', text: task.state === 'open' ? '' : tt('tasks.done') })));
      }
    } catch (exc) {
      error.textContent = exc.message;
      error.hidden = false;
    }
  }

  async function add(due) {
    error.hidden = true;
    try {
      await post('/api/v1/tasks', { lead_id: leadId, kind: kind.value, due, note: note.value });
      note.value = '';
      await load();
    } catch (exc) {
      error.textContent = exc.message;
      error.hidden = false;
    }
  }

  loadTaskStrings().then(() => {
    for (const k of KINDS) kind.append(h('option', { value: k, text: tt(`tasks.kind.${k}`) }));
    for (const q of QUICK) quick.append(h('button', { type: 'button', class: 'small', dataset: { due: q },
      text: tt(`tasks.quick.${q}`), onclick: () => add(q) }));
    note.placeholder = tt('tasks.note');
    const clock = card.response;
    box.prepend(h('h3', { text: tt('tasks.title_card') }),
      clock && clock.state !== 'ok' ? h('p', { class: `badge response-${clock.state}`, role: 'status',
        text: tt(`tasks.response.${clock.state}`) }) : '');
    load();
  });
  box.append(list, h('div', { class: 'task-form' }, kind, note, quick), error);
  return box;
}
