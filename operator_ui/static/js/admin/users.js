// Users: the list; for admins also create, edit (role, team, skills, capacity, extension, language, time zone),
// disable / enable and a password reset whose one-time password is shown once.
import { get, patch, post } from '../api.js';
import { append, h } from '../dom.js';
import { label, languages, t } from '../i18n.js';
import { PATHS } from '../paths.js';
import { clearErrors, field, formatLevels, input, parseLevels, select, showError, statusLine } from './form.js';

const ROLES = ['operator', 'manager', 'supervisor', 'admin'];
const CHANNELS = ['voice', 'chat', 'email'];
// What the server gives a user created without a capacity (crm_store.users.DEFAULT_CAPACITY): the form starts there.
const NEW_CAPACITY = { voice: 1, chat: 4, email: 8 };
const ZONES = (() => { try { return Intl.supportedValuesOf('timeZone'); } catch { return ['UTC']; } })();

export async function render(root, ctx) {
  const [people, teamList, langs] = await Promise.all([get(PATHS.users), get(PATHS.teams), languages()]);
  const teams = new Map(teamList.items.map((team) => [team.id, team.name]));
  const status = statusLine();
  const secret = h('div', { id: 'one-time-password', class: 'one-time', role: 'status', hidden: true });
  const table = h('table', { id: 'users-table', class: 'admin-table' },
    h('thead', {}, h('tr', {}, ['username', 'display_name', 'role', 'team', 'capacity', 'extension', 'locale',
      'time_zone', 'active', ...(ctx.isAdmin ? ['actions'] : [])].map((k) => h('th', { scope: 'col', text: t(`admin.users.${k}`) })))),
    h('tbody', {}, people.items.map((u) => row(u))));
  const form = ctx.isAdmin ? userForm() : null;
  append(root, [h('h2', { text: t('admin.users.title') }), status, secret, table, form]);

  function row(u) {
    const actions = ctx.isAdmin ? [
      h('button', { type: 'button', class: 'user-edit', text: t('admin.users.edit'), onclick: () => form.edit(u) }),
      h('button', { type: 'button', class: 'user-active', text: t(u.active ? 'admin.users.disable' : 'admin.users.enable'),
        onclick: () => change(u, { active: !u.active }) }),
      h('button', { type: 'button', class: 'user-reset', text: t('admin.users.reset'), onclick: () => reset(u) }),
    ] : [];
    return h('tr', { dataset: { username: u.username, userId: String(u.id) }, class: u.active ? '' : 'inactive' },
      h('td', { text: u.username }), h('td', { text: u.display_name }), h('td', { text: label('role', u.role) }),
      h('td', { text: teams.get(u.team_id) || '' }), h('td', { class: 'user-capacity', text: formatLevels(u.capacity) }),
      h('td', { text: u.extension || '' }),
      h('td', { text: langs[u.locale] || u.locale }), h('td', { text: u.time_zone }),
      h('td', { class: 'user-state', text: t(u.active ? 'admin.users.on' : 'admin.users.off') }), ctx.isAdmin ? h('td', {}, actions) : null);
  }

  async function reload() {
    root.replaceChildren();
    await render(root, ctx);
  }

  async function change(u, body) {
    try {
      await patch(PATHS.user(u.id), body);
      await reload();
    } catch (exc) { showError(root, exc, status); }
  }

  async function reset(u) {
    if (!window.confirm(t('admin.users.reset_confirm', { name: u.username }))) return;
    try {
      const answer = await post(PATHS.userPassword(u.id), {});
      secret.replaceChildren(
        h('p', { text: t('admin.users.reset_done', { name: answer.username }) }),
        h('code', { class: 'password', text: answer.password }),
        h('p', { class: 'muted', text: t('admin.users.reset_once') }));
      secret.hidden = false;
    } catch (exc) { showError(root, exc, status); }
  }

  function userForm() {
    const c = {
      username: input({ maxlength: 100, autocomplete: 'off' }),
      password: input({ type: 'password', maxlength: 1000, autocomplete: 'new-password' }),
      display_name: input({ maxlength: 200 }),
      role: select(ROLES.map((r) => [r, label('role', r)]), 'operator'),
      team: select([['', t('admin.users.no_team')], ...teamList.items.map((team) => [team.name, team.name])], ''),
      skills: input({ placeholder: 'sales=3, en=1' }),
      extension: input({ maxlength: 40 }),
      locale: select(Object.entries(langs), 'en'),
      time_zone: input({ list: 'admin-zones', value: 'UTC', maxlength: 64 }),
    };
    const capacity = Object.fromEntries(CHANNELS.map((ch) => [ch, input({ type: 'number', min: 0, max: 1000, step: 1 })]));
    const title = h('h3', {});
    const submit = h('button', { type: 'submit' });
    const cancel = h('button', { type: 'button', text: t('admin.cancel') });
    const secretFields = [field('username', 'admin.users.username', c.username), field('password', 'admin.users.password', c.password)];
    const el = h('form', { id: 'user-form', class: 'admin-form', novalidate: true },
      title, secretFields,
      field('display_name', 'admin.users.display_name', c.display_name),
      field('role', 'admin.users.role', c.role), field('team', 'admin.users.team', c.team),
      field('skills', 'admin.users.skills', c.skills),
      h('fieldset', { class: 'capacity' }, h('legend', { text: t('admin.users.capacity') }),
        CHANNELS.map((ch) => field(`capacity.${ch}`, `admin.users.capacity_${ch}`, capacity[ch]))),
      field('extension', 'admin.users.extension', c.extension), field('locale', 'admin.users.locale', c.locale),
      field('time_zone', 'admin.users.time_zone', c.time_zone),
      h('datalist', { id: 'admin-zones' }, ZONES.map((z) => h('option', { value: z }))),
      h('div', { class: 'form-actions' }, submit, cancel));
    let editing = null;

    function fill(u) {
      editing = u;
      clearErrors(el);
      title.textContent = u ? t('admin.users.edit_title', { name: u.username }) : t('admin.users.new');
      submit.textContent = t(u ? 'admin.save' : 'admin.users.create');
      for (const f of secretFields) f.hidden = Boolean(u);
      cancel.hidden = !u;
      c.username.value = ''; c.password.value = '';
      c.display_name.value = u ? u.display_name : '';
      c.role.value = u ? u.role : 'operator';
      c.team.value = u ? (teams.get(u.team_id) || '') : '';
      c.skills.value = u ? formatLevels(u.skills) : '';
      const cap = u ? (u.capacity || {}) : NEW_CAPACITY;
      for (const ch of CHANNELS) capacity[ch].value = ch in cap ? String(cap[ch]) : '';
      c.extension.value = u ? (u.extension || '') : '';
      c.locale.value = u ? u.locale : 'en';
      c.time_zone.value = u ? u.time_zone : 'UTC';
    }

    function body() {
      const skills = parseLevels(c.skills.value);
      if (skills === null) {
        showError(el, { field: 'skills', message: t('admin.users.skills_hint') }, status);
        return null;
      }
      const cap = { ...(editing ? editing.capacity : {}) };
      for (const ch of CHANNELS) {
        if (capacity[ch].value === '') delete cap[ch];
        else cap[ch] = Number(capacity[ch].value);
      }
      const out = { display_name: c.display_name.value.trim() || (editing ? editing.username : c.username.value.trim()),
        role: c.role.value, team: c.team.value || null, skills, capacity: cap, locale: c.locale.value };
      out.time_zone = c.time_zone.value.trim();
      if (editing) out.extension = c.extension.value.trim();
      else {
        Object.assign(out, { username: c.username.value.trim(), password: c.password.value,
          extension: c.extension.value.trim() || null });
      }
      return out;
    }

    el.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const payload = body();
      if (!payload) return;
      try {
        if (editing) {
          await patch(PATHS.user(editing.id), payload);
        } else {
          await post(PATHS.users, payload);
        }
        await reload();
      } catch (exc) { showError(el, exc, status); }
    });
    cancel.addEventListener('click', () => fill(null));
    fill(null);
    el.edit = (u) => { fill(u); c.display_name.focus(); };
    return el;
  }
}
