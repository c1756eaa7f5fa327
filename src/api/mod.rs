//! The REST API under `/api/customer-support`: one module per resource, composed here.

pub mod agents;
pub mod analytics;
pub mod auth;
pub mod communications;
pub mod docs;
pub mod extract;
pub mod gdpr;
pub mod health;
pub mod kb;
pub mod pagination;
pub mod tickets;

use axum::Router;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::domain::validate::FieldError;
use crate::domain::workflow::Actor;
use crate::error::{ApiResult, AppError};
use crate::store::{StoreError, Ticket};

/// Every resource's routes, relative to `/api/customer-support`.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(tickets::router())
        .merge(communications::router())
        .merge(agents::router())
        .merge(kb::router())
        .merge(analytics::router())
        .merge(gdpr::router())
        .merge(health::actuator_router())
}

pub fn parse_uuid(field: &str, value: &str) -> Result<Uuid, FieldError> {
    Uuid::parse_str(value.trim()).map_err(|_| FieldError::new(field, "must be a UUID"))
}

/// Loads a ticket the caller may see. Another customer's ticket is reported as missing,
/// not forbidden, so ticket ids cannot be probed.
pub async fn ticket_for(state: &AppState, user: &AuthUser, id: &str) -> ApiResult<Ticket> {
    let not_found = || AppError::NotFound("No ticket with this id.".into());
    let id = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
    match state.store.ticket_by_id(id).await {
        Ok(ticket) if user.is_staff() || ticket.customer_id == user.id => Ok(ticket),
        Ok(_) | Err(StoreError::NotFound) => Err(not_found()),
        Err(other) => Err(other.into()),
    }
}

/// The caller with the name shown in conversation events and their agent profile.
pub async fn actor_for(state: &AppState, user: &AuthUser) -> ApiResult<Actor> {
    let name = match state.store.user_by_id(user.id).await {
        Ok(account) => account.full_name,
        Err(StoreError::NotFound) => return Err(AppError::Unauthorized("This account no longer exists.".into())),
        Err(other) => return Err(other.into()),
    };
    let agent_id = if user.is_staff() {
        match state.store.agent_by_user_id(user.id).await {
            Ok(agent) => Some(agent.id),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        }
    } else {
        None
    };
    Ok(Actor { user_id: user.id, role: user.role, name, agent_id })
}
