// Import clients and leads: upload a file, check how its columns map to fields and how the first rows will be
// stored, rehearse (nothing written), run with live progress (`import.progress` frames), stop, report.
import { ApiError, get, post, upload } from './api.js';
import { $, clear, h } from './dom.js';
import { FRAME } from './frames.js';
import { t } from './i18n.js';
import { startPage } from './pages.js';
import { PATHS } from './paths.js';
import { LiveSocket } from './socket.js';

let job = null;
let fields = [];
let poller = null;

function showError(message) {
  const el = $('#imports-error');
  el.textContent = message || '';
  el.hidden = !message;
}

function mapping() {
  const result = {};
  for (const select of document.querySelectorAll('#mapping select')) result[select.dataset.column] = select.value;
  return result;
}

function choices(dryRun) {
  return { mapping: mapping(), leads: $('#leads').checked, split_name: $('#split-name').checked,
    on_match: $('#on-match').value, dry_run: dryRun };
}

function fieldSelect(column, chosen) {
  const select = h('select', { dataset: { column }, 'aria-label': t('imports.field_of', { column }) },
    h('option', { value: '', text: t('imports.skip_column') }),
    ...fields.map((name) => h('option', { value: name, selected: name === chosen, text: t(`imports.f.${name}`) })));
  select.addEventListener('change', refreshPreview);
  return select;
}

function renderMapping() {
  const body = clear($('#mapping tbody'));
  for (const column of job.columns) {
    body.append(h('tr', {}, h('td', { text: column }), h('td', {}, fieldSelect(column, job.mapping[column] || ''))));
  }
  $('#file-info').textContent = t('imports.file_info', { name: job.filename, rows: job.rows });
  $('#leads').checked = Boolean(job.leads);
}

function deal(lead) {
  if (!lead) return '';
  return [lead.title, lead.stage, lead.amount !== null && lead.amount !== undefined ? (lead.amount / 100).toString() : null,
    lead.owner].filter(Boolean).join(' · ');
}

function renderPreview(rows) {
  const body = clear($('#preview tbody'));
  for (const row of rows) {
    const name = row.name_parts ? Object.values(row.name_parts).join(' / ') : row.name;
    body.append(h('tr', { class: row.error ? 'import-bad' : '' },
      h('td', { text: row.row }), h('td', { text: name || '' }), h('td', { text: (row.phones || []).join(', ') }),
      h('td', { text: (row.emails || []).join(', ') }), h('td', { text: row.company || '' }),
      h('td', { text: deal(row.lead) }), h('td', { text: row.error || '' })));
  }
}

async function refreshPreview() {
  try {
    const body = choices(false);
    delete body.dry_run;
    renderPreview((await post(PATHS.importPreview(job.id), body)).preview);
    showError('');
  } catch (exc) {
    showError(exc.message);
  }
}

function showProgress(state) {
  $('#progress-box').hidden = false;
  const rows = state.rows || 0;
  $('#progress').max = rows || 1;
  $('#progress').value = state.done || 0;
  const running = state.state === 'running' || state.state === 'cancelling';
  $('#progress-text').textContent = running
    ? t('imports.progress', { done: state.done, rows, speed: Math.round(state.per_second || 0),
      eta: state.eta_seconds ?? '?' })
    : t(`imports.state.${state.state}`);
  $('#cancel').hidden = !running;
  $('#run').disabled = running;
  $('#dry-run').disabled = running;
  const counts = state.counts || state;
  $('#report').textContent = t(job && job.dry_run ? 'imports.report_dry' : 'imports.report', {
    created: counts.created || 0, joined: counts.joined || 0, skipped: counts.skipped || 0,
    invalid: counts.invalid || 0, leads: counts.leads || 0, merges: counts.merges || 0 });
  const rejects = $('#rejects');
  rejects.hidden = running || !(counts.invalid > 0);
  rejects.href = PATHS.importRejects(job.id);
  if (!running) stopPolling();
}

// Frames are the live path; a slow poll covers a socket that is reconnecting.
function startPolling() {
  stopPolling();
  poller = setInterval(async () => {
    try { const state = await get(PATHS.importJob(job.id)); job = { ...job, ...state }; showProgress(state); } catch { /* next tick */ }
  }, 3000);
}

function stopPolling() {
  if (poller) clearInterval(poller);
  poller = null;
}

async function run(dryRun) {
  try {
    const started = await post(PATHS.importRun(job.id), choices(dryRun));
    job = { ...job, ...started };
    showProgress({ ...started, state: 'running' });
    startPolling();
    showError('');
  } catch (exc) {
    showError(exc.message);
  }
}

async function onUpload(event) {
  event.preventDefault();
  const file = $('#file').files[0];
  if (!file) return;
  const form = new FormData();
  form.append('file', file);
  try {
    job = await upload(PATHS.imports, form);
    fields = job.fields;
    renderMapping();
    renderPreview(job.preview);
    $('#mapping-box').hidden = false;
    $('#progress-box').hidden = true;
    showError('');
  } catch (exc) {
    showError(exc instanceof ApiError ? t('imports.refused', { message: exc.message }) : exc.message);
  }
}

async function main() {
  const config = await startPage();
  $('#upload').addEventListener('submit', onUpload);
  $('#dry-run').addEventListener('click', () => run(true));
  $('#run').addEventListener('click', () => run(false));
  $('#cancel').addEventListener('click', async () => {
    try { await post(PATHS.importCancel(job.id)); } catch (exc) { showError(exc.message); }
  });
  new LiveSocket({
    onState: (state) => { $('#conn-banner').hidden = state === 'open'; },
    onFrame: (type, data) => { if (type === FRAME.IMPORT_PROGRESS && job && data.import_id === job.id) showProgress(data); },
  }).connect();
}

main().catch((exc) => showError(t('error.generic', { message: exc.message })));
