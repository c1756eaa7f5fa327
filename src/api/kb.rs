//! Knowledge base: articles (Markdown rendered to safe HTML), publishing, votes, view counts,
//! and ranked full-text search. Customers and anonymous readers see published articles only.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{ApiJson, ApiQuery, JsonText};
use super::pagination::{PageDto, PageParams};
use crate::app::AppState;
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::domain::kb::{self, ArticleStatus, SearchQuery};
use crate::domain::ticket::Category;
use crate::domain::validate::{self, Errors, FieldError};
use crate::error::{ApiResult, AppError, Problem};
use crate::ops::cache::Namespace;
use crate::store::{now, Article, ArticleFilter, NewAudit, Page, PageRequest, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/knowledge-base/search", get(search))
        .route("/knowledge-base/articles", get(list_articles).post(create_article))
        .route("/knowledge-base/articles/{key}", get(get_article).put(update_article).delete(delete_article))
        .route("/knowledge-base/articles/{key}/publish", post(publish_article))
        .route("/knowledge-base/articles/{key}/unpublish", post(unpublish_article))
        .route("/knowledge-base/articles/{key}/archive", post(archive_article))
        .route("/knowledge-base/articles/{key}/vote", post(vote_article))
}

/// A knowledge-base article.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArticleDto {
    pub id: Uuid,
    #[schema(example = "reset-two-factor-authentication")]
    pub slug: String,
    pub title: String,
    pub summary: String,
    /// Markdown source.
    pub content: String,
    /// The content rendered to sanitised HTML, safe to insert into a page.
    pub content_html: String,
    pub category: Category,
    pub tags: Vec<String>,
    pub status: ArticleStatus,
    pub view_count: i64,
    pub helpful_count: i64,
    pub not_helpful_count: i64,
    pub author_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

impl From<Article> for ArticleDto {
    fn from(a: Article) -> Self {
        ArticleDto {
            content_html: kb::render_markdown(&a.content),
            id: a.id,
            slug: a.slug,
            title: a.title,
            summary: a.summary,
            content: a.content,
            category: a.category,
            tags: a.tags,
            status: a.status,
            view_count: a.view_count,
            helpful_count: a.helpful_count,
            not_helpful_count: a.not_helpful_count,
            author_id: a.author_id,
            created_at: a.created_at,
            updated_at: a.updated_at,
            published_at: a.published_at,
        }
    }
}

/// An article in a list (without its body).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArticleSummaryDto {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub category: Category,
    pub tags: Vec<String>,
    pub status: ArticleStatus,
    pub view_count: i64,
    pub helpful_count: i64,
    pub not_helpful_count: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<Article> for ArticleSummaryDto {
    fn from(a: Article) -> Self {
        ArticleSummaryDto {
            id: a.id,
            slug: a.slug,
            title: a.title,
            summary: a.summary,
            category: a.category,
            tags: a.tags,
            status: a.status,
            view_count: a.view_count,
            helpful_count: a.helpful_count,
            not_helpful_count: a.not_helpful_count,
            updated_at: a.updated_at,
        }
    }
}

/// A search result.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHitDto {
    #[serde(flatten)]
    pub article: ArticleSummaryDto,
    /// Relevance, higher is better, comparable within one result list. On PostgreSQL it is 0 when
    /// the words occur only past the body's first 1,000 characters (such articles still match).
    pub score: f64,
    /// An excerpt around the match: HTML-escaped text with matched terms in `<mark>`.
    pub snippet: String,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What to look for; words are stemmed (English) and the last one is matched as a prefix.
    #[param(min_length = 1, max_length = 200)]
    pub q: Option<String>,
    /// Restrict to one category.
    #[param(value_type = Option<Category>)]
    pub category: Option<String>,
    /// Staff only: DRAFT, PUBLISHED or ARCHIVED (default: all for staff, PUBLISHED for others).
    #[param(value_type = Option<ArticleStatus>)]
    pub status: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub paging: PageParams,
}

fn visibility(user: &MaybeAuthUser, params: &SearchParams, errors: &mut Errors) -> ArticleFilter {
    let staff = user.0.as_ref().is_some_and(AuthUser::is_staff);
    let mut filter = ArticleFilter { published_only: !staff, ..Default::default() };
    if let Some(category) = &params.category {
        filter.category = errors.check(validate::one_of("category", category, Category::ALL));
    }
    if let Some(status) = &params.status {
        if staff {
            filter.status = errors.check(validate::one_of("status", status, ArticleStatus::ALL));
        } else if status != "PUBLISHED" {
            errors.push(FieldError::new("status", "only support staff can list unpublished articles"));
        }
    }
    filter
}

