// Deliveries over time, drawn as SVG from the attempts the API lists (the newest 1000 it
// keeps per endpoint). A windowed stats endpoint with minute buckets would draw longer and
// busier histories; until it exists, this is what the public API can give.
import {h} from './dom.js';

const svgNs = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

// Buckets of `step` ms over `span` ms ending now: delivered and failed counts.
function buckets(attempts, span, step, now) {
  const n = Math.round(span / step);
  const out = Array.from({length: n}, () => ({ok: 0, bad: 0}));
  for (const at of attempts) {
    const i = Math.floor((new Date(at.at).getTime() - (now - span)) / step);
    if (i < 0 || i >= n) continue;
    if (at.succeeded) out[i].ok++; else out[i].bad++;
  }
  return out;
}

function draw(attempts, span, step, label) {
  const now = Date.now();
  const data = buckets(attempts, span, step, now);
  const inWindow = attempts.filter((a) => now - new Date(a.at).getTime() <= span);
  const ok = inWindow.filter((a) => a.succeeded).length;
  const lat = inWindow.map((a) => a.latency_ms).sort((a, b) => a - b);
  const max = Math.max(1, ...data.map((b) => b.ok + b.bad));
  const W = 600, H = 120, bw = W / data.length;
  const bars = [];
  data.forEach((b, i) => {
    const okH = (b.ok / max) * H, badH = (b.bad / max) * H;
    if (b.ok) bars.push(s('rect', {class: 'ok', x: i * bw, y: H - okH, width: Math.max(bw - 1, 1), height: okH}));
    if (b.bad) bars.push(s('rect', {class: 'bad', x: i * bw, y: H - okH - badH, width: Math.max(bw - 1, 1), height: badH}));
  });
  const summary = inWindow.length === 0 ? 'No attempts in this window.'
    : inWindow.length + ' attempts, ' + Math.round((100 * ok) / inWindow.length) + '% succeeded, latency p50 ' +
      percentile(lat, 0.5) + ' ms, p99 ' + percentile(lat, 0.99) + ' ms';
  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img',
                        'aria-label': label + ': ' + summary, class: 'chart'},
                s('line', {x1: 0, y1: H, x2: W, y2: H, class: 'axis'}), ...bars);
  return h('figure', {}, svg, h('figcaption', {}, label + ' — ', summary));
}

export function attemptChart(attempts) {
  const hour = draw(attempts, 3600e3, 60e3, 'Last hour, per minute');
  const day = draw(attempts, 86400e3, 3600e3, 'Last 24 hours, per hour');
  return h('section', {class: 'card', 'aria-labelledby': 'chart-title'},
    h('h2', {id: 'chart-title'}, 'Deliveries'),
    h('p', {class: 'legend'}, h('span', {class: 'key ok'}), ' delivered ', h('span', {class: 'key bad'}), ' failed'),
    hour, day,
    h('p', {class: 'muted'}, 'From the newest ' + attempts.length + ' attempts the API keeps for this endpoint.'));
}
