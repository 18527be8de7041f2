// Dates, durations, numbers, amounts and phone numbers, shown for the user's locale: the one place screens
// turn a value into text, so a new language needs no change here.
import { locale } from './i18n.js';

export function formatDateTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const today = new Date().toDateString() === date.toDateString();
  const options = today ? { hour: '2-digit', minute: '2-digit' }
    : { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' };
  return new Intl.DateTimeFormat(locale(), options).format(date);
}

export function formatTime(date) {
  return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(date);
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return '—';
  const s = Math.max(0, Math.round(Number(seconds)));
  const m = Math.floor(s / 60);
  const rest = String(s % 60).padStart(2, '0');
  return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

export function formatNumber(value, digits = 0) {
  if (value === null || value === undefined) return '—';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);
}

// An amount with its currency in the user's way ("1 234,50 ₽", "RUB 1,234.50"); a code Intl does not
// know (a typo in a field's settings) still shows the number and the code.
export function formatMoney(amount, currency) {
  if (amount === null || amount === undefined || amount === '' || Number.isNaN(Number(amount))) return '';
  const value = Number(amount);
  if (currency) {
    try {
      return new Intl.NumberFormat(locale(), { style: 'currency', currency }).format(value);
    } catch { /* not an ISO 4217 code */ }
  }
  return `${formatNumber(value, 2)} ${currency || ''}`.trim();
}

// Country code -> region, national prefix, groups of the national number (international form).
const PLANS = [
  { cc: '380', region: 'UA', trunk: '0', groups: [2, 3, 2, 2] },
  { cc: '375', region: 'BY', trunk: '8', groups: [2, 3, 2, 2], dash: true },
  { cc: '374', region: 'AM', trunk: '0', groups: [2, 3, 3] },
  { cc: '995', region: 'GE', trunk: '0', groups: [3, 2, 2, 2] },
  { cc: '998', region: 'UZ', trunk: '', groups: [2, 3, 2, 2] },
  { cc: '49', region: 'DE', trunk: '0', groups: [3, 4, 4] },
  { cc: '44', region: 'GB', trunk: '0', groups: [4, 6] },
  { cc: '33', region: 'FR', trunk: '0', groups: [1, 2, 2, 2, 2] },
  { cc: '7', region: 'RU', trunk: '8', groups: [3, 3, 2, 2], dash: true },
  { cc: '1', region: 'US', trunk: '1', groups: [3, 3, 4], nanp: true },
];

function group(digits, sizes) {
  const parts = [];
  let at = 0;
  for (const size of sizes) {
    if (at >= digits.length) break;
    parts.push(digits.slice(at, at + size));
    at += size;
  }
  if (at < digits.length) parts.push(digits.slice(at));
  return parts;
}

// "+79123456789" -> "+7 912 345-67-89"; a number of the home region in its national form ("8 912 345-67-89").
export function formatPhone(value, homeRegion = null) {
  const raw = String(value || '');
  if (!/^\+\d{6,15}$/.test(raw)) return raw;
  const digits = raw.slice(1);
  const plan = PLANS.find((p) => digits.startsWith(p.cc));
  if (!plan) return `+${group(digits.slice(0, 3), [3])[0]} ${group(digits.slice(3), [3, 3, 4]).join(' ')}`.trim();
  const national = digits.slice(plan.cc.length);
  const parts = group(national, plan.groups);
  let body;
  if (plan.nanp && parts.length >= 3) body = `(${parts[0]}) ${parts[1]}-${parts.slice(2).join('')}`;
  else if (plan.dash && parts.length >= 3) body = `${parts[0]} ${parts[1]}-${parts.slice(2).join('-')}`;
  else body = parts.join(' ');
  if (homeRegion && plan.region === homeRegion && plan.trunk) {
    if (plan.region === 'RU' || plan.region === 'BY') return `${plan.trunk} ${body.replace(/^(\d+) /, '($1) ')}`;
    if (plan.nanp) return body;
    return `${plan.trunk}${body}`;
  }
  return `+${plan.cc} ${body}`;
}
