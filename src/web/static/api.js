// api.js — the REST client: the signed-in session, bearer auth, and one transparent token refresh
// when a request comes back 401. Tokens live in sessionStorage (per tab, gone when the tab
// closes); no cookies are used, so there is nothing for a cross-site request to ride on.
// docs/ui.md explains the trade-off.

export const API_BASE = '/api/customer-support';
const SESSION_KEY = 'alphintra.support.session';
const listeners = new Set();

/** A failed API call: HTTP status plus the problem+json document, if any. */
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `Request failed (${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem || null;
    /** Validation errors: [{field, message}]. */
    this.fieldErrors = (problem && Array.isArray(problem.errors)) ? problem.errors : [];
  }
}

export function currentSession() {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function storeSession(value) {
  if (value) sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
  else sessionStorage.removeItem(SESSION_KEY);
  for (const listener of listeners) listener(value);
}

/** Keeps the tokens and user of an AuthResponse. */
export function saveAuth(auth) {
  storeSession({ accessToken: auth.accessToken, refreshToken: auth.refreshToken, user: auth.user });
}

export function onSessionChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function isStaff(session = currentSession()) {
  return !!session && !!session.user && session.user.role !== 'CUSTOMER';
}

let refreshing = null;

/** Exchanges the refresh token for a new pair (once, however many callers ask at the same time). */
export function refreshTokens() {
  if (!refreshing) {
    refreshing = (async () => {
      const session = currentSession();
      if (!session || !session.refreshToken) throw new ApiError(401, { detail: 'Not signed in.' });
      const response = await fetch(`${API_BASE}/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ refreshToken: session.refreshToken }),
      });
      const body = await readBody(response);
      if (!response.ok) {
        // Only a definite "no" signs the user out; a network hiccup or 5xx keeps the session.
        if (response.status === 401) storeSession(null);
        throw new ApiError(response.status, body);
      }
      saveAuth(body);
      return body.accessToken;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

function tokenExpiresSoon(token, marginSeconds = 30) {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return typeof payload.exp === 'number' && payload.exp * 1000 < Date.now() + marginSeconds * 1000;
  } catch {
    return false;
  }
}

/** A usable access token (refreshed first if it is about to expire), or null when signed out. */
export async function accessToken({ forceRefresh = false } = {}) {
  const session = currentSession();
  if (!session) return null;
  if (forceRefresh || tokenExpiresSoon(session.accessToken)) {
    try {
      return await refreshTokens();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return null;
      throw error;
    }
  }
  return session.accessToken;
}

async function readBody(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text };
  }
}

function buildUrl(path, query) {
  const url = new URL(API_BASE + path, location.origin);
  if (query) {
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, value);
    }
  }
  return url.pathname + url.search;
}

/**
 * Calls the API. `body` is sent as JSON. Resolves with the parsed body (null for 204);
 * rejects with ApiError. A 401 triggers one refresh and one retry.
 */
export async function api(path, { method = 'GET', body, query, auth = true, signal } = {}) {
  const url = buildUrl(path, query);
  const send = async () => {
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const session = auth ? currentSession() : null;
    if (session) headers.authorization = `Bearer ${session.accessToken}`;
    return fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  };
  let response = await send();
  if (response.status === 401 && auth && currentSession()) {
    try {
      await refreshTokens();
      response = await send();
    } catch {
      // fall through with the 401
    }
  }
  const data = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export async function signIn(email, password) {
  const auth = await api('/auth/login', { method: 'POST', body: { email, password }, auth: false });
  saveAuth(auth);
  return auth;
}

export async function signUp(fullName, email, password) {
  const auth = await api('/auth/register', { method: 'POST', body: { fullName, email, password }, auth: false });
  saveAuth(auth);
  return auth;
}

/** Revokes the refresh token on the server (best effort) and forgets the session. */
export async function signOut() {
  const session = currentSession();
  storeSession(null);
  if (session && session.refreshToken) {
    try {
      await api('/auth/logout', { method: 'POST', body: { refreshToken: session.refreshToken }, auth: false });
    } catch {
      // The tokens are gone from this tab either way.
    }
  }
}

/** A conversation after `after` (oldest first), paging until it is complete. */
export async function communicationsAfter(ticketId, after) {
  const all = [];
  let cursor = after;
  for (;;) {
    const page = await api(`/tickets/${encodeURIComponent(ticketId)}/communications`, { query: { after: cursor, limit: 500 } });
    all.push(...page);
    if (page.length < 500) return all;
    cursor = page[page.length - 1].seq;
  }
}
