// The operator console: presence, incoming offers and calls, my leads, the lead in work.
import { get, logout } from './api.js';
import { $, $$ } from './dom.js';
import { applyI18n, label, setLocale, t } from './i18n.js';
import { LeadList } from './leadlist.js';
import { LeadView } from './leadview.js';
import { Incoming, askNotificationPermission, unlockAudio } from './offers.js';
import { renderNav } from './pages.js';
import { LiveSocket } from './socket.js';
import { FRAME, ok } from './frames.js';
import { PATHS } from './paths.js';

// Per user: two people sharing a browser do not inherit each other's presence.
const presenceKey = () => `switchboard.presence.${ctx.user.id}`;

const ctx = { config: null, user: null, homeRegion: null, socket: null, query: '', list: null };
window.switchboard = ctx;      // for debugging from the devtools console

async function main() {
  await setLocale(localStorage.getItem('switchboard.locale') || navigator.language);
  ctx.config = await get(PATHS.config);
  ctx.user = ctx.config.user;
  ctx.homeRegion = ctx.config.phone_region || null;
  await setLocale(ctx.user.locale || 'en');
  localStorage.setItem('switchboard.locale', ctx.user.locale || 'en');
  applyI18n();
  $('#whoami').textContent = `${ctx.user.display_name} · ${label('role', ctx.user.role)}`;
  renderNav(ctx.user);
  $('#logout').addEventListener('click', logout);

  const view = new LeadView(ctx);
  ctx.openLead = (leadId, card) => view.open(leadId, card);
  ctx.clickToCall = (leadId, number) => view.clickToCall(leadId, number);
  const list = new LeadList(ctx);
  ctx.list = list;
  ctx.refreshList = () => list.load();
  ctx.view = view;
  const asked = Number(new URLSearchParams(location.search).get('lead'));     // a link from a reminder or My tasks
  if (Number.isInteger(asked) && asked > 0) view.open(asked);
  const incoming = new Incoming(ctx);
  ctx.incoming = incoming;

  for (const button of $$('#presence button')) {
    button.disabled = false;          // disabled in the page until the handlers are here
    button.addEventListener('click', () => {
      askNotificationPermission();
      choosePresence(button.dataset.presence);
    });
  }
  document.addEventListener('click', unlockAudio, { once: true });
  document.addEventListener('keydown', unlockAudio, { once: true });
  $('#search-form').addEventListener('submit', (event) => {
    event.preventDefault();
    ctx.query = $('#search').value.trim();
    ctx.list.load();
  });

  ctx.socket = new LiveSocket({
    onState: (state) => {
      $('#conn-banner').hidden = state === 'open';
      document.body.classList.toggle('offline', state !== 'open');
      if (state === 'open') {
        // The last presence this person chose survives reloads and reconnects.
        const chosen = localStorage.getItem(presenceKey());
        if (chosen) ctx.socket.send(FRAME.PRESENCE_SET, { presence: chosen });
        ctx.list.load();
        view.refresh();
      }
    },
    onFrame: (type, data) => onFrame(type, data, incoming, view),
  });
  ctx.socket.connect();
  ctx.list.load();
  // /console#lead=12: a lead opened from elsewhere (the client's page).
  const linked = /^#lead=([0-9]{1,15})$/.exec(location.hash);
  if (linked) view.open(Number(linked[1]));
}

function choosePresence(presence) {
  localStorage.setItem(presenceKey(), presence);
  showPresence(presence, null);
  ctx.socket.send(FRAME.PRESENCE_SET, { presence });
}

// The server's presences (break, lunch, training) show as "away" with their reason.
function showPresence(presence, reason) {
  const shown = ['available', 'offline'].includes(presence) ? presence : 'away';
  for (const button of $$('#presence button')) {
    button.setAttribute('aria-pressed', String(button.dataset.presence === shown));
  }
  document.body.dataset.presence = shown;
  const note = [];
  if (shown === 'away' && presence !== 'break') note.push(label('presence', presence));
  if (reason && reason !== 'away') note.push(t('presence.reason', { reason: label('reason', reason) }));
  $('#presence-note').textContent = note.join(' · ');
}

function onFrame(type, data, incoming, view) {
  switch (type) {
    case FRAME.PRESENCE_CHANGED:
      if (data.user_id === undefined || data.user_id === ctx.user.id) {
        showPresence(data.presence, data.reason);
        // Routing benched us for missed offers: a reload must not silently put us back on the line.
        if (data.reason === 'missed_offers') localStorage.setItem(presenceKey(), 'away');
      }
      break;
    case ok(FRAME.PRESENCE_SET):
      showPresence(data.presence, data.reason);
      break;
    case FRAME.OFFER_CREATED:
      incoming.offerCreated(data);
      break;
    case FRAME.OFFER_CANCELLED:
      incoming.offerCancelled(data);
      break;
    case ok(FRAME.OFFER_ACCEPT):
    case ok(FRAME.OFFER_DECLINE):
      incoming.answered(type, data);
      break;
    case FRAME.LEAD_ASSIGNED:
      // Reconnects resend every assignment: only the one just accepted takes over the work area.
      if (incoming.accepted.has(data.lead_id) || view.leadId === null) {
        incoming.accepted.delete(data.lead_id);
        view.open(data.lead_id, data.card);
      }
      ctx.list.load();
      break;
    case FRAME.LEAD_UPDATED:
      if (data.changes && data.changes.reassigned) reassignedNotice(data);
      if (data.lead_id === view.leadId || (data.lead && data.lead.id === view.leadId)) view.refresh();
      ctx.list.load();
      break;
    case FRAME.MESSAGE_RECEIVED:
      view.messageReceived(data);
      ctx.list.markUnread(data.lead_id);
      break;
    case FRAME.CALL_RINGING:
      incoming.callRinging(data);
      break;
    case FRAME.CALL_CARD:
      incoming.callCard(data);
      break;
    case FRAME.CALL_RING_STOPPED:
      incoming.callRingStopped(data);
      break;
    case FRAME.CALL_ANSWERED:
      incoming.callAnswered(data);
      break;
    case FRAME.CALL_ENDED:
      incoming.callEnded(data);
      break;
    case FRAME.ERROR:
      if (!incoming.answered(type, data)) console.warn('server error frame', data);
      break;
    default:
      break;
  }
}

// The queue gave a lead this person left unanswered to someone else: they are told why, until they dismiss it.
function reassignedNotice(data) {
  const close = h('button', { type: 'button', class: 'small', text: t('tasks.dismiss') });
  const notice = h('div', { class: 'banner notice reassigned', role: 'status', dataset: { leadId: String(data.lead_id) } },
    h('span', { text: t('console.reassigned', { lead: data.lead_id, minutes: data.changes.reassigned_after_minutes ?? '' }) }),
    ' ', close);
  close.addEventListener('click', () => notice.remove());
  $('#notices').append(notice);
}

main().catch((exc) => {
  console.error(exc);
  const banner = $('#conn-banner');
  banner.textContent = t('error.generic', { message: exc.message });
  banner.hidden = false;
});
