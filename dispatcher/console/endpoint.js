// One endpoint: its settings (edit), secret rotation, test ping, charts from its stats,
// the attempt log (filter, expand, retry) and replays.
import {call, enc} from './api.js';
import {h, field, show, notice, when} from './dom.js';
import {eventPicker, eventTypes} from './events.js';
import {stateBadge, secretOnce, orderingSelect} from './endpoints.js';
import {statsChart} from './chart.js';
import {viewer} from './viewer.js';
import {optionsFields, optionsSummary} from './options.js';

// The API's 400 names the field ("field 'headers': ..."): mark that one.
function markInvalid(form, message) {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const m = /field '([a-z_]+)'/.exec(message || '');
  const named = m && form.querySelector('[name="' + m[1] + '"]');
  if (named) named.setAttribute('aria-invalid', 'true');
}

function editForm(ep, picker) {
  const url = h('input', {type: 'url', name: 'url', required: true, value: ep.url});
  const description = h('input', {type: 'text', name: 'description', maxlength: 512, value: ep.description});
  const rate = h('input', {type: 'number', min: 0, max: 10000, value: ep.rate_limit_per_second});
  const options = optionsFields(ep);
  const ordering = orderingSelect(ep.ordering);
  const status = notice();  // beside the Save button, where the error is acted on
  const form = h('form', {class: 'card', 'aria-labelledby': 'edit-title', onsubmit: async (e) => {
    e.preventDefault();
    const events = picker.value();
    if (events.length === 0) return status.say('Pick at least one event type.', true);
    try {
      await call('PATCH', '/v1/webhooks/' + enc(ep.id), {url: url.value.trim(), events,
        description: description.value, rate_limit_per_second: Number(rate.value),
        ordering: ordering.value, ...options.changes()});
      await endpointPage(ep.id, null, 'Saved.');
    } catch (err) {
      markInvalid(form, err.message);
      status.say(err.message, true);
    }
  }},
  h('h2', {id: 'edit-title'}, 'Settings'), field('URL', url), field('Description', description),
  field('Rate limit (deliveries per second)', rate, '0 = no limit'), field('Ordering', ordering),
  picker, options.el, h('button', {type: 'submit'}, 'Save'), status);
  return form;
}

function actions(ep, status) {
  const expiry = h('select', {},
    [['0', 'at once'], ['3600', 'in 1 hour'], ['86400', 'in 24 hours'], ['604800', 'in 7 days']]
      .map(([v, t]) => h('option', {value: v, selected: v === '86400'}, t)));
  return h('section', {class: 'card', 'aria-labelledby': 'actions-title'},
    h('h2', {id: 'actions-title'}, 'Actions'),
    h('div', {class: 'row'},
      h('button', {type: 'button', onclick: async () => {
        try {
          const t = await call('POST', '/v1/webhooks/' + enc(ep.id) + '/test');
          status.say('Test ping sent (event ' + t.event_id + '). Its attempt appears below shortly.');
        } catch (err) { status.say(err.message, true); }
      }}, 'Send test ping'),
      h('button', {type: 'button', class: 'secondary', onclick: async () => {
        try {
          await call('PATCH', '/v1/webhooks/' + enc(ep.id), {enabled: !ep.enabled});
          await endpointPage(ep.id);
        } catch (err) { status.say(err.message, true); }
      }}, ep.enabled ? 'Disable' : 'Enable')),
    h('div', {class: 'row'},
      field('Old secret stops signing', expiry),
      h('button', {type: 'button', class: 'secondary', onclick: async () => {
        if (!confirm('Rotate the signing secret? The new one signs from now on.')) return;
        try {
          const r = await call('POST', '/v1/webhooks/' + enc(ep.id) + '/rotate_secret',
                               {previous_expires_in: Number(expiry.value)});
          // A v1a-only endpoint has no whsec_ secret: its new public key is on the page.
          await endpointPage(ep.id, r.secret ? secretOnce(r.secret) : null,
                             r.secret ? undefined : 'Rotated: receivers verify with the new public key.');
        } catch (err) { status.say(err.message, true); }
      }}, 'Rotate secret')));
}

function attemptRow(ep, at, status, reload) {
  const outcome = at.succeeded ? 'succeeded' : 'failed';
  const detail = h('dl', {},
    h('dt', {}, 'Event'), h('dd', {}, h('code', {}, at.event_id), ' (', at.event_type, ')'),
    h('dt', {}, 'Attempt'), h('dd', {}, String(at.attempt)),
    h('dt', {}, 'Response status'), h('dd', {}, at.status === null ? 'no response' : String(at.status)),
    h('dt', {}, 'Latency'), h('dd', {}, at.latency_ms + ' ms'),
    h('dt', {}, 'Error'), h('dd', {}, at.error || '—'),
    h('dt', {}, 'Response body'), h('dd', {}, at.response ? h('pre', {}, at.response) : '—'));
  const retry = viewer.readOnly ? null : h('button', {type: 'button', class: 'secondary', onclick: async () => {
    try {
      await call('POST', '/v1/webhooks/' + enc(ep.id) + '/deliveries/' + enc(at.event_id) + '/retry');
      status.say('Retry scheduled for event ' + at.event_id + '.');
      setTimeout(reload, 1500);
    } catch (err) { status.say(err.message, true); }
  }}, 'Retry');
  return h('li', {class: 'attempt ' + outcome, 'data-event': at.event_id},
    h('details', {},
      h('summary', {}, h('span', {class: 'badge ' + (at.succeeded ? 'healthy' : 'failing')}, outcome),
        ' ', when(at.at), ' ', at.event_type, ' · ', at.status === null ? (at.error || 'no response') : 'HTTP ' + at.status,
        ' · ', at.latency_ms + ' ms'),
      detail, retry));
}

