// The console's entry: who is logged in (a pasted key, or a portal session from the URL's
// #session= fragment), the header, and the hash router (#/endpoints, #/endpoints/we_…, #/events).
import {call, credential, looksLikeKey, ApiError} from './api.js';
import {h, field, show, notice} from './dom.js';
import {endpointsPage} from './endpoints.js';
import {endpointPage} from './endpoint.js';
import {eventsPage} from './events.js';
import {viewer} from './viewer.js';


function loginPage(message) {
  const input = h('input', {type: 'password', name: 'key', autocomplete: 'off', required: true,
                            spellcheck: 'false', placeholder: 'sk_live_… or sk_test_…'});
  const status = notice();
  if (message) status.say(message, true);
  const form = h('form', {class: 'card narrow', onsubmit: async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!looksLikeKey(key)) {
      status.say('That is not a business API key: it starts with sk_live_ or sk_test_ and has 32 letters and digits after that.', true);
      return;
    }
    credential.set(key);
    await start();
  }},
  h('h1', {}, 'Log in'),
  h('p', {}, 'Paste a business API key. It stays in this browser tab only (sessionStorage) and is sent to this dispatcher alone.'),
  field('API key', input), h('button', {type: 'submit'}, 'Log in'), status);
  show(form);
  input.focus();
}

function logout() {
  credential.clear();
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('who').textContent = '';
  location.hash = '';
  loginPage();
}

// Checks the credential with one API call and learns what it may do.
async function start() {
  try {
    if (credential.isSession()) {
      const s = await call('GET', '/v1/portal_sessions/current');
      Object.assign(viewer, {readOnly: s.read_only, livemode: s.livemode, session: true});
    } else {
      await call('GET', '/v1/webhooks?limit=1');
      Object.assign(viewer, {readOnly: false, livemode: credential.get().startsWith('sk_live_'),
                             session: false});
    }
  } catch (e) {
    credential.clear();
    const why = e instanceof ApiError && e.status === 401
      ? (e.message || 'The key or session is not valid.') : e.message;
    loginPage(why);
    return;
  }
  document.body.classList.toggle('read-only', viewer.readOnly);
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = viewer.session;  // a session ends by expiring
  document.getElementById('who').textContent =
      (viewer.livemode ? 'Live mode' : 'Test mode') + (viewer.session ? ' · portal session' : '') +
      (viewer.readOnly ? ' · read-only' : '');
  if (!location.hash.startsWith('#/')) location.hash = '#/endpoints';
  else route();
}

async function route() {
  if (!credential.get()) return loginPage();
  const path = location.hash.slice(1);
  let m;
  try {
    if (path === '/endpoints') await endpointsPage();
    else if ((m = path.match(/^\/endpoints\/(we_[A-Za-z0-9]+)$/))) await endpointPage(m[1]);
    else if (path === '/events') await eventsPage();
    else show(h('h1', {}, 'Not found'), h('p', {}, h('a', {href: '#/endpoints'}, 'Back to the endpoints')));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      const session = credential.isSession();
      credential.clear();
      return loginPage(session ? 'The portal session has expired.' : e.message);
    }
    show(h('h1', {}, 'Something went wrong'), h('p', {class: 'notice bad', role: 'alert'}, e.message));
  }
}

// A portal-session URL carries the token in the fragment: keep it in this tab's storage and
// take it out of the address bar (and so out of history and bookmarks).
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get('session')) {
  credential.set(fragment.get('session'));
  history.replaceState(null, '', location.pathname + '#/endpoints');
}
document.getElementById('logout').addEventListener('click', logout);
window.addEventListener('hashchange', route);
if (credential.get()) start(); else loginPage();
