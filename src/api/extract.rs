//! Request extractors that turn malformed input into problem responses naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// A JSON body. Unlike `axum::Json`, errors come back as problem+json with the JSON path of the
/// offending field (`priority: unknown variant ...`), and oversize bodies as 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(AppError::UnsupportedMediaType(
                "Send the request body as JSON with 'Content-Type: application/json'.".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Deserialises JSON, reporting the path of the first bad field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = clean_serde_message(&inner.to_string());
        if inner.is_syntax() || inner.is_eof() {
            AppError::BadRequest(format!("The request body is not valid JSON: {message}"))
        } else if path == "." || path.is_empty() {
            // e.g. a missing required field: serde names it in the message.
            let field = field_named_in(&message).unwrap_or_else(|| "body".into());
            AppError::field(&field, message)
        } else {
            AppError::field(&path, message)
        }
    })?;
    deserializer.end().map_err(|e| {
        AppError::BadRequest(format!("The request body is not valid JSON: {}", clean_serde_message(&e.to_string())))
    })?;
    Ok(value)
}

/// serde says "missing field `subject` at line 1 column 2"; the position helps nobody here.
fn clean_serde_message(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

/// The field serde names in "missing field `x`" or "duplicate field `x`".
fn field_named_in(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `").or_else(|| message.strip_prefix("duplicate field `"))?;
    Some(rest.split('`').next()?.to_string())
}

/// Query parameters as a struct of optional strings; values are validated by the handler so
/// every error names its parameter. Only a malformed query string fails here.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(ApiQuery).map_err(|error| {
            let path = error.path().to_string();
            let message = clean_serde_message(&error.into_inner().to_string());
            // A repeated parameter (`?status=A&status=B`) fails at the top level: the message
            // names it (found by the ticket_query fuzz target).
            let field = match path.as_str() {
                "." | "" => field_named_in(&message).unwrap_or_else(|| "query".into()),
                _ => path,
            };
            AppError::field(&field, message)
        })
    }
}

/// A JSON body that is already serialised, e.g. a cache hit: sent as it is, instead of being
/// parsed back into a DTO and encoded again for every request.
pub struct JsonText(pub String);

impl JsonText {
    pub fn encode<T: serde::Serialize>(value: &T) -> Result<JsonText, AppError> {
        serde_json::to_string(value).map(JsonText).map_err(|e| AppError::Internal(e.into()))
    }
}

impl axum::response::IntoResponse for JsonText {
    fn into_response(self) -> axum::response::Response {
        ([(axum::http::header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        subject: String,
        priority: Option<crate::domain::ticket::Priority>,
    }

    fn field_of(result: Result<Body, AppError>) -> String {
        match result {
            Err(AppError::Validation(errors)) => errors[0].field.clone(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(parse_json(br#"{"subject":"x","priority":"SOON"}"#)), "priority");
        assert_eq!(field_of(parse_json(br#"{"subject":5}"#)), "subject");
        assert_eq!(field_of(parse_json(br#"{"priority":"LOW"}"#)), "subject");
        assert!(matches!(parse_json::<Body>(b"{\"subject\":"), Err(AppError::BadRequest(_))));
        assert!(matches!(parse_json::<Body>(br#"{"subject":"x"} trailing"#), Err(AppError::BadRequest(_))));
    }
}
