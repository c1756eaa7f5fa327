//! Tickets: list, create, read, partial update, assignment and (admin) soft delete.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::communications::CommunicationDto;
use super::extract::{ApiJson, ApiQuery, JsonText};
use super::pagination::{PageDto, PageParams};
use super::{actor_for, parse_uuid, ticket_for};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::domain::kb::SearchQuery;
use crate::domain::ticket::{Category, Priority, TicketStatus};
use crate::domain::user::Role;
use crate::domain::validate::{self, Errors, FieldError};
use crate::domain::workflow::{self, TicketEdit};
use crate::error::{ApiResult, AppError, Problem};
use crate::ops::cache::Namespace;
use crate::realtime::events;
use crate::store::{now, NewAudit, NewTicket, Ticket, TicketFilter, TicketSort};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tickets", get(list_tickets).post(create_ticket))
        .route("/tickets/{id}", get(get_ticket).put(update_ticket).delete(delete_ticket))
        .route("/tickets/{id}/assign", post(assign_ticket))
        .route("/tickets/{id}/rating", post(rate_ticket))
}

/// A support ticket.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketDto {
    pub id: Uuid,
    #[schema(example = "ALP-1042")]
    pub ticket_number: String,
    pub subject: String,
    pub description: String,
    pub status: TicketStatus,
    pub priority: Priority,
    pub category: Category,
    pub tags: Vec<String>,
    pub customer_id: Uuid,
    pub assigned_agent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub sla_due_at: Option<DateTime<Utc>>,
    pub escalation_level: i32,
    pub satisfaction_rating: Option<i32>,
    pub sentiment: Option<f64>,
    /// Highest communication `seq`: a client that has seen it is up to date.
    pub last_seq: i64,
}

impl From<Ticket> for TicketDto {
    fn from(t: Ticket) -> Self {
        TicketDto {
            id: t.id,
            ticket_number: crate::domain::ticket::ticket_number(t.number),
            subject: t.subject,
            description: t.description,
            status: t.status,
            priority: t.priority,
            category: t.category,
            tags: t.tags,
            customer_id: t.customer_id,
            assigned_agent_id: t.assigned_agent_id,
            created_at: t.created_at,
            updated_at: t.updated_at,
            first_response_at: t.first_response_at,
            resolved_at: t.resolved_at,
            sla_due_at: t.sla_due_at,
            escalation_level: t.escalation_level,
            satisfaction_rating: t.satisfaction_rating,
            sentiment: t.sentiment,
            last_seq: t.last_seq,
        }
    }
}

/// A ticket with its most recent communications (customers never see internal notes).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketDetailDto {
    #[serde(flatten)]
    pub ticket: TicketDto,
    /// Up to the last 50 communications, oldest first. Page older ones with `/communications`.
    pub communications: Vec<CommunicationDto>,
}

/// Ticket list filters (plus `page`, `size`, `sort`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct TicketListParams {
    /// NEW, OPEN, IN_PROGRESS, PENDING_CUSTOMER, ESCALATED, RESOLVED or CLOSED.
    #[param(value_type = Option<TicketStatus>)]
    pub status: Option<String>,
    /// LOW, MEDIUM, HIGH or URGENT.
    #[param(value_type = Option<Priority>)]
    pub priority: Option<String>,
    #[param(value_type = Option<Category>)]
    pub category: Option<String>,
    /// An agent id, or `none` for unassigned tickets (staff only).
    pub assigned_agent_id: Option<String>,
    /// Staff only; customers always see their own tickets.
    #[param(value_type = Option<Uuid>)]
    pub customer_id: Option<String>,
    /// Full-text search in subject, description and messages (stemmed, last word as a prefix),
    /// or a ticket number like ALP-1042.
    pub q: Option<String>,
    /// Created at or after (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub from: Option<String>,
    /// Created before (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub to: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub paging: PageParams,
}

fn timestamp(field: &str, value: &str) -> Result<DateTime<Utc>, FieldError> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| FieldError::new(field, "must be an RFC 3339 timestamp, e.g. 2026-01-31T00:00:00Z"))
}

