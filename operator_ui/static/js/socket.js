// The live connection: reconnects with jittered exponential backoff; the server resends state on connect.
import { api } from './api.js';
import { FRAME, FRAME_EVENT } from './frames.js';
import { PATHS } from './paths.js';

const BASE_MS = 300;
const CAP_MS = 10000;
const PING_MS = 25000;

export class LiveSocket {
  // `watch`: the page this socket shows, for frames only that page reads (the board's 'lead.moved').
  constructor({ onFrame, onState, watch }) {
    this.onFrame = onFrame;
    this.watch = watch;
    this.onState = onState || (() => {});
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.pinger = null;
    this.open = false;
    this.stopped = false;
    this.seq = 0;
    window.addEventListener('online', () => this.reconnectNow());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && !this.open) this.reconnectNow();
    });
  }

  url() {
    const query = this.watch ? `?watch=${encodeURIComponent(this.watch)}` : '';
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws${query}`;
  }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = null;
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (ws !== this.ws) return;
      this.open = true;
      this.attempt = 0;
      this.onState('open');
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.send(FRAME.PING), PING_MS);
    });
    ws.addEventListener('message', (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (!frame || typeof frame.type !== 'string') return;
      this.onFrame(frame.type, frame.data || {});
      window.dispatchEvent(new CustomEvent(FRAME_EVENT, { detail: { type: frame.type, data: frame.data || {} } }));
    });
    ws.addEventListener('close', (event) => {
      if (ws !== this.ws) return;
      const wasOpen = this.open;
      this.open = false;
      clearInterval(this.pinger);
      this.onState('closed', wasOpen);
      // 4401: the server ended this session (signed out elsewhere, or the user was disabled): to the sign-in page.
      if (event.code === 4401) this.checkSession();
      this.scheduleReconnect();
    });
  }

  // Full jitter between half the capped exponential delay and all of it: screens do not stampede back.
  nextDelay() {
    const cap = Math.min(CAP_MS, BASE_MS * 2 ** this.attempt);
    return Math.round(cap / 2 + Math.random() * cap / 2);
  }

  scheduleReconnect() {
    if (this.stopped || this.timer) return;
    const delay = this.nextDelay();
    this.attempt += 1;
    if (this.attempt === 3) this.checkSession();
    this.timer = setTimeout(() => { this.timer = null; this.connect(); }, delay);
  }

  reconnectNow() {
    if (this.open || this.stopped) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
    this.connect();
  }

  // A socket that keeps failing may mean the session expired: the API says so with a 401.
  async checkSession() {
    try { await api('GET', PATHS.me); } catch { /* api() redirects on 401; otherwise keep trying */ }
  }

  send(type, data = {}) {
    if (!this.open || !this.ws) return null;
    const id = ++this.seq;
    this.ws.send(JSON.stringify({ type, id, data }));
    return id;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) this.ws.close();
  }
}
