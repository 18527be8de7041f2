// Every WebSocket frame type the console sends or receives, named once (the server's side: gateway/frames.py,
// gateway/hub.py, gateway/notifier.py). A screen compares against these, never against a string of its own.
export const FRAME = Object.freeze({
  // server -> console
  PRESENCE_CHANGED: 'presence.changed',
  OFFER_CREATED: 'offer.created',
  OFFER_CANCELLED: 'offer.cancelled',
  LEAD_ASSIGNED: 'lead.assigned',
  LEAD_UPDATED: 'lead.updated',
  MESSAGE_RECEIVED: 'message.received',
  CALL_RINGING: 'call.ringing',
  CALL_CARD: 'call.card',
  CALL_RING_STOPPED: 'call.ring_stopped',
  CALL_ANSWERED: 'call.answered',
  CALL_ENDED: 'call.ended',
  CALL_TRANSFERRED: 'call.transferred',
  QUEUE_STATS: 'queue.stats',
  IMPORT_PROGRESS: 'import.progress',
  LEAD_MOVED: 'lead.moved',
  TASK_DUE: 'task.due',
  ERROR: 'error',
  PONG: 'pong',
  // console -> server (the server replies with `<type>.ok`, see ok())
  PRESENCE_SET: 'presence.set',
  OFFER_ACCEPT: 'offer.accept',
  OFFER_DECLINE: 'offer.decline',
  PING: 'ping',
});

// Every frame a LiveSocket receives is also dispatched on `window` as this event ({ type, data }), so shared
// parts of a page (the top bar's task counts) follow the live state without owning a socket.
export const FRAME_EVENT = 'switchboard:frame';

// The reply to a request frame of this type (gateway/hub.py answers `${kind}.ok`).
export const ok = (type) => `${type}.ok`;
