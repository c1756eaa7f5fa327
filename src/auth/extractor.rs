//! Extractors for the caller's identity: a handler that takes [`AuthUser`] cannot run unauthenticated.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use super::tokens::{Identity, TokenError};
use crate::app::AppState;
use crate::domain::user::Role;
use crate::error::AppError;
use crate::store::{NewUser, StoreError};

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: Uuid,
    pub role: Role,
}

impl AuthUser {
    pub fn is_staff(&self) -> bool {
        self.role.is_staff()
    }

    /// 403 unless the caller is an agent, supervisor or admin.
    pub fn require_staff(&self) -> Result<(), AppError> {
        if self.is_staff() {
            Ok(())
        } else {
            Err(AppError::Forbidden("This action is only available to support staff.".into()))
        }
    }

    /// 403 unless the caller is a supervisor or admin.
    pub fn require_supervisor(&self) -> Result<(), AppError> {
        if self.role.is_supervisor() {
            Ok(())
        } else {
            Err(AppError::Forbidden("This action requires the SUPERVISOR or ADMIN role.".into()))
        }
    }

    /// 403 unless the caller is an admin.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(AppError::Forbidden("This action requires the ADMIN role.".into()))
        }
    }
}

/// The bearer token of a request, if any.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// Verifies a token and, for tokens from the external auth service, makes sure the user exists
/// here (tickets reference their customer), creating the account on first sight.
pub async fn authenticate(state: &AppState, token: &str) -> Result<AuthUser, AppError> {
    let identity = state.tokens.verify(token).map_err(|e| match e {
        TokenError::Expired => AppError::Unauthorized("The access token has expired; refresh it.".into()),
        TokenError::Invalid => AppError::Unauthorized("The access token is invalid.".into()),
    })?;
    if identity.external {
        provision_external_user(state, &identity).await?;
    }
    Ok(AuthUser { id: identity.user_id, role: identity.role })
}

async fn provision_external_user(state: &AppState, identity: &Identity) -> Result<(), AppError> {
    match state.store.user_by_id(identity.user_id).await {
        Ok(_) => return Ok(()),
        Err(StoreError::NotFound) => {}
        Err(other) => return Err(other.into()),
    }
    let email = identity
        .email
        .clone()
        .filter(|e| crate::domain::validate::email("email", e).is_ok())
        .unwrap_or_else(|| format!("{}@external.invalid", identity.user_id));
    let user = NewUser {
        id: identity.user_id,
        email: email.to_lowercase(),
        full_name: identity.name.clone().unwrap_or_else(|| "Alphintra user".into()),
        role: identity.role,
        // Not a valid Argon2 hash: such accounts can only sign in through the external service.
        password_hash: "!external".into(),
    };
    match state.store.create_user(user, None).await {
        Ok(_) | Err(StoreError::Duplicate(_)) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer_token(parts)
            .ok_or_else(|| AppError::Unauthorized("Sign in first: send 'Authorization: Bearer <token>'.".into()))?;
        authenticate(state, token).await
    }
}

/// The caller if a valid token was sent; anonymous otherwise. An invalid token is still an error.
#[derive(Debug, Clone)]
pub struct MaybeAuthUser(pub Option<AuthUser>);

impl FromRequestParts<AppState> for MaybeAuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match bearer_token(parts) {
            None => Ok(MaybeAuthUser(None)),
            Some(token) => Ok(MaybeAuthUser(Some(authenticate(state, token).await?))),
        }
    }
}
