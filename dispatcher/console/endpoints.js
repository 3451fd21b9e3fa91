// The endpoints list: state badges, create (with the secret shown once), enable/disable, delete.
import {call, all, enc} from './api.js';
import {h, field, show, notice, when, copyButton} from './dom.js';
import {eventPicker} from './events.js';
import {viewer} from './viewer.js';
import {plural} from './chart.js';
import {schemeSelect, publicKeyOnce} from './options.js';

// The endpoint's state as the API's `health` says (every instance's recent attempts and the
// shared circuit breaker): healthy, failing, throttled, circuit open, disabled. An endpoint
// without recent attempts (the API's "idle") has nothing wrong with it: healthy, saying so.
const stateText = {healthy: 'healthy', failing: 'failing', throttled: 'throttled', circuit_open: 'circuit open',
                   circuit_half_open: 'circuit half-open', disabled: 'disabled', idle: 'healthy'};
export function stateBadge(ep) {
  const health = ep.health || {state: ep.enabled ? 'idle' : 'disabled'};
  const state = health.state;
  let title = '';
  if (state === 'disabled') title = ep.disabled_reason || '';
  else if (state === 'circuit_open') title = 'Deliveries wait until ' + new Date(health.circuit_open_until).toLocaleString();
  else if (state === 'idle') title = 'No recent attempts';
  else if (health.success_rate !== null && health.success_rate !== undefined) {
    title = Math.round(100 * health.success_rate) + '% of the last ' + plural(health.attempts, 'attempt') + ' succeeded';
  }
  const look = state === 'idle' ? 'healthy' : state.replaceAll('_', '-');
  return h('span', {class: 'badge ' + look, 'data-state': state, title: title || undefined},
           stateText[state] || state);
}

// The secret, once, with a copy button: it is not shown again (GET never returns it).
export function secretOnce(secret) {
  const box = h('input', {type: 'text', readonly: true, value: secret, class: 'secret', 'aria-label': 'Signing secret'});
  return h('div', {class: 'card reveal', role: 'alert'},
    h('h2', {}, 'Signing secret'),
    h('p', {}, 'Copy it now: it is shown only this once. Your receiver verifies signatures with it.'),
    box,
    copyButton(secret, box),
    h('button', {type: 'button', class: 'secondary', onclick: (e) => e.target.closest('.reveal').remove()}, 'Done'));
}

// The endpoint's `ordering`: per_resource keeps each appointment's or client's events in order.
export function orderingSelect(value) {
  return h('select', {name: 'ordering'},
    [['none', 'None (fastest)'], ['per_resource', 'Per resource (each appointment or client in order)']]
      .map(([v, t]) => h('option', {value: v, selected: v === (value || 'none')}, t)));
}

async function createForm(onCreated) {
  const url = h('input', {type: 'url', name: 'url', required: true, placeholder: 'https://example.com/webhooks'});
  const description = h('input', {type: 'text', name: 'description', maxlength: 512});
  const picker = await eventPicker(['*']);
  const ordering = orderingSelect('none');
  const scheme = schemeSelect('v1');
  const status = notice();
  return h('form', {class: 'card', 'aria-labelledby': 'create-title', onsubmit: async (e) => {
    e.preventDefault();
    const events = picker.value();
    if (events.length === 0) return status.say('Pick at least one event type.', true);
    try {
      const ep = await call('POST', '/v1/webhooks', {url: url.value.trim(), events, description: description.value,
                                                     ordering: ordering.value, signature_scheme: scheme.value});
      await onCreated(ep);
    } catch (err) {
      status.say(err.message, true);
    }
  }},
  h('h2', {id: 'create-title'}, 'New endpoint'),
  field('URL', url), field('Description', description, 'Optional, for your own reference'),
  field('Ordering', ordering),
  field('Signature scheme', scheme, 'v1a: receivers verify with the endpoint\'s public key, shown once it is made'),
  picker, h('button', {type: 'submit'}, 'Create endpoint'), status);
}

export async function endpointsPage(revealed) {
  const list = await all('/v1/webhooks');
  const status = notice();
  const rows = list.map((ep) => h('tr', {'data-id': ep.id},
    h('td', {'data-label': 'URL'}, h('a', {href: '#/endpoints/' + ep.id}, ep.url),
      ep.description ? h('div', {class: 'muted'}, ep.description) : null),
    h('td', {'data-label': 'State'}, stateBadge(ep)),
    h('td', {'data-label': 'Events'}, ep.events.join(', ')),
    h('td', {'data-label': 'Created'}, when(ep.created_at)),
    viewer.readOnly ? null : h('td', {class: 'actions'},
      h('button', {type: 'button', class: 'secondary', onclick: async () => {
        try {
          await call('PATCH', '/v1/webhooks/' + enc(ep.id), {enabled: !ep.enabled});
          await endpointsPage();
        } catch (err) { status.say(err.message, true); }
      }}, ep.enabled ? 'Disable' : 'Enable'),
      h('button', {type: 'button', class: 'danger', onclick: async () => {
        if (!confirm('Delete the endpoint ' + ep.url + '? Deliveries to it stop at once.')) return;
        try {
          await call('DELETE', '/v1/webhooks/' + enc(ep.id));
          await endpointsPage();
        } catch (err) { status.say(err.message, true); }
      }}, 'Delete'))));
  const table = list.length === 0 ? h('p', {}, 'No endpoints yet.')
    : h('table', {class: 'list'}, h('caption', {class: 'sr-only'}, 'Webhook endpoints'),
        h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'URL'), h('th', {scope: 'col'}, 'State'),
          h('th', {scope: 'col'}, 'Events'), h('th', {scope: 'col'}, 'Created'),
          viewer.readOnly ? null : h('th', {scope: 'col'}, h('span', {class: 'sr-only'}, 'Actions')))),
        h('tbody', {}, rows));
  const form = viewer.readOnly ? null
    : await createForm(async (ep) => endpointsPage(ep.secret ? secretOnce(ep.secret) : publicKeyOnce(ep)));
  show(h('h1', {}, 'Endpoints'), revealed || null, status, table, form);
}