fn page_request(params: &SearchParams, errors: &mut Errors) -> PageRequest<()> {
    params.paging.to_request(errors, &[], ((), false), |_| None)
}

/// Ranked full-text search over title, tags, summary and content, with highlighted snippets.
#[utoipa::path(get, path = "/knowledge-base/search", tag = "knowledge-base",
    params(SearchParams, PageParams),
    responses(
        (status = 200, description = "Hits, best first", body = PageDto<SearchHitDto>),
        (status = 400, description = "Missing or invalid parameter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn search(
    State(state): State<AppState>,
    user: MaybeAuthUser,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> ApiResult<JsonText> {
    let mut errors = Errors::default();
    let text = match params.q.as_deref() {
        Some(q) => errors.check(validate::text("q", q, 1, 200)),
        None => {
            errors.push(FieldError::new("q", "is required"));
            None
        }
    };
    let filter = visibility(&user, &params, &mut errors);
    let page = page_request(&params, &mut errors);
    errors.finish().map_err(AppError::Validation)?;
    let Some(query) = text.as_deref().and_then(SearchQuery::parse) else {
        return JsonText::encode(&PageDto::from_page(
            Page::<SearchHitDto> { items: Vec::new(), total: 0 },
            &page,
            |hit| hit,
        ));
    };
    // Hot and read-mostly: cached briefly, invalidated by every article write.
    let key = format!(
        "search|{}|{:?}|{:?}|{}|{}|{}",
        query.terms().join(" "),
        filter.category,
        filter.status,
        filter.published_only,
        page.page,
        page.size
    );
    let text = state
        .cache
        .get_or_compute(Namespace::Kb, &key, || async {
            let hits = state.store.search_articles(&query, &filter, page).await?;
            let result = JsonText::encode(&PageDto::from_page(hits, &page, |hit| SearchHitDto {
                article: hit.article.into(),
                score: (hit.rank * 10_000.0).round() / 10_000.0,
                snippet: kb::highlight(&hit.snippet),
            }))?;
            Ok::<_, AppError>(result.0)
        })
        .await?;
    Ok(JsonText(text))
}

/// Articles by title, optionally by category (and, for staff, status).
#[utoipa::path(get, path = "/knowledge-base/articles", tag = "knowledge-base",
    params(SearchParams, PageParams),
    responses((status = 200, description = "A page of articles", body = PageDto<ArticleSummaryDto>)))]
