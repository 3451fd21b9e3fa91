// An endpoint's delivery options (DESIGN.md "Endpoint options"): extra headers, auth, the TLS
// client certificate, the attempt timeout and the signature scheme, shown on the endpoint page
// and edited in its Settings form. Secrets are write-only: the API returns them masked, the
// form shows that as a hint and sends `auth` or `tls_client_certificate` only when the user
// typed a new one, never the masked value back.
import {h, field, copyButton, when} from './dom.js';

const schemes = [['v1', 'v1 — HMAC-SHA256 with the whsec_ secret'],
                 ['v1a', 'v1a — Ed25519, verified with the public key'],
                 ['v1,v1a', 'v1,v1a — both in one header']];

function authText(auth) {
  if (!auth) return 'none';
  return auth.type === 'bearer' ? 'bearer token ' + auth.token
                                : 'basic, user ' + auth.username + ', password ' + auth.password;
}

function certificateText(cert) {
  if (!cert) return ['none'];
  return [cert.subject, ', expires ', when(cert.expires_at)];
}

// The whpk_ public key receivers verify v1a signatures with, and a copy button; null without.
export function publicKeyBox(ep) {
  if (!ep.public_key) return null;
  const box = h('input', {type: 'text', readonly: true, value: ep.public_key, class: 'secret',
                          name: 'public_key', 'aria-label': 'Public key'});
  return h('div', {class: 'public-key'}, box, copyButton(ep.public_key, box));
}

// The signature scheme select, in the create form and in Settings.
export function schemeSelect(value) {
  return h('select', {name: 'signature_scheme'},
    schemes.map(([v, t]) => h('option', {value: v, selected: v === (value || 'v1')}, t)));
}

// What the create form reveals for an endpoint that signs only v1a: no secret (it has none),
// its public key, which its receivers verify with (shown on its page too).
export function publicKeyOnce(ep) {
  return h('div', {class: 'card reveal', role: 'alert'},
    h('h2', {}, 'Public key'),
    h('p', {}, 'This endpoint signs with Ed25519 (v1a) only: your receiver verifies with this public key.'),
    publicKeyBox(ep),
    h('button', {type: 'button', class: 'secondary', onclick: (e) => e.target.closest('.reveal').remove()}, 'Done'));
}

// <dt>/<dd> pairs for the endpoint's description list.
export function optionsSummary(ep) {
  const headers = Object.entries(ep.headers || {});
  return [
    h('dt', {}, 'Signature scheme'), h('dd', {'data-option': 'signature_scheme'}, ep.signature_scheme),
    ep.public_key ? [h('dt', {}, 'Public key'), h('dd', {}, publicKeyBox(ep))] : null,
    h('dt', {}, 'Extra headers'),
    h('dd', {'data-option': 'headers'}, headers.length === 0 ? 'none'
      : h('ul', {class: 'plain'}, headers.map(([n, v]) => h('li', {}, h('code', {}, n + ': ' + v))))),
    h('dt', {}, 'Authentication'), h('dd', {'data-option': 'auth'}, authText(ep.auth)),
    h('dt', {}, 'Client certificate'),
    h('dd', {'data-option': 'tls_client_certificate'}, certificateText(ep.tls_client_certificate)),
    h('dt', {}, 'Attempt timeout'),
    h('dd', {'data-option': 'timeout_seconds'},
      ep.timeout_seconds === null ? 'default (the dispatcher\'s delivery.timeout)' : ep.timeout_seconds + ' s')];
}

function headerEditor(headers) {
  const rows = h('div', {class: 'header-rows'});
  const addRow = (name = '', value = '') => {
    const n = h('input', {type: 'text', name: 'header_name', value: name, 'aria-label': 'Header name',
                          placeholder: 'X-Tenant'});
    const v = h('input', {type: 'text', name: 'header_value', value: value, 'aria-label': 'Header value'});
    const row = h('div', {class: 'row header-row'}, n, v,
      h('button', {type: 'button', class: 'secondary', onclick: () => row.remove()}, 'Remove'));
    rows.append(row);
  };
  for (const [n, v] of Object.entries(headers || {})) addRow(n, v);
  const el = h('fieldset', {name: 'headers'}, h('legend', {}, 'Extra headers (sent on every attempt)'), rows,
    h('button', {type: 'button', class: 'secondary', onclick: () => addRow()}, 'Add header'));
  const value = () => {
    const out = {};
    for (const row of rows.children) {
      const [n, v] = row.querySelectorAll('input');
      if (n.value.trim() || v.value) out[n.value.trim()] = v.value;
    }
    return out;
  };
  return {el, value};
}

