//! Support agents: the team list, onboarding (supervisors) and each agent's workload.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{ApiJson, ApiQuery};
use super::pagination::{PageDto, PageParams};
use super::parse_uuid;
use crate::app::AppState;
use crate::auth::{password, AuthUser};
use crate::domain::agent::{AgentLevel, AgentStatus};
use crate::domain::ticket::Category;
use crate::domain::user::Role;
use crate::domain::validate::{self, Errors, FieldError};
use crate::error::{ApiResult, AppError, Problem};
use crate::store::{Agent, NewAgent, NewAudit, NewUser, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agents", get(list_agents).post(create_agent))
        .route("/agents/{id}", get(get_agent))
        .route("/agents/{id}/status", axum::routing::put(set_agent_status))
}

/// A support agent and their current workload.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentDto {
    pub id: Uuid,
    pub user_id: Uuid,
    pub full_name: String,
    pub email: String,
    pub level: AgentLevel,
    /// Categories this agent handles.
    pub skills: Vec<Category>,
    /// ISO 639-1 language codes.
    pub languages: Vec<String>,
    pub status: AgentStatus,
    pub max_concurrent_tickets: i32,
    /// Open (not resolved or closed) tickets assigned now.
    pub current_load: i64,
    /// `currentLoad / maxConcurrentTickets`, 0.0 to 1.0 or above when overloaded.
    pub utilization: f64,
    pub created_at: DateTime<Utc>,
}

impl From<Agent> for AgentDto {
    fn from(a: Agent) -> Self {
        let utilization = a.current_load as f64 / f64::from(a.max_concurrent_tickets.max(1));
        AgentDto {
            id: a.id,
            user_id: a.user_id,
            full_name: a.full_name,
            email: a.email,
            level: a.level,
            skills: a.skills,
            languages: a.languages,
            status: a.status,
            max_concurrent_tickets: a.max_concurrent_tickets,
            current_load: a.current_load,
            utilization: (utilization * 100.0).round() / 100.0,
            created_at: a.created_at,
        }
    }
}

