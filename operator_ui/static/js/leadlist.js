// The work list: tabs (mine, my team's queue, and for supervisors all) with their counts, one line per lead that
// reads (client, channel, age, stage, next task, who waits; calls: outcome, talk time, who answered), and the
// next page when the bottom of the list comes into view.
import { ApiError, get, post } from './api.js';
import { $, clear, h } from './dom.js';
import { formatDateTime, formatDuration, formatPhone } from './format.js';
import { label, t } from './i18n.js';
import { PATHS } from './paths.js';

const OPEN_STATUSES = 'new,assigned,in_progress';
const PAGE = 50;

function age(iso) {
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000));
  if (Number.isNaN(minutes)) return '';
  if (minutes < 60) return t('leads.age_minutes', { n: minutes });
  if (minutes < 48 * 60) return t('leads.age_hours', { n: Math.round(minutes / 60) });
  return t('leads.age_days', { n: Math.round(minutes / 1440) });
}

function clientOf(lead, ctx) {
  const contact = lead.contact || {};
  if (contact.display_name) return contact.display_name;
  const first = contact.identity;
  if (first && first.kind === 'phone') return formatPhone(first.value, ctx.homeRegion);
  if (first && first.kind === 'email') return first.value;
  return t('glance.new_client');
}

// What happened on the lead's last call, in words.
export function callWords(call) {
  if (!call) return null;
  if (call.outcome && call.outcome !== 'answered' && call.callback_task) return t('leads.call_back');
  const bits = [call.direction === 'outbound' ? t('glance.call_out') : null,
    call.outcome ? label('client.outcome', call.outcome) : t('glance.call_live')];
  if (Number(call.talk_seconds) > 0) bits.push(t('call.talk', { duration: formatDuration(call.talk_seconds) }));
  if (call.answered_by && call.answered_by.display_name) bits.push(t('glance.answered_by', { name: call.answered_by.display_name }));
  return bits.filter(Boolean).join(' · ');
}

