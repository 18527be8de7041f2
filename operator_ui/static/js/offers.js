// Incoming work: offers (accept / decline with a countdown) and ringing calls pop as cards, with a beep.
import { h, $ } from './dom.js';
import { clientName, glance, summaryOf, timeline } from './cardview.js';
import { fieldsForm } from './fields.js';
import { formatDuration, formatPhone } from './format.js';
import { label, t } from './i18n.js';
import { FRAME } from './frames.js';

let audio = null;

export function unlockAudio() {
  try {
    if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === 'suspended') audio.resume();
  } catch { audio = null; }
}

export function beep() {
  try {
    unlockAudio();
    if (!audio) return;
    const now = audio.currentTime;
    for (const [start, freq] of [[0, 880], [0.2, 660]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = 'sine';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + start);
      gain.gain.exponentialRampToValueAtTime(0.2, now + start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + start + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + start);
      osc.stop(now + start + 0.2);
    }
  } catch { /* a screen without sound still shows the card */ }
}

function notify(key, title, body) {
  if (!('Notification' in window) || Notification.permission !== 'granted' || document.hasFocus()) return;
  try {
    const note = new Notification(title, { body, tag: key });
    note.onclick = () => { window.focus(); note.close(); };
  } catch { /* some browsers only allow notifications from a service worker */ }
}

export function askNotificationPermission() {
  if ('Notification' in window && Notification.permission === 'default') {
    Notification.requestPermission().catch(() => {});
  }
}

function firstPhone(card) {
  const phone = ((card && card.contact && card.contact.identities) || []).find((i) => i.kind === 'phone');
  return phone ? phone.value : null;
}

export class Incoming {
  constructor(ctx) {
    this.ctx = ctx;
    this.root = $('#offers');
    this.empty = $('#offers-empty');
    this.cards = new Map();          // key -> {el, kind, data, timer}
    this.requests = new Map();       // frame id -> key, to show an error on the right card
    this.accepted = new Set();       // lead ids this screen accepted: their assignment opens the lead
    this.entries = new WeakMap();    // card element -> its entry, to walk the cards in screen order
    document.addEventListener('keydown', (event) => this.onKey(event));
  }

  // The card the shortcuts act on: the topmost offer still open to an answer, or the topmost ringing call.
  // A finished call, an answered call or an offer already being answered is never it.
  live() {
    for (const el of this.root.children) {
      const entry = this.entries.get(el);
      if (!entry) continue;
      if (entry.kind === 'offer' && !entry.el.querySelector('footer button:disabled')) return entry;
      if (entry.kind === 'call' && entry.el.classList.contains('ringing')) return entry;
    }
    return null;
  }

  onKey(event) {
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    const code = event.code;
    if (code !== 'KeyA' && code !== 'KeyD') return;
    const first = this.live();
    if (!first) return;
    event.preventDefault();
    if (first.kind === 'offer') (code === 'KeyA' ? this.accept : this.decline).call(this, first.data.offer_id);
    else if (code === 'KeyA') this.ctx.openLead(first.data.lead_id);
    else this.remove(`call:${first.data.call_id}`);
  }

  update() {
    // The card the keyboard acts on is marked, so the operator sees what Alt+A will do.
    const live = this.live();
    for (const entry of this.cards.values()) {
      const current = entry === live;
      entry.el.classList.toggle('current', current);
      if (current) entry.el.setAttribute('aria-current', 'true'); else entry.el.removeAttribute('aria-current');
    }
    this.empty.hidden = this.cards.size > 0;
    document.title = this.cards.size ? `(${this.cards.size}) Switchboard` : 'Switchboard';
  }

  place(key, kind, data, el) {
    const existing = this.cards.get(key);
    if (existing) {
      clearInterval(existing.timer);
      clearTimeout(existing.finish);
      existing.el.replaceWith(el);
    } else {
      // New work goes above cards that are only showing how they ended.
      this.root.insertBefore(el, this.root.querySelector(':scope > .ended'));
    }
    const entry = { el, kind, data, timer: null, finish: null };
    this.cards.set(key, entry);
    this.entries.set(el, entry);
    this.update();
    return { entry, fresh: !existing };
  }

  remove(key) {
    const entry = this.cards.get(key);
    if (!entry) return;
    clearInterval(entry.timer);
    clearTimeout(entry.finish);
    entry.el.remove();
    this.cards.delete(key);
    this.update();
  }

