//! GDPR: export everything about a customer, or erase them (anonymised, tickets kept for
//! analytics); and the audit log of security- and state-relevant actions. All audited.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::UserDto;
use super::communications::CommunicationDto;
use super::extract::ApiQuery;
use super::pagination::{PageDto, PageParams};
use super::parse_uuid;
use super::tickets::TicketDto;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::domain::user::Role;
use crate::domain::validate::{Errors, FieldError};
use crate::error::{ApiResult, AppError, Problem};
use crate::store::{AuditEntry, AuditFilter, NewAudit, PageRequest, StoreError, TicketFilter, TicketSort};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/gdpr/customers/{id}/export", get(export_customer))
        .route("/gdpr/customers/{id}", axum::routing::delete(erase_customer))
        .route("/audit", get(list_audit))
}

/// A ticket with its whole conversation as the customer sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportedTicket {
    #[serde(flatten)]
    pub ticket: TicketDto,
    pub communications: Vec<CommunicationDto>,
}

/// Everything stored about a customer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerExport {
    pub exported_at: DateTime<Utc>,
    pub profile: UserDto,
    /// Tickets with their messages, ratings and attachment metadata (internal notes are the
    /// desk's own working notes and are not part of the customer's data).
    pub tickets: Vec<ExportedTicket>,
}

fn audit(user: &AuthUser, action: &str, customer: Uuid) -> NewAudit {
    NewAudit {
        actor_id: Some(user.id),
        action: action.into(),
        entity_type: "user".into(),
        entity_id: customer.to_string(),
        before: None,
        after: None,
    }
}

/// The customer, if the caller may act on them (admins, or the customer themself).
async fn customer_for(state: &AppState, user: &AuthUser, id: &str) -> ApiResult<crate::store::User> {
    let not_found = || AppError::NotFound("No customer with this id.".into());
    let id = parse_uuid("id", id).map_err(|_| not_found())?;
    if user.role != Role::Admin && user.id != id {
        // Staff are told "forbidden"; another customer must not learn whether the id exists.
        return Err(if user.is_staff() {
            AppError::Forbidden("GDPR actions are for admins and the customer themself.".into())
        } else {
            not_found()
        });
    }
    match state.store.user_by_id(id).await {
        Ok(account) if account.role == Role::Customer => Ok(account),
        Ok(_) | Err(StoreError::NotFound) => Err(not_found()),
        Err(other) => Err(other.into()),
    }
}

/// Export all of a customer's data as JSON (admins, or the customer for themself).
#[utoipa::path(get, path = "/gdpr/customers/{id}/export", tag = "gdpr",
    params(("id" = Uuid, Path, description = "Customer (user) id")),
    responses(
        (status = 200, description = "Everything stored about the customer", body = CustomerExport),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn export_customer(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<CustomerExport>> {
    let customer = customer_for(&state, &user, &id).await?;
    let filter = TicketFilter { customer_id: Some(customer.id), ..Default::default() };
    let mut tickets = Vec::new();
    for page in 0.. {
        let request = PageRequest { page, size: 100, sort: TicketSort::CreatedAt, descending: false };
        let batch = state.store.list_tickets(&filter, request).await?;
        let done = batch.items.len() < 100;
        for ticket in batch.items {
            let mut communications = Vec::new();
            let mut after = 0;
            loop {
                let chunk = state.store.list_communications(ticket.id, after, 500, false).await?;
                let Some(last) = chunk.last() else { break };
                after = last.seq;
                let full = chunk.len() == 500;
                communications.extend(chunk.into_iter().map(CommunicationDto::from));
                if !full {
                    break;
                }
            }
            tickets.push(ExportedTicket { ticket: ticket.into(), communications });
        }
        if done {
            break;
        }
    }
    let mut record = audit(&user, "gdpr.exported", customer.id);
    record.after = Some(serde_json::json!({ "tickets": tickets.len() }));
    state.store.create_audit(record).await?;
    Ok(Json(CustomerExport { exported_at: crate::store::now(), profile: customer.into(), tickets }))
}

/// Erase a customer: personal data removed or anonymised, tickets kept anonymously (admins, or
/// the customer for themself). Irreversible; audited.
#[utoipa::path(delete, path = "/gdpr/customers/{id}", tag = "gdpr",
    params(("id" = Uuid, Path, description = "Customer (user) id")),
    responses(
        (status = 204, description = "Erased"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn erase_customer(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let customer = customer_for(&state, &user, &id).await?;
    state.store.erase_customer(customer.id, audit(&user, "gdpr.erased", customer.id)).await?;
    state.sessions.revoke_user(customer.id).await;
    state.cache.invalidate(crate::ops::cache::Namespace::Tickets).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    #[param(value_type = Option<Uuid>)]
    pub actor_id: Option<String>,
    /// e.g. `ticket.status_changed`, `gdpr.erased`.
    pub action: Option<String>,
    /// e.g. `ticket`, `user`, `agent`, `kb_article`.
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    /// RFC 3339, inclusive.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub from: Option<String>,
    /// RFC 3339, exclusive.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub to: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub paging: PageParams,
}

/// An audit-log entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditDto {
    pub id: i64,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

impl From<AuditEntry> for AuditDto {
    fn from(e: AuditEntry) -> Self {
        AuditDto {
            id: e.id,
            actor_id: e.actor_id,
            action: e.action,
            entity_type: e.entity_type,
            entity_id: e.entity_id,
            before: e.before,
            after: e.after,
            created_at: e.created_at,
        }
    }
}

fn timestamp(field: &str, value: &str) -> Result<DateTime<Utc>, FieldError> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| FieldError::new(field, "must be an RFC 3339 timestamp"))
}

fn short_text(field: &str, value: &str) -> Result<String, FieldError> {
    crate::domain::validate::text(field, value, 1, 200)
}

/// The audit log, newest first, with filters (admins).
#[utoipa::path(get, path = "/audit", tag = "gdpr",
    params(AuditParams, PageParams),
    responses(
        (status = 200, description = "A page of entries", body = PageDto<AuditDto>),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_audit(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> ApiResult<Json<PageDto<AuditDto>>> {
    user.require_admin()?;
    let mut errors = Errors::default();
    let filter = AuditFilter {
        actor_id: params.actor_id.as_deref().and_then(|v| errors.check(parse_uuid("actorId", v))),
        action: params.action.as_deref().and_then(|v| errors.check(short_text("action", v))),
        entity_type: params.entity_type.as_deref().and_then(|v| errors.check(short_text("entityType", v))),
        entity_id: params.entity_id.as_deref().and_then(|v| errors.check(short_text("entityId", v))),
        from: params.from.as_deref().and_then(|v| errors.check(timestamp("from", v))),
        to: params.to.as_deref().and_then(|v| errors.check(timestamp("to", v))),
    };
    let page = params.paging.to_request(&mut errors, &[], ((), true), |_| None);
    errors.finish().map_err(AppError::Validation)?;
    let entries = state.store.list_audit(&filter, page).await?;
    Ok(Json(PageDto::from_page(entries, &page, AuditDto::from)))
}
