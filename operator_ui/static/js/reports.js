// The reports screen: managers ranked by the admin's rating with a chart, one agent's day as a timeline,
// the funnel with a chart, and every report as a CSV / XLSX download. Charts are Chart.js (window.Chart,
// vendored under /ui/vendor/chartjs/); each has a text table beside it with the same numbers.
import { get } from './api.js';
import { $, clear, h } from './dom.js';
import { formatDuration, formatNumber } from './format.js';
import { label, t } from './i18n.js';
import { startPage } from './pages.js';
import { PATHS } from './paths.js';

const FORMATS = ['csv', 'xlsx'];
const OFFER_PARTS = ['offers_accepted', 'offers_declined', 'offers_timed_out'];
const COLORS = { offers_accepted: '#15803d', offers_declined: '#b45309', offers_timed_out: '#b91c1c' };
const STATE_COLORS = { available: '#15803d', idle: '#15803d', busy: '#2563eb', on_call: '#1d4ed8', wrap_up: '#7c3aed',
  break: '#b45309', lunch: '#d97706', training: '#0891b2', away: '#9ca3af', offline: '#4b5563' };
// The manager table's columns: a figure of /api/v1/reports/managers and how it is shown.
const COLUMNS = [
  ['rank', 'n'], ['display_name', 'name'], ['score', 'n1'],
  ['offers_received', 'n'], ['offers_accepted', 'n'], ['offers_declined', 'n'], ['offers_timed_out', 'n'],
  ['accept_median_seconds', 'dur'], ['accept_p90_seconds', 'dur'], ['first_response_by_channel', 'channels'],
  ['calls_in', 'n'], ['calls_in_answered', 'n'], ['calls_in_missed', 'n'],
  ['calls_out', 'n'], ['calls_out_answered', 'n'], ['calls_out_missed', 'n'],
  ['talk_seconds', 'dur'], ['aht_seconds', 'dur'], ['messages_answered', 'n'], ['emails_answered', 'n'],
  ['leads_won', 'n'], ['leads_lost', 'n'], ['amount_won', 'money'], ['amount_lost', 'money'], ['conversion', 'pct'],
  ['tasks_done', 'n'], ['tasks_overdue', 'n'], ['presence_seconds', 'states'],
];

const charts = {};
let config = null;
let report = null;
let agent = null;

const pct = (v) => (v === null || v === undefined ? '—' : `${formatNumber(v * 100, 1)}%`);
const money = (minor) => (minor === null || minor === undefined ? '—' : formatNumber(minor / 100, 2));
const stateName = (key) => {
  const [state, reason] = key.split(':');
  return reason ? `${label('activity', state)} (${label('wallboard.reason', reason)})` : label('activity', state);
};

function cell(kind, value) {
  if (kind === 'n') return formatNumber(value);
  if (kind === 'n1') return formatNumber(value, 1);
  if (kind === 'dur') return formatDuration(value);
  if (kind === 'pct') return pct(value);
  if (kind === 'money') return money(value);
  if (kind === 'channels') {
    return Object.entries(value || {}).map(([ch, s]) => `${label('channel', ch)} ${formatDuration(s)}`).join(', ') || '—';
  }
  if (kind === 'states') {
    return Object.entries(value || {}).map(([k, s]) => `${stateName(k)} ${formatDuration(s)}`).join(', ') || '—';
  }
  return value ?? '—';
}

function showError(message) {
  const el = $('#report-error');
  el.textContent = message || '';
  el.hidden = !message;
}

// The period as the API reads it: `period=today|week|month`, or `from` and `to`.
function periodParams() {
  const period = $('#period').value;
  if (period !== 'custom') return { period };
  const params = {};
  if ($('#from').value) params.from = $('#from').value;
  if ($('#to').value) params.to = $('#to').value;
  return params;
}

function managerParams() {
  const params = periodParams();
  if ($('#team').value) params.team = $('#team').value;
  if ($('#queue').value) params.queue = $('#queue').value;
  return params;
}

// "CSV" and "XLSX" links to the same report with `format=`: the browser downloads what the server streams.
function downloads(root, name, path) {
  clear(root).append(...FORMATS.map((format) => h('a', { class: 'download', href: path(format), download: '',
    dataset: { report: name, format }, 'aria-label': t('reports.download_as', { report: t(`reports.${name}`),
      format: format.toUpperCase() }) }, format.toUpperCase())));
}

