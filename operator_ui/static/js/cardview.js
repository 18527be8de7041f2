// Pieces of the client's card shared by the incoming pop-up and the work area. Text only, never HTML.
import { h } from './dom.js';
import { formatDateTime, formatDuration, formatPhone } from './format.js';
import { label, locale, t } from './i18n.js';
import { PATHS } from './paths.js';

export function clientName(card) {
  return (card && card.contact && card.contact.display_name) || t('card.unknown');
}

export function identityText(identity, ctx) {
  if (identity.kind === 'phone') return formatPhone(identity.value, ctx.homeRegion);
  if (identity.kind === 'email') return identity.value;
  return `${identity.kind}: ${identity.value}`;
}

export function identityList(card, ctx, { callButtons = false } = {}) {
  const identities = (card && card.contact && card.contact.identities) || [];
  return h('ul', { class: 'identities' }, identities.map((identity) => h('li', { class: `identity kind-${identity.kind}` },
    h('span', { class: 'identity-value', text: identityText(identity, ctx), title: identity.value }),
    callButtons && identity.kind === 'phone' && ctx.clickToCall
      ? h('button', { type: 'button', class: 'small call-button', text: t('call.start'),
        onclick: () => ctx.clickToCall(card.lead.id, identity.value) })
      : null)));
}

export function sourceList(lead) {
  const source = (lead && lead.source) || {};
  const entries = Object.entries(source).filter(([, v]) => v !== null && v !== undefined && v !== '');
  if (!entries.length) return null;
  // Keys in words (an unknown one, e.g. a new utm_ tag, as it came); the channel as a word, other values as typed.
  return h('dl', { class: 'source' }, entries.map(([key, value]) => [
    h('dt', { text: label('source', key) }),
    h('dd', { text: key === 'channel' ? label('channel', value) : typeof value === 'string' ? value : JSON.stringify(value) })]));
}

export function personName(person) {
  return person ? person.display_name : t('card.nobody');
}

export function leadSummary(lead) {
  const bits = [`#${lead.id}`, label('channel', lead.channel), label('status', lead.status)];
  if (lead.subject) bits.push(lead.subject);
  return bits.join(' · ');
}

export function openLeads(card, ctx) {
  const others = (card && card.other_open_leads) || [];
  if (!others.length) return null;
  return h('div', { class: 'open-leads' },
    h('h4', { text: t('card.open_leads') }),
    h('ul', {}, others.map((lead) => h('li', {},
      ctx.openLead ? h('button', { type: 'button', class: 'link', text: leadSummary(lead), onclick: () => ctx.openLead(lead.id) })
        : leadSummary(lead)))));
}

export function clientBlock(card, ctx, options = {}) {
  const lead = card.lead || {};
  return h('div', { class: 'client' },
    h('div', { class: 'client-name' }, card.contact && card.contact.id
      ? h('a', { href: `/clients/${Number(card.contact.id)}`, class: 'client-link', text: clientName(card) })
      : clientName(card)),
    identityList(card, ctx, options),
    h('div', { class: 'owner' }, h('span', { class: 'muted', text: `${t('card.owner')}: ` }),
      h('span', { class: 'owner-name', text: personName(card.owner) })),
    sourceList(lead),
    openLeads(card, ctx));
}

// A call's own entry is a system event the server wrote in English ("Incoming call to +7495…"): said again
// from its attributes in the user's language. Anything a person wrote is shown as written.
function eventText(item) {
  const call = item.channel === 'voice' && item.attributes && item.attributes.call_id ? item.attributes : null;
  if (!call || !['inbound', 'outbound'].includes(call.direction)) return item.text || '';
  if (call.direction === 'outbound') return t('event.call_out');
  return call.did ? t('event.call_in_to', { did: formatPhone(call.did) }) : t('event.call_in');
}

