// The dictionaries are data files, one per language (static/i18n/<lang>.json, listed in
// i18n/languages.json): a third language is a file, not code. English fills any gap.

const BASE = new URL('../i18n/', import.meta.url);
const cache = new Map();

async function load(lang) {
  if (!cache.has(lang)) {
    cache.set(lang, fetch(new URL(`${lang}.json`, BASE), { credentials: 'same-origin' })
      .then((response) => (response.ok ? response.json() : null))
      .catch(() => null));
  }
  return cache.get(lang);
}

let en = {};
let dict = en;
let localeTag = 'en';

// The languages the console offers, with their own names (for the language switch).
export async function languages() {
  const response = await fetch(new URL('languages.json', BASE), { credentials: 'same-origin' });
  return response.ok ? response.json() : { en: 'English' };
}

export async function setLocale(tag) {
  const clean = String(tag || 'en').replace('_', '-');
  const lang = clean.slice(0, 2).toLowerCase();
  en = (await load('en')) || {};
  const chosen = lang === 'en' ? en : await load(lang);
  dict = chosen || en;
  localeTag = chosen ? clean : 'en';
  document.documentElement.lang = chosen ? lang : 'en';
}

export const locale = () => localeTag;

export function t(key, vars = {}) {
  const text = dict[key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

// A label that may not be in the dictionary (a status, a channel): the dictionary's word or the raw value.
// Also the names a new install seeds in English (the "Sales" pipeline, its stages "New" ... "Closed"):
// label('stage', name) shows them in the console's language; a name an admin gave is shown as given.
export function label(prefix, value) {
  const key = `${prefix}.${value}`;
  return (key in dict || key in en) ? t(key) : String(value);
}

export function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}
