//! A ticket's conversation: messages, internal notes and system events, in gap-free `seq` order.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{ApiJson, ApiQuery};
use super::{actor_for, ticket_for};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::domain::ticket::{CommunicationType, SenderType};
use crate::domain::validate::{self, Errors, FieldError};
use crate::domain::workflow;
use crate::error::{ApiResult, AppError, Problem};
use crate::realtime::events;
use crate::store::{now, Communication, TicketChange};

pub fn router() -> Router<AppState> {
    Router::new().route("/tickets/{id}/communications", get(list_communications).post(post_communication))
}

/// One entry of a ticket's conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommunicationDto {
    pub id: Uuid,
    pub ticket_id: Uuid,
    /// Per-ticket sequence number: gap-free and increasing, for catch-up with `?after=`.
    pub seq: i64,
    pub sender_id: Option<Uuid>,
    pub sender_type: SenderType,
    #[serde(rename = "type")]
    pub kind: CommunicationType,
    pub content: String,
    #[schema(value_type = Vec<Object>)]
    pub attachments: Vec<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl From<Communication> for CommunicationDto {
    fn from(c: Communication) -> Self {
        CommunicationDto {
            id: c.id,
            ticket_id: c.ticket_id,
            seq: c.seq,
            sender_id: c.sender_id,
            sender_type: c.sender_type,
            kind: c.kind,
            content: c.content,
            attachments: c.attachments,
            created_at: c.created_at,
            read_at: c.read_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommunicationListParams {
    /// Only communications with a greater `seq` (default 0: from the start).
    pub after: Option<String>,
    /// At most this many, 1 to 500 (default 100).
    pub limit: Option<String>,
}

/// The conversation after a given `seq`, oldest first. Customers never see internal notes.
#[utoipa::path(get, path = "/tickets/{id}/communications", tag = "communications",
    params(("id" = Uuid, Path, description = "Ticket id"), CommunicationListParams),
    responses(
        (status = 200, description = "Communications in seq order", body = Vec<CommunicationDto>),
        (status = 400, description = "Invalid parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket (or not yours)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_communications(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<CommunicationListParams>,
) -> ApiResult<Json<Vec<CommunicationDto>>> {
    let mut errors = Errors::default();
    let after = match params.after.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(v) => errors
            .check(
                v.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| FieldError::new("after", "must be a whole number >= 0")),
            )
            .unwrap_or(0),
    };
    let limit = match params.limit.as_deref().map(str::trim) {
        None | Some("") => 100,
        Some(v) => errors
            .check(
                v.parse::<u32>()
                    .ok()
                    .filter(|n| (1..=500).contains(n))
                    .ok_or_else(|| FieldError::new("limit", "must be from 1 to 500")),
            )
            .unwrap_or(100),
    };
    errors.finish().map_err(AppError::Validation)?;
    let ticket = ticket_for(&state, &user, &id).await?;
    let items = state.store.list_communications(ticket.id, after, limit, user.is_staff()).await?;
    Ok(Json(items.into_iter().map(CommunicationDto::from).collect()))
}

/// A message or internal note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostCommunicationRequest {
    /// 1 to 10,000 characters. Stored as text; it is escaped wherever it is shown.
    pub content: String,
    /// MESSAGE (default) or INTERNAL_NOTE (staff only, never shown to the customer).
    #[serde(rename = "type")]
    pub kind: Option<CommunicationType>,
}

/// Post to a ticket's conversation. Stored durably before the 201 is sent.
#[utoipa::path(post, path = "/tickets/{id}/communications", tag = "communications",
    params(("id" = Uuid, Path, description = "Ticket id")),
    request_body = PostCommunicationRequest,
    responses(
        (status = 201, description = "Stored", body = CommunicationDto),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Customers cannot write internal notes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Ticket is closed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn post_communication(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<PostCommunicationRequest>,
) -> ApiResult<(StatusCode, Json<CommunicationDto>)> {
    let kind = request.kind.unwrap_or(CommunicationType::Message);
    let stored = post_message(&state, &user, &id, kind, &request.content).await?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

/// A message's text as stored (trimmed), or why it cannot be: 1 to 10,000 characters.
pub fn message_content(text: &str) -> Result<String, FieldError> {
    validate::text("content", text, 1, 10_000)
}

/// Stores a message or note with its side effects, then broadcasts it and the events it caused.
/// The one path for REST and STOMP, so both validate, store and broadcast identically.
pub async fn post_message(
    state: &AppState,
    user: &AuthUser,
    ticket_id: &str,
    kind: CommunicationType,
    content: &str,
) -> ApiResult<Communication> {
    post_messages(state, user, ticket_id, kind, &[content])
        .await?
        .pop()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored message missing from the change")))
}

/// Several messages of one author to one ticket, in order, in one transaction: a STOMP client's
/// burst shares a commit instead of queueing behind one commit per message. Each message goes
/// through the same workflow rule as a single one, applied to the ticket as the previous message
/// left it. All are stored or none. Returns the stored messages (not the events they caused).
pub async fn post_messages(
    state: &AppState,
    user: &AuthUser,
    ticket_id: &str,
    kind: CommunicationType,
    contents: &[&str],
) -> ApiResult<Vec<Communication>> {
    let contents = contents
        .iter()
        .map(|content| message_content(content))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AppError::Validation(vec![e]))?;
    let ticket = ticket_for(state, user, ticket_id).await?;
    let actor = actor_for(state, user).await?;
    let at = now();
    let (after, appended) = state
        .store
        .change_ticket(
            ticket.id,
            Box::new(move |current| {
                let mut combined = TicketChange { ticket: current.clone(), append: Vec::new(), audit: None };
                for content in contents {
                    let change = workflow::plan_message(&combined.ticket, kind, content, &actor, at)?;
                    combined.ticket = change.ticket;
                    combined.append.extend(change.append);
                }
                Ok(combined)
            }),
        )
        .await?;
    state.cache.invalidate(crate::ops::cache::Namespace::Tickets).await;
    events::communications_added(&state.broker, &appended);
    if after.status != ticket.status || after.assigned_agent_id != ticket.assigned_agent_id {
        events::ticket_changed(&state.broker, &ticket, &after, None);
    }
    // Each message is appended before the events it caused, which are of system types.
    Ok(appended.into_iter().filter(|communication| communication.kind == kind).collect())
}