  // -- offers -----------------------------------------------------------------------------
  offerCreated(data) {
    const key = `offer:${data.offer_id}`;
    const card = data.card || { lead: { id: data.lead_id }, contact: null };
    const countdown = h('span', { class: 'countdown', role: 'timer' });
    const bar = h('progress', { class: 'countdown-bar', max: 1000, value: 1000 });
    const error = h('p', { class: 'error card-error', role: 'alert', hidden: true });
    const el = h('article', { class: 'offer-card', dataset: { offerId: data.offer_id, leadId: data.lead_id ?? '' } },
      h('header', {},
        h('h3', { text: t('offer.title', { channel: label('channel', (card.lead && card.lead.channel) || data.channel) }) }),
        countdown),
      bar,
      glance(summaryOf(card, data), this.ctx, { shown: (card.timeline || []).slice(-3).map((item) => item.id) }),
      timeline((card.timeline || []), { limit: 3 }),
      error,
      h('footer', {},
        h('button', { type: 'button', class: 'primary accept', 'aria-keyshortcuts': 'Alt+A',
          onclick: () => this.accept(data.offer_id) }, t('offer.accept'), ' ', h('kbd', { text: 'Alt+A' })),
        h('button', { type: 'button', class: 'decline', 'aria-keyshortcuts': 'Alt+D',
          onclick: () => this.decline(data.offer_id) }, t('offer.decline'), ' ', h('kbd', { text: 'Alt+D' }))));
    const { entry, fresh } = this.place(key, 'offer', data, el);
    // The deadline from the server's clock, capped by the offer's own length in case the clocks disagree.
    const total = Math.max(1, Number(data.timeout_seconds) || 20) * 1000;
    const expires = Date.parse(data.expires_at);
    const deadline = Math.min(Number.isNaN(expires) ? Date.now() + total : expires, Date.now() + total);
    const tick = () => {
      const left = Math.max(0, deadline - Date.now());
      countdown.textContent = left > 0 ? t('offer.expires', { seconds: Math.ceil(left / 1000) }) : t('offer.expired');
      bar.value = Math.round(1000 * left / total);
    };
    tick();
    entry.timer = setInterval(tick, 250);
    if (fresh) {
      beep();
      const phone = firstPhone(card);
      notify(key, t('notify.title', { name: clientName(card) }),
        [label('channel', data.channel), phone ? formatPhone(phone, this.ctx.homeRegion) : null].filter(Boolean).join(' · '));
    }
  }

  accept(offerId) {
    const key = `offer:${offerId}`;
    const entry = this.cards.get(key);
    if (!entry) return;
    if (entry.data.lead_id) this.accepted.add(entry.data.lead_id);
    for (const button of entry.el.querySelectorAll('footer button')) button.disabled = true;
    this.update();
    const id = this.ctx.socket.send(FRAME.OFFER_ACCEPT, { offer_id: offerId });
    if (id === null) this.showError(key, t('conn.lost'));
    else this.requests.set(id, key);
  }

  decline(offerId) {
    const key = `offer:${offerId}`;
    const entry = this.cards.get(key);
    if (!entry) return;
    for (const button of entry.el.querySelectorAll('footer button')) button.disabled = true;
    this.update();
    const id = this.ctx.socket.send(FRAME.OFFER_DECLINE, { offer_id: offerId });
    if (id === null) this.showError(key, t('conn.lost'));
    else this.requests.set(id, key);
  }

  showError(key, message) {
    const entry = this.cards.get(key);
    if (!entry) return;
    const error = entry.el.querySelector('.card-error');
    if (error) { error.textContent = message; error.hidden = false; }
    for (const button of entry.el.querySelectorAll('footer button')) button.disabled = false;
    this.update();
  }

  // `offer.accept.ok`, `offer.decline.ok` and `error` frames answer our requests by id.
  answered(type, data) {
    const key = this.requests.get(data.id);
    if (key === undefined) return false;
    this.requests.delete(data.id);
    if (type === FRAME.ERROR) {
      this.showError(key, t('error.generic', { message: data.message || data.code }));
    } else {
      this.remove(key);
    }
    return true;
  }

  offerCancelled(data) {
    this.remove(`offer:${data.offer_id}`);
  }