export function timelineItem(item) {
  const direction = item.direction || 'inbound';
  const meta = [formatDateTime(item.at), label('dir', direction), label('channel', item.channel)];
  const delivery = item.delivery ? h('span', { class: `delivery delivery-${item.delivery}`,
    text: label('delivery', item.delivery) }) : null;
  const failure = item.delivery === 'failed' && item.attributes && item.attributes.error
    ? h('div', { class: 'delivery-error', text: String(item.attributes.error) }) : null;
  const files = (item.attributes && item.attributes.attachments) || [];
  return h('li', { class: `timeline-item dir-${direction}`, dataset: { interactionId: item.id ?? '' } },
    h('div', { class: 'meta' }, meta.filter(Boolean).join(' · '), ' ', delivery),
    item.subject ? h('div', { class: 'subject', text: item.subject }) : null,
    h('div', { class: 'text', text: eventText(item) }),
    failure,
    files.length ? h('ul', { class: 'attachments' }, files.map((file, n) => h('li', {},
      file.ref && item.id
        ? h('a', { href: PATHS.attachment(item.id, n), download: file.filename || '',
          text: file.filename || `#${n + 1}` })
        : h('span', { class: 'muted', text: file.filename || `#${n + 1}` })))) : null);
}

export function timeline(items, { limit = null } = {}) {
  const list = limit ? items.slice(-limit) : items;
  if (!list.length) return h('p', { class: 'muted timeline-empty', text: t('card.no_timeline') });
  return h('ol', { class: 'timeline' }, list.map(timelineItem));
}

// -- the client at a glance: the one design of every pop (calls, messages, e-mails, forms) ------------------
// Drawn from the card's `summary` (crm_store.lead_cards.card_summary); a pop that went out before its card
// draws what the frame itself says and is drawn again when `call.card` brings the rest.

function money(amount, currency) {
  if (amount === null || amount === undefined) return null;
  try {
    return new Intl.NumberFormat(locale(), { style: 'currency', currency: currency || 'RUB', maximumFractionDigits: 0 })
      .format(Number(amount) / 100);
  } catch { return `${Number(amount) / 100} ${currency || ''}`.trim(); }
}

// The summary of a card, or the little a frame without one knows (the caller's name and number, the line).
export function summaryOf(card, frame = {}) {
  if (card && card.summary) return card.summary;
  const contact = (card && card.contact) || {};
  const phone = ((contact.identities || []).find((i) => i.kind === 'phone') || {}).value;
  const lead = (card && card.lead) || {};
  const source = {};
  if (frame.did) source.did = frame.did;
  if (frame.queue) source.queue = frame.queue;
  return { name: frame.caller_name || contact.display_name || null, known: null, contact_id: contact.id || null, phone: phone || frame.caller || null, companies: [],
    owner: (card && card.owner) || null, channel: lead.channel || frame.channel || null, source,
    deals: [], recent: [], tasks: [] };
}

// Where the contact came from, in words: the line dialled (named in [console] source_labels), the queue, the
// campaign; never a raw key.
export function sourceWords(summary, ctx) {
  const named = (ctx.config && ctx.config.source_labels) || {};
  const s = summary.source || {};
  const words = [];
  if (s.did) words.push(t('glance.source.did', { line: named[s.did] || formatPhone(s.did, ctx.homeRegion) }));
  if (s.queue && s.queue !== 'default') words.push(t('glance.source.queue', { queue: named[s.queue] || label('queue', s.queue) }));
  if (s.form && s.form !== 'default') words.push(t('glance.source.form', { form: named[s.form] || s.form }));
  if (s.mailbox) words.push(t('glance.source.mailbox', { mailbox: named[s.mailbox] || s.mailbox }));
  if (s.bot) words.push(t('glance.source.bot', { bot: named[s.bot] || s.bot }));
  if (s.utm_campaign) words.push(t('glance.source.campaign', { campaign: s.utm_campaign }));
  if (s.utm_source) words.push(t('glance.source.ad', { source: s.utm_source }));
  return words;
}

function dealLine(deal) {
  const stage = deal.stage ? label('stage', deal.stage) : label('status', deal.status);
  return [stage, money(deal.amount, deal.currency), deal.subject].filter(Boolean).join(' · ');
}

