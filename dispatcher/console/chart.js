// Deliveries over time, drawn as SVG from GET /v1/webhooks/{id}/stats (minute buckets kept
// 48 h, summed over every dispatcher instance): delivered and failed per step as stacked bars,
// and p50/p99 latency as lines with a point per step that had responses.
import {call, enc} from './api.js';
import {h} from './dom.js';

const svgNs = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

export function plural(n, one, many = one + 's') {
  return n + ' ' + (n === 1 ? one : many);
}

const W = 600, H = 120;

// Stacked bars of {start, ok, bad} points (ok below, bad above).
function countBars(points) {
  const max = Math.max(1, ...points.map((b) => b.ok + b.bad));
  const bw = W / points.length;
  const out = [];
  points.forEach((b, i) => {
    const okH = (b.ok / max) * H, badH = (b.bad / max) * H;
    const at = {x: i * bw, width: Math.max(bw - 1, 0.5), 'data-start': b.start};
    if (b.ok) out.push(s('rect', {...at, class: 'ok', y: H - okH, height: okH}));
    if (b.bad) out.push(s('rect', {...at, class: 'bad', y: H - okH - badH, height: badH}));
  });
  return {rects: out, max};
}

function barSvg(points, label) {
  const {rects, max} = countBars(points);
  return {svg: s('svg', {viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img',
                         'aria-label': label, class: 'chart counts'},
                 s('line', {x1: 0, y1: H, x2: W, y2: H, class: 'axis'}), ...rects), max};
}

// A figure of stacked bars with its caption (the operators' view uses it too).
export function bars(points, label) {
  const total = points.reduce((n, p) => n + p.ok + p.bad, 0);
  const {svg, max} = barSvg(points, label + ': ' + total + ' in all');
  return h('figure', {}, svg, h('figcaption', {}, label + ' — ' + total + ' in all, at most ' + max + ' per bar.'));
}

function latencyLines(data) {
  const max = Math.max(1, ...data.map((b) => b.latency_ms.p99 || 0));
  const bw = W / data.length;
  const out = [];
  for (const p of ['p50', 'p99']) {
    const pts = [];
    data.forEach((b, i) => {
      if (b.latency_ms[p] !== null) pts.push([i * bw + bw / 2, H - (b.latency_ms[p] / max) * (H - 4)]);
    });
    if (pts.length > 1) out.push(s('polyline', {class: 'line ' + p, points: pts.map((q) => q.join(',')).join(' ')}));
    for (const [x, y] of pts) out.push(s('circle', {class: 'point ' + p, cx: x, cy: y, r: 2}));
  }
  return {lines: out, max};
}

function summaryText(sum) {
  const n = sum.delivered + sum.failed;
  if (n === 0) return 'No attempts in this window.';
  let text = plural(n, 'attempt') + ', ' + Math.round(100 * sum.success_rate) + '% succeeded';
  if (sum.latency_ms.p50 !== null) text += ', latency p50 ≤ ' + sum.latency_ms.p50 + ' ms, p99 ≤ ' + sum.latency_ms.p99 + ' ms';
  return text;
}

function draw(stats, label) {
  const summary = summaryText(stats.summary);
  const {svg: counts} = barSvg(stats.data.map((b) => ({start: b.start, ok: b.delivered, bad: b.failed})),
                              label + ', deliveries: ' + summary);
  const {lines, max} = latencyLines(stats.data);
  const latency = s('svg', {viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img',
                            'aria-label': label + ', latency p50 and p99 up to ' + max + ' ms', class: 'chart latency'},
                    s('line', {x1: 0, y1: H, x2: W, y2: H, class: 'axis'}), ...lines);
  return h('figure', {'data-step': stats.step},
    counts, latency,
    h('figcaption', {}, label + ' — ', summary, '. Latency scale: 0 to ' + max + ' ms.'));
}

async function fetchWindow(ep, span, step) {
  const until = new Date();
  const since = new Date(until.getTime() - span);
  return call('GET', '/v1/webhooks/' + enc(ep) + '/stats?' + new URLSearchParams(
    {since: since.toISOString(), until: until.toISOString(), step: String(step)}));
}

export async function statsChart(endpointId) {
  const [hour, day] = await Promise.all([fetchWindow(endpointId, 3600e3, 60), fetchWindow(endpointId, 86400e3, 900)]);
  return h('section', {class: 'card', 'aria-labelledby': 'chart-title'},
    h('h2', {id: 'chart-title'}, 'Deliveries'),
    h('p', {class: 'legend'}, h('span', {class: 'key ok'}), ' delivered ', h('span', {class: 'key bad'}), ' failed ',
      h('span', {class: 'key p50'}), ' latency p50 ', h('span', {class: 'key p99'}), ' latency p99'),
    draw(hour, 'Last hour, per minute'), draw(day, 'Last 24 hours, per 15 minutes'),
    h('p', {class: 'muted'}, 'Every attempt, from every dispatcher instance; kept for 48 hours.'));
}
