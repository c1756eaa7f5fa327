// kb-editor.js — the knowledge-base editor: list, create and edit articles (Markdown), publish,
// unpublish, archive. The preview is the server's sanitised `contentHtml` of the saved version.

import { api } from './api.js';
import { $, $$, el, fill, clearErrors, showErrors, toast, wireTabs, CATEGORY_LABELS } from './ui.js';

export async function start() {
  const form = $('[data-article-form]');
  const list = $('[data-kb-list]');
  const filterInput = $('[data-kb-filter]');
  let articles = [];
  let current = null;
  let savedContent = '';

  wireTabs($('.tabs', form), (tab) => {
    if (tab === 'preview') showPreview();
  });

  function showPreview() {
    const preview = $('[data-preview]');
    const note = $('[data-preview-note]');
    if (!current) {
      preview.replaceChildren();
      note.textContent = 'Save the article to see it as readers will.';
      return;
    }
    // contentHtml is rendered from Markdown and sanitised by the server: safe to insert.
    preview.innerHTML = current.contentHtml;
    note.textContent = form.elements.content.value === savedContent
      ? 'This is how readers see the saved version.'
      : 'You have unsaved changes; the preview shows the last saved version. Save to update it.';
  }

  function statusBadge(status) {
    return el('span', { class: `badge badge-article-${status}` }, status.charAt(0) + status.slice(1).toLowerCase());
  }

  function renderList() {
    const needle = filterInput.value.trim().toLowerCase();
    const shown = articles.filter((a) => !needle || a.title.toLowerCase().includes(needle));
    list.setAttribute('aria-busy', 'false');
    fill(list, shown.length ? shown.map((a) => el(
      'li',
      {},
      el(
        'button',
        { type: 'button', 'aria-current': String(!!current && current.id === a.id), onclick: () => open(a.id) },
        el('span', { class: 'kb-item-title' }, a.title),
        el('span', {}, statusBadge(a.status), ' ', el('span', { class: 'muted small' }, CATEGORY_LABELS[a.category] || a.category)),
      ),
    )) : el('li', { class: 'muted small card-pad' }, 'No articles.'));
  }

  async function loadList() {
    const page = await api('/knowledge-base/articles', { query: { size: 100 } });
    articles = page.content;
    renderList();
  }

  function edit(article) {
    current = article;
    clearErrors(form);
    form.elements.title.value = article ? article.title : '';
    form.elements.slug.value = article ? article.slug : '';
    form.elements.summary.value = article ? article.summary : '';
    form.elements.category.value = article ? article.category : 'OTHER';
    form.elements.tags.value = article ? article.tags.join(', ') : '';
    form.elements.content.value = article ? article.content : '';
    savedContent = form.elements.content.value;
    $('[data-editor-title]').textContent = article ? 'Edit article' : 'New article';
    fill($('[data-article-status]'), article ? statusBadge(article.status) : '');
    $('[data-publish]').hidden = !article || article.status === 'PUBLISHED';
    $('[data-unpublish]').hidden = !article || article.status !== 'PUBLISHED';
    $('[data-archive]').hidden = !article || article.status === 'ARCHIVED';
    const view = $('[data-view-link]');
    view.hidden = !article || article.status !== 'PUBLISHED';
    if (article) view.href = `/support/kb/${encodeURIComponent(article.slug)}`;
    const url = new URL(location.href);
    if (article) url.searchParams.set('article', article.slug);
    else url.searchParams.delete('article');
    history.replaceState(null, '', url);
    renderList();
    if (!$('[data-panel="preview"]').hidden) showPreview();
  }

  async function open(key) {
    try {
      edit(await api(`/knowledge-base/articles/${encodeURIComponent(key)}`));
    } catch (error) {
      toast(`Cannot open the article: ${error.message}`, 'error');
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = {
      title: form.elements.title.value,
      summary: form.elements.summary.value,
      category: form.elements.category.value,
      tags: form.elements.tags.value.split(',').map((t) => t.trim()).filter(Boolean),
      content: form.elements.content.value,
    };
    const slug = form.elements.slug.value.trim();
    if (slug) body.slug = slug;
    try {
      const saved = current
        ? await api(`/knowledge-base/articles/${current.id}`, { method: 'PUT', body })
        : await api('/knowledge-base/articles', { method: 'POST', body });
      toast('Article saved', 'success', 2500);
      await loadList();
      edit(saved);
    } catch (error) {
      showErrors(form, error);
    }
  });

  for (const [selector, action] of [['[data-publish]', 'publish'], ['[data-unpublish]', 'unpublish'], ['[data-archive]', 'archive']]) {
    $(selector).addEventListener('click', async () => {
      if (!current) return;
      try {
        const saved = await api(`/knowledge-base/articles/${current.id}/${action}`, { method: 'POST' });
        toast(`Article ${action === 'publish' ? 'published' : action === 'unpublish' ? 'moved back to draft' : 'archived'}`, 'success', 2500);
        await loadList();
        edit(saved);
      } catch (error) {
        showErrors(form, error);
      }
    });
  }

  $('[data-new-article]').addEventListener('click', () => {
    edit(null);
    form.elements.title.focus();
  });
  filterInput.addEventListener('input', renderList);
  for (const tab of $$('[role="tab"]', form)) tab.type = 'button';

  await loadList();
  const wanted = new URLSearchParams(location.search).get('article');
  if (wanted) await open(wanted);
  else edit(null);
}
