// The supervisor wallboard: queue and channel numbers and agents, live from `queue.stats`; today's history hour
// by hour from the server (/api/v1/reports/hourly), so every screen shows the same history, drawn with Chart.js
// (window.Chart) beside a text table of the same numbers.
import { get } from './api.js';
import { $, clear, h } from './dom.js';
import { formatDateTime, formatDuration, formatNumber, formatTime } from './format.js';
import { label, t } from './i18n.js';
import { startPage } from './pages.js';
import { LiveSocket } from './socket.js';
import { FRAME } from './frames.js';
import { PATHS } from './paths.js';

const POLL_MS = 5000;
const HISTORY_MS = 60000;
const HISTORY_PARTS = ['offers', 'accepted', 'missed', 'leads'];
const HISTORY_COLORS = { offers: '#2563eb', accepted: '#15803d', missed: '#b91c1c', leads: '#7c3aed' };
let lastFrameAt = 0;
let historyAt = 0;
let historyChart = null;

const pct = (v) => (v === null || v === undefined ? '—' : `${formatNumber(v, 1)}%`);
const dict = (m, prefix = 'wallboard.state') => Object.entries(m || {}).map(([k, v]) => `${label(prefix, k)}: ${typeof v === 'number' ? formatNumber(v, 1) : v}`).join(', ') || '—';
const secs = (v) => (v === null || v === undefined ? '—' : formatDuration(v));

// Today's hours as the company's clock counts them: the same for every supervisor's screen.
async function loadHistory() {
  historyAt = Date.now();
  const body = await get(PATHS.reportHourly({}));
  const hours = body.hours || [];
  const hourOf = (iso) => iso.slice(11, 16);
  const tableEl = $('#history-table');
  clear(tableEl).append(
    h('thead', {}, h('tr', {}, [t('wallboard.hour'), ...HISTORY_PARTS.map((k) => t(`wallboard.${k}`))].map((text) => h('th', { scope: 'col', text })))),
    h('tbody', {}, hours.map((row) => h('tr', { dataset: { hour: row.hour } }, h('th', { scope: 'row', text: hourOf(row.hour) }),
      HISTORY_PARTS.map((k) => h('td', { dataset: { stat: k }, text: formatNumber(row[k]) }))))));
  if (!window.Chart) return;
  historyChart?.destroy();
  const canvas = $('#history-chart');
  canvas.setAttribute('aria-label', t('wallboard.history'));
  historyChart = new window.Chart(canvas, {
    type: 'bar',
    data: { labels: hours.map((row) => hourOf(row.hour)),
      datasets: HISTORY_PARTS.map((k) => ({ label: t(`wallboard.${k}`), data: hours.map((row) => row[k]), backgroundColor: HISTORY_COLORS[k] })) },
    options: { responsive: true, maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

function refreshHistory(force = false) {
  if (force || Date.now() - historyAt >= HISTORY_MS) loadHistory().catch(() => { /* the live numbers still show */ });
}

// The agent's one state (presence and activity reconciled by the server: on a call is never "offline"), and why.
function stateText(a) {
  const reason = a.reason && a.reason !== 'away' ? label('wallboard.reason', a.reason) : null;
  return [label('wallboard.state', a.state || a.activity || a.presence), reason].filter(Boolean).join(' · ');
}

function stat(key, value, cls = '') {
  return h('div', { class: `stat ${cls}`, dataset: { stat: key } },
    h('span', { class: 'stat-value', text: value }), h('span', { class: 'stat-label', text: t(`wb.${key}`) }));
}

function queueTile(q) {
  return h('article', { class: 'tile', dataset: { queue: q.name } },
    h('h3', { text: label('queue', q.name) }),
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
      row('by_priority', dict(q.waiting_by_level || q.waiting_by_priority, 'wallboard.priority')),
      row('by_activity', dict(q.agents_by_activity)),
      row('by_reason', dict(q.agents_by_reason, 'wallboard.reason'))));
}

function currentCall(call) {
  if (!call) return '—';
  const talk = call.talking_since ? formatDuration((Date.now() - Date.parse(call.talking_since)) / 1000) : '';
  return [call.caller_name || call.caller || '?', call.queue ? label('queue', call.queue) : null, talk].filter(Boolean).join(' · ');
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
    table($('#agents'), ['name', 'state', 'load', 'call', 'since', 'handled', 'missed_short'],
      agents.map((a) => ({ key: a.user_id, cells: [a.display_name, stateText(a),
        Object.keys(a.capacity || {}).map((ch) => `${label('channel', ch)} ${(a.load || {})[ch] || 0}/${a.capacity[ch]}`).join(', '),
        currentCall(a.call),
        a.since ? formatDateTime(a.since) : '—', formatNumber(a.handled_today ?? 0), formatNumber(a.missed_today ?? 0)] })));
  }
  refreshHistory();
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
  const config = await startPage();
  await fetchStats();
  refreshHistory(true);
  const live = ['supervisor', 'admin'].includes(config.user.role);
  const socket = new LiveSocket({
    onState: (state) => {
      $('#conn-banner').hidden = state === 'open';
      if (state === 'open') fetchStats();
    },
    onFrame: (type, data) => { if (type === FRAME.QUEUE_STATS) render(data); },
  });
  socket.connect();
  // Managers may read the numbers but get no live frames: they are polled. The history follows once a minute.
  setInterval(() => {
    if (!live && Date.now() - lastFrameAt >= POLL_MS) fetchStats();
    refreshHistory();
  }, POLL_MS);
}

main().catch((exc) => {
  const error = $('#wb-error');
  error.textContent = t('error.generic', { message: exc.message });
  error.hidden = false;
});