export class LeadList {
  constructor(ctx) {
    this.ctx = ctx;
    this.list = $('#lead-list');
    this.title = $('#list-title');
    this.seq = 0;
    this.next = null;
    this.loadingMore = false;
    this.unread = new Set();
    // Supervisors come to see the waiting work, not "My leads: none".
    this.view = ['supervisor', 'admin'].includes(ctx.user.role) ? 'all' : 'mine';
    this.more = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadMore();
    });
  }

  tabs(counts) {
    const views = [['mine', 'leads.mine'], ['unassigned', 'leads.unassigned']];
    if (counts && 'all' in counts) views.push(['all', 'leads.all']);
    return h('span', { class: 'list-tabs', role: 'tablist' }, views.map(([view, key]) => h('button', {
      type: 'button', role: 'tab', class: `link small tab${this.view === view ? ' current' : ''}`, dataset: { view },
      'aria-selected': String(this.view === view),
      text: `${t(key)} (${counts && view in counts ? counts[view] : '…'})`,
      onclick: () => { this.view = view; this.ctx.query = ''; $('#search').value = ''; this.load(); },
    })));
  }

  path(before = null) {
    const query = this.ctx.query;
    const params = query ? { q: query }
      : this.view === 'unassigned' ? { view: 'unassigned', limit: PAGE }
        : this.view === 'all' ? { status: OPEN_STATUSES, limit: PAGE }
          : { assignee: 'me', status: OPEN_STATUSES, limit: PAGE };
    if (before) params.before = before;
    return PATHS.leadsWhere(params);
  }

  async load() {
    const seq = ++this.seq;
    const query = this.ctx.query;
    let body;
    let counts = null;
    try {
      [body, counts] = await Promise.all([get(this.path()), get(PATHS.leadCounts).catch(() => null)]);
    } catch (exc) {
      if (seq === this.seq) clear(this.list).append(h('li', { class: 'error', text: t('error.generic', { message: exc.message }) }));
      return;
    }
    if (seq !== this.seq) return;
    clear(this.title).append(query ? t('leads.found', { q: query }) : this.tabs(counts));
    if (query) {
      this.title.append(' ', h('button', { type: 'button', class: 'link small', text: t('leads.back'), onclick: () => {
        this.ctx.query = '';
        $('#search').value = '';
        this.load();
      } }));
    }
    clear(this.list);
    this.more.disconnect();
    if (!body.items.length) this.list.append(h('li', { class: 'muted', text: t(query ? 'leads.none' : `leads.none_${this.view}`) }));
    this.append(body);
  }

  async loadMore() {
    if (!this.next || this.loadingMore) return;
    const seq = this.seq;
    this.loadingMore = true;
    try {
      const body = await get(this.path(this.next));
      if (seq === this.seq) this.append(body);
    } catch { /* the sentinel stays: the next scroll tries again */ } finally {
      this.loadingMore = false;
    }
  }

  append(body) {
    const old = this.list.querySelector(':scope > .more');
    if (old) { this.more.unobserve(old); old.remove(); }
    for (const lead of body.items) {
      if (!this.list.querySelector(`[data-lead-id="${Number(lead.id)}"]`)) this.list.append(this.line(lead));
    }
    this.next = body.next || null;
    if (this.next) {
      const sentinel = h('li', { class: 'more' }, h('button', { type: 'button', class: 'link small', text: t('leads.more'),
        onclick: () => this.loadMore() }));
      this.list.append(sentinel);
      this.more.observe(sentinel);
    }
  }

  line(lead) {
    const ctx = this.ctx;
    const unassigned = !ctx.query && this.view === 'unassigned';
    const waiting = lead.waiting || this.unread.has(lead.id);
    const call = callWords(lead.last_call);
    const task = lead.next_task ? t('leads.next_task', { kind: label('tasks.kind', lead.next_task.kind),
      when: formatDateTime(lead.next_task.due_at) }) : null;
    const classes = [lead.id === (ctx.view && ctx.view.leadId) ? 'current' : '', waiting ? 'unread' : ''].filter(Boolean);
    return h('li', { dataset: { leadId: lead.id }, class: classes.join(' ') },
      h('button', { type: 'button', class: 'lead-item', onclick: () => {
        for (const li of this.list.querySelectorAll('li')) li.classList.toggle('current', li.dataset.leadId === String(lead.id));
        this.markRead(lead.id);
        ctx.view.open(lead.id);
      } },
      h('span', { class: 'lead-title', text: clientOf(lead, ctx) }),
      h('span', { class: `badge status-${lead.status}`, text: lead.stage ? label('stage', lead.stage) : label('status', lead.status) }),
      h('span', { class: 'muted lead-meta', text: [label('channel', lead.channel),
        age(lead.created_at), call, waiting ? t('leads.waiting') : null].filter(Boolean).join(' · ') }),
      task ? h('span', { class: 'muted lead-task', text: task }) : null),
      lead.contact && lead.contact.id ? h('a', { class: 'small client-link', href: `/clients/${Number(lead.contact.id)}`,
        text: t('client.open') }) : null,
      unassigned ? h('button', { type: 'button', class: 'small take', text: t('leads.take'),
        onclick: () => this.take(lead.id) }) : null);
  }

  markUnread(leadId) {
    if (leadId === (this.ctx.view && this.ctx.view.leadId)) return;
    this.unread.add(leadId);
    const item = this.list.querySelector(`[data-lead-id="${Number(leadId)}"]`);
    if (item) item.classList.add('unread');
  }

  markRead(leadId) {
    this.unread.delete(leadId);
    const item = this.list.querySelector(`[data-lead-id="${Number(leadId)}"]`);
    if (item) item.classList.remove('unread');
  }

  async take(leadId) {
    try {
      await post(PATHS.leadTake(leadId));
      this.view = 'mine';
      await this.load();
      this.ctx.view.open(leadId);
    } catch (exc) {
      const message = exc instanceof ApiError ? exc.message : String(exc);
      clear(this.list).append(h('li', { class: 'error', text: t('error.generic', { message }) }));
      setTimeout(() => this.load(), 1500);
    }
  }
}
