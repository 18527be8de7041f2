// My tasks: overdue, today, upcoming with counts in the top bar; reminders (`task.due`) pop with a sound and a
// desktop notification. Text only: every value goes in through textContent (dom.js `h`).
import { get, logout, patch } from './api.js';
import { $, clear, h } from './dom.js';
import { FRAME } from './frames.js';
import { applyI18n, locale, setLocale } from './i18n.js';
import { renderNav } from './pages.js';
import { LiveSocket } from './socket.js';
import { loadTaskStrings, tt } from './tasks_i18n.js';

let me = null;

async function loadStrings() {
  await loadTaskStrings();
  for (const el of document.querySelectorAll('[data-tt]')) el.textContent = tt(el.dataset.tt);
}

// Due times in the user's own zone (their setting), not the browser's.
function when(iso) {
  const options = { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' };
  try { return new Intl.DateTimeFormat(locale(), { ...options, timeZone: me.time_zone || 'UTC' }).format(new Date(iso)); }
  catch { return new Intl.DateTimeFormat(locale(), options).format(new Date(iso)); }
}

function taskItem(task) {
  const done = h('button', { type: 'button', class: 'task-done', text: tt('tasks.done') });
  done.addEventListener('click', async () => {
    done.disabled = true;
    try { await patch(`/api/v1/tasks/${task.id}`, { done: true }); await refresh(); } catch { done.disabled = false; }
  });
  const parts = [
    h('span', { class: 'task-kind', text: tt(`tasks.kind.${task.kind}`) }),
    h('span', { class: 'task-client', text: task.client_name || tt('tasks.unknown_client') }),
    h('span', { class: 'task-due muted', text: tt('tasks.due', { when: when(task.due_at) }) }),
  ];
  if (task.note) parts.push(h('span', { class: 'task-note', text: task.note }));
  if (task.lead_id) parts.push(h('a', { href: `/console?lead=${Number(task.lead_id)}`, text: tt('tasks.open_lead') }));
  parts.push(done);
  return h('li', { class: `task ${task.bucket}`, dataset: { taskId: String(task.id) } }, ...parts);
}

function fill(id, items) {
  const list = clear($(id));
  if (!items.length) list.append(h('li', { class: 'muted', text: tt('tasks.none') }));
  for (const task of items) list.append(taskItem(task));
}

async function refresh() {
  try {
    const mine = await get('/api/v1/tasks?view=mine');
    for (const bucket of ['overdue', 'today', 'upcoming']) fill(`#list-${bucket}`, mine.items.filter((x) => x.bucket === bucket));
    $('#task-counts').textContent = tt('tasks.counts', mine.counts);
    if (me && (me.role === 'supervisor' || me.role === 'admin')) {
      $('#team-box').hidden = false;
      fill('#list-team', (await get('/api/v1/tasks?view=overdue')).items);
    }
    $('#tasks-error').hidden = true;
  } catch (exc) {
    $('#tasks-error').hidden = false;
    $('#tasks-error').textContent = tt('tasks.error', { message: exc.message });
  }
}

function beep() {
  try {
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    const osc = ctx.createOscillator();
    osc.frequency.value = 880;
    osc.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.25);
  } catch { /* no audio device: the pop still shows */ }
}

function remind(data) {
  const title = tt('tasks.reminder', { kind: tt(`tasks.kind.${data.kind}`), client: data.client_name || tt('tasks.unknown_client') });
  const close = h('button', { type: 'button', text: tt('tasks.dismiss') });
  const pop = h('div', { class: 'reminder banner', role: 'alert', dataset: { taskId: String(data.task_id) } },
    h('strong', { text: title }), h('span', { text: ` ${data.note || ''} ` }),
    ...(data.lead_id ? [h('a', { href: `/console?lead=${Number(data.lead_id)}`, text: tt('tasks.open_lead') })] : []), close);
  close.addEventListener('click', () => pop.remove());
  $('#reminders').append(pop);
  beep();
  if ('Notification' in window && Notification.permission === 'granted') {
    try { new Notification(title, { body: data.note || '', tag: `task-${data.task_id}` }); } catch { /* headless */ }
  }
  refresh();
}

async function main() {
  const config = await get('/api/v1/config');
  me = config.user;
  await setLocale(me.locale || 'en');
  applyI18n();
  await loadStrings();
  renderNav(me);
  $('#logout').addEventListener('click', () => logout());
  if ('Notification' in window && Notification.permission === 'default') {
    $('#notify').hidden = false;
    $('#notify').addEventListener('click', async () => { await Notification.requestPermission(); $('#notify').hidden = true; });
  }
  const socket = new LiveSocket({
    onFrame: (type, data) => { if (type === FRAME.TASK_DUE) remind(data); },
    onState: (state) => {
      $('#conn-banner').hidden = state === 'open';
      if (state === 'open') refresh();
    },
  });
  socket.connect();
  await refresh();
}

main();
