// The supervisor wallboard: queue and channel numbers, agents, and an hour's chart, live from `queue.stats`.
import { get, logout } from './api.js';
import { $, clear, h } from './dom.js';
import { drawChart, WINDOW_MS } from './chart.js';
import { formatDateTime, formatDuration, formatNumber, formatTime } from './format.js';
import { applyI18n, label, setLocale, t } from './i18n.js';
import { renderNav } from './pages.js';
import { LiveSocket } from './socket.js';
import { FRAME } from './frames.js';
import { PATHS } from './paths.js';

const HISTORY_KEY = 'switchboard.wallboard.history';
const POLL_MS = 5000;
let samples = [];
let lastFrameAt = 0;

const pct = (v) => (v === null || v === undefined ? '—' : `${formatNumber(v, 1)}%`);
const dict = (m, prefix = 'activity') => Object.entries(m || {}).map(([k, v]) => `${label(prefix, k)}: ${typeof v === 'number' ? formatNumber(v, 1) : v}`).join(', ') || '—';
const secs = (v) => (v === null || v === undefined ? '—' : formatDuration(v));

function loadHistory() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(HISTORY_KEY) || '[]');
    samples = kept.filter((s) => s.at >= Date.now() - WINDOW_MS);
  } catch { samples = []; }
}

function record(stats) {
  const queues = Object.values(stats.queues || {});
  const waiting = queues.reduce((sum, q) => sum + (q.waiting || 0), 0);
  const assigned = queues.reduce((sum, q) => sum + (q.assigned_today || 0), 0);
  const met = queues.reduce((sum, q) => sum + (q.service_level_pct === null ? 0 : q.service_level_pct * q.assigned_today), 0);
  samples.push({ at: Date.now(), waiting, sl: assigned ? met / assigned : null });
  samples = samples.filter((s) => s.at >= Date.now() - WINDOW_MS).slice(-2000);
  try { sessionStorage.setItem(HISTORY_KEY, JSON.stringify(samples)); } catch { /* full: keep in memory */ }
}

function stat(key, value, cls = '') {
  return h('div', { class: `stat ${cls}`, dataset: { stat: key } },
    h('span', { class: 'stat-value', text: value }), h('span', { class: 'stat-label', text: t(`wb.${key}`) }));
}

function queueTile(q) {
  return h('article', { class: 'tile', dataset: { queue: q.name } },
    h('h3', { text: q.name }),
    h('div', { class: 'big-stats' },
      stat('waiting', formatNumber(q.waiting), q.waiting > 0 ? 'hot' : ''),
      stat('reserved', formatNumber(q.reserved)),
      stat('assigned', formatNumber(q.assigned)),
      stat('longest', secs(q.longest_waiting_age)),
      stat('sl', pct(q.service_level_pct)),
      stat('available', `${formatNumber(q.available_agents)} / ${formatNumber(q.eligible_agents)}`),
      stat('sla_at_risk', formatNumber(q.sla_at_risk ?? 0), q.sla_at_risk > 0 ? 'warn' : ''),
      stat('sla_breached', formatNumber(q.sla_breached ?? 0), q.sla_breached > 0 ? 'hot' : ''),
      // Clients waiting for a person's answer, by their queue's response clock (present when clocks are set).
      q.responses ? [
        stat('response_at_risk', formatNumber(q.responses.at_risk), q.responses.at_risk > 0 ? 'warn' : ''),
        stat('response_breached', formatNumber(q.responses.breached), q.responses.breached > 0 ? 'hot' : ''),
      ] : []),
    h('dl', { class: 'small-stats' },
      row('wrapping', formatNumber(q.wrapping)),
      row('entered', formatNumber(q.entered_today)),
      row('assigned_today', formatNumber(q.assigned_today)),
      row('completed', formatNumber(q.completed_today)),
      row('abandoned', formatNumber(q.abandoned_today)),
      row('abandon_rate', q.entered_today ? pct((100 * q.abandoned_today) / q.entered_today) : '—'),
      q.callbacks_waiting !== undefined ? row('callbacks', formatNumber(q.callbacks_waiting)) : [],
      row('missed', `${q.rejected_today} / ${q.timed_out_today} / ${q.rescinded_today}`),
      row('avg_accept', secs(q.avg_time_to_accept)),
      row('max_accept', secs(q.max_time_to_accept)),
      row('occupancy', Object.entries(q.occupancy_pct || {}).map(([k, v]) => `${label('channel', k)} ${pct(v)}`).join(', ') || '—'),
      row('free', dict(q.free_capacity, 'channel')),
      row('by_priority', dict(q.waiting_by_priority, 'priority')),
      row('by_activity', dict(q.agents_by_activity)),
      row('by_reason', dict(q.agents_by_reason))));
}