/// List agents by name (staff).
#[utoipa::path(get, path = "/agents", tag = "agents",
    params(PageParams),
    responses(
        (status = 200, description = "A page of agents", body = PageDto<AgentDto>),
        (status = 403, description = "Staff only", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_agents(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<Json<PageDto<AgentDto>>> {
    user.require_staff()?;
    let mut errors = Errors::default();
    // Agents are listed by name; `sort` accepts only that.
    let page = params.to_request(&mut errors, &["fullName"], ((), false), |f| (f == "fullName").then_some(()));
    errors.finish().map_err(AppError::Validation)?;
    let agents = state.store.list_agents(page).await?;
    Ok(Json(PageDto::from_page(agents, &page, AgentDto::from)))
}

/// A new agent account and profile.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateAgentRequest {
    pub full_name: String,
    pub email: String,
    /// Initial password, 8 to 128 characters.
    pub password: String,
    /// AGENT (default) or SUPERVISOR (admins only).
    pub role: Option<Role>,
    /// Default L1.
    pub level: Option<AgentLevel>,
    #[serde(default)]
    pub skills: Vec<Category>,
    /// ISO 639-1 codes, default ["en"].
    pub languages: Option<Vec<String>>,
    /// Default AVAILABLE.
    pub status: Option<AgentStatus>,
    /// 1 to 100, default 10.
    pub max_concurrent_tickets: Option<i32>,
}

/// Onboard an agent (supervisors and admins).
#[utoipa::path(post, path = "/agents", tag = "agents",
    request_body = CreateAgentRequest,
    responses(
        (status = 201, description = "Created", body = AgentDto),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Supervisors and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "E-mail already registered", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_agent(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<CreateAgentRequest>,
) -> ApiResult<impl IntoResponse> {
    user.require_supervisor()?;
    let mut errors = Errors::default();
    let full_name = errors.check(validate::text("fullName", &request.full_name, 1, 100));
    let email = errors.check(validate::email("email", &request.email));
    let password_ok = errors.check(validate::password("password", &request.password));
    let role = request.role.unwrap_or(Role::Agent);
    if !matches!(role, Role::Agent | Role::Supervisor) {
        errors.push(FieldError::new("role", "must be AGENT or SUPERVISOR"));
    }
    let languages = request.languages.unwrap_or_else(|| vec!["en".into()]);
    if languages.is_empty()
        || languages.len() > 10
        || languages.iter().any(|l| l.len() != 2 || !l.chars().all(|c| c.is_ascii_lowercase()))
    {
        errors.push(FieldError::new("languages", "1 to 10 two-letter lower-case ISO 639-1 codes, e.g. en"));
    }
    let max_tickets = request.max_concurrent_tickets.unwrap_or(10);
    if !(1..=100).contains(&max_tickets) {
        errors.push(FieldError::new("maxConcurrentTickets", "must be from 1 to 100"));
    }
    errors.finish().map_err(AppError::Validation)?;
    let (Some(full_name), Some(email), Some(_)) = (full_name, email, password_ok) else {
        return Err(AppError::BadRequest("invalid agent".into()));
    };
    if role == Role::Supervisor {
        user.require_admin()?;
    }
    let mut skills = request.skills;
    skills.dedup();
    let new_user = NewUser {
        id: Uuid::new_v4(),
        email: email.clone(),
        full_name,
        role,
        password_hash: password::hash(request.password).await?,
    };
    let agent = NewAgent {
        id: Uuid::new_v4(),
        level: request.level.unwrap_or(if role == Role::Supervisor { AgentLevel::Supervisor } else { AgentLevel::L1 }),
        skills,
        languages,
        status: request.status.unwrap_or(AgentStatus::Available),
        max_concurrent_tickets: max_tickets,
    };
    let audit = NewAudit {
        actor_id: Some(user.id),
        action: "agent.created".into(),
        entity_type: "agent".into(),
        entity_id: agent.id.to_string(),
        before: None,
        after: Some(serde_json::json!({ "role": role, "level": agent.level })),
    };
    let agent = match state.store.create_agent(new_user, agent, audit).await {
        Err(StoreError::Duplicate(_)) => {
            return Err(AppError::Conflict("An account with this e-mail is already registered.".into()))
        }
        other => other?,
    };
    let location = format!("/api/customer-support/agents/{}", agent.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(AgentDto::from(agent))))
}

/// Agent details with workload (staff).
#[utoipa::path(get, path = "/agents/{id}", tag = "agents",
    params(("id" = Uuid, Path, description = "Agent id")),
    responses(
        (status = 200, description = "The agent", body = AgentDto),
        (status = 403, description = "Staff only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such agent", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_agent(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentDto>> {
    user.require_staff()?;
    let id = parse_uuid("id", &id).map_err(|_| AppError::NotFound("No agent with this id.".into()))?;
    match state.store.agent_by_id(id).await {
        Ok(agent) => Ok(Json(agent.into())),
        Err(StoreError::NotFound) => Err(AppError::NotFound("No agent with this id.".into())),
        Err(other) => Err(other.into()),
    }
}

/// An agent's availability.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AgentStatusRequest {
    pub status: AgentStatus,
}

/// Set an agent's presence: AVAILABLE, BUSY, AWAY or OFFLINE (the agent themself, or a supervisor).
#[utoipa::path(put, path = "/agents/{id}/status", tag = "agents",
    params(("id" = Uuid, Path, description = "Agent id")),
    request_body = AgentStatusRequest,
    responses(
        (status = 200, description = "Updated", body = AgentDto),
        (status = 400, description = "Unknown status", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Someone else's status, and not a supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such agent", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn set_agent_status(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<AgentStatusRequest>,
) -> ApiResult<Json<AgentDto>> {
    user.require_staff()?;
    let id = parse_uuid("id", &id).map_err(|_| AppError::NotFound("No agent with this id.".into()))?;
    let agent = match state.store.agent_by_id(id).await {
        Ok(agent) => agent,
        Err(StoreError::NotFound) => return Err(AppError::NotFound("No agent with this id.".into())),
        Err(other) => return Err(other.into()),
    };
    if agent.user_id != user.id {
        user.require_supervisor()?;
    }
    let audit = NewAudit {
        actor_id: Some(user.id),
        action: "agent.status_changed".into(),
        entity_type: "agent".into(),
        entity_id: agent.id.to_string(),
        before: Some(serde_json::json!({ "status": agent.status })),
        after: Some(serde_json::json!({ "status": request.status })),
    };
    Ok(Json(state.store.set_agent_status(agent.id, request.status, audit).await?.into()))
}
