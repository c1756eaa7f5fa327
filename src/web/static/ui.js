// ui.js — small DOM helpers shared by every page: element building (text only, never HTML),
// labels, badges, dates and durations, toasts, form errors, the account box and feature flags.

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/**
 * Creates an element. Attributes go through setAttribute (or are properties for `on*`
 * listeners given as functions); children may be nodes or strings, which become text nodes.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export const flags = {
  get websocket() { return document.body.dataset.flagWebsocket === 'true'; },
  get realtimeChat() { return document.body.dataset.flagRealtimeChat === 'true'; },
  get analytics() { return document.body.dataset.flagAnalytics === 'true'; },
  get aiAssistant() { return document.body.dataset.flagAiAssistant === 'true'; },
};

export const STATUS_LABELS = {
  NEW: 'New',
  OPEN: 'Open',
  IN_PROGRESS: 'In progress',
  PENDING_CUSTOMER: 'Waiting on you',
  ESCALATED: 'Escalated',
  RESOLVED: 'Resolved',
  CLOSED: 'Closed',
};
export const STAFF_STATUS_LABELS = { ...STATUS_LABELS, PENDING_CUSTOMER: 'Waiting on customer' };
export const PRIORITY_LABELS = { LOW: 'Low', MEDIUM: 'Medium', HIGH: 'High', URGENT: 'Urgent' };
export const CATEGORY_LABELS = {
  ACCOUNT: 'Account',
  TRADING: 'Trading',
  DEPOSIT_WITHDRAWAL: 'Deposits & withdrawals',
  KYC: 'Identity verification',
  STRATEGY: 'Strategies',
  API: 'API',
  BILLING: 'Billing',
  TECHNICAL: 'Technical',
  OTHER: 'Other',
};

export function statusBadge(status, labels = STATUS_LABELS) {
  return el('span', { class: `badge badge-status-${status}`, 'data-status': status }, labels[status] || status);
}

export function priorityBadge(priority) {
  return el('span', { class: `badge badge-priority-${priority}` }, PRIORITY_LABELS[priority] || priority);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
const thisYear = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export function formatDateTime(value) {
  return value ? dateTime.format(new Date(value)) : '—';
}

export function formatTime(value) {
  const date = new Date(value);
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return timeOnly.format(date);
  return date.getFullYear() === today.getFullYear() ? thisYear.format(date) : dateTime.format(date);
}

/** "in 3 hours", "5 minutes ago". */
export function formatRelative(value) {
  if (!value) return '—';
  const seconds = (new Date(value).getTime() - Date.now()) / 1000;
  const abs = Math.abs(seconds);
  const units = [['day', 86400], ['hour', 3600], ['minute', 60]];
  for (const [unit, size] of units) {
    if (abs >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(Math.round(seconds), 'second');
}

/** 5400 → "1h 30m". */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function toast(message, kind = 'info', ms = 4500) {
  const host = document.getElementById('toasts');
  if (!host) return;
  const node = el('div', { class: `toast toast-${kind}` }, message);
  host.append(node);
  setTimeout(() => node.remove(), ms);
}

/** Clears the error texts and invalid marks of a form. */
export function clearErrors(form) {
  for (const node of $$('[data-error-for]', form)) {
    node.textContent = '';
    node.hidden = true;
  }
  for (const node of $$('[aria-invalid]', form)) node.removeAttribute('aria-invalid');
  const formError = $('[data-form-error]', form);
  if (formError) {
    formError.textContent = '';
    formError.hidden = true;
  }
}

/**
 * Shows an API error on a form: each `errors[{field, message}]` next to its field (the element
 * with `data-error-for="field"`), anything else in the form's `[data-form-error]` box.
 */
export function showErrors(form, error) {
  clearErrors(form);
  const leftovers = [];
  const fieldErrors = (error && error.fieldErrors) || [];
  for (const { field, message } of fieldErrors) {
    const target = $(`[data-error-for="${CSS.escape(field)}"]`, form);
    if (!target) {
      leftovers.push(`${field} ${message}`);
      continue;
    }
    target.textContent = target.textContent ? `${target.textContent}; ${message}` : `${labelFor(form, field)} ${message}`;
    target.hidden = false;
    const input = form.elements.namedItem(field);
    if (input && input.setAttribute) input.setAttribute('aria-invalid', 'true');
  }
  const formError = $('[data-form-error]', form);
  const firstInvalid = $('[aria-invalid="true"]', form);
  if (!fieldErrors.length || leftovers.length) {
    const text = leftovers.length ? leftovers.join('; ') : (error && error.message) || 'Something went wrong.';
    if (formError) {
      formError.textContent = text;
      formError.hidden = false;
    } else {
      toast(text, 'error');
    }
  }
  if (firstInvalid) firstInvalid.focus();
}

function labelFor(form, field) {
  const input = form.elements.namedItem(field);
  const label = input && input.id ? $(`label[for="${CSS.escape(input.id)}"]`, form) : null;
  const text = label ? label.firstChild && label.firstChild.textContent.trim() : field;
  return text || field;
}

/** Shows one message under a field (client-side checks use the same place as the API's). */
export function fieldError(form, field, message) {
  showErrors(form, { fieldErrors: [{ field, message }] });
}

export function initials(name) {
  return (name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map((part) => part[0].toUpperCase()).join('');
}

/** Fills an account box: the user with a sign-out button, or a sign-in link. */
export function renderAccount(container, session, { onSignOut, signInHref = '/support/signin' } = {}) {
  if (!container) return;
  if (!session) {
    fill(container, el('a', { class: 'btn btn-ghost btn-sm', href: signInHref, 'data-signin-link': '' }, 'Sign in'));
    return;
  }
  const name = session.user.fullName || session.user.email;
  fill(
    container,
    el('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(name)),
    el('span', { class: 'account-name', title: session.user.email, 'data-account-name': '' }, name),
    el('button', { class: 'btn btn-ghost btn-sm', type: 'button', 'data-signout': '', onclick: onSignOut }, 'Sign out'),
  );
}

/** Reflects a live-connection state in every `.conn-pill` on the page. */
export function showConnectionState(state) {
  const labels = { connected: 'Live', connecting: 'Reconnecting…', offline: 'Offline', polling: 'Auto-refresh' };
  for (const pill of $$('.conn-pill')) {
    pill.dataset.connState = state;
    const label = $('.conn-label', pill);
    if (label) label.textContent = labels[state] || state;
    pill.title = state === 'connected' ? 'Connected: updates appear instantly' : 'Not connected: updates may be delayed';
  }
}

/** Wires a WAI-ARIA tab list: click and arrow keys switch `[data-panel]`s. */
export function wireTabs(tablist, onChange) {
  const tabs = $$('[role="tab"]', tablist);
  const select = (tab) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute('aria-selected', String(selected));
      other.tabIndex = selected ? 0 : -1;
      const panel = document.getElementById(other.getAttribute('aria-controls'));
      if (panel) panel.hidden = !selected;
    }
    if (onChange) onChange(tab.dataset.tab);
  };
  tablist.addEventListener('click', (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) select(tab);
  });
  tablist.addEventListener('keydown', (event) => {
    const index = tabs.indexOf(document.activeElement);
    if (index < 0) return;
    let next = null;
    if (event.key === 'ArrowRight') next = tabs[(index + 1) % tabs.length];
    if (event.key === 'ArrowLeft') next = tabs[(index - 1 + tabs.length) % tabs.length];
    if (next) {
      event.preventDefault();
      next.focus();
      select(next);
    }
  });
  return select;
}

/** True when a keyboard shortcut should be ignored because the user is typing. */
export function isTyping(event) {
  const target = event.target;
  return event.ctrlKey || event.metaKey || event.altKey ||
    (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)));
}
