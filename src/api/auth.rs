//! Sign-up, sign-in, token refresh (rotating), sign-out and "who am I".

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::agents::AgentDto;
use super::extract::ApiJson;
use crate::app::AppState;
use crate::auth::{password, tokens, AuthUser};
use crate::domain::user::Role;
use crate::domain::validate::{self, Errors};
use crate::error::{ApiResult, AppError, Problem};
use crate::store::{now, NewAudit, NewUser, RefreshToken, StoreError, User};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
}

/// A user as shown to themselves.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        UserDto { id: u.id, email: u.email, full_name: u.full_name, role: u.role, created_at: u.created_at }
    }
}

/// Tokens for a signed-in user.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque; exchange at `/auth/refresh`. Each use returns a new one and retires the old.
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Access token lifetime in seconds.
    pub expires_in: u64,
    pub user: UserDto,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub email: String,
    /// 8 to 128 characters.
    pub password: String,
    pub full_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Issues an access token and a refresh token of a new (or the given) family.
pub async fn issue_tokens(state: &AppState, user: User, family_id: Option<Uuid>) -> ApiResult<AuthResponse> {
    let access_token = state.tokens.issue(user.id, user.role, &user.email, &user.full_name)?;
    let (refresh_token, hash) = tokens::new_refresh_token();
    let record = RefreshToken {
        id: Uuid::new_v4(),
        user_id: user.id,
        family_id: family_id.unwrap_or_else(Uuid::new_v4),
        expires_at: now() + refresh_ttl(state),
        revoked: false,
    };
    state.sessions.insert(record, &hash).await?;
    Ok(AuthResponse {
        access_token,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: state.tokens.ttl_secs(),
        user: user.into(),
    })
}

fn refresh_ttl(state: &AppState) -> Duration {
    Duration::days(i64::try_from(state.config.refresh_token_ttl_days).unwrap_or(30))
}

/// Create a customer account and sign in.
#[utoipa::path(post, path = "/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered and signed in", body = AuthResponse),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "E-mail already registered", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<AuthResponse>)> {
    let mut errors = Errors::default();
    let email = errors.check(validate::email("email", &request.email));
    errors.check(validate::password("password", &request.password));
    let full_name = errors.check(validate::text("fullName", &request.full_name, 1, 100));
    errors.finish().map_err(AppError::Validation)?;
    let (Some(email), Some(full_name)) = (email, full_name) else {
        return Err(AppError::BadRequest("invalid registration".into()));
    };
    let user = NewUser {
        id: Uuid::new_v4(),
        email,
        full_name,
        role: Role::Customer,
        password_hash: password::hash(request.password).await?,
    };
    let audit = NewAudit {
        actor_id: Some(user.id),
        action: "user.registered".into(),
        entity_type: "user".into(),
        entity_id: user.id.to_string(),
        before: None,
        after: Some(serde_json::json!({ "role": Role::Customer })),
    };
    let user = match state.store.create_user(user, Some(audit)).await {
        Err(StoreError::Duplicate(_)) => {
            return Err(AppError::Conflict("An account with this e-mail is already registered.".into()))
        }
        other => other?,
    };
    tracing::info!(user_id = %user.id, email = %user.email, "customer registered");
    Ok((StatusCode::CREATED, Json(issue_tokens(&state, user, None).await?)))
}

/// Sign in with e-mail and password. Repeated failures are throttled (429 with Retry-After).
#[utoipa::path(post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = AuthResponse),
        (status = 401, description = "Wrong e-mail or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failures; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<Json<AuthResponse>> {
    let email = request.email.trim().to_lowercase();
    let ip = peer.ip();
    state.throttle.check(&email, ip).map_err(|retry_after_secs| AppError::TooManyRequests { retry_after_secs })?;
    let user = match state.store.user_by_email(&email).await {
        Ok(user) => Some(user),
        Err(StoreError::NotFound) => None,
        Err(other) => return Err(other.into()),
    };
    // Verify against a decoy when the account does not exist, so timing does not reveal it.
    let stored_hash = match &user {
        Some(user) => user.password_hash.clone(),
        None => state.decoy_hash.to_string(),
    };
    let valid = password::verify(request.password, stored_hash).await;
    match user {
        Some(user) if valid => {
            state.throttle.record_success(&email, ip);
            Ok(Json(issue_tokens(&state, user, None).await?))
        }
        _ => {
            // The e-mail is masked by the log writer; it is here so repeated failures can be correlated.
            tracing::info!(%email, %ip, "sign-in failed");
            state.throttle.record_failure(&email, ip);
            Err(AppError::Unauthorized("Wrong e-mail or password.".into()))
        }
    }
}

/// Exchange a refresh token for new tokens. Reusing a retired token revokes its whole family.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = AuthResponse),
        (status = 401, description = "Unknown, expired, revoked or reused token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> ApiResult<Json<AuthResponse>> {
    let invalid = || AppError::Unauthorized("The refresh token is invalid or expired; sign in again.".into());
    let hash = tokens::hash_refresh_token(request.refresh_token.trim());
    let (next_token, next_hash) = tokens::new_refresh_token();
    let current = match state.sessions.by_hash(&hash).await {
        Ok(token) => token,
        Err(StoreError::NotFound) => return Err(invalid()),
        Err(other) => return Err(other.into()),
    };
    let successor = RefreshToken {
        id: Uuid::new_v4(),
        user_id: current.user_id,
        family_id: current.family_id,
        expires_at: now() + refresh_ttl(&state),
        revoked: false,
    };
    let used = state.sessions.rotate(&hash, successor, &next_hash).await?;
    if used.revoked {
        // A retired token came back: it was stolen or replayed. End every session of that chain.
        state.sessions.revoke_family(used.family_id).await?;
        tracing::warn!(user_id = %used.user_id, "refresh token reuse detected; token family revoked");
        return Err(invalid());
    }
    if used.expires_at <= now() {
        return Err(invalid());
    }
    let user = state.store.user_by_id(used.user_id).await?;
    let access_token = state.tokens.issue(user.id, user.role, &user.email, &user.full_name)?;
    Ok(Json(AuthResponse {
        access_token,
        refresh_token: next_token,
        token_type: "Bearer".into(),
        expires_in: state.tokens.ttl_secs(),
        user: user.into(),
    }))
}

/// Sign out: revokes the refresh token and every token rotated from the same sign-in.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out (also when the token was already invalid)")))]
pub async fn logout(State(state): State<AppState>, ApiJson(request): ApiJson<RefreshRequest>) -> ApiResult<StatusCode> {
    let hash = tokens::hash_refresh_token(request.refresh_token.trim());
    match state.sessions.by_hash(&hash).await {
        Ok(token) => state.sessions.revoke_family(token.family_id).await?,
        Err(StoreError::NotFound) => {}
        Err(other) => return Err(other.into()),
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user, with their agent profile when they have one.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeResponse {
    #[serde(flatten)]
    pub user: UserDto,
    pub agent: Option<AgentDto>,
}

/// Who am I?
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses(
        (status = 200, description = "The signed-in user", body = MeResponse),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<MeResponse>> {
    let account = match state.store.user_by_id(user.id).await {
        Ok(account) => account,
        Err(StoreError::NotFound) => return Err(AppError::Unauthorized("This account no longer exists.".into())),
        Err(other) => return Err(other.into()),
    };
    let agent = if user.is_staff() {
        match state.store.agent_by_user_id(user.id).await {
            Ok(agent) => Some(agent.into()),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        }
    } else {
        None
    };
    Ok(Json(MeResponse { user: account.into(), agent }))
}
