// charts.js — tiny SVG charts (lines, bars, horizontal bars) drawn from plain numbers. Colours
// come from CSS classes (design tokens), labels are text nodes, and every chart has a <title>
// and a <desc> summary for screen readers.

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A round step and axis maximum for values up to `value`; whole steps for counts. */
function scale(value, { integer = true, ticks = 4 } = {}) {
  const max = Math.max(value, integer ? 1 : Number.EPSILON);
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= raw) || 10 * magnitude;
  if (integer) step = Math.max(1, Math.ceil(step));
  return { step, max: step * Math.ceil(max / step) };
}

function frame(container, { width, height, title, summary }) {
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title });
  root.append(svg('title', {}, title), svg('desc', {}, summary));
  container.replaceChildren(root);
  return root;
}

function legend(container, series) {
  const list = document.createElement('ul');
  list.className = 'chart-legend';
  for (const s of series) {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch ${s.cls}`;
    item.append(swatch, document.createTextNode(s.name));
    list.append(item);
  }
  container.append(list);
}

function yAxis(root, { left, right, top, bottom, max, step, format }) {
  const ticks = Math.round(max / step);
  for (let i = 0; i <= ticks; i++) {
    const value = step * i;
    const y = bottom - ((bottom - top) * i) / ticks;
    root.append(svg('line', { class: i ? 'grid-line' : 'axis-line', x1: left, x2: right, y1: y, y2: y }));
    root.append(svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end' }, format(value)));
  }
}

function xLabels(root, labels, xOf, bottom) {
  const every = Math.max(1, Math.ceil(labels.length / 7));
  labels.forEach((label, i) => {
    // Counted back from the last label, so the newest period is always named and none overlap.
    if ((labels.length - 1 - i) % every !== 0) return;
    root.append(svg('text', { x: xOf(i), y: bottom + 16, 'text-anchor': 'middle' }, label));
  });
}

export function emptyChart(container, message) {
  const box = document.createElement('div');
  box.className = 'chart-empty';
  box.textContent = message;
  container.replaceChildren(box);
}

/** Lines over labelled periods: `series` = [{name, values, cls, area?}]. */
export function lineChart(container, { title, labels, series, format = (v) => String(Math.round(v)) }) {
  const width = 560;
  const height = 240;
  const box = { left: 40, right: width - 12, top: 12, bottom: height - 28 };
  const { max, step } = scale(Math.max(0, ...series.flatMap((s) => s.values)));
  const summary = series.map((s) => `${s.name}: ${s.values.reduce((a, b) => a + b, 0)} in total`).join('; ');
  const root = frame(container, { width, height, title, summary });
  yAxis(root, { ...box, max, step, format });
  const dx = labels.length > 1 ? (box.right - box.left) / (labels.length - 1) : 0;
  const xOf = (i) => (labels.length > 1 ? box.left + i * dx : (box.left + box.right) / 2);
  const yOf = (v) => box.bottom - ((box.bottom - box.top) * v) / max;
  for (const s of series) {
    const points = s.values.map((v, i) => `${xOf(i).toFixed(1)},${yOf(v).toFixed(1)}`);
    if (s.area && points.length > 1) {
      root.append(svg('path', {
        class: `area ${s.cls}`,
        d: `M${xOf(0)},${box.bottom} L${points.join(' L')} L${xOf(s.values.length - 1)},${box.bottom} Z`,
      }));
    }
    root.append(svg('polyline', { class: `line ${s.cls}`, points: points.join(' ') }));
    if (s.values.length <= 31) {
      s.values.forEach((v, i) => {
        const dot = svg('circle', { class: s.cls, cx: xOf(i), cy: yOf(v), r: 2.6 });
        dot.append(svg('title', {}, `${labels[i]}: ${s.name} ${format(v)}`));
        root.append(dot);
      });
    }
  }
  xLabels(root, labels, xOf, box.bottom);
  legend(container, series);
}

/** Vertical bars: one value per label. */
export function barChart(container, { title, labels, values, cls = 'series-1', format = (v) => String(Math.round(v)) }) {
  const width = 560;
  const height = 240;
  const box = { left: 40, right: width - 12, top: 16, bottom: height - 28 };
  const { max, step } = scale(Math.max(0, ...values));
  const summary = labels.map((l, i) => `${l}: ${format(values[i])}`).join('; ');
  const root = frame(container, { width, height, title, summary });
  yAxis(root, { ...box, max, step, format });
  const slot = (box.right - box.left) / Math.max(1, labels.length);
  const barWidth = Math.max(2, Math.min(48, slot * 0.64));
  const xOf = (i) => box.left + slot * i + slot / 2;
  values.forEach((v, i) => {
    const y = box.bottom - ((box.bottom - box.top) * v) / max;
    const bar = svg('rect', { class: `bar ${cls}`, x: xOf(i) - barWidth / 2, y, width: barWidth, height: Math.max(0, box.bottom - y), rx: 3 });
    bar.append(svg('title', {}, `${labels[i]}: ${format(v)}`));
    root.append(bar);
    if (labels.length <= 12 && v > 0) root.append(svg('text', { class: 'value-label', x: xOf(i), y: y - 4, 'text-anchor': 'middle' }, format(v)));
  });
  xLabels(root, labels, xOf, box.bottom);
}

/** Horizontal bars, optionally two series per row: rows = [{label, values:[a, b]}]. */
export function hBarChart(container, { title, rows, series, format = (v) => String(v) }) {
  const width = 560;
  const rowHeight = series.length > 1 ? 40 : 28;
  const left = 150;
  const right = width - 70;
  const height = rows.length * rowHeight + 16;
  const { max } = scale(Math.max(0, ...rows.flatMap((r) => r.values.filter((v) => typeof v === 'number'))), { integer: false });
  const summary = rows.map((r) => `${r.label}: ${r.values.map((v, i) => `${series[i].name} ${v === null ? 'none' : format(v)}`).join(', ')}`).join('; ');
  const root = frame(container, { width, height, title, summary });
  rows.forEach((row, r) => {
    const top = 8 + r * rowHeight;
    root.append(svg('text', { x: left - 8, y: top + rowHeight / 2 + 2, 'text-anchor': 'end' }, row.label));
    const barHeight = (rowHeight - 10) / series.length;
    row.values.forEach((v, i) => {
      const y = top + 2 + i * barHeight;
      const w = typeof v === 'number' ? ((right - left) * v) / max : 0;
      const bar = svg('rect', { class: `bar ${series[i].cls}`, x: left, y, width: Math.max(w, typeof v === 'number' ? 2 : 0), height: barHeight - 2, rx: 3 });
      bar.append(svg('title', {}, `${row.label} · ${series[i].name}: ${v === null ? 'none' : format(v)}`));
      root.append(bar);
      root.append(svg('text', { class: 'value-label', x: left + w + 6, y: y + barHeight / 2 + 2 }, v === null ? '—' : format(v)));
    });
  });
  if (series.length > 1) legend(container, series);
}
