// ticket-chat.js — the customer's ticket page: the conversation, live chat over STOMP (typing
// indicator, connection state, catch-up after reconnects), replies, and the rating prompt once
// the ticket is resolved. Without the socket (feature flags, or while it is down) replies go over
// REST and the conversation refreshes by polling.

import { api, ApiError, accessToken, communicationsAfter } from './api.js';
import { createStompClient } from './stomp-client.js';
import { Conversation, typingIndicator, typingSender } from './conversation.js';
import { $, $$, fill, flags, statusBadge, priorityBadge, formatRelative, showConnectionState, clearErrors, fieldError, showErrors, toast, CATEGORY_LABELS } from './ui.js';

export async function startTicketChat(app) {
  const ticketId = document.body.dataset.ticketId;
  const me = app.session.user.id;
  const composer = $('[data-composer]');
  const textarea = composer.elements.message;
  const conversation = new Conversation($('[data-conversation]'), { viewer: 'customer', me });
  const typing = typingIndicator($('[data-typing]'), me);
  let ticket;

  try {
    ticket = await api(`/tickets/${ticketId}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      fill($('[data-ticket-subject]'), 'Ticket not found');
      composer.hidden = true;
      $('[data-conversation]').hidden = true;
      return;
    }
    throw error;
  }
  showTicket(ticket);
  conversation.reset(ticket.communications);
  if (new URLSearchParams(location.search).get('created')) {
    toast(`Ticket ${ticket.ticketNumber} created. We’ll reply here.`, 'success');
    history.replaceState(null, '', location.pathname);
  }

  function showTicket(next) {
    ticket = { ...ticket, ...next };
    document.title = `${ticket.ticketNumber} · ${ticket.subject} · Alphintra Support`;
    fill($('[data-ticket-subject]'), ticket.subject);
    fill($('[data-ticket-number]'), ticket.ticketNumber);
    fill($('[data-ticket-status]'), statusBadge(ticket.status), ' ', priorityBadge(ticket.priority));
    fill($('[data-ticket-meta]'), `${ticket.ticketNumber} · ${CATEGORY_LABELS[ticket.category] || ticket.category} · opened ${formatRelative(ticket.createdAt)}`);
    const closed = ticket.status === 'CLOSED';
    composer.hidden = closed;
    $('[data-closed-note]').hidden = !closed;
    const rateable = (ticket.status === 'RESOLVED' || ticket.status === 'CLOSED');
    $('[data-rating]').hidden = !rateable;
    for (const star of $$('[data-rate]')) {
      star.setAttribute('aria-pressed', String(Number(star.dataset.rate) === ticket.satisfactionRating));
    }
    if (rateable && ticket.satisfactionRating) {
      $('[data-rating-status]').textContent = `You rated this ${ticket.satisfactionRating} out of 5. Thank you!`;
    }
  }

  const onMessage = (communication) => {
    conversation.add(communication);
    if (communication.senderId !== me) typing.hide();
  };

  // Live chat, or polling when it is switched off.
  let socket = null;
  let room = null;
  if (flags.websocket && flags.realtimeChat) {
    socket = createStompClient({ getToken: accessToken, fetchAfter: communicationsAfter });
    socket.onStateChange((state) => showConnectionState(state === 'idle' ? 'connecting' : state));
    room = socket.joinTicketRoom(ticketId, {
      lastSeq: ticket.lastSeq,
      onMessage,
      onTyping: (event) => typing.event(event),
      onNotification: (event) => {
        if (event && event.ticket) showTicket(event.ticket);
        if (event && event.type === 'STATUS_CHANGED' && event.to === 'RESOLVED') {
          toast('Your ticket has been resolved. Let us know how we did!', 'success');
        }
      },
    });
    socket.connect();
  }
  let lastSeq = ticket.lastSeq;
  const poll = async () => {
    try {
      if (socket && socket.isConnected()) return;
      const fresh = await api(`/tickets/${ticketId}`);
      showTicket(fresh);
      const missed = await communicationsAfter(ticketId, room ? room.lastSeq : lastSeq);
      for (const communication of missed) {
        if (room) room.deliver(communication);
        else {
          lastSeq = Math.max(lastSeq, communication.seq);
          onMessage(communication);
        }
      }
    } catch {
      // try again on the next tick
    }
  };
  setInterval(poll, socket ? 15000 : 8000);

  const typingOut = typingSender((isTyping) => socket && socket.sendTyping(ticketId, isTyping));
  textarea.addEventListener('input', () => typingOut.input());
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  composer.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(composer);
    const message = textarea.value.trim();
    if (!message) {
      fieldError(composer, 'content', 'Write a message first.');
      return;
    }
    const send = $('[data-send]', composer);
    send.disabled = true;
    typingOut.stop();
    try {
      if (socket && socket.isConnected()) {
        try {
          // Confirmed by RECEIPT once stored; the message itself arrives over the topic.
          await socket.sendMessage('chat_message', { ticketId, message, timestamp: new Date().toISOString() });
        } catch (error) {
          if (error.outcome === 'unknown') {
            textarea.value = '';
            toast('The connection dropped while sending; your message will show once it is stored.', 'info');
            return;
          }
          await postOverRest(message); // rejected or not sent: REST gives the exact reason
        }
      } else {
        await postOverRest(message);
      }
      textarea.value = '';
    } catch (error) {
      showErrors(composer, error);
    } finally {
      send.disabled = false;
      textarea.focus();
    }
  });

  async function postOverRest(content) {
    const stored = await api(`/tickets/${ticketId}/communications`, { method: 'POST', body: { content } });
    if (room) room.deliver(stored);
    else {
      lastSeq = Math.max(lastSeq, stored.seq);
      onMessage(stored);
    }
  }

  for (const star of $$('[data-rate]')) {
    star.addEventListener('click', async () => {
      const rating = Number(star.dataset.rate);
      try {
        const rated = await api(`/tickets/${ticketId}/rating`, { method: 'POST', body: { rating } });
        showTicket(rated);
      } catch (error) {
        $('[data-rating-status]').textContent = error.message;
      }
    });
  }
}