function draw(name, canvas, chartConfig) {
  charts[name]?.destroy();
  canvas.setAttribute('aria-label', t(`reports.${name}_chart`));
  charts[name] = new window.Chart(canvas, { ...chartConfig,
    options: { responsive: true, maintainAspectRatio: false, animation: false, ...chartConfig.options } });
}

function table(el, head, rows) {
  clear(el).append(h('thead', {}, h('tr', {}, head.map((text) => h('th', { scope: 'col', text })))),
    h('tbody', {}, rows.map(({ key, cells }) => h('tr', { dataset: { key: String(key) } }, cells))));
}

function renderManagers() {
  const rows = report.rows;
  $('#managers-period').textContent = t('reports.range', { from: report.from, to: report.to, zone: report.timezone });
  table($('#managers'), COLUMNS.map(([key]) => t(`reports.col.${key}`)), rows.map((row) => ({
    key: row.user_id,
    cells: COLUMNS.map(([key, kind]) => (kind === 'name'
      ? h('td', {}, h('button', { type: 'button', class: 'link agent-link', dataset: { userId: String(row.user_id) },
        onclick: () => openAgent(row), text: row.display_name }))
      : h('td', { dataset: { col: key }, text: cell(kind, row[key]) }))),
  })));
  table($('#managers-chart-table'), [t('reports.col.display_name'), ...OFFER_PARTS.map((k) => t(`reports.col.${k}`))],
    rows.map((row) => ({ key: row.user_id, cells: [h('th', { scope: 'row', text: row.display_name }),
      ...OFFER_PARTS.map((k) => h('td', { text: formatNumber(row[k]) }))] })));
  draw('managers', $('#managers-chart'), {
    type: 'bar',
    data: { labels: rows.map((r) => r.display_name),
      datasets: OFFER_PARTS.map((k) => ({ label: t(`reports.col.${k}`), data: rows.map((r) => r[k]),
        backgroundColor: COLORS[k] })) },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  });
  downloads($('#managers-downloads'), 'managers', (format) => PATHS.reportManagers({ ...managerParams(), format }));
}

function fillTeams(teams) {
  const select = $('#team');
  const chosen = select.value;
  clear(select).append(h('option', { value: '', text: t('reports.all_teams') }),
    (teams || []).map((team) => h('option', { value: String(team.id), text: team.name })));
  select.value = chosen;
}

async function openAgent(row, day = null) {
  agent = row;
  const box = $('#timeline-box');
  box.hidden = false;
  $('#timeline-title').textContent = t('reports.timeline_of', { name: row.display_name });
  const input = $('#timeline-day');
  input.value = day || input.value || report.to;
  const params = { day: input.value };
  try {
    const body = await get(PATHS.agentActivity(row.user_id, params));
    renderTimeline(body);
  } catch (exc) {
    showError(t('error.generic', { message: exc.message }));
  }
  downloads($('#timeline-downloads'), 'timeline', (format) => PATHS.agentActivity(row.user_id, { ...params, format }));
}

function renderTimeline(body) {
  const start = Date.parse(body.from);
  const hours = (iso) => (Date.parse(iso) - start) / 3600000;
  const spans = body.spans.map((s) => ({ ...s, from: Math.max(0, hours(s.started_at)),
    to: Math.min(24, hours(s.ended_at || new Date().toISOString())) }));
  const states = [...new Set(spans.map((s) => s.state))];
  draw('timeline', $('#timeline-chart'), {
    type: 'bar',
    data: { labels: [body.display_name],
      datasets: states.map((state) => ({ label: label('activity', state), backgroundColor: STATE_COLORS[state] || '#64748b',
        data: spans.filter((s) => s.state === state).map((s) => ({ x: [s.from, s.to], y: body.display_name })) })) },
    options: { indexAxis: 'y', grouped: false, datasets: { bar: { grouped: false } },
      scales: { x: { min: 0, max: 24, ticks: { stepSize: 2 }, title: { display: true, text: t('reports.hour_of_day') } } } },
  });
  table($('#timeline'), ['from', 'to', 'state', 'reason', 'source', 'duration'].map((k) => t(`reports.span.${k}`)),
    body.spans.map((s, i) => ({ key: i, cells: [
      h('td', { text: clock(s.started_at, body.timezone) }), h('td', { text: s.ended_at ? clock(s.ended_at, body.timezone) : t('reports.now') }),
      h('td', { dataset: { state: s.state }, text: label('activity', s.state) }),
      h('td', { text: s.reason ? label('wallboard.reason', s.reason) : '' }),
      h('td', { text: label('reports.source', s.source) }), h('td', { text: formatDuration(s.seconds) })] })));
}

