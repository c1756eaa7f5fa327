// workspace.js — one ticket, for an agent: the conversation with internal notes (visually
// distinct), a reply box with an internal-note toggle, status/priority/category/assignee controls,
// the customer's other tickets, suggested articles, and keyboard shortcuts. Live over STOMP.

import { api, ApiError } from './api.js';
import { suggestArticles } from './kb-search.js';
import { Conversation, typingIndicator, typingSender } from './conversation.js';
import { $, el, fill, flags, isTyping, statusBadge, priorityBadge, formatTime, formatRelative, clearErrors, fieldError, showErrors, toast, STAFF_STATUS_LABELS, CATEGORY_LABELS } from './ui.js';

export async function start(app) {
  const ticketId = document.body.dataset.ticketId;
  const me = app.me.id;
  const composer = $('[data-composer]');
  const textarea = composer.elements.message;
  const toggle = $('[data-internal-toggle]');
  const controls = $('[data-ticket-controls]');
  const assignMe = $('[data-assign-me]');
  await app.loadAgents();
  const conversation = new Conversation($('[data-conversation]'), { viewer: 'staff', me, names: app.nameByUser });
  const typing = typingIndicator($('[data-typing]'), me);
  let ticket;
  let room = null;

  try {
    ticket = await api(`/tickets/${ticketId}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      fill($('[data-ticket-subject]'), 'Ticket not found');
      composer.hidden = true;
      return;
    }
    throw error;
  }

  const assignee = controls.elements.assignedAgentId;
  for (const agent of app.agents) {
    assignee.append(el('option', { value: agent.id }, `${agent.fullName} (${agent.currentLoad}/${agent.maxConcurrentTickets})`));
  }
  if (!app.me.agent) {
    assignMe.disabled = true;
    assignMe.title = 'You have no agent profile';
  }

  function showTicket(next) {
    ticket = { ...ticket, ...next };
    document.title = `${ticket.ticketNumber} · ${ticket.subject} · Alphintra Desk`;
    fill($('[data-ticket-number]'), ticket.ticketNumber);
    fill($('[data-ticket-subject]'), ticket.subject);
    fill($('[data-ticket-status]'), statusBadge(ticket.status, STAFF_STATUS_LABELS));
    fill($('[data-ticket-priority]'), priorityBadge(ticket.priority));
    fill($('[data-ticket-meta]'), `${CATEGORY_LABELS[ticket.category] || ticket.category} · opened ${formatRelative(ticket.createdAt)}`);
    controls.elements.status.value = ticket.status;
    controls.elements.priority.value = ticket.priority;
    controls.elements.category.value = ticket.category;
    assignee.value = ticket.assignedAgentId || '';
    assignMe.hidden = !!(app.me.agent && ticket.assignedAgentId === app.me.agent.id);
    const facts = [
      ['Created', formatTime(ticket.createdAt)],
      ['Updated', formatRelative(ticket.updatedAt)],
      ['SLA due', ticket.slaDueAt ? formatRelative(ticket.slaDueAt) : '—'],
      ['First response', ticket.firstResponseAt ? formatTime(ticket.firstResponseAt) : 'not yet'],
      ['Escalation', String(ticket.escalationLevel)],
      ['CSAT', ticket.satisfactionRating ? `${ticket.satisfactionRating} / 5` : '—'],
    ];
    fill($('[data-facts]'), facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    composer.hidden = ticket.status === 'CLOSED';
    const sentiment = $('[data-sentiment]');
    if (sentiment) {
      sentiment.textContent = typeof ticket.sentiment === 'number'
        ? `Customer sentiment: ${ticket.sentiment > 0.2 ? 'positive' : ticket.sentiment < -0.2 ? 'negative' : 'neutral'} (${ticket.sentiment.toFixed(2)})`
        : 'No sentiment score for this ticket.';
    }
  }

  showTicket(ticket);
  conversation.reset(ticket.communications);

  // Controls: each change is one PUT (or assign); a refused transition puts the old value back.
  async function update(body) {
    clearErrors(controls);
    try {
      showTicket(await api(`/tickets/${ticketId}`, { method: 'PUT', body }));
      toast('Ticket updated', 'success', 2000);
    } catch (error) {
      showErrors(controls, error);
      showTicket({});
    }
  }
  controls.addEventListener('change', (event) => {
    const { name, value } = event.target;
    if (name === 'assignedAgentId') {
      if (value) assignTo(value);
      else update({ assignedAgentId: null });
    } else {
      update({ [name]: value });
    }
  });
  async function assignTo(agentId) {
    clearErrors(controls);
    try {
      showTicket(await api(`/tickets/${ticketId}/assign`, { method: 'POST', body: agentId ? { agentId } : {} }));
      toast('Assigned', 'success', 2000);
    } catch (error) {
      showErrors(controls, error);
      showTicket({});
    }
  }
  assignMe.addEventListener('click', () => assignTo(null));

  // Composer: reply or internal note. Notes never send typing events (the customer would see them).
  const typingOut = typingSender((isTyping) => app.socket && app.socket.sendTyping(ticketId, isTyping));
  function setNoteMode(on) {
    toggle.checked = on;
    composer.classList.toggle('is-note', on);
    $('[data-send]', composer).textContent = on ? 'Add internal note' : 'Send reply';
    textarea.placeholder = on ? 'Internal note — only staff can see this… (Ctrl+Enter to save)' : 'Reply to the customer… (Ctrl+Enter to send)';
    $('[data-reply-label]').textContent = on ? 'Internal note' : 'Reply to the customer';
    if (on) typingOut.stop();
  }
  toggle.addEventListener('change', () => setNoteMode(toggle.checked));
  textarea.addEventListener('input', () => {
    if (!toggle.checked) typingOut.input();
  });
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  composer.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(composer);
    const content = textarea.value.trim();
    if (!content) {
      fieldError(composer, 'content', 'Write something first.');
      return;
    }
    const send = $('[data-send]', composer);
    send.disabled = true;
    typingOut.stop();
    try {
      const stored = await api(`/tickets/${ticketId}/communications`, {
        method: 'POST',
        body: { content, type: toggle.checked ? 'INTERNAL_NOTE' : 'MESSAGE' },
      });
      if (room) room.deliver(stored);
      else conversation.add(stored);
      textarea.value = '';
    } catch (error) {
      showErrors(composer, error);
    } finally {
      send.disabled = false;
      textarea.focus();
    }
  });

  // Live updates.
  if (app.socket && flags.realtimeChat) {
    room = app.socket.joinTicketRoom(ticketId, {
      lastSeq: ticket.lastSeq,
      onMessage: (communication) => {
        conversation.add(communication);
        if (communication.senderId !== me) typing.hide();
      },
      onTyping: (event) => typing.event(event),
      onNotification: (event) => event && event.ticket && showTicket(event.ticket),
    });
  }
  setInterval(async () => {
    if (room && app.socket.isConnected()) return;
    try {
      const fresh = await api(`/tickets/${ticketId}`);
      showTicket(fresh);
      for (const communication of fresh.communications) conversation.add(communication);
    } catch {
      // next time
    }
  }, 15000);

  // Customer context and suggestions.
  loadCustomerTickets();
  if (flags.aiAssistant) loadSuggestions();

  async function loadCustomerTickets() {
    const list = $('[data-customer-tickets]');
    try {
      const page = await api('/tickets', { query: { customerId: ticket.customerId, size: 8, sort: 'createdAt,desc' } });
      const others = page.content.filter((t) => t.id !== ticketId);
      fill(list, others.length ? others.map((t) => el(
        'li',
        {},
        el('a', { href: `/support/dashboard/tickets/${t.id}` }, el('span', { class: 'mini-title' }, `${t.ticketNumber} · ${t.subject}`), statusBadge(t.status, STAFF_STATUS_LABELS)),
      )) : el('li', { class: 'muted small' }, 'No other tickets from this customer.'));
    } catch {
      fill(list, el('li', { class: 'muted small' }, 'Could not load the customer’s tickets.'));
    }
  }

  async function loadSuggestions() {
    const list = $('[data-kb-suggestions]');
    if (!list) return;
    try {
      const hits = await suggestArticles(ticket.subject, { size: 5 });
      fill(list, hits.length ? hits.map((hit) => el(
        'li',
        {},
        el('a', { href: `/support/kb/${encodeURIComponent(hit.slug)}`, target: '_blank', rel: 'noopener' }, el('span', { class: 'mini-title' }, hit.title)),
        el('button', {
          class: 'btn btn-ghost btn-sm',
          type: 'button',
          onclick: () => {
            const link = `${location.origin}/support/kb/${hit.slug}`;
            textarea.value = `${textarea.value}${textarea.value ? '\n\n' : ''}This article may help: ${hit.title} — ${link}`;
            setNoteMode(false);
            textarea.focus();
          },
        }, 'Insert link'),
      )) : el('li', { class: 'muted small' }, 'No matching articles.'));
    } catch {
      fill(list, el('li', { class: 'muted small' }, 'Suggestions are unavailable.'));
    }
  }

  // Keyboard shortcuts.
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && document.activeElement === textarea && !textarea.value) {
      textarea.blur();
      return;
    }
    if (isTyping(event)) return;
    if (event.key === 'r') {
      event.preventDefault();
      setNoteMode(false);
      textarea.focus();
    } else if (event.key === 'n') {
      event.preventDefault();
      setNoteMode(true);
      textarea.focus();
    } else if (event.key === 'a' && !assignMe.disabled) {
      event.preventDefault();
      assignTo(null);
    } else if (event.key === 's') {
      event.preventDefault();
      controls.elements.status.focus();
    } else if (event.key === 'Escape' || event.key === 'u') {
      location.assign('/support/dashboard');
    }
  });
}
