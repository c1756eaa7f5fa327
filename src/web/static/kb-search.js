// kb-search.js — knowledge-base search as you type. Only the newest request's answer is shown;
// snippets come from the API already escaped with matches in <mark>, the rest is text.

import { api } from './api.js';
import { el, fill, debounce, CATEGORY_LABELS } from './ui.js';

async function searchHits(q, size, signal) {
  const page = await api('/knowledge-base/search', { query: { q, size }, signal, auth: false });
  return page.content;
}

/**
 * Articles for a free-text subject. Search requires every word to match, which a whole sentence
 * rarely does; so when it finds nothing, try the two longest words together, then each alone.
 */
export async function suggestArticles(text, { size = 5, signal } = {}) {
  const hits = await searchHits(text, size, signal);
  if (hits.length) return hits;
  const words = [...new Set(text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length >= 4))]
    .sort((a, b) => b.length - a.length)
    .slice(0, 3);
  if (words.length >= 2) {
    const pair = await searchHits(words.slice(0, 2).join(' '), size, signal);
    if (pair.length) return pair;
  }
  const found = new Map();
  for (const word of words) {
    for (const hit of await searchHits(word, size, signal)) if (!found.has(hit.id)) found.set(hit.id, hit);
    if (found.size >= size) break;
  }
  return [...found.values()].slice(0, size);
}

/** Calls `onResults(hits, query)` (null hits: query too short) while `input` is edited. */
export function liveSearch(input, onResults, { delay = 180, size = 8, minLength = 2, suggest = false } = {}) {
  let controller = null;
  let lastQuery = null;
  const run = async () => {
    const query = input.value.trim();
    if (query === lastQuery) return;
    lastQuery = query;
    if (controller) controller.abort();
    if (query.length < minLength) {
      onResults(null, query);
      return;
    }
    controller = new AbortController();
    try {
      const { signal } = controller;
      const hits = suggest ? await suggestArticles(query, { size, signal }) : await searchHits(query, size, signal);
      if (!signal.aborted) onResults(hits, query);
    } catch (error) {
      if (error.name !== 'AbortError') onResults([], query);
    }
  };
  input.addEventListener('input', debounce(run, delay));
  return run;
}

/** One search hit as a list item linking to the article. */
export function hitItem(hit) {
  const snippet = el('span', { class: 'article-snippet' });
  // The API escapes the snippet and adds only <mark>; it is the one server-made HTML we insert.
  snippet.innerHTML = hit.snippet || '';
  if (!hit.snippet) snippet.textContent = hit.summary || '';
  return el(
    'li',
    {},
    el(
      'a',
      { class: 'article-link', href: `/support/kb/${encodeURIComponent(hit.slug)}` },
      el('span', { class: 'article-title' }, hit.title),
      snippet,
      el('span', { class: 'badge badge-neutral' }, CATEGORY_LABELS[hit.category] || hit.category),
    ),
  );
}

export function renderHits(list, hits) {
  fill(list, el('ul', { class: 'article-list' }, hits.map(hitItem)));
}
