// portal.js — boots the customer portal: the account box on every page, then the current page's
// behaviour (help-center search, article votes, sign-in, ticket list, new ticket, ticket chat).

import { api, ApiError, currentSession, onSessionChange, signOut } from './api.js';
import { $, $$, el, fill, renderAccount, toast, statusBadge, priorityBadge, formatRelative, clearErrors, showErrors, wireTabs, CATEGORY_LABELS } from './ui.js';
import { liveSearch, renderHits, hitItem } from './kb-search.js';
import { wireSignIn, wireSignUp } from './auth-forms.js';

/** The one app object of the portal. */
const app = {
  get session() { return currentSession(); },
};

function signInUrl() {
  return `/support/signin?next=${encodeURIComponent(location.pathname + location.search)}`;
}

/** Pages that need an account send visitors to sign in first. */
function requireSession() {
  if (app.session) return true;
  location.replace(signInUrl());
  return false;
}

function safeNext() {
  const next = new URLSearchParams(location.search).get('next') || '';
  // Only paths inside the portal: never an absolute or protocol-relative URL.
  return /^\/support(\/|$|\?)/.test(next) && !next.startsWith('//') ? next : '/support/tickets';
}

function renderHeader() {
  renderAccount($('[data-account]'), app.session, {
    signInHref: signInUrl(),
    onSignOut: async () => {
      await signOut();
      location.assign('/support');
    },
  });
}

const pages = {
  home() {
    const input = $('[data-kb-search]');
    const results = $('[data-kb-results]');
    const title = $('[data-kb-results-title]');
    const list = $('[data-kb-results-list]');
    const empty = $('[data-kb-results-empty]');
    liveSearch(input, (hits, query) => {
      if (hits === null) {
        results.hidden = true;
        return;
      }
      results.hidden = false;
      title.textContent = hits.length ? `Results for “${query}”` : `No articles match “${query}”`;
      empty.hidden = hits.length > 0;
      renderHits(list, hits);
      const url = new URL(location.href);
      url.searchParams.set('q', query);
      history.replaceState(null, '', url);
    });
  },

  article() {
    const slug = document.body.dataset.articleSlug;
    const status = $('[data-vote-status]');
    for (const button of $$('[data-vote]')) {
      button.addEventListener('click', async () => {
        if (!app.session) {
          fill(status, 'Please ', el('a', { href: signInUrl() }, 'sign in'), ' to vote.');
          return;
        }
        const helpful = button.dataset.vote === 'true';
        try {
          const totals = await api(`/knowledge-base/articles/${encodeURIComponent(slug)}/vote`, { method: 'POST', body: { helpful } });
          for (const other of $$('[data-vote]')) other.setAttribute('aria-pressed', String(other === button));
          status.textContent = `Thanks for your feedback! ${totals.helpfulCount} of ${totals.helpfulCount + totals.notHelpfulCount} readers found this helpful.`;
        } catch (error) {
          status.textContent = error.message;
        }
      });
    }
  },

  signin() {
    if (app.session) {
      location.replace(safeNext());
      return;
    }
    const select = wireTabs($('.tabs'));
    if (location.hash === '#signup') select($('#tab-signup'));
    const done = () => location.assign(safeNext());
    wireSignIn($('[data-signin-form]'), done);
    wireSignUp($('[data-signup-form]'), done);
  },

  async tickets() {
    if (!requireSession()) return;
    const list = $('[data-ticket-list]');
    try {
      const page = await api('/tickets', { query: { sort: 'updatedAt,desc', size: 50 } });
      list.setAttribute('aria-busy', 'false');
      $('[data-ticket-empty]').hidden = page.content.length > 0;
      fill(list, page.content.map((ticket) => el(
        'li',
        { 'data-ticket-row': ticket.id },
        el(
          'a',
          { class: 'ticket-row', href: `/support/tickets/${ticket.id}` },
          el(
            'span',
            {},
            el('span', { class: 'ticket-row-subject' }, ticket.subject),
            el('br'),
            el('span', { class: 'ticket-row-meta' }, `${ticket.ticketNumber} · ${CATEGORY_LABELS[ticket.category] || ticket.category} · updated ${formatRelative(ticket.updatedAt)}`),
          ),
          el('span', { class: 'ticket-row-side' }, statusBadge(ticket.status), priorityBadge(ticket.priority)),
        ),
      )));
    } catch (error) {
      fill(list, el('li', { class: 'empty-state' }, `Your tickets could not be loaded: ${error.message}`));
    }
  },

  'new-ticket'() {
    if (!requireSession()) return;
    const form = $('[data-new-ticket-form]');
    const box = $('[data-suggestions]');
    const list = $('[data-suggestions-list]');
    liveSearch(form.elements.subject, (hits) => {
      box.hidden = !hits || hits.length === 0;
      if (hits) fill(list, hits.slice(0, 4).map(hitItem));
    }, { minLength: 3, size: 4, suggest: true, delay: 250 });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      const button = $('button[type="submit"]', form);
      button.disabled = true;
      try {
        // The API validates (subject 3–200 characters, description required); its messages
        // appear next to the fields, so the rules live in one place.
        const ticket = await api('/tickets', {
          method: 'POST',
          body: {
            subject: form.elements.subject.value,
            description: form.elements.description.value,
            category: form.elements.category.value,
            priority: form.elements.priority.value,
          },
        });
        location.assign(`/support/tickets/${ticket.id}?created=1`);
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) location.replace(signInUrl());
        else showErrors(form, error);
      } finally {
        button.disabled = false;
      }
    });
  },

  async ticket() {
    if (!requireSession()) return;
    const { startTicketChat } = await import('./ticket-chat.js');
    await startTicketChat(app);
  },
};

renderHeader();
onSessionChange(renderHeader);
const page = pages[document.body.dataset.page];
if (page) {
  Promise.resolve(page()).catch((error) => {
    console.error(error);
    toast(error.message || 'Something went wrong.', 'error');
  });
}
