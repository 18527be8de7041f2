// The work area: one lead card with its pipeline, form, notes, assignee, reply box and timeline.
import { ApiError, get, patch, post } from './api.js';
import { $, clear, h } from './dom.js';
import { clientBlock, personName, timeline, timelineItem } from './cardview.js';
import { fieldsForm, markInvalid } from './fields.js';
import { formatDateTime } from './format.js';
import { label, t } from './i18n.js';
import { PATHS } from './paths.js';
import { taskBox } from './taskform.js';
import { attachQuickReplies } from './quickreplies.js';

const PIPELINE = ['new', 'assigned', 'in_progress', 'won', 'lost', 'closed'];
const NO_REPLY = new Set(['form', 'voice', 'manual', 'phone']);
const ASSIGNERS = new Set(['manager', 'supervisor', 'admin']);
const LISTERS = new Set(['supervisor', 'admin']);      // who may read GET /api/v1/users

export class LeadView {
  constructor(ctx) {
    this.ctx = ctx;
    this.root = $('#work');
    this.card = null;
    this.users = undefined;          // undefined: not asked yet; null: not allowed
    // A form the user has typed into is theirs until they leave the lead: re-renders keep it (see kept()).
    const touch = (event) => { const form = event.target.closest && event.target.closest('form'); if (form) form.dataset.touched = ''; };
    this.root.addEventListener('input', touch);
    this.root.addEventListener('change', touch);
  }

  // What the user is in the middle of on this lead: a lead.updated frame (often caused by their own save)
  // re-renders the card, and must neither wipe their typing nor pull the element they are about to click.
  kept(leadId) {
    if (this.leadId !== leadId) return {};
    const old = this.root.querySelector('.lead-card');
    return {
      closer: this.closer && this.closer.firstChild ? this.closer : null,
      error: this.error && !this.error.hidden ? this.error : null,
      fields: old ? old.querySelector('.fields-form[data-touched]') : null,
      notes: old ? old.querySelector('form.notes[data-touched]') : null,
    };
  }

  get leadId() { return this.card ? this.card.lead.id : null; }

  async open(leadId, card = null) {
    if (card && card.lead) this.render(card);
    try {
      this.render(await get(PATHS.lead(leadId)));
    } catch (exc) {
      if (!card) this.renderError(exc);
    }
  }

  async refresh() {
    if (this.leadId !== null) await this.open(this.leadId);
  }

  renderError(exc) {
    clear(this.root).append(h('p', { class: 'error', role: 'alert', text: t('error.generic', { message: exc.message }) }));
  }

  render(card) {
    const lead = card.lead;
    const kept = this.kept(lead.id);
    this.card = card;
    this.error = kept.error || h('p', { class: 'error lead-error', role: 'alert', hidden: true });
    this.closer = kept.closer || h('div', { class: 'closer' });
    clear(this.root).append(h('article', { class: 'lead-card', dataset: { leadId: lead.id } },
      h('header', { class: 'lead-head' },
        h('h2', { text: t('card.lead', { id: lead.id }) }),
        h('span', { class: `badge status-${lead.status}`, text: label('status', lead.status) }),
        h('span', { class: 'muted', text: `${label('channel', lead.channel)} · ${formatDateTime(lead.created_at)}` })),
      lead.subject ? h('div', { class: 'subject', text: lead.subject }) : null,
      clientBlock(card, this.ctx, { callButtons: true }),
      h('p', { class: 'call-status', role: 'status', hidden: true }),
      this.pipeline(lead),
      this.closer,
      this.error,
      kept.fields || fieldsForm(this.ctx, lead.id, (lead.attributes || {}).fields || {}),
      this.assignee(card),
      kept.notes || this.notes(lead),
      taskBox(card),
      h('h3', { text: t('card.timeline') }),
      h('div', { class: 'timeline-box' }, timeline(card.timeline || [])),
      NO_REPLY.has(lead.channel) ? null : this.replyBox(lead)));
  }

  showError(exc) {
    this.error.textContent = t('error.generic', { message: exc.message });
    this.error.hidden = false;
    markInvalid(this.root, exc);
    // The outlined form is kept across re-renders until the user fixes it.
    for (const input of this.root.querySelectorAll('.invalid')) { const form = input.closest('form'); if (form) form.dataset.touched = ''; }
  }

  async change(body) {
    this.error.hidden = true;
    try {
      await patch(PATHS.lead(this.leadId), body);
      clear(this.closer);
      await this.refresh();
      this.ctx.refreshList();
    } catch (exc) {
      this.showError(exc);
    }
  }

  pipeline(lead) {
    return h('div', { class: 'pipeline', role: 'group', 'aria-label': t('card.status') },
      PIPELINE.map((status) => h('button', {
        type: 'button', class: `stage stage-${status}`, 'aria-pressed': String(status === lead.status),
        dataset: { status }, text: label('status', status), onclick: () => this.toStatus(status),
      })));
  }

  toStatus(status) {
    clear(this.closer);
    if (status === 'lost') {
      const reason = h('input', { name: 'lost_reason', required: true, 'data-field': 'lost_reason' });
      this.closer.append(this.askForm(h('label', {}, h('span', { text: t('close.lost_reason') }), reason),
        () => this.change({ status, lost_reason: reason.value })));
      reason.focus();
    } else if (status === 'closed') {
      const outcome = h('select', { name: 'outcome' },
        h('option', { value: 'resolved', text: t('close.resolved') }),
        h('option', { value: 'handed_over', text: t('close.handed_over') }));
      const whom = h('input', { name: 'handed_over_to', 'data-field': 'handed_over_to' });
      const whomRow = h('label', { hidden: true }, h('span', { text: t('close.whom') }), whom);
      outcome.addEventListener('change', () => { whomRow.hidden = outcome.value !== 'handed_over'; });
      this.closer.append(this.askForm([h('label', {}, h('span', { text: t('close.outcome') }), outcome), whomRow],
        () => this.change(outcome.value === 'handed_over'
          ? { status, outcome: outcome.value, handed_over_to: whom.value } : { status, outcome: outcome.value })));
    } else {
      this.change({ status });
    }
  }

