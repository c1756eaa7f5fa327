//! Every error the API returns, as RFC 9457 `application/problem+json`.
//! Internal details are logged, never sent.

use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::validate::FieldError;
use crate::domain::Rejection;
use crate::store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The problem document (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    #[schema(example = "https://alphintra.com/problems/validation")]
    pub problem_type: String,
    #[schema(example = "Validation failed")]
    pub title: String,
    #[schema(example = 400)]
    pub status: u16,
    #[schema(example = "subject: must not be blank")]
    pub detail: String,
    /// The offending fields, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, AppError>;

impl AppError {
    /// A validation error for one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation(_) | AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation",
            AppError::BadRequest(_) => "bad-request",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not-found",
            AppError::Conflict(_) => "conflict",
            AppError::PayloadTooLarge => "payload-too-large",
            AppError::UnsupportedMediaType(_) => "unsupported-media-type",
            AppError::TooManyRequests { .. } => "too-many-requests",
            AppError::Unavailable(_) => "service-unavailable",
            AppError::Internal(_) => "internal",
        }
    }
}

/// Builds a problem response; also used for errors raised outside handlers (404 routes, 405, panics).
pub fn problem_response(status: StatusCode, slug: &str, detail: String, errors: Vec<FieldError>) -> Response<Body> {
    let problem = Problem {
        problem_type: format!("https://alphintra.com/problems/{slug}"),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
        errors,
    };
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

impl IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = self.status();
        let detail = match &self {
            AppError::Validation(errors) => {
                errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
            }
            AppError::Internal(error) => {
                tracing::error!(error = %format!("{error:#}"), "internal error");
                "An unexpected error occurred; it has been logged.".to_string()
            }
            AppError::Unavailable(reason) => {
                tracing::warn!(%reason, "dependency unavailable");
                "The service is temporarily unavailable; please retry shortly.".to_string()
            }
            AppError::PayloadTooLarge => "The request body exceeds the allowed size.".to_string(),
            AppError::TooManyRequests { retry_after_secs } => {
                format!("Too many attempts; retry in {retry_after_secs} seconds.")
            }
            other => other.to_string(),
        };
        let slug = self.slug();
        let retry_after = match &self {
            AppError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let errors = match self {
            AppError::Validation(errors) => errors,
            _ => Vec::new(),
        };
        let mut response = problem_response(status, slug, detail, errors);
        if let Some(retry_after_secs) = retry_after {
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => AppError::NotFound("The requested resource does not exist.".into()),
            StoreError::Duplicate(what) => AppError::Conflict(format!("Already exists ({what}).")),
            StoreError::Rejected(rejection) => rejection.into(),
            StoreError::Unavailable(reason) => AppError::Unavailable(reason),
            StoreError::Other(reason) => AppError::Internal(anyhow::anyhow!(reason)),
        }
    }
}

impl From<Rejection> for AppError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::Conflict(message) => AppError::Conflict(message),
            Rejection::Forbidden(message) => AppError::Forbidden(message),
            Rejection::Invalid(errors) => AppError::Validation(errors),
        }
    }
}

impl From<BytesRejection> for AppError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::BadRequest(format!("Could not read the request body: {}", rejection.body_text()))
        }
    }
}