function authEditor(auth) {
  const current = auth ? auth.type : 'none';
  const type = h('select', {name: 'auth_type'},
    [['none', 'none'], ['bearer', 'bearer token'], ['basic', 'basic (user name and password)']]
      .map(([v, t]) => h('option', {value: v, selected: v === current}, t)));
  const keep = ' (leave empty to keep the current one)';
  const token = h('input', {type: 'password', name: 'auth_token', autocomplete: 'off',
    placeholder: current === 'bearer' ? 'current: ' + auth.token : ''});
  const username = h('input', {type: 'text', name: 'auth_username', autocomplete: 'off',
                               value: current === 'basic' ? auth.username : ''});
  const password = h('input', {type: 'password', name: 'auth_password', autocomplete: 'new-password',
    placeholder: current === 'basic' ? 'current: ' + auth.password : ''});
  const bearer = h('div', {}, field('Token', token, current === 'bearer' ? 'Write-only' + keep : 'Write-only'));
  const basic = h('div', {}, field('User name', username),
                  field('Password', password, current === 'basic' ? 'Write-only' + keep : 'Write-only'));
  const sync = () => { bearer.hidden = type.value !== 'bearer'; basic.hidden = type.value !== 'basic'; };
  type.addEventListener('change', sync);
  sync();
  const el = h('fieldset', {name: 'auth'}, h('legend', {}, 'Authentication (an Authorization header)'),
               field('Type', type), bearer, basic);
  // The change to send: undefined to leave it, null to remove it, or the new one.
  const change = () => {
    if (type.value === 'none') return current === 'none' ? undefined : null;
    if (type.value === 'bearer') {
      if (token.value) return {type: 'bearer', token: token.value};
      if (current !== 'bearer') throw new Error('Type the bearer token.');
      return undefined;
    }
    if (password.value) return {type: 'basic', username: username.value, password: password.value};
    if (current !== 'basic' || username.value !== auth.username) {
      throw new Error('Type the password too: it is needed with a new user name.');
    }
    return undefined;
  };
  return {el, change};
}

function certificateEditor(cert) {
  const certificate = h('textarea', {name: 'tls_certificate', rows: 4, spellcheck: 'false',
                                     placeholder: '-----BEGIN CERTIFICATE-----'});
  const key = h('textarea', {name: 'tls_private_key', rows: 4, spellcheck: 'false',
                             placeholder: '-----BEGIN PRIVATE KEY-----'});
  const remove = h('input', {type: 'checkbox', name: 'tls_remove'});
  const el = h('fieldset', {name: 'tls_client_certificate'},
    h('legend', {}, 'TLS client certificate (mTLS)'),
    h('p', {class: 'muted'}, 'Current: ', certificateText(cert),
      '. Write-only: paste a new certificate chain and its key to replace it.'),
    field('Certificate chain (PEM)', certificate), field('Private key (PEM, unencrypted)', key),
    cert ? h('label', {}, remove, ' Remove the client certificate') : null);
  const change = () => {
    const c = certificate.value.trim(), k = key.value.trim();
    if (c || k) {
      if (!c || !k) throw new Error('Paste both the certificate and its private key.');
      return {certificate: c + '\n', private_key: k + '\n'};
    }
    return cert && remove.checked ? null : undefined;
  };
  return {el, change};
}

// The Settings form's option fields: `el` to place in the form, `changes()` the fields of a
// PATCH that differ from `ep` (throws an Error with a message for the user when incomplete).
export function optionsFields(ep) {
  const headers = headerEditor(ep.headers);
  const auth = authEditor(ep.auth);
  const cert = certificateEditor(ep.tls_client_certificate);
  const timeout = h('input', {type: 'number', name: 'timeout_seconds', min: 1, max: 30,
                              value: ep.timeout_seconds ?? '', placeholder: 'default'});
  const scheme = schemeSelect(ep.signature_scheme);
  const el = h('div', {class: 'options'},
    field('Signature scheme', scheme, 'v1a: receivers verify with the endpoint\'s public key (shown above); a new key pair is made when needed'),
    field('Attempt timeout (seconds)', timeout, '1–30; empty: the dispatcher\'s default'),
    headers.el, auth.el, cert.el);
  const changes = () => {
    const out = {};
    const hv = headers.value();
    if (JSON.stringify(Object.entries(hv).sort()) !== JSON.stringify(Object.entries(ep.headers || {}).sort())) {
      out.headers = hv;
    }
    const a = auth.change();
    if (a !== undefined) out.auth = a;
    const c = cert.change();
    if (c !== undefined) out.tls_client_certificate = c;
    const t = timeout.value === '' ? null : Number(timeout.value);
    if (t !== ep.timeout_seconds) out.timeout_seconds = t;
    if (scheme.value !== ep.signature_scheme) out.signature_scheme = scheme.value;
    return out;
  };
  return {el, changes};
}
