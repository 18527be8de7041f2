// Pieces of the client's card shared by the incoming pop-up and the work area. Text only, never HTML.
import { h } from './dom.js';
import { formatDateTime, formatPhone } from './format.js';
import { label, t } from './i18n.js';
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