async function attemptLog(ep, status) {
  const outcome = h('select', {name: 'status'}, h('option', {value: ''}, 'any'),
                    h('option', {value: 'succeeded'}, 'succeeded'), h('option', {value: 'failed'}, 'failed'));
  const type = h('select', {name: 'event_type'}, h('option', {value: ''}, 'any'),
                 (await eventTypes()).map((t) => h('option', {value: t.name}, t.name)));
  const list = h('ul', {class: 'attempts', 'aria-live': 'polite'});
  const load = async () => {
    const q = new URLSearchParams({limit: '50'});
    if (outcome.value) q.set('status', outcome.value);
    if (type.value) q.set('event_type', type.value);
    try {
      const page = await call('GET', '/v1/webhooks/' + enc(ep.id) + '/deliveries?' + q);
      list.replaceChildren(...(page.data.length ? page.data.map((at) => attemptRow(ep, at, status, load))
                                                 : [h('li', {}, 'No attempts yet.')]));
    } catch (err) { status.say(err.message, true); }
  };
  outcome.addEventListener('change', load);
  type.addEventListener('change', load);
  await load();
  return h('section', {class: 'card', 'aria-labelledby': 'log-title'},
    h('h2', {id: 'log-title'}, 'Attempt log'),
    h('div', {class: 'row'}, field('Outcome', outcome), field('Event type', type),
      h('button', {type: 'button', class: 'secondary', onclick: load}, 'Refresh')),
    h('p', {class: 'muted'}, 'The API keeps each attempt\'s response; the request sent is the event\'s envelope, signed (see the event catalog).'),
    list);
}

function localInput(d) {
  const pad = (n) => String(n).padStart(2, '0');
  return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' +
         pad(d.getHours()) + ':' + pad(d.getMinutes());
}

function replayForm(ep) {
  const now = new Date();
  const since = h('input', {type: 'datetime-local', required: true, value: localInput(new Date(now - 3600e3))});
  // Until the next minute: the inputs have minute precision, and an event of the last seconds counts.
  const until = h('input', {type: 'datetime-local', required: true, value: localInput(new Date(now.getTime() + 60e3))});
  const bar = h('progress', {max: 1, value: 0, 'aria-label': 'Replay progress'});
  const state = notice();
  const poll = async (id) => {
    const r = await call('GET', '/v1/replays/' + enc(id));
    bar.max = Math.max(r.matched, 1);
    bar.value = r.status === 'completed' ? bar.max : r.scheduled;
    state.say('Replay ' + r.status + ': ' + r.scanned + ' events scanned, ' + r.matched + ' matched, ' +
              r.scheduled + ' scheduled' + (r.error ? ' — ' + r.error : ''), r.status === 'failed');
    state.dataset.status = r.status;
    if (r.status === 'running') setTimeout(() => poll(id).catch((e) => state.say(e.message, true)), 500);
  };
  return h('form', {class: 'card', 'aria-labelledby': 'replay-title', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await call('POST', '/v1/webhooks/' + enc(ep.id) + '/replay',
                           {since: new Date(since.value).toISOString(), until: new Date(until.value).toISOString()});
      await poll(r.id);
    } catch (err) { state.say(err.message, true); }
  }},
  h('h2', {id: 'replay-title'}, 'Replay'),
  h('p', {}, 'Deliver again every event of a time window (in your time zone) that this endpoint subscribes to.'),
  h('div', {class: 'row'}, field('From', since), field('Until', until)),
  h('button', {type: 'submit'}, 'Replay'), bar, state);
}

// An ordered endpoint's backlog: the events waiting behind their resource's head.
async function orderedBacklog(ep) {
  if (ep.ordering !== 'per_resource') return [h('dt', {}, 'Ordering'), h('dd', {}, 'none')];
  const b = await call('GET', '/v1/webhooks/' + enc(ep.id) + '/ordered_backlog');
  return [h('dt', {}, 'Ordering'), h('dd', {}, 'per resource'),
    h('dt', {}, 'Waiting in order'), h('dd', {'data-field': 'ordered-waiting'}, String(b.waiting),
      b.oldest_queued_at ? [' (the oldest since ', when(b.oldest_queued_at), ')'] : null)];
}

export async function endpointPage(id, revealed, message) {
  const ep = await call('GET', '/v1/webhooks/' + enc(id));
  const ordered = await orderedBacklog(ep);
  const status = notice();
  if (message) status.say(message);
  const picker = viewer.readOnly ? null : await eventPicker(ep.events);
  const chart = await statsChart(id);
  show(h('p', {}, h('a', {href: '#/endpoints'}, '← Endpoints')),
    h('h1', {}, ep.url, ' ', stateBadge(ep)),
    revealed || null, status,
    h('section', {class: 'card', 'aria-labelledby': 'about-title'}, h('h2', {id: 'about-title'}, 'Endpoint'),
      h('dl', {}, h('dt', {}, 'Id'), h('dd', {}, h('code', {}, ep.id)),
        h('dt', {}, 'Events'), h('dd', {}, ep.events.join(', ')),
        h('dt', {}, 'Created'), h('dd', {}, when(ep.created_at)),
        h('dt', {}, 'Failed attempts'), h('dd', {}, String(ep.failure_count)),
        h('dt', {}, 'Dead-lettered'), h('dd', {}, String(ep.dead_lettered)), ...ordered,
        optionsSummary(ep))),
    chart,
    viewer.readOnly ? null : actions(ep, status),
    await attemptLog(ep, status),
    viewer.readOnly ? null : replayForm(ep),
    viewer.readOnly ? null : editForm(ep, picker));
}
