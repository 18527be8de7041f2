// A small inline-SVG chart: waiting (left axis) and service level % (right axis) over the last hour.
import { clear, svg } from './dom.js';
import { formatTime } from './format.js';
import { t } from './i18n.js';

const W = 640;
const H = 180;
const PAD = { l: 36, r: 40, t: 10, b: 24 };
export const WINDOW_MS = 60 * 60 * 1000;

function path(points) {
  return points.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
}

export function drawChart(root, samples, now = Date.now()) {
  const from = now - WINDOW_MS;
  const data = samples.filter((s) => s.at >= from);
  const maxWaiting = Math.max(4, ...data.map((s) => s.waiting));
  const x = (at) => PAD.l + (W - PAD.l - PAD.r) * (at - from) / WINDOW_MS;
  const yWait = (v) => H - PAD.b - (H - PAD.t - PAD.b) * v / maxWaiting;
  const ySl = (v) => H - PAD.b - (H - PAD.t - PAD.b) * v / 100;
  // A step line: the value holds until the next frame, and up to now.
  const steps = (key, y) => {
    const points = [];
    data.forEach((s, i) => {
      if (s[key] === null || s[key] === undefined) return;
      if (points.length) points.push([x(s.at), points[points.length - 1][1]]);
      points.push([x(s.at), y(s[key])]);
      if (i === data.length - 1) points.push([x(now), y(s[key])]);
    });
    return points;
  };
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': t('wb.chart') },
    svg('line', { x1: PAD.l, y1: H - PAD.b, x2: W - PAD.r, y2: H - PAD.b, class: 'axis' }),
    svg('line', { x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: H - PAD.b, class: 'axis' }),
    svg('text', { x: PAD.l - 4, y: PAD.t + 8, class: 'tick', 'text-anchor': 'end', text: String(maxWaiting) }),
    svg('text', { x: PAD.l - 4, y: H - PAD.b, class: 'tick', 'text-anchor': 'end', text: '0' }),
    svg('text', { x: W - PAD.r + 4, y: PAD.t + 8, class: 'tick', text: '100%' }),
    svg('text', { x: PAD.l, y: H - 6, class: 'tick', text: formatTime(new Date(from)) }),
    svg('text', { x: W - PAD.r, y: H - 6, class: 'tick', 'text-anchor': 'end', text: formatTime(new Date(now)) }),
    svg('path', { d: path(steps('sl', ySl)), class: 'line-sl' }),
    svg('path', { d: path(steps('waiting', yWait)), class: 'line-waiting' }),
    svg('text', { x: PAD.l + 8, y: PAD.t + 12, class: 'legend legend-waiting', text: t('wb.legend_waiting') }),
    svg('text', { x: PAD.l + 100, y: PAD.t + 12, class: 'legend legend-sl', text: t('wb.legend_sl') }));
  clear(root).append(chart);
}