function recentLine(item) {
  const call = item.channel === 'voice';
  const bits = [formatDateTime(item.at), label('channel', item.channel)];
  if (call) {
    if (item.direction === 'outbound') bits.push(t('glance.call_out'));
    if (item.outcome) bits.push(label('client.outcome', item.outcome));
    else if (item.status && item.status !== 'ended') bits.push(t('glance.call_live'));
    if (Number(item.talk_seconds) > 0) bits.push(t('call.talk', { duration: formatDuration(item.talk_seconds) }));
    if (item.answered_by) bits.push(t('glance.answered_by', { name: item.answered_by.display_name }));
  } else {
    bits.push(label('dir', item.direction));
    if (item.direction === 'outbound' && item.outcome) bits.push(label('delivery', item.outcome));
  }
  return bits.filter(Boolean).join(' · ');
}

function section(cls, titleKey, items, line) {
  if (!items || !items.length) return null;
  return h('div', { class: `glance-${cls}` },
    h('h4', { text: t(titleKey) }),
    h('ul', {}, items.map((item) => h('li', {}, ...line(item)))));
}

// `shown`: interaction ids the card already shows in full (an offer's messages), left out of the last contacts;
// `call`: the frame of a ringing call: its own line (DID, queue) is the source, and calls still under way (this
// one) are not a "last contact".
export function glance(summary, ctx, { name = null, shown = [], call = null } = {}) {
  const shownName = summary.name || name;
  const skip = new Set(shown);
  const recent = (summary.recent || []).filter((item) => !skip.has(item.id)
    && !(call && item.channel === 'voice' && !item.outcome));
  if (call && (call.did || call.queue)) {
    const own = { ...summary.source };
    delete own.did;
    delete own.queue;
    summary = { ...summary, source: { ...own, ...(call.did ? { did: call.did } : {}), ...(call.queue ? { queue: call.queue } : {}) } };
  }
  // This lead itself is a deal worth a line once it has an amount; the client's other open leads always are.
  const deals = (summary.deals || []).filter((deal) => !deal.current || deal.amount !== null);
  const phone = summary.phone ? formatPhone(summary.phone, ctx.homeRegion) : null;
  const who = summary.contact_id && shownName
    ? h('a', { href: `/clients/${Number(summary.contact_id)}`, class: 'client-link client-name', text: shownName })
    : h('span', { class: 'client-name', text: shownName || (summary.known === false ? t('glance.new_client') : phone || t('card.unknown')) });
  const tag = summary.known === false ? h('span', { class: 'badge glance-new', text: t('glance.new_client') })
    : summary.known ? h('span', { class: 'badge glance-known', text: t('glance.known_client') }) : null;
  const source = sourceWords(summary, ctx);
  return h('section', { class: 'glance', 'aria-label': t('glance.title') },
    h('div', { class: 'glance-who' }, who, ' ', shownName || summary.known !== false ? tag : null),
    summary.companies && summary.companies.length
      ? h('div', { class: 'glance-company', text: summary.companies.join(', ') }) : null,
    h('div', { class: 'glance-line' },
      phone && (shownName || summary.known === false) ? h('span', { class: 'glance-phone', text: phone }) : null,
      phone && summary.email ? ' · ' : null,
      summary.email ? h('span', { class: 'glance-email', text: summary.email }) : null,
      !phone && !summary.email && summary.messenger
        ? h('span', { class: 'glance-messenger', text: `${label('channel', summary.messenger.kind)}: ${summary.messenger.value}` })
        : null),
    h('div', { class: 'glance-owner' }, h('span', { class: 'muted', text: `${t('card.owner')}: ` }),
      h('span', { class: 'owner-name', text: personName(summary.owner) })),
    source.length ? h('div', { class: 'glance-source muted', text: source.join(' · ') }) : null,
    section('deals', 'glance.deals', deals, (deal) => [
      ctx.openLead && !deal.current
        ? h('button', { type: 'button', class: 'link', text: dealLine(deal), onclick: () => ctx.openLead(deal.id) })
        : h('span', { text: dealLine(deal) })]),
    section('recent', 'glance.recent', recent, (item) => [
      h('span', { class: 'glance-meta muted', text: recentLine(item) }),
      item.text || item.subject ? h('span', { class: 'glance-text', text: item.text || item.subject }) : null]),
    section('tasks', 'glance.tasks', summary.tasks, (task) => [
      h('span', { text: [label('tasks.kind', task.kind), t('glance.due', { when: formatDateTime(task.due_at) }),
        task.note].filter(Boolean).join(' · ') })]));
}