fn parse_filter(params: &TicketListParams, user: &AuthUser, errors: &mut Errors) -> TicketFilter {
    let mut filter = TicketFilter::default();
    if let Some(v) = &params.status {
        filter.status = errors.check(validate::one_of("status", v, TicketStatus::ALL));
    }
    if let Some(v) = &params.priority {
        filter.priority = errors.check(validate::one_of("priority", v, Priority::ALL));
    }
    if let Some(v) = &params.category {
        filter.category = errors.check(validate::one_of("category", v, Category::ALL));
    }
    if let Some(v) = &params.assigned_agent_id {
        if v.eq_ignore_ascii_case("none") {
            filter.unassigned = true;
        } else {
            filter.assigned_agent_id = errors.check(parse_uuid("assignedAgentId", v));
        }
    }
    if let Some(v) = &params.customer_id {
        filter.customer_id = errors.check(parse_uuid("customerId", v));
    }
    if let Some(v) = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if let Some(text) = errors.check(validate::text("q", v, 1, 200)) {
            filter.ticket_number = crate::domain::ticket::parse_ticket_number(&text);
            filter.q = SearchQuery::parse(&text);
            filter.search_notes = user.is_staff();
        }
    }
    if let Some(v) = &params.from {
        filter.from = errors.check(timestamp("from", v));
    }
    if let Some(v) = &params.to {
        filter.to = errors.check(timestamp("to", v));
    }
    // A customer's list is always their own, whatever they ask for.
    if user.role == Role::Customer {
        filter.customer_id = Some(user.id);
    }
    filter
}

/// List tickets (customers: their own; staff: the queue), filtered, paged and sorted.
#[utoipa::path(get, path = "/tickets", tag = "tickets",
    params(TicketListParams, PageParams),
    responses(
        (status = 200, description = "A page of tickets", body = PageDto<TicketDto>),
        (status = 400, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_tickets(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(params): ApiQuery<TicketListParams>,
) -> ApiResult<JsonText> {
    let mut errors = Errors::default();
    let filter = parse_filter(&params, &user, &mut errors);
    let page =
        params.paging.to_request(&mut errors, TicketSort::NAMES, (TicketSort::CreatedAt, true), TicketSort::parse);
    errors.finish().map_err(AppError::Validation)?;
    let searched_for_nothing = params.q.as_deref().is_some_and(|q| !q.trim().is_empty())
        && filter.q.is_none()
        && filter.ticket_number.is_none();
    if searched_for_nothing {
        // Only stop words or punctuation: nothing can match.
        return JsonText::encode(&PageDto::from_page(
            crate::store::Page::<TicketDto> { items: Vec::new(), total: 0 },
            &page,
            |t| t,
        ));
    }
    // The staff queue is read far more often than it changes: cache it briefly (every ticket
    // write invalidates). Customers' own lists are cheap and personal, so they are not cached.
    let list = || async {
        let tickets = state.store.list_tickets(&filter, page).await?;
        Ok::<_, AppError>(JsonText::encode(&PageDto::from_page(tickets, &page, TicketDto::from))?.0)
    };
    let text = if user.is_staff() {
        let key = format!("queue|{filter:?}|{page:?}");
        state.cache.get_or_compute(Namespace::Tickets, &key, list).await?
    } else {
        list().await?
    };
    Ok(JsonText(text))
}

/// A new ticket.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateTicketRequest {
    /// 3 to 200 characters.
    #[schema(example = "Withdrawal of 2,500 USDT pending for 3 days")]
    pub subject: String,
    /// 1 to 10,000 characters.
    pub description: String,
    /// Default MEDIUM.
    pub priority: Option<Priority>,
    /// Default OTHER.
    pub category: Option<Category>,
    pub tags: Option<Vec<String>>,
    /// Staff only: open the ticket on behalf of this customer.
    pub customer_id: Option<Uuid>,
}

/// Open a ticket. Customers open their own; staff may open one for a customer.
#[utoipa::path(post, path = "/tickets", tag = "tickets",
    request_body = CreateTicketRequest,
    responses(
        (status = 201, description = "Created and stored", body = TicketDto),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Customer tried to open a ticket for someone else", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_ticket(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<CreateTicketRequest>,
) -> ApiResult<impl IntoResponse> {
    let mut errors = Errors::default();
    let subject = errors.check(validate::text("subject", &request.subject, 3, 200));
    let description = errors.check(validate::text("description", &request.description, 1, 10_000));
    let tags = errors.check(validate::tags("tags", request.tags.as_deref().unwrap_or_default()));
    errors.finish().map_err(AppError::Validation)?;
    let (Some(subject), Some(description), Some(tags)) = (subject, description, tags) else {
        return Err(AppError::BadRequest("invalid ticket".into()));
    };

    let customer_id = match request.customer_id {
        Some(id) if id != user.id => {
            user.require_staff()?;
            let customer = state
                .store
                .user_by_id(id)
                .await
                .map_err(|_| AppError::field("customerId", "no customer with this id"))?;
            if customer.role != Role::Customer {
                return Err(AppError::field("customerId", "tickets belong to customers, not staff accounts"));
            }
            id
        }
        _ => user.id,
    };
    let priority = request.priority.unwrap_or(Priority::Medium);
    let created_at = now();
    let ticket = NewTicket {
        id: Uuid::new_v4(),
        subject,
        description,
        status: TicketStatus::New,
        priority,
        category: request.category.unwrap_or(Category::Other),
        tags,
        customer_id,
        assigned_agent_id: None,
        created_at,
        sla_due_at: priority.sla_due(created_at),
    };
    let audit = NewAudit {
        actor_id: Some(user.id),
        action: "ticket.created".into(),
        entity_type: "ticket".into(),
        entity_id: ticket.id.to_string(),
        before: None,
        after: Some(serde_json::json!({ "priority": priority, "customerId": customer_id })),
    };
    let (ticket, _) = state.store.create_ticket(ticket, Vec::new(), Some(audit)).await?;
    state.cache.invalidate(crate::ops::cache::Namespace::Tickets).await;
    events::ticket_created(&state.broker, &ticket);
    let location = format!("/api/customer-support/tickets/{}", ticket.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(TicketDto::from(ticket))))
}

