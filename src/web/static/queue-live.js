// queue-live.js — the live queue: filters with counts, SLA-due-first ordering, new tickets
// appearing without a reload (SUBSCRIBE /topic/support/notifications), polling while the socket
// is down, and keyboard navigation (j/k, Enter, /).

import { api } from './api.js';
import { $, $$, el, fill, debounce, isTyping, statusBadge, priorityBadge, formatRelative, toast, STAFF_STATUS_LABELS, CATEGORY_LABELS } from './ui.js';

const STATUSES = ['NEW', 'OPEN', 'IN_PROGRESS', 'PENDING_CUSTOMER', 'ESCALATED', 'RESOLVED', 'CLOSED'];
const ACTIVE = STATUSES.slice(0, 5);
const PAGE = 50;

export async function start(app) {
  const form = $('[data-queue-filters]');
  const body = $('[data-queue-body]');
  const filter = { status: 'ACTIVE' };
  const known = new Set();
  let firstLoad = true;
  let selected = 0;
  let rows = [];

  const assignee = $('[data-assignee-filter]');
  await app.loadAgents();
  if (app.me.agent) assignee.append(el('option', { value: app.me.agent.id }, 'Me'));
  for (const agent of app.agents) {
    if (!app.me.agent || agent.id !== app.me.agent.id) assignee.append(el('option', { value: agent.id }, agent.fullName));
  }

  const params = new URLSearchParams(location.search);
  for (const name of ['priority', 'category', 'assignedAgentId', 'q']) {
    if (params.get(name) && form.elements[name]) form.elements[name].value = params.get(name);
  }
  if (params.get('status') && (params.get('status') === 'ACTIVE' || STATUSES.includes(params.get('status')))) {
    filter.status = params.get('status');
  }

  function query(status, size) {
    return {
      status,
      size,
      sort: 'slaDueAt,asc',
      priority: form.elements.priority.value,
      category: form.elements.category.value,
      assignedAgentId: form.elements.assignedAgentId.value,
      q: form.elements.q.value.trim(),
    };
  }

  /** One request per status: the shown ones bring their tickets, all bring their counts. */
  async function load() {
    const shown = filter.status === 'ACTIVE' ? ACTIVE : [filter.status];
    const pages = await Promise.all(STATUSES.map((status) => api('/tickets', { query: query(status, shown.includes(status) ? PAGE : 1) })));
    const counts = {};
    STATUSES.forEach((status, i) => { counts[status] = pages[i].page.totalElements; });
    counts.ACTIVE = ACTIVE.reduce((sum, status) => sum + counts[status], 0);
    for (const [status, count] of Object.entries(counts)) {
      const node = $(`[data-count="${status}"]`);
      if (node) node.textContent = String(count);
    }
    const due = (t) => (t.slaDueAt ? Date.parse(t.slaDueAt) : Number.MAX_SAFE_INTEGER);
    rows = STATUSES.flatMap((status, i) => (shown.includes(status) ? pages[i].content : []))
      .sort((a, b) => due(a) - due(b))
      .slice(0, 100);
    render(counts);
  }

  function slaCell(ticket) {
    if (!ticket.slaDueAt || ticket.status === 'RESOLVED' || ticket.status === 'CLOSED') return el('span', { class: 'muted' }, '—');
    const left = Date.parse(ticket.slaDueAt) - Date.now();
    const cls = left < 0 ? 'sla-overdue' : left < 2 * 3600 * 1000 ? 'sla-soon' : '';
    return el('span', { class: cls, title: new Date(ticket.slaDueAt).toLocaleString() }, left < 0 ? `overdue ${formatRelative(ticket.slaDueAt).replace(/ ago$/, '')}` : formatRelative(ticket.slaDueAt));
  }

  function render(counts) {
    const fresh = [];
    fill(body, rows.map((ticket, index) => {
      const isNew = !firstLoad && !known.has(ticket.id);
      if (isNew) fresh.push(ticket);
      known.add(ticket.id);
      const agent = ticket.assignedAgentId ? app.agentById.get(ticket.assignedAgentId) : null;
      const href = `/support/dashboard/tickets/${ticket.id}`;
      return el(
        'tr',
        {
          'data-ticket-id': ticket.id,
          class: [isNew ? 'is-new' : '', index === selected ? 'is-selected' : ''].filter(Boolean).join(' '),
          onclick: (event) => { if (!event.target.closest('a')) location.assign(href); },
        },
        el('td', {}, el('span', { class: 'ticket-no' }, ticket.ticketNumber)),
        el('td', {}, el('a', { class: 'subject-link', href }, ticket.subject)),
        el('td', {}, statusBadge(ticket.status, STAFF_STATUS_LABELS)),
        el('td', {}, priorityBadge(ticket.priority)),
        el('td', { class: 'hide-sm' }, CATEGORY_LABELS[ticket.category] || ticket.category),
        el('td', { class: 'hide-sm nowrap' }, agent ? agent.fullName : el('span', { class: 'muted' }, 'Unassigned')),
        el('td', { class: 'nowrap' }, slaCell(ticket)),
      );
    }));
    $('[data-queue-empty]').hidden = rows.length > 0;
    body.closest('table').hidden = rows.length === 0;
    const label = filter.status === 'ACTIVE' ? 'active' : (STAFF_STATUS_LABELS[filter.status] || filter.status).toLowerCase();
    $('[data-queue-summary]').textContent = `${counts[filter.status]} ${label} ticket${counts[filter.status] === 1 ? '' : 's'} · oldest SLA first · ${app.socket && app.socket.isConnected() ? 'updating live' : 'refreshing every 20 s'}`;
    if (fresh.length === 1) toast(`New ticket ${fresh[0].ticketNumber}: ${fresh[0].subject}`);
    else if (fresh.length > 1) toast(`${fresh.length} new tickets`);
    firstLoad = false;
  }

  function setStatus(status) {
    filter.status = status;
    for (const chip of $$('[data-status]')) chip.setAttribute('aria-pressed', String(chip.dataset.status === status));
    selected = 0;
    sync();
  }

  const reload = debounce(() => load().catch((error) => toast(`Queue not updated: ${error.message}`, 'error')), 250);

  function sync() {
    const url = new URL(location.href);
    url.search = '';
    if (filter.status !== 'ACTIVE') url.searchParams.set('status', filter.status);
    for (const name of ['priority', 'category', 'assignedAgentId', 'q']) {
      const value = form.elements[name].value.trim();
      if (value) url.searchParams.set(name, value);
    }
    history.replaceState(null, '', url);
    reload();
  }

  $('[data-status-filter]').addEventListener('click', (event) => {
    const chip = event.target.closest('[data-status]');
    if (chip) setStatus(chip.dataset.status);
  });
  form.addEventListener('change', sync);
  form.elements.q.addEventListener('input', debounce(sync, 300));
  form.addEventListener('submit', (event) => event.preventDefault());
  for (const chip of $$('[data-status]')) chip.setAttribute('aria-pressed', String(chip.dataset.status === filter.status));

  if (app.socket) {
    app.socket.subscribe('/topic/support/notifications', () => reload());
    // After a reconnect, events sent meanwhile are gone: reload once.
    let wasConnected = false;
    app.socket.onStateChange((state) => {
      if (state === 'connected' && wasConnected) reload();
      if (state === 'connected') wasConnected = true;
    });
  }
  setInterval(() => {
    if (!app.socket || !app.socket.isConnected()) reload();
  }, 20000);

  document.addEventListener('keydown', (event) => {
    if (isTyping(event)) return;
    const trs = $$('tr[data-ticket-id]', body);
    if (event.key === '/') {
      event.preventDefault();
      form.elements.q.focus();
    } else if ((event.key === 'j' || event.key === 'k') && trs.length) {
      selected = Math.max(0, Math.min(trs.length - 1, selected + (event.key === 'j' ? 1 : -1)));
      trs.forEach((tr, i) => tr.classList.toggle('is-selected', i === selected));
      trs[selected].scrollIntoView({ block: 'nearest' });
    } else if (event.key === 'Enter' && trs[selected]) {
      location.assign(`/support/dashboard/tickets/${trs[selected].dataset.ticketId}`);
    }
  });

  await load();
  body.setAttribute('aria-busy', 'false');
}
