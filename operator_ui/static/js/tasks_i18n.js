// The words of the task screens, from /ui/i18n/<lang>.json; the console's own dictionary fills the rest.
import { locale, t } from './i18n.js';

let strings = {};
let loading = null;

export function tt(key, vars = {}) {
  const text = strings[key] ?? t(key);
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

export function loadTaskStrings() {
  if (!loading) {
    const lang = String(locale() || 'en').slice(0, 2).toLowerCase();
    const read = async (name) => (await fetch(`/ui/i18n/${name}.json`, { credentials: 'same-origin' })).json();
    loading = (async () => {
      const en = await read('en');
      strings = lang === 'en' ? en : { ...en, ...(await read(lang).catch(() => ({}))) };
    })().catch(() => {});
  }
  return loading;
}
