// Small DOM helpers. Text always goes in as text nodes (never innerHTML), so nothing the API
// returns can become markup.

// h('button', {type: 'button', onclick: f}, 'Save'): attributes starting with "on" are listeners.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// A <time> in the viewer's time zone, UTC on hover.
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return h('time', {datetime: iso, title: d.toISOString().replace('.000Z', 'Z') + ' (UTC)'},
           d.toLocaleString());
}

// A labelled form field: field('URL', h('input', {...})).
let nextId = 0;
export function field(label, input, hint) {
  if (!input.id) input.id = 'f' + (++nextId);
  return h('div', {class: 'field'}, h('label', {for: input.id}, label), input,
           hint ? h('small', {}, hint) : null);
}

// Replaces the page's content and moves focus to it (keyboard and screen-reader users land on
// the new page).
export function show(...children) {
  const main = document.getElementById('main');
  main.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  main.focus({preventScroll: true});
}

// A Copy button for `text` (selecting `box`, its input, where the clipboard is refused).
export function copyButton(text, box) {
  return h('button', {type: 'button', onclick: async (e) => {
    box.select();
    try { await navigator.clipboard.writeText(text); e.target.textContent = 'Copied'; }
    catch { e.target.textContent = 'Select and copy'; }
  }}, 'Copy');
}

// A status line for errors and results; role=alert is read out when it changes.
export function notice() {
  const el = h('p', {class: 'notice', role: 'status', 'aria-live': 'polite'});
  el.say = (text, bad = false) => {
    el.textContent = text;
    el.classList.toggle('bad', bad);
  };
  return el;
}
