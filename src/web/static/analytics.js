// analytics.js — the analytics page: key figures, SVG charts (created vs resolved, backlog,
// response and resolution times, CSAT distribution, status and category mix) and the agent
// table, from GET /analytics/tickets and /analytics/agents.

import { api, ApiError } from './api.js';
import { lineChart, barChart, hBarChart, emptyChart } from './charts.js';
import { $, el, fill, formatDuration, STAFF_STATUS_LABELS, CATEGORY_LABELS } from './ui.js';

export async function start() {
  const form = $('[data-range-form]');
  form.addEventListener('change', () => load(form));
  await load(form);
}

function periodLabel(iso, groupBy) {
  const date = new Date(iso);
  const text = date.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
  return groupBy === 'week' ? `wk ${text}` : text;
}

async function load(form) {
  const days = Number(form.elements.days.value);
  const groupBy = form.elements.groupBy.value;
  const to = new Date();
  const from = new Date(to.getTime() - days * 86400 * 1000);
  const query = { from: from.toISOString(), to: to.toISOString(), groupBy };
  const errorBox = $('[data-analytics-error]');
  errorBox.hidden = true;
  $('[data-range-label]').textContent = `${from.toLocaleDateString()} – ${to.toLocaleDateString()}, by ${groupBy}`;
  let tickets;
  let agents;
  try {
    [tickets, agents] = await Promise.all([
      api('/analytics/tickets', { query }),
      api('/analytics/agents', { query: { from: query.from, to: query.to } }),
    ]);
  } catch (error) {
    errorBox.textContent = error instanceof ApiError && error.status === 403
      ? 'Analytics are available to supervisors and administrators.'
      : `Analytics could not be loaded: ${error.message}`;
    errorBox.hidden = false;
    return;
  }
  kpis(tickets);
  charts(tickets);
  agentTable(agents.agents);
}

function kpis(t) {
  const set = (name, value, sub) => {
    $(`[data-kpi="${name}"]`).textContent = value;
    $(`[data-kpi-sub="${name}"]`).textContent = sub;
  };
  const judged = t.sla.met + t.sla.breached;
  set('created', String(t.created), 'tickets opened');
  set('resolved', String(t.resolved), 'tickets resolved');
  set('firstResponse', formatDuration(t.firstResponseTime.medianSeconds), `median · p90 ${formatDuration(t.firstResponseTime.p90Seconds)}`);
  set('resolution', formatDuration(t.resolutionTime.medianSeconds), `median · p90 ${formatDuration(t.resolutionTime.p90Seconds)}`);
  set('sla', t.sla.breachRate === null ? '—' : `${Math.round((1 - t.sla.breachRate) * 100)}%`, `${t.sla.met} of ${judged} on time`);
  set('csat', t.csat.average === null ? '—' : `${t.csat.average.toFixed(1)} / 5`, `${t.csat.responses} rating${t.csat.responses === 1 ? '' : 's'}`);
}

function charts(t) {
  const labels = t.series.map((p) => periodLabel(p.periodStart, t.groupBy));
  lineChart($('[data-chart="volume"]'), {
    title: 'Tickets created and resolved per period',
    labels,
    series: [
      { name: 'Created', values: t.series.map((p) => p.created), cls: 'series-1', area: true },
      { name: 'Resolved', values: t.series.map((p) => p.resolved), cls: 'series-2' },
    ],
  });
  barChart($('[data-chart="backlog"]'), {
    title: 'Open tickets at the end of each period',
    labels,
    values: t.series.map((p) => p.backlog),
    cls: 'series-3',
  });
  hBarChart($('[data-chart="times"]'), {
    title: 'First response and resolution times (median and 90th percentile)',
    rows: [
      { label: 'First response', values: [t.firstResponseTime.medianSeconds, t.firstResponseTime.p90Seconds] },
      { label: 'Resolution', values: [t.resolutionTime.medianSeconds, t.resolutionTime.p90Seconds] },
    ],
    series: [{ name: 'Median', cls: 'series-1' }, { name: '90th percentile', cls: 'series-3' }],
    format: formatDuration,
  });
  const ratings = ['1', '2', '3', '4', '5'];
  if (t.csat.responses) {
    barChart($('[data-chart="csat"]'), {
      title: `Satisfaction ratings (${t.csat.responses} responses)`,
      labels: ratings.map((r) => `${r} ★`),
      values: ratings.map((r) => t.csat.distribution[r] || 0),
      cls: 'series-2',
    });
  } else {
    emptyChart($('[data-chart="csat"]'), 'No ratings in this period yet.');
  }
  const statusRows = Object.keys(STAFF_STATUS_LABELS).map((s) => ({ label: STAFF_STATUS_LABELS[s], values: [t.byStatus[s] || 0] }));
  hBarChart($('[data-chart="status"]'), { title: 'Tickets created in the range, by current status', rows: statusRows, series: [{ name: 'Tickets', cls: 'series-1' }] });
  const categoryRows = Object.entries(t.byCategory)
    .sort((a, b) => b[1] - a[1])
    .map(([c, n]) => ({ label: CATEGORY_LABELS[c] || c, values: [n] }));
  if (categoryRows.length) {
    hBarChart($('[data-chart="category"]'), { title: 'Tickets created in the range, by category', rows: categoryRows, series: [{ name: 'Tickets', cls: 'series-2' }] });
  } else {
    emptyChart($('[data-chart="category"]'), 'No tickets in this period.');
  }
}

function agentTable(agents) {
  const body = $('[data-agent-rows]');
  if (!agents.length) {
    fill(body, el('tr', {}, el('td', { colspan: 8, class: 'muted' }, 'No agents yet.')));
    return;
  }
  fill(body, agents.map((a) => {
    const load = Math.round(a.utilization * 100);
    const bar = el('span', { class: `load-bar${a.utilization > 1 ? ' is-over' : a.utilization >= 0.8 ? ' is-high' : ''}`, role: 'img', 'aria-label': `${load}% of capacity` }, el('span'));
    bar.firstChild.style.width = `${Math.min(100, load)}%`;
    return el(
      'tr',
      {},
      el('td', { class: 'nowrap' }, a.fullName),
      el('td', { class: 'num' }, String(a.assigned)),
      el('td', { class: 'num' }, String(a.resolved)),
      el('td', { class: 'num' }, `${a.openNow} / ${a.capacity}`),
      el('td', { class: 'num' }, formatDuration(a.medianFirstResponseSeconds)),
      el('td', { class: 'num' }, formatDuration(a.medianResolutionSeconds)),
      el('td', { class: 'num' }, a.csatAverage === null ? '—' : `${a.csatAverage.toFixed(1)} (${a.csatResponses})`),
      el('td', { class: 'nowrap' }, bar, ` ${load}%`),
    );
  }));
}