pub async fn list_articles(
    State(state): State<AppState>,
    user: MaybeAuthUser,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> ApiResult<Json<PageDto<ArticleSummaryDto>>> {
    let mut errors = Errors::default();
    let filter = visibility(&user, &params, &mut errors);
    let page = page_request(&params, &mut errors);
    errors.finish().map_err(AppError::Validation)?;
    let articles = state.store.list_articles(&filter, page).await?;
    Ok(Json(PageDto::from_page(articles, &page, ArticleSummaryDto::from)))
}

/// Loads an article by id or slug if the caller may see it (404 otherwise, like a missing one).
async fn visible_article(state: &AppState, user: Option<&AuthUser>, key: &str) -> ApiResult<Article> {
    let found = match Uuid::parse_str(key) {
        Ok(id) => state.store.article_by_id(id).await,
        Err(_) => state.store.article_by_slug(&key.to_ascii_lowercase()).await,
    };
    match found {
        Ok(article) if article.status == ArticleStatus::Published || user.is_some_and(AuthUser::is_staff) => {
            Ok(article)
        }
        Ok(_) | Err(StoreError::NotFound) => Err(AppError::NotFound("No article with this id or slug.".into())),
        Err(other) => Err(other.into()),
    }
}

/// An article by id or slug, with its content as safe HTML. Counts a view.
#[utoipa::path(get, path = "/knowledge-base/articles/{key}", tag = "knowledge-base",
    params(("key" = String, Path, description = "Article id or slug")),
    responses(
        (status = 200, description = "The article", body = ArticleDto),
        (status = 404, description = "No such (published) article", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_article(
    State(state): State<AppState>,
    user: MaybeAuthUser,
    Path(key): Path<String>,
) -> ApiResult<Json<ArticleDto>> {
    let mut article = visible_article(&state, user.0.as_ref(), &key).await?;
    if article.status == ArticleStatus::Published {
        state.store.record_article_view(article.id).await?;
        article.view_count += 1;
    }
    Ok(Json(article.into()))
}

/// A new article.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArticleRequest {
    /// 3 to 200 characters (trimmed). Required to create.
    #[schema(min_length = 3, max_length = 200)]
    pub title: Option<String>,
    /// Up to 500 characters.
    #[schema(max_length = 500)]
    pub summary: Option<String>,
    /// Markdown, up to 100,000 characters. Required to create.
    #[schema(min_length = 1, max_length = 100000)]
    pub content: Option<String>,
    pub category: Option<Category>,
    /// Up to 20 tags of 1-40 letters, digits, '-', '_' or '.'.
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
    /// Default DRAFT.
    pub status: Option<ArticleStatus>,
    /// Lower-case words joined by dashes; default derived from the title.
    #[schema(max_length = 80, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: Option<String>,
}

/// Validates the fields present in `request` and applies them to `article`.
fn apply(article: &mut Article, request: ArticleRequest, creating: bool) -> Result<(), Vec<FieldError>> {
    let mut errors = Errors::default();
    match request.title.as_deref() {
        Some(title) => {
            if let Some(title) = errors.check(validate::text("title", title, 3, 200)) {
                article.title = title;
            }
        }
        None if creating => errors.push(FieldError::new("title", "is required")),
        None => {}
    }
    match request.content.as_deref() {
        Some(content) => {
            if let Some(content) = errors.check(validate::text("content", content, 1, 100_000)) {
                article.content = content;
            }
        }
        None if creating => errors.push(FieldError::new("content", "is required")),
        None => {}
    }
    if let Some(summary) = request.summary.as_deref() {
        if let Some(summary) = errors.check(validate::text("summary", summary, 0, 500)) {
            article.summary = summary;
        }
    }
    if let Some(category) = request.category {
        article.category = category;
    }
    if let Some(tags) = request.tags.as_deref() {
        if let Some(tags) = errors.check(validate::tags("tags", tags)) {
            article.tags = tags;
        }
    }
    if let Some(status) = request.status {
        set_status(article, status);
    }
    match request.slug {
        Some(slug) if kb::is_valid_slug(&slug) => article.slug = slug,
        Some(_) => errors.push(FieldError::new("slug", "use 1-80 lower-case letters, digits and single dashes")),
        None if creating => article.slug = kb::slugify(&article.title),
        None => {}
    }
    if creating && article.slug.is_empty() && !article.title.is_empty() {
        errors.push(FieldError::new("slug", "cannot be derived from this title; give one"));
    }
    errors.finish()
}

fn set_status(article: &mut Article, status: ArticleStatus) {
    if status == ArticleStatus::Published && article.status != ArticleStatus::Published {
        article.published_at = Some(now());
    }
    article.status = status;
}

fn article_audit(user: &AuthUser, action: &str, article: &Article) -> NewAudit {
    NewAudit {
        actor_id: Some(user.id),
        action: action.into(),
        entity_type: "kb_article".into(),
        entity_id: article.id.to_string(),
        before: None,
        after: Some(serde_json::json!({ "slug": article.slug, "status": article.status })),
    }
}

fn slug_conflict(error: StoreError) -> AppError {
    match error {
        StoreError::Duplicate(_) => AppError::Conflict("Another article already uses this slug.".into()),
        other => other.into(),
    }
}

/// Create an article (staff).
#[utoipa::path(post, path = "/knowledge-base/articles", tag = "knowledge-base",
    request_body = ArticleRequest,
    responses(
        (status = 201, description = "Created", body = ArticleDto),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Staff only", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Slug taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_article(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<ArticleRequest>,
) -> ApiResult<impl IntoResponse> {
    user.require_staff()?;
    let at = now();
    let mut article = Article {
        id: Uuid::new_v4(),
        slug: String::new(),
        title: String::new(),
        summary: String::new(),
        content: String::new(),
        category: Category::Other,
        tags: Vec::new(),
        status: ArticleStatus::Draft,
        view_count: 0,
        helpful_count: 0,
        not_helpful_count: 0,
        author_id: Some(user.id),
        created_at: at,
        updated_at: at,
        published_at: None,
    };
    apply(&mut article, request, true).map_err(AppError::Validation)?;
    let audit = article_audit(&user, "kb.article_created", &article);
    let article = state.store.create_article(article, audit).await.map_err(slug_conflict)?;
    state.cache.invalidate(Namespace::Kb).await;
    let location = format!("/api/customer-support/knowledge-base/articles/{}", article.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(ArticleDto::from(article))))
}

async fn save(state: &AppState, user: &AuthUser, mut article: Article, action: &str) -> ApiResult<Json<ArticleDto>> {
    article.updated_at = now();
    let audit = article_audit(user, action, &article);
    let saved = state.store.update_article(article, audit).await.map_err(slug_conflict)?;
    state.cache.invalidate(Namespace::Kb).await;
    Ok(Json(saved.into()))
}

/// Update an article (staff; partial).
#[utoipa::path(put, path = "/knowledge-base/articles/{key}", tag = "knowledge-base",
    params(("key" = String, Path, description = "Article id or slug")),
    request_body = ArticleRequest,
    responses(
        (status = 200, description = "Updated", body = ArticleDto),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Staff only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such article", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another article already uses this slug", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn update_article(
    State(state): State<AppState>,
    user: AuthUser,
    Path(key): Path<String>,
    ApiJson(request): ApiJson<ArticleRequest>,
) -> ApiResult<Json<ArticleDto>> {
    user.require_staff()?;
    let mut article = visible_article(&state, Some(&user), &key).await?;
    apply(&mut article, request, false).map_err(AppError::Validation)?;
    save(&state, &user, article, "kb.article_updated").await
}

async fn change_status(
    state: &AppState,
    user: &AuthUser,
    key: &str,
    status: ArticleStatus,
) -> ApiResult<Json<ArticleDto>> {
    user.require_staff()?;
    let mut article = visible_article(state, Some(user), key).await?;
    set_status(&mut article, status);
    save(state, user, article, &format!("kb.article_{}", status.as_str().to_ascii_lowercase())).await
}

/// Publish an article (staff).
#[utoipa::path(post, path = "/knowledge-base/articles/{key}/publish", tag = "knowledge-base",
    params(("key" = String, Path, description = "Article id or slug")),
    responses((status = 200, description = "Published", body = ArticleDto)), security(("bearer" = [])))]