  askForm(content, submit) {
    const form = h('form', { class: 'ask' }, content,
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'primary', text: t('close.confirm') }),
        h('button', { type: 'button', text: t('close.cancel'), onclick: () => clear(this.closer) })));
    form.addEventListener('submit', (event) => { event.preventDefault(); submit(); });
    return form;
  }

  assignee(card) {
    const box = h('div', { class: 'assignee' }, h('span', { class: 'muted', text: `${t('card.assignee')}: ` }),
      h('span', { class: 'assignee-name', text: personName(card.assignee) }));
    if (!ASSIGNERS.has(this.ctx.user.role)) return box;
    const picker = h('span', { class: 'assign-picker' });
    box.append(' ', picker,
      h('button', { type: 'button', class: 'small', text: t('assign.me'),
        onclick: () => this.change({ assignee_id: this.ctx.user.id }) }));
    this.fillPicker(picker);
    return box;
  }

  // The user list is for supervisors and admins; a manager without it types an id.
  async fillPicker(picker) {
    if (this.users === undefined && !LISTERS.has(this.ctx.user.role)) this.users = null;
    if (this.users === undefined) {
      try {
        this.users = (await get(PATHS.users)).items.filter((u) => u.active);
      } catch (exc) {
        if (!(exc instanceof ApiError)) throw exc;
        this.users = null;
      }
    }
    let control;
    if (this.users) {
      control = h('select', { name: 'assignee_id', 'aria-label': t('assign.title') },
        this.users.map((u) => h('option', { value: u.id, text: u.display_name,
          selected: this.card && u.id === this.card.lead.assignee_id })));
    } else {
      control = h('input', { name: 'assignee_id', type: 'number', min: 1, placeholder: t('assign.user_id'),
        'aria-label': t('assign.title') });
    }
    clear(picker).append(control, ' ', h('button', { type: 'button', class: 'small', text: t('assign.go'),
      onclick: () => { if (control.value) this.change({ assignee_id: Number(control.value) }); } }));
  }

  notes(lead) {
    const area = h('textarea', { name: 'notes', rows: 3, 'aria-label': t('card.notes') });
    area.value = lead.notes || '';
    const status = h('span', { class: 'form-status', role: 'status' });
    const form = h('form', { class: 'notes' }, h('h3', { text: t('card.notes') }), area,
      h('div', { class: 'row' }, h('button', { type: 'submit', text: t('card.save_notes') }), status));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        await patch(PATHS.lead(this.leadId), { notes: area.value });
        status.textContent = t('card.saved');
      } catch (exc) {
        status.textContent = t('error.generic', { message: exc.message });
      }
    });
    return form;
  }

  replyBox(lead) {
    const area = h('textarea', { name: 'reply', rows: 3, placeholder: t('reply.placeholder'),
      'aria-label': t('reply.label') });
    const status = h('p', { class: 'reply-status', role: 'status' });
    const button = h('button', { type: 'submit', class: 'primary', text: t('reply.send') });
    const form = h('form', { class: 'reply' }, area, attachQuickReplies(area, lead.id), h('div', { class: 'row' }, button), status);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const text = area.value.trim();
      if (!text) return;
      button.disabled = true;
      status.className = 'reply-status';
      status.textContent = t('reply.sending');
      try {
        await post(PATHS.leadReply(lead.id), { text });
        area.value = '';
        await this.refresh();
        const fresh = $('.reply-status', this.root);
        if (fresh) { fresh.textContent = t('reply.sent'); fresh.classList.add('ok'); }
      } catch (exc) {
        await this.refresh();
        const fresh = $('.reply-status', this.root) || status;
        fresh.textContent = t('reply.failed', { message: exc.message });
        fresh.classList.add('error');
        const box = $('.reply textarea', this.root);
        if (box && !box.value) box.value = text;     // nothing typed is lost when delivery fails
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  // A live `message.received` frame for the lead on screen goes straight onto its timeline.
  messageReceived(data) {
    if (data.lead_id !== this.leadId) return false;
    const box = $('.timeline-box', this.root);
    let list = $('ol.timeline', box);
    if (!list) {
      clear(box);
      list = h('ol', { class: 'timeline' });
      box.append(list);
    }
    if (data.interaction_id && list.querySelector(`[data-interaction-id="${Number(data.interaction_id)}"]`)) return true;
    list.append(timelineItem({ id: data.interaction_id, channel: data.channel, direction: 'inbound',
      text: data.text, subject: data.subject, at: data.at, attributes: data.attributes || {} }));
    list.lastElementChild.scrollIntoView({ block: 'nearest' });
    return true;
  }

  async clickToCall(leadId, number) {
    const status = $('.call-status', this.root);
    const show = (text, error) => {
      if (!status) return;
      status.textContent = text;
      status.hidden = false;
      status.classList.toggle('error', error);
    };
    show(t('call.started', { number }), false);
    try {
      await post(PATHS.calls, { lead_id: leadId, number });
    } catch (exc) {
      show(t('call.failed', { message: exc.message }), true);
    }
  }
}