/// Ticket details with recent communications.
#[utoipa::path(get, path = "/tickets/{id}", tag = "tickets",
    params(("id" = Uuid, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "The ticket", body = TicketDetailDto),
        (status = 404, description = "No such ticket (or not yours)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_ticket(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<TicketDetailDto>> {
    let ticket = ticket_for(&state, &user, &id).await?;
    let after = (ticket.last_seq - 50).max(0);
    let communications = state.store.list_communications(ticket.id, after, 50, user.is_staff()).await?;
    Ok(Json(TicketDetailDto {
        ticket: ticket.into(),
        communications: communications.into_iter().map(CommunicationDto::from).collect(),
    }))
}

/// Reads a JSON field that may be absent (`None`), `null` (`Some(None)`) or a value.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A partial update: send only the fields to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateTicketRequest {
    pub subject: Option<String>,
    pub description: Option<String>,
    /// Must follow the transition table; customers may only close, or reopen a resolved ticket.
    pub status: Option<TicketStatus>,
    pub priority: Option<Priority>,
    pub category: Option<Category>,
    pub tags: Option<Vec<String>>,
    /// An agent id, or `null` to unassign.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub assigned_agent_id: Option<Option<Uuid>>,
    /// 0 to 3.
    pub escalation_level: Option<i32>,
}

async fn edit_ticket(state: &AppState, user: &AuthUser, id: &str, edit: TicketEdit) -> ApiResult<Ticket> {
    let ticket = ticket_for(state, user, id).await?;
    let actor = actor_for(state, user).await?;
    let assignee = match edit.assigned_agent_id {
        Some(Some(agent_id)) => match state.store.agent_by_id(agent_id).await {
            Ok(agent) => Some(agent),
            Err(crate::store::StoreError::NotFound) => {
                return Err(AppError::field("assignedAgentId", "no agent with this id"))
            }
            Err(other) => return Err(other.into()),
        },
        _ => None,
    };
    let assignee_name = assignee.as_ref().map(|a| a.full_name.clone());
    let at = now();
    let (after, appended) = state
        .store
        .change_ticket(
            ticket.id,
            Box::new(move |current| workflow::plan_edit(current, edit, &actor, assignee_name, at)),
        )
        .await?;
    state.cache.invalidate(crate::ops::cache::Namespace::Tickets).await;
    events::communications_added(&state.broker, &appended);
    events::ticket_changed(&state.broker, &ticket, &after, assignee.map(|a| a.user_id));
    Ok(after)
}

/// Update a ticket (partial). Status changes follow the transition table (409 otherwise).
#[utoipa::path(put, path = "/tickets/{id}", tag = "tickets",
    params(("id" = Uuid, Path, description = "Ticket id")),
    request_body = UpdateTicketRequest,
    responses(
        (status = 200, description = "Updated ticket", body = TicketDto),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Field not changeable by this role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Status transition not allowed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn update_ticket(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<UpdateTicketRequest>,
) -> ApiResult<Json<TicketDto>> {
    let mut errors = Errors::default();
    let edit = TicketEdit {
        subject: request.subject.as_deref().and_then(|v| errors.check(validate::text("subject", v, 3, 200))),
        description: request
            .description
            .as_deref()
            .and_then(|v| errors.check(validate::text("description", v, 1, 10_000))),
        status: request.status,
        priority: request.priority,
        category: request.category,
        tags: request.tags.as_deref().and_then(|v| errors.check(validate::tags("tags", v))),
        assigned_agent_id: request.assigned_agent_id,
        escalation_level: match request.escalation_level {
            Some(level) if !(0..=3).contains(&level) => {
                errors.push(FieldError::new("escalationLevel", "must be from 0 to 3"));
                None
            }
            other => other,
        },
    };
    errors.finish().map_err(AppError::Validation)?;
    Ok(Json(edit_ticket(&state, &user, &id, edit).await?.into()))
}

/// Who to assign; omit `agentId` to take the ticket yourself.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignRequest {
    pub agent_id: Option<Uuid>,
}