pub async fn publish_article(
    State(state): State<AppState>,
    user: AuthUser,
    Path(key): Path<String>,
) -> ApiResult<Json<ArticleDto>> {
    change_status(&state, &user, &key, ArticleStatus::Published).await
}

/// Take an article back to draft (staff).
#[utoipa::path(post, path = "/knowledge-base/articles/{key}/unpublish", tag = "knowledge-base",
    params(("key" = String, Path, description = "Article id or slug")),
    responses((status = 200, description = "Back to draft", body = ArticleDto)), security(("bearer" = [])))]
pub async fn unpublish_article(
    State(state): State<AppState>,
    user: AuthUser,
    Path(key): Path<String>,
) -> ApiResult<Json<ArticleDto>> {
    change_status(&state, &user, &key, ArticleStatus::Draft).await
}

/// Archive an article (staff): hidden from readers, kept for reference.
#[utoipa::path(post, path = "/knowledge-base/articles/{key}/archive", tag = "knowledge-base",
    params(("key" = String, Path, description = "Article id or slug")),
    responses((status = 200, description = "Archived", body = ArticleDto)), security(("bearer" = [])))]
pub async fn archive_article(
    State(state): State<AppState>,
    user: AuthUser,
    Path(key): Path<String>,
) -> ApiResult<Json<ArticleDto>> {
    change_status(&state, &user, &key, ArticleStatus::Archived).await
}

/// Delete an article for good (supervisors and admins; prefer archiving).
#[utoipa::path(delete, path = "/knowledge-base/articles/{key}", tag = "knowledge-base",
    params(("key" = String, Path, description = "Article id or slug")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Supervisors and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such article", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn delete_article(
    State(state): State<AppState>,
    user: AuthUser,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    user.require_supervisor()?;
    let article = visible_article(&state, Some(&user), &key).await?;
    let audit = article_audit(&user, "kb.article_deleted", &article);
    state.store.delete_article(article.id, audit).await?;
    state.cache.invalidate(Namespace::Kb).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct VoteRequest {
    /// Was this article helpful?
    pub helpful: bool,
}

/// Vote whether an article helped. One vote per user per article; voting again changes it.
#[utoipa::path(post, path = "/knowledge-base/articles/{key}/vote", tag = "knowledge-base",
    params(("key" = String, Path, description = "Article id or slug")),
    request_body = VoteRequest,
    responses(
        (status = 200, description = "Counted; the article's new totals", body = ArticleSummaryDto),
        (status = 401, description = "Sign in to vote", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such article", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn vote_article(
    State(state): State<AppState>,
    user: AuthUser,
    Path(key): Path<String>,
    ApiJson(request): ApiJson<VoteRequest>,
) -> ApiResult<Json<ArticleSummaryDto>> {
    let article = visible_article(&state, Some(&user), &key).await?;
    let voted = state.store.vote_article(article.id, user.id, request.helpful).await?;
    state.cache.invalidate(Namespace::Kb).await;
    Ok(Json(voted.into()))
}
