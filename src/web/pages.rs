//! Page handlers. Public content (the help center and its articles) is rendered from the store,
//! so it reads without JavaScript; pages for signed-in users are shells that the scripts fill
//! through the REST API with the token they hold (the server never sees it on page loads).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use minijinja::{context, Value};
use serde::Serialize;
use uuid::Uuid;

use super::templates::{PageMeta, Ui};
use crate::app::AppState;
use crate::domain::kb::{self, ArticleStatus, SearchQuery};
use crate::domain::ticket::Category;
use crate::store::{Article, ArticleFilter, PageRequest, StoreError};

/// How a category is named on screen.
pub fn category_label(category: Category) -> &'static str {
    match category {
        Category::Account => "Account",
        Category::Trading => "Trading",
        Category::DepositWithdrawal => "Deposits & withdrawals",
        Category::Kyc => "Identity verification",
        Category::Strategy => "Strategies",
        Category::Api => "API",
        Category::Billing => "Billing",
        Category::Technical => "Technical",
        Category::Other => "Other",
    }
}

/// An article in a list or search result.
#[derive(Serialize)]
struct ArticleCard {
    slug: String,
    title: String,
    summary: String,
    category: &'static str,
    /// Escaped text with `<mark>`ed matches (rendered with `|safe`).
    snippet: Option<String>,
}

impl ArticleCard {
    fn new(article: Article, snippet: Option<String>) -> ArticleCard {
        ArticleCard {
            slug: article.slug,
            title: article.title,
            summary: article.summary,
            category: category_label(article.category),
            snippet,
        }
    }
}

fn published() -> ArticleFilter {
    ArticleFilter { published_only: true, ..Default::default() }
}

fn first(size: u32) -> PageRequest<()> {
    PageRequest { page: 0, size, sort: (), descending: false }
}

/// `/support`: the help center. `?q=` searches on the server too, so the form works without
/// JavaScript; with it, results update while typing.
pub async fn home(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    // Parsed leniently: a mangled query string is a search for nothing, not an error page.
    let q: String = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "q")
        .map(|(_, value)| value.trim().chars().take(200).collect())
        .unwrap_or_default();
    let mut hits = Vec::new();
    if let Some(query) = SearchQuery::parse(&q) {
        match state.store.search_articles(&query, &published(), first(10)).await {
            Ok(page) => {
                hits = page
                    .items
                    .into_iter()
                    .map(|h| ArticleCard::new(h.article, Some(kb::highlight(&h.snippet))))
                    .collect()
            }
            Err(error) => tracing::warn!(%error, "help center search failed"),
        }
    }
    let popular: Vec<ArticleCard> = match state.store.list_articles(&published(), first(8)).await {
        Ok(page) => page.items.into_iter().map(|a| ArticleCard::new(a, None)).collect(),
        Err(error) => {
            tracing::warn!(%error, "cannot list articles for the help center");
            Vec::new()
        }
    };
    let meta = PageMeta { template: "home.html", title: "Help center", page: "home" };
    ui.page(&headers, meta, context! { q, searched => !q.is_empty(), hits, popular })
}