function currentCall(call) {
  if (!call) return '—';
  const talk = call.talking_since ? formatDuration((Date.now() - Date.parse(call.talking_since)) / 1000) : '';
  return [call.caller_name || call.caller || '?', call.queue, talk].filter(Boolean).join(' · ');
}

function row(key, value) {
  return [h('dt', { text: t(`wb.${key}`) }), h('dd', { dataset: { stat: key }, text: value })];
}

function table(el, head, rows) {
  clear(el).append(h('thead', {}, h('tr', {}, head.map((k) => h('th', { text: t(`wb.${k}`) })))),
    h('tbody', {}, rows.map(({ key, cells }) => h('tr', { dataset: { key } }, cells.map((c) => h('td', { text: c }))))));
}

function render(stats) {
  lastFrameAt = Date.now();
  $('#wb-error').hidden = true;
  clear($('#queues')).append(...Object.values(stats.queues || {}).map(queueTile));
  table($('#channels'), ['channel', 'waiting', 'reserved', 'assigned', 'longest', 'sl', 'available', 'occupancy', 'entered', 'assigned_today'],
    Object.values(stats.channels || {}).map((c) => ({ key: c.name, cells: [label('channel', c.name), formatNumber(c.waiting),
      formatNumber(c.reserved), formatNumber(c.assigned), secs(c.longest_waiting_age), pct(c.service_level_pct),
      `${c.available_agents} / ${c.eligible_agents}`, pct((c.occupancy_pct || {})[c.name]), formatNumber(c.entered_today),
      formatNumber(c.assigned_today)] })));
  const agents = Array.isArray(stats.agents) ? stats.agents : null;
  $('#agents-box').hidden = !agents;
  if (agents) {
    table($('#agents'), ['name', 'presence', 'activity', 'load', 'call', 'since', 'handled', 'missed_short'],
      agents.map((a) => ({ key: a.user_id, cells: [a.display_name,
        [label('presence', a.presence), a.reason && a.reason !== 'away' ? a.reason : null].filter(Boolean).join(' · '),
        label('activity', a.activity || ''),
        Object.keys(a.capacity || {}).map((ch) => `${label('channel', ch)} ${(a.load || {})[ch] || 0}/${a.capacity[ch]}`).join(', '),
        currentCall(a.call),
        a.since ? formatDateTime(a.since) : '—', formatNumber(a.handled_today ?? 0), formatNumber(a.missed_today ?? 0)] })));
  }
  record(stats);
  drawChart($('#chart'), samples);
  $('#updated').textContent = t('wb.updated', { time: formatTime(new Date()) });
}

async function fetchStats() {
  try {
    render(await get(PATHS.queueStats));
  } catch (exc) {
    const error = $('#wb-error');
    error.textContent = exc.status === 403 ? t('wb.forbidden') : t('error.generic', { message: exc.message });
    error.hidden = false;
  }
}

async function main() {
  await setLocale(localStorage.getItem('switchboard.locale') || navigator.language);
  const config = await get(PATHS.config);
  await setLocale(config.user.locale || 'en');
  applyI18n();
  renderNav(config.user);
  $('#logout').addEventListener('click', logout);
  loadHistory();
  drawChart($('#chart'), samples);
  await fetchStats();
  const live = ['supervisor', 'admin'].includes(config.user.role);
  const socket = new LiveSocket({
    onState: (state) => {
      $('#conn-banner').hidden = state === 'open';
      if (state === 'open') fetchStats();
    },
    onFrame: (type, data) => { if (type === FRAME.QUEUE_STATS) render(data); },
  });
  socket.connect();
  // Managers may read the numbers but get no live frames: they are polled. The chart keeps moving either way.
  setInterval(() => {
    if (!live && Date.now() - lastFrameAt >= POLL_MS) fetchStats();
    else drawChart($('#chart'), samples);
  }, POLL_MS);
}

main().catch((exc) => {
  const error = $('#wb-error');
  error.textContent = t('error.generic', { message: exc.message });
  error.hidden = false;
});
