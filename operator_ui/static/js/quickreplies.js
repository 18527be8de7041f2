// Quick replies in the reply box: typing `/code` lists the matching templates, filled in for this lead's
// client; picking one puts its text (the channel's own variant where there is one) in the box.
import { get } from './api.js';
import { clear, h } from './dom.js';
import { PATHS } from './paths.js';

export function attachQuickReplies(area, leadId) {
  const list = h('ul', { class: 'quick-replies', role: 'listbox', hidden: true });
  let seq = 0;
  area.addEventListener('input', async () => {
    const match = /^\/([a-z0-9_-]*)$/.exec(area.value.trim());
    if (!match) { list.hidden = true; return; }
    const mine = ++seq;
    try {
      const found = await get(PATHS.templatesWhere({ q: match[1], lead_id: Number(leadId) }));
      if (mine !== seq) return;
      clear(list);
      for (const item of found.items) {
        list.append(h('li', { role: 'option' }, h('button', { type: 'button', class: 'small', dataset: { code: item.code },
          text: `/${item.code} — ${item.title}`, onclick: () => { area.value = item.text; list.hidden = true; area.focus(); } })));
      }
      list.hidden = found.items.length === 0;
    } catch { list.hidden = true; }
  });
  return list;
}