/// Assign a ticket to an agent (staff).
#[utoipa::path(post, path = "/tickets/{id}/assign", tag = "tickets",
    params(("id" = Uuid, Path, description = "Ticket id")),
    request_body = AssignRequest,
    responses(
        (status = 200, description = "Assigned", body = TicketDto),
        (status = 400, description = "No such agent", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Staff only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn assign_ticket(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<AssignRequest>,
) -> ApiResult<Json<TicketDto>> {
    user.require_staff()?;
    let agent_id = match request.agent_id {
        Some(agent_id) => agent_id,
        None => actor_for(&state, &user)
            .await?
            .agent_id
            .ok_or_else(|| AppError::field("agentId", "you have no agent profile; name the agent to assign"))?,
    };
    let edit = TicketEdit { assigned_agent_id: Some(Some(agent_id)), ..Default::default() };
    Ok(Json(edit_ticket(&state, &user, &id, edit).await?.into()))
}

/// Delete a ticket (admin only). It is hidden, not erased, and the deletion is audited.
#[utoipa::path(delete, path = "/tickets/{id}", tag = "tickets",
    params(("id" = Uuid, Path, description = "Ticket id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn delete_ticket(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ticket = ticket_for(&state, &user, &id).await?;
    user.require_admin()?;
    let audit = NewAudit {
        actor_id: Some(user.id),
        action: "ticket.deleted".into(),
        entity_type: "ticket".into(),
        entity_id: ticket.id.to_string(),
        before: Some(serde_json::json!({ "status": ticket.status, "subject": ticket.subject })),
        after: None,
    };
    state.store.delete_ticket(ticket.id, audit).await?;
    state.cache.invalidate(crate::ops::cache::Namespace::Tickets).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The customer's satisfaction rating.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RatingRequest {
    /// 1 (very unhappy) to 5 (very happy).
    pub rating: i32,
}

/// Rate a resolved ticket (its customer; rating again replaces the rating).
#[utoipa::path(post, path = "/tickets/{id}/rating", tag = "tickets",
    params(("id" = Uuid, Path, description = "Ticket id")),
    request_body = RatingRequest,
    responses(
        (status = 200, description = "Rated", body = TicketDto),
        (status = 400, description = "Rating out of range", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the ticket's customer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not resolved yet", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn rate_ticket(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<RatingRequest>,
) -> ApiResult<Json<TicketDto>> {
    let ticket = ticket_for(&state, &user, &id).await?;
    let actor = actor_for(&state, &user).await?;
    let at = now();
    let (after, _) = state
        .store
        .change_ticket(ticket.id, Box::new(move |current| workflow::plan_rating(current, request.rating, &actor, at)))
        .await?;
    state.cache.invalidate(crate::ops::cache::Namespace::Tickets).await;
    Ok(Json(after.into()))
}

/// Fuzz entry point (`fuzz/fuzz_targets/ticket_query.rs`): runs a raw query string through what
/// `GET /tickets` and `GET /knowledge-base/search` do before they reach the store, and panics if
/// an invariant breaks. The bytes go through the real [`ApiQuery`] extractor (percent-encoded only
/// where a URI needs it, which `form_urlencoded` decodes back to the same bytes), then
/// `parse_filter` and paging, once for a customer and once for an agent. Invariants: nothing
/// panics; every error names one of the endpoint's parameters and says something; both callers
/// get the same errors and the same filter apart from `customer_id` and `search_notes`; a
/// customer's filter is always limited to that customer; page and size stay within bounds.
#[doc(hidden)]
pub fn fuzz_ticket_query(raw: &[u8]) {
    use super::pagination::{DEFAULT_SIZE, MAX_SIZE};
    const TICKET_PARAMS: &[&str] =
        &["status", "priority", "category", "assignedAgentId", "customerId", "q", "from", "to", "page", "size", "sort"];
    const KB_PARAMS: &[&str] = &["q", "category", "status", "page", "size", "sort"];

    fn names_a_field(errors: &[FieldError], fields: &[&str], raw: &[u8]) {
        for error in errors {
            let field = error.field.as_str();
            assert!(
                fields.contains(&field) && !error.message.trim().is_empty(),
                "error {error:?} does not name a parameter (query {:?})",
                String::from_utf8_lossy(raw)
            );
        }
    }
    fn check_page<S>(page: &crate::store::PageRequest<S>) {
        assert!(page.size >= 1 && page.size <= MAX_SIZE, "size {}", page.size);
        assert!(page.page <= 100_000, "page {}", page.page);
        assert!(page.offset() >= 0);
    }

    let customer = AuthUser { id: Uuid::from_u128(0xC0FFEE), role: Role::Customer };
    let agent = AuthUser { id: Uuid::from_u128(0xA6E), role: Role::Agent };

    // Tickets.
    let params = match fuzz_extract_query::<TicketListParams>(raw) {
        Ok(params) => params,
        Err(errors) => return names_a_field(&errors, TICKET_PARAMS, raw),
    };
    let mut outcomes = Vec::new();
    for user in [&customer, &agent] {
        let mut errors = Errors::default();
        let filter = parse_filter(&params, user, &mut errors);
        let page =
            params.paging.to_request(&mut errors, TicketSort::NAMES, (TicketSort::CreatedAt, true), TicketSort::parse);
        check_page(&page);
        let errors = errors.finish().err().unwrap_or_default();
        names_a_field(&errors, TICKET_PARAMS, raw);
        if user.role == Role::Customer {
            assert_eq!(filter.customer_id, Some(customer.id), "a customer saw other customers' tickets");
            assert!(!filter.search_notes, "a customer's search included internal notes");
        } else if let Some(id) = params.customer_id.as_deref().and_then(|v| Uuid::parse_str(v.trim()).ok()) {
            assert_eq!(filter.customer_id, Some(id));
        }
        if let Some(q) = &filter.q {
            assert!(!q.terms().is_empty() && !q.fts5().is_empty());
        }
        if params.paging.size.is_none() {
            assert_eq!(page.size, DEFAULT_SIZE);
        }
        let neutral = TicketFilter { customer_id: None, search_notes: false, ..filter };
        outcomes.push((format!("{neutral:?}"), format!("{page:?}"), errors));
    }
    assert_eq!(outcomes[0], outcomes[1], "a customer and an agent parsed the same query differently");

    // Knowledge-base search (`visibility` is private to api::kb, so only `q` and paging here).
    let params = match fuzz_extract_query::<super::kb::SearchParams>(raw) {
        Ok(params) => params,
        Err(errors) => return names_a_field(&errors, KB_PARAMS, raw),
    };
    let mut errors = Errors::default();
    if let Some(text) = params.q.as_deref().and_then(|q| errors.check(validate::text("q", q, 1, 200))) {
        if let Some(query) = SearchQuery::parse(&text) {
            assert!(!query.terms().is_empty() && query.terms().len() <= 12);
        }
    }
    let page = params.paging.to_request(&mut errors, &[], ((), false), |_| None);
    check_page(&page);
    names_a_field(&errors.finish().err().unwrap_or_default(), KB_PARAMS, raw);
}

/// Runs [`ApiQuery`] on a request whose query string decodes to `raw`; its error, if any, as
/// field errors. The extractor never awaits, so one poll with a no-op waker completes it.
fn fuzz_extract_query<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, Vec<FieldError>> {
    use axum::extract::FromRequestParts;
    use std::fmt::Write as _;
    use std::future::Future as _;
    use std::task::{Context, Poll, Waker};

    let mut uri = String::from("/tickets?");
    for &byte in raw {
        // Kept as is: what a URI allows in a query, including `%`, `+`, `&` and `=`, which
        // `form_urlencoded` then interprets exactly as it would in `raw`.
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            let _ = write!(uri, "%{byte:02X}");
        }
    }
    let request = axum::http::Request::builder().uri(uri).body(()).expect("the URI is valid");
    let (mut parts, ()) = request.into_parts();
    let mut future = std::pin::pin!(ApiQuery::<T>::from_request_parts(&mut parts, &()));
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(ApiQuery(params))) => Ok(params),
        Poll::Ready(Err(AppError::Validation(errors))) => Err(errors),
        Poll::Ready(Err(other)) => panic!("ApiQuery failed without naming a field: {other:?}"),
        Poll::Pending => panic!("ApiQuery awaited something"),
    }
}
