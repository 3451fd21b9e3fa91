// The event catalog (GET /v1/event_types) and the event-type picker built from it.
import {all} from './api.js';
import {h, show} from './dom.js';

let types = null;
export async function eventTypes() {
  if (!types) types = await all('/v1/event_types');
  return types;
}

// Example payloads: the envelope every delivery carries (DESIGN.md), with a typical data object.
function example(type) {
  const data = type.startsWith('appointment.')
    ? {id: 'apt_q9w3r1z', status: 'confirmed', client_id: 'cli_8x7kq2m'}
    : type.startsWith('client.') ? {id: 'cli_8x7kq2m'} : {endpoint_id: 'we_0Q5sH2kZa7Xk2mPq9rT4vW'};
  return JSON.stringify({id: 'evt_2Hq9x7LmQ', type, business_id: 'biz_4f8a2c', livemode: true,
                         timestamp: '2026-04-19T10:32:00Z', data}, null, 2);
}

export async function eventsPage() {
  const list = await eventTypes();
  show(h('h1', {}, 'Event catalog'),
       h('p', {}, 'The events an endpoint can subscribe to. "*" subscribes to all of them.'),
       list.map((t) => h('section', {class: 'card'}, h('h2', {}, h('code', {}, t.name)),
                         h('p', {}, t.description),
                         h('details', {}, h('summary', {}, 'Example payload'),
                           h('pre', {}, example(t.name))))));
}

// A fieldset of checkboxes, "all events" first. value() → the selected names (["*"] for all).
export async function eventPicker(selected = ['*']) {
  const list = await eventTypes();
  const allBox = h('input', {type: 'checkbox', value: '*', checked: selected.includes('*')});
  const boxes = list.map((t) => h('input', {type: 'checkbox', value: t.name,
                                            checked: selected.includes(t.name)}));
  const sync = () => boxes.forEach((b) => { b.disabled = allBox.checked; });
  allBox.addEventListener('change', sync);
  sync();
  const set = h('fieldset', {class: 'events'}, h('legend', {}, 'Events'),
                h('label', {}, allBox, ' All events (*)'),
                boxes.map((b, i) => h('label', {title: list[i].description}, b, ' ', list[i].name)));
  set.value = () => allBox.checked ? ['*'] : boxes.filter((b) => b.checked).map((b) => b.value);
  return set;
}
