// The task screens' words are in the shared dictionaries (/ui/i18n/<lang>.json, keys `tasks.*`).
import { t } from './i18n.js';

export const tt = t;

// The dictionary is loaded by setLocale before any screen draws; nothing more to wait for.
export const loadTaskStrings = () => Promise.resolve();