  // -- calls ------------------------------------------------------------------------------
  callRinging(data) {
    const key = `call:${data.call_id}`;
    const card = data.card || { lead: { id: data.lead_id }, contact: { display_name: data.caller_name, identities: [] } };
    const state = h('span', { class: 'call-state', text: t('call.state_ringing') });
    const outgoing = data.direction === 'outbound';
    const formSlot = h('div', { class: 'call-form' });
    const el = h('article', { class: 'offer-card call-card ringing', dataset: { callId: data.call_id, leadId: data.lead_id ?? '' } },
      h('header', {}, h('h3', { text: t(outgoing ? 'call.outgoing' : 'call.ringing') }), state),
      data.transfer_from ? h('div', { class: 'muted', text: t('call.transfer', { from: data.transfer_from }) }) : null,
      glance(summaryOf(card, data), this.ctx, { name: data.caller_name, call: outgoing ? { queue: data.queue } : data }),
      formSlot,
      h('footer', {},
        data.lead_id ? h('button', { type: 'button', class: 'primary', 'aria-keyshortcuts': 'Alt+A',
          onclick: () => this.ctx.openLead(data.lead_id) }, t('call.open'), ' ', h('kbd', { text: 'Alt+A' })) : null,
        h('button', { type: 'button', 'aria-keyshortcuts': 'Alt+D', onclick: () => this.remove(key) },
          t('call.dismiss'), ' ', h('kbd', { text: 'Alt+D' }))));
    const { fresh } = this.place(key, 'call', data, el);
    if (fresh) {
      beep();
      notify(key, t('notify.title', { name: summaryOf(card, data).name || data.caller_name || clientName(card) }),
        data.caller ? formatPhone(data.caller, this.ctx.homeRegion) : '');
    }
  }

  // The card the pop went out without (a first-time caller, or a card not read in time): fill it in.
  callCard(data) {
    const entry = this.cards.get(`call:${data.call_id}`);
    if (!entry) return;
    const answered = entry.el.classList.contains('answered');
    this.callRinging({ ...entry.data, lead_id: data.lead_id, card: data.card });
    if (answered) this.callAnswered({ call_id: data.call_id, lead_id: data.lead_id, quiet: true });
  }

  // This phone stopped ringing (no answer, or answered at another phone): the pop goes.
  callRingStopped(data) {
    this.remove(`call:${data.call_id}`);
  }

  callAnswered(data) {
    const entry = this.cards.get(`call:${data.call_id}`);
    if (entry) {
      entry.el.classList.remove('ringing');
      entry.el.classList.add('answered');
      entry.el.querySelector('.call-state').textContent = t('call.answered');
      const slot = entry.el.querySelector('.call-form');
      const values = (((entry.data.card || {}).lead || {}).attributes || {}).fields || {};
      const leadId = data.lead_id || entry.data.lead_id;
      // Saved from the call card: the same lead open in the work area shows the new values.
      const onSaved = () => { if (this.ctx.view && this.ctx.view.leadId === leadId) this.ctx.view.refresh(); };
      const form = leadId ? fieldsForm(this.ctx, leadId, values, { onSaved }) : null;
      if (form && !slot.firstChild) slot.append(form);
      this.update();
    }
    if (data.lead_id && !data.quiet) this.ctx.openLead(data.lead_id);
  }

  callEnded(data) {
    const key = `call:${data.call_id}`;
    const entry = this.cards.get(key);
    if (!entry) return;
    entry.el.classList.remove('ringing', 'answered');
    entry.el.classList.add('ended');
    entry.el.querySelector('.call-state').textContent = data.missed ? t('call.missed')
      : `${t('call.ended')} · ${t('call.talk', { duration: formatDuration(data.talk_seconds) })}`;
    // A finished card shows how the call ended for a moment, then clears itself ([console] finished_card_seconds);
    // the form filled in during the call lives on in the lead card, which the answer opened.
    this.root.append(entry.el);
    clearTimeout(entry.finish);
    entry.finish = setTimeout(() => this.remove(key), this.finishedMs());
    this.update();
  }

  finishedMs() {
    const seconds = Number(this.ctx.config && this.ctx.config.finished_card_seconds);
    return (Number.isFinite(seconds) && seconds >= 0 ? seconds : 8) * 1000;
  }
}
