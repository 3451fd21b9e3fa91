// The operators' view: every business's endpoints by state, the worst ten by success rate and
// by p99, the retry backlog and consumer lag, dead letters per hour and the delivery rate, from
// GET /v1/ops/overview with the operator token (api.operator_token), kept in this tab's
// sessionStorage only.
import {call, ApiError} from '../api.js';
import {h, field, show, notice, when} from '../dom.js';
import {stateBadge} from '../endpoints.js';
import {bars} from '../chart.js';

const storeKey = 'tresse.operator';
const token = {
  get: () => sessionStorage.getItem(storeKey),
  set: (v) => sessionStorage.setItem(storeKey, v),
  clear: () => sessionStorage.removeItem(storeKey),
};
let timer = null;

function loginPage(message) {
  const input = h('input', {type: 'password', name: 'operator_token', autocomplete: 'off', required: true,
                            spellcheck: 'false'});
  const status = notice();
  if (message) status.say(message, true);
  show(h('form', {class: 'card narrow', onsubmit: async (e) => {
    e.preventDefault();
    token.set(input.value.trim());
    await refresh();
  }},
  h('h1', {}, 'Operators\' view'),
  h('p', {}, 'Paste the dispatcher\'s operator token (api.operator_token). It stays in this browser tab only.'),
  field('Operator token', input), h('button', {type: 'submit'}, 'Log in'), status));
  input.focus();
}

const pct = (r) => (r === null ? '—' : Math.round(100 * r) + '%');
const ms = (v) => (v === null ? '—' : v + ' ms');
const badge = (e) => stateBadge({enabled: e.state !== 'disabled',
                                  health: {state: e.state, success_rate: e.success_rate, attempts: e.attempts}});

function endpointTable(caption, rows) {
  if (rows.length === 0) return h('p', {class: 'muted'}, 'No endpoints with recent attempts.');
  return h('table', {class: 'list'}, h('caption', {class: 'sr-only'}, caption),
    h('thead', {}, h('tr', {}, ['Endpoint', 'Business', 'State', 'Success', 'p99'].map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', {}, rows.map((e) => h('tr', {'data-id': e.id},
      h('td', {'data-label': 'Endpoint'}, e.url, h('div', {class: 'muted'}, h('code', {}, e.id))),
      h('td', {'data-label': 'Business'}, e.business_id),
      h('td', {'data-label': 'State'}, badge(e)),
      h('td', {'data-label': 'Success'}, pct(e.success_rate)),
      h('td', {'data-label': 'p99'}, ms(e.p99_ms))))));
}

function overviewPage(o) {
  const states = Object.entries(o.endpoints.by_state).filter(([, n]) => n > 0);
  const rate = bars(o.delivery_rate.map((m) => ({start: m.start, ok: m.delivered, bad: m.failed})),
                    'Deliveries per minute, last hour');
  const dead = bars(o.dead_letters_per_hour.map((d) => ({start: d.start, ok: 0, bad: d.count})),
                    'Dead letters per hour, last 24 hours');
  show(h('h1', {}, 'Operators\' view'),
    h('p', {class: 'muted'}, 'As of ', when(o.generated_at), ' · refreshed every 10 s ',
      h('button', {type: 'button', class: 'secondary', onclick: refresh}, 'Refresh')),
    h('section', {class: 'card', 'aria-labelledby': 'sum-title'}, h('h2', {id: 'sum-title'}, 'Summary'),
      h('dl', {},
        h('dt', {}, 'Endpoints'), h('dd', {'data-total': o.endpoints.total}, String(o.endpoints.total),
          o.endpoints.truncated ? ' (the first ' + o.endpoints.listed + ' listed)' : ''),
        h('dt', {}, 'By state'), h('dd', {class: 'states'}, states.length === 0 ? '—'
          : states.map(([s, n]) => h('span', {}, badge({state: s, success_rate: null, attempts: 0}), ' ', String(n), ' '))),
        h('dt', {}, 'Retry backlog'), h('dd', {}, o.retry_backlog.scheduled + ' scheduled, ' + o.retry_backlog.claimed + ' in progress'),
        h('dt', {}, 'Consumer lag'), h('dd', {}, o.consumer_lag === null ? 'unknown' : o.consumer_lag + ' messages (this instance)'))),
    h('section', {class: 'card', 'aria-labelledby': 'rate-title'}, h('h2', {id: 'rate-title'}, 'Delivery rate'), rate),
    h('section', {class: 'card', 'aria-labelledby': 'dead-title'}, h('h2', {id: 'dead-title'}, 'Dead letters'), dead),
    h('section', {class: 'card', 'aria-labelledby': 'worst-rate-title'},
      h('h2', {id: 'worst-rate-title'}, 'Worst ten by success rate'), endpointTable('Worst by success rate', o.worst_success_rate)),
    h('section', {class: 'card', 'aria-labelledby': 'worst-p99-title'},
      h('h2', {id: 'worst-p99-title'}, 'Worst ten by p99 latency'), endpointTable('Worst by p99', o.worst_p99)),
    h('section', {class: 'card', 'aria-labelledby': 'biz-title'}, h('h2', {id: 'biz-title'}, 'Businesses'),
      o.businesses.length === 0 ? h('p', {}, 'No endpoints yet.')
        : o.businesses.map((b) => h('div', {class: 'business', 'data-business': b.business_id},
            h('h3', {}, b.business_id), endpointTable('Endpoints of ' + b.business_id, b.endpoints)))));
}

async function refresh() {
  clearTimeout(timer);
  if (!token.get()) return loginPage();
  try {
    const o = await call('GET', '/v1/ops/overview', undefined, token.get());
    document.getElementById('logout').hidden = false;
    overviewPage(o);
    timer = setTimeout(refresh, 10000);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      token.clear();
      return loginPage(e.message);
    }
    show(h('h1', {}, 'Something went wrong'), h('p', {class: 'notice bad', role: 'alert'}, e.message));
  }
}

document.getElementById('logout').addEventListener('click', () => {
  token.clear();
  clearTimeout(timer);
  document.getElementById('logout').hidden = true;
  loginPage();
});
refresh();
