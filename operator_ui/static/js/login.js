// The sign-in page: POST /api/v1/auth/login sets the HttpOnly session cookie; then on to the console.
import { api } from './api.js';
import { $, } from './dom.js';
import { applyI18n, setLocale, t } from './i18n.js';
import { PAGE, PATHS } from './paths.js';


const next = new URLSearchParams(location.search).get('next');
// Only a path on this site: `//evil.example` or a full URL would make the sign-in page an open redirect.
const target = next && /^\/[a-z][\w/-]*$/.test(next) ? next : PAGE.console;

$('#login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const error = $('#login-error');
  const button = $('#login-submit');
  error.hidden = true;
  button.disabled = true;
  try {
    const body = await api('POST', PATHS.login,
      { username: $('#username').value.trim(), password: $('#password').value }, { redirectOn401: false });
    if (body && body.user && body.user.locale) localStorage.setItem('switchboard.locale', body.user.locale);
    if (body && body.user && body.user.must_change_password) {
      choosePassword($('#password').value);
      return;
    }
    location.assign(target);
  } catch (exc) {
    error.textContent = exc.status === 401 ? t('login.failed') : t('login.error', { message: exc.message });
    error.hidden = false;
    button.disabled = false;
  }
});

// After an admin's reset the one-time password only lets the user choose their own; then on as usual.
async function choosePassword(current) {
  await setLocale(localStorage.getItem('switchboard.locale') || navigator.language);
  applyI18n();
  $('#login-form').hidden = true;
  const form = $('#change-form');
  form.hidden = false;
  $('#new-password').focus();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const error = $('#change-error');
    const chosen = $('#new-password').value;
    error.hidden = true;
    if (chosen !== $('#new-password-again').value) {
      error.textContent = t('login.change.mismatch');
      error.hidden = false;
      return;
    }
    try {
      await api('POST', PATHS.myPassword, { current_password: current, new_password: chosen }, { redirectOn401: false });
      location.assign(target);
    } catch (exc) {
      error.textContent = t('login.error', { message: exc.message });
      error.hidden = false;
    }
  });
}

// The form works before the dictionary arrives; the words follow.
await setLocale(localStorage.getItem('switchboard.locale') || navigator.language);
applyI18n();