/// `/support/kb/{slug}`: a published article, rendered (and sanitised) on the server.
pub async fn article(
    State(state): State<AppState>,
    Extension(ui): Extension<Arc<Ui>>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Response {
    let article = match state.store.article_by_slug(&slug.to_ascii_lowercase()).await {
        Ok(article) if article.status == ArticleStatus::Published => article,
        Ok(_) | Err(StoreError::NotFound) => return not_found_page(&ui, &headers),
        Err(error) => {
            tracing::error!(%error, "cannot load an article for the help center");
            return not_found_page(&ui, &headers);
        }
    };
    if let Err(error) = state.store.record_article_view(article.id).await {
        tracing::warn!(%error, "cannot count an article view");
    }
    let related: Vec<ArticleCard> = match SearchQuery::parse(&article.title) {
        Some(query) => match state.store.search_articles(&query, &published(), first(4)).await {
            Ok(page) => page
                .items
                .into_iter()
                .filter(|h| h.article.id != article.id)
                .take(3)
                .map(|h| ArticleCard::new(h.article, None))
                .collect(),
            Err(_) => Vec::new(),
        },
        None => Vec::new(),
    };
    let data = context! {
        slug => article.slug,
        title => &article.title,
        summary => article.summary,
        category => category_label(article.category),
        tags => article.tags,
        updated => article.updated_at.format("%-d %B %Y").to_string(),
        content_html => kb::render_markdown(&article.content),
        helpful => article.helpful_count,
        not_helpful => article.not_helpful_count,
        related,
    };
    let meta = PageMeta { template: "article.html", title: &article.title, page: "article" };
    ui.page(&headers, meta, data)
}

pub async fn signin(Extension(ui): Extension<Arc<Ui>>, headers: HeaderMap) -> Response {
    ui.page(&headers, PageMeta { template: "signin.html", title: "Sign in", page: "signin" }, context! {})
}

pub async fn my_tickets(Extension(ui): Extension<Arc<Ui>>, headers: HeaderMap) -> Response {
    ui.page(&headers, PageMeta { template: "tickets.html", title: "My tickets", page: "tickets" }, context! {})
}

pub async fn new_ticket(Extension(ui): Extension<Arc<Ui>>, headers: HeaderMap) -> Response {
    let categories = categories();
    let meta = PageMeta { template: "new_ticket.html", title: "New ticket", page: "new-ticket" };
    ui.page(&headers, meta, context! { categories })
}

fn categories() -> Vec<Value> {
    Category::ALL
        .iter()
        .filter_map(|name| name.parse::<Category>().ok())
        .map(|c| context! { value => c.as_str(), label => category_label(c) })
        .collect()
}

/// `/support/tickets/{id}`: the customer's conversation with support.
pub async fn ticket(Extension(ui): Extension<Arc<Ui>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else { return not_found_page(&ui, &headers) };
    let meta = PageMeta { template: "ticket.html", title: "Ticket", page: "ticket" };
    ui.page(&headers, meta, context! { ticket_id => id.to_string() })
}

pub async fn queue(Extension(ui): Extension<Arc<Ui>>, headers: HeaderMap) -> Response {
    let meta = PageMeta { template: "queue.html", title: "Queue", page: "queue" };
    ui.page(&headers, meta, context! { categories => categories(), nav => "queue" })
}

pub async fn workspace(Extension(ui): Extension<Arc<Ui>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else { return not_found_page(&ui, &headers) };
    let meta = PageMeta { template: "workspace.html", title: "Ticket workspace", page: "workspace" };
    ui.page(&headers, meta, context! { ticket_id => id.to_string(), categories => categories(), nav => "queue" })
}

pub async fn analytics(Extension(ui): Extension<Arc<Ui>>, headers: HeaderMap) -> Response {
    if !ui.features.analytics {
        return not_found_page(&ui, &headers);
    }
    let meta = PageMeta { template: "analytics.html", title: "Analytics", page: "analytics" };
    ui.page(&headers, meta, context! { nav => "analytics" })
}

pub async fn kb_editor(Extension(ui): Extension<Arc<Ui>>, headers: HeaderMap) -> Response {
    let meta = PageMeta { template: "kb_editor.html", title: "Knowledge base", page: "kb-editor" };
    ui.page(&headers, meta, context! { categories => categories(), nav => "kb" })
}

pub async fn not_found(Extension(ui): Extension<Arc<Ui>>, headers: HeaderMap) -> Response {
    not_found_page(&ui, &headers)
}

fn not_found_page(ui: &Ui, headers: &HeaderMap) -> Response {
    let meta = PageMeta { template: "not_found.html", title: "Page not found", page: "not-found" };
    ui.page_with_status(headers, StatusCode::NOT_FOUND, meta, context! {})
}

pub async fn to_portal() -> impl IntoResponse {
    Redirect::to("/support")
}