// A time of day on the company's clock (the report's time zone), not the browser's.
function clock(iso, zone) {
  try {
    return new Intl.DateTimeFormat(document.documentElement.lang, { hour: '2-digit', minute: '2-digit', timeZone: zone })
      .format(new Date(iso));
  } catch { return iso; }
}

async function loadFunnel() {
  const pipeline = $('#pipeline').value;
  if (!pipeline || !report) return;
  const params = { pipeline, from: report.from, to: report.to };
  const body = await get(PATHS.reportFunnel(params));
  const stages = body.stages.filter((s) => !s.retired || s.entered);
  $('#funnel-summary').textContent = t('reports.funnel_summary', { leads: formatNumber(body.leads),
    won: formatNumber(body.won), conversion: pct(body.conversion) });
  table($('#funnel'), ['stage', 'entered', 'to_next', 'median_hours', 'p90_hours'].map((k) => t(`reports.funnel.${k}`)),
    stages.map((s) => ({ key: s.id, cells: [h('th', { scope: 'row', text: label('stage', s.name) }),
      h('td', { dataset: { col: 'entered' }, text: formatNumber(s.entered) }),
      h('td', { text: s.to_next === undefined ? '' : pct(s.to_next) }),
      h('td', { text: formatNumber(s.median_hours, 1) }), h('td', { text: formatNumber(s.p90_hours, 1) })] })));
  draw('funnel', $('#funnel-chart'), {
    type: 'bar',
    data: { labels: stages.map((s) => label('stage', s.name)),
      datasets: [{ label: t('reports.funnel.entered'), data: stages.map((s) => s.entered), backgroundColor: '#2563eb' }] },
    options: { indexAxis: 'y', scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  downloads($('#funnel-downloads'), 'funnel', (format) => PATHS.reportFunnel({ ...params, format }));
}

function renderOtherDownloads() {
  const span = { from: report.from, to: report.to };
  const list = clear($('#other-downloads'));
  for (const [name, path] of [['sources', (format) => PATHS.reportSources({ ...span, format })],
    ['hourly', (format) => PATHS.reportHourly({ day: report.to, format })],
    ['leads', (format) => PATHS.exportLeads({ ...span, format })]]) {
    const links = h('dd', { class: 'downloads' });
    downloads(links, name, path);
    list.append(h('dt', { text: t(`reports.${name}`) }), links);
  }
}

// Everything the filters show, read again; body[data-ready] says when the screen is complete (tests wait on it).
async function load() {
  showError('');
  document.body.dataset.ready = 'false';
  try {
    report = await get(PATHS.reportManagers(managerParams()));
    fillTeams(report.teams);
    renderManagers();
    renderOtherDownloads();
    await loadFunnel();
    if (agent) await openAgent(report.rows.find((r) => r.user_id === agent.user_id) || agent);
  } catch (exc) {
    showError(exc.status === 403 ? t('reports.forbidden') : t('error.generic', { message: exc.message }));
  } finally {
    document.body.dataset.ready = 'true';
  }
}

async function main() {
  config = await startPage();
  for (const queue of config.queues || []) $('#queue').append(h('option', { value: queue, text: queue }));
  $('#period').addEventListener('change', () => {
    for (const el of document.querySelectorAll('.custom-dates')) el.hidden = $('#period').value !== 'custom';
  });
  $('#report-filters').addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  $('#timeline-day').addEventListener('change', () => { if (agent) openAgent(agent, $('#timeline-day').value); });
  $('#pipeline').addEventListener('change', () => loadFunnel().catch((exc) => showError(exc.message)));
  try {
    const pipelines = (await get(PATHS.pipelines)).items || [];
    $('#pipeline').append(...pipelines.map((p) => h('option', { value: String(p.id), text: label('pipeline', p.name) })));
  } catch { /* the funnel stays empty; the rest still works */ }
  await load();
}

main().catch((exc) => showError(t('error.generic', { message: exc.message })));
