// conversation.js — renders a ticket's conversation (messages, internal notes, system events)
// for the customer or for staff. Every piece of content is inserted as text.

import { el, formatTime } from './ui.js';

/**
 * A conversation list bound to an `<ol>`. `viewer` is 'customer' or 'staff'; `me` the signed-in
 * user's id; `names` maps user ids to display names (staff view).
 */
export class Conversation {
  constructor(list, { viewer, me, names = new Map() }) {
    this.list = list;
    this.viewer = viewer;
    this.me = me;
    this.names = names;
    this.seen = new Set();
  }

  /** Replaces everything with `communications` (oldest first). */
  reset(communications) {
    this.list.replaceChildren();
    this.seen.clear();
    for (const communication of communications) this.add(communication, { animate: false });
    this.list.setAttribute('aria-busy', 'false');
    this.scrollToEnd(true);
  }

  /** Appends one communication unless it is already shown. */
  add(communication, { animate = true } = {}) {
    if (this.seen.has(communication.id)) return null;
    // Defence in depth: a customer's page never renders an internal note, whatever arrives.
    if (this.viewer === 'customer' && communication.type === 'INTERNAL_NOTE') return null;
    this.seen.add(communication.id);
    const nearEnd = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 120;
    const item = this.render(communication);
    if (animate) item.classList.add('msg-new');
    // Keep seq order even if something arrives late.
    const after = Array.from(this.list.children).find((node) => Number(node.dataset.seq) > communication.seq);
    this.list.insertBefore(item, after || null);
    if (nearEnd || communication.senderId === this.me) this.scrollToEnd();
    return item;
  }

  scrollToEnd(instant = false) {
    this.list.scrollTo({ top: this.list.scrollHeight, behavior: instant ? 'auto' : 'smooth' });
  }

  senderName(communication) {
    if (communication.senderId && communication.senderId === this.me) return 'You';
    if (communication.senderId && this.names.has(communication.senderId)) return this.names.get(communication.senderId);
    switch (communication.senderType) {
      case 'CUSTOMER': return 'Customer';
      case 'AGENT': return this.viewer === 'customer' ? 'Alphintra Support' : 'Agent';
      case 'BOT': return 'Assistant';
      default: return 'System';
    }
  }

  render(communication) {
    const base = { 'data-seq': communication.seq, 'data-id': communication.id, 'data-type': communication.type };
    const time = el('time', { datetime: communication.createdAt }, formatTime(communication.createdAt));
    if (communication.type === 'STATUS_CHANGE' || communication.type === 'ASSIGNMENT' || communication.senderType === 'SYSTEM') {
      return el('li', { ...base, class: 'msg-event' }, communication.content, ' · ', time);
    }
    const note = communication.type === 'INTERNAL_NOTE';
    const mine = !note && communication.senderId && communication.senderId === this.me;
    const classes = ['msg', note ? 'msg-note' : '', mine ? 'msg-mine' : '', `msg-from-${communication.senderType.toLowerCase()}`];
    const attachments = (communication.attachments || [])
      .map((a) => (a && (a.name || a.filename || a.url)) || null)
      .filter(Boolean);
    return el(
      'li',
      { ...base, class: classes.filter(Boolean).join(' ') },
      el('div', { class: 'msg-body', 'data-content': '' }, communication.content),
      attachments.length ? el('div', { class: 'msg-meta' }, `📎 ${attachments.join(', ')}`) : null,
      el(
        'div',
        { class: 'msg-meta' },
        note ? el('span', { class: 'badge badge-note' }, 'Internal note') : null,
        note ? ' ' : null,
        this.senderName(communication),
        ' · ',
        time,
      ),
    );
  }
}

/** Shows "X is typing…" for a few seconds after each typing event of someone else. */
export function typingIndicator(box, me) {
  const text = box.querySelector('[data-typing-text]');
  let timer = null;
  const hide = () => {
    box.hidden = true;
    clearTimeout(timer);
  };
  return {
    event(payload) {
      if (!payload || payload.userId === me) return;
      if (!payload.typing) {
        hide();
        return;
      }
      text.textContent = `${payload.displayName || 'Someone'} is typing…`;
      box.hidden = false;
      clearTimeout(timer);
      timer = setTimeout(hide, 6000);
    },
    hide,
  };
}

/** Sends typing events while the user types: at most every 2 s, and "stopped" after 4 s idle. */
export function typingSender(send) {
  let lastSent = 0;
  let idle = null;
  let active = false;
  return {
    input() {
      const now = Date.now();
      if (now - lastSent > 2000) {
        lastSent = now;
        active = true;
        send(true);
      }
      clearTimeout(idle);
      idle = setTimeout(() => this.stop(), 4000);
    },
    stop() {
      clearTimeout(idle);
      if (active) {
        active = false;
        lastSent = 0;
        send(false);
      }
    },
  };
}
