//! Field validation shared by every entry point (REST today, STOMP later), so rules live in one place.

use serde::Serialize;
use utoipa::ToSchema;

/// One invalid field, as reported in a problem response's `errors` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_string(), message: message.into() }
    }
}

/// Collects field errors so a client learns about every bad field at once.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(error);
                None
            }
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// `Ok(())` when nothing was collected.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

/// Trimmed text whose length in characters lies within `min..=max`.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, FieldError> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len < min {
        return Err(if min == 1 {
            FieldError::new(field, "must not be blank")
        } else {
            FieldError::new(field, format!("must be at least {min} characters"))
        });
    }
    if len > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(trimmed.to_string())
}

/// A syntactically valid e-mail address, lower-cased (addresses are compared case-insensitively).
pub fn email(field: &str, value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    let invalid = || FieldError::new(field, "must be a valid e-mail address");
    if value.len() > 254 {
        return Err(FieldError::new(field, "must be at most 254 characters"));
    }
    let (local, domain) = value.rsplit_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && local.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '<' && c != '>');
    if domain_ok && local_ok {
        Ok(value.to_lowercase())
    } else {
        Err(invalid())
    }
}

/// A password acceptable for a new account.
pub fn password(field: &str, value: &str) -> Result<String, FieldError> {
    let len = value.chars().count();
    if len < 8 {
        return Err(FieldError::new(field, "must be at least 8 characters"));
    }
    if len > 128 {
        return Err(FieldError::new(field, "must be at most 128 characters"));
    }
    Ok(value.to_string())
}

/// Tags: at most 20, each 1..=40 characters of letters, digits, `-`, `_` or `.`; lower-cased, de-duplicated.
pub fn tags(field: &str, values: &[String]) -> Result<Vec<String>, FieldError> {
    if values.len() > 20 {
        return Err(FieldError::new(field, "at most 20 tags are allowed"));
    }
    let mut tags: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let tag = value.trim().to_lowercase();
        let valid = !tag.is_empty()
            && tag.chars().count() <= 40
            && tag.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(FieldError::new(field, "each tag must be 1-40 letters, digits, '-', '_' or '.'"));
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

/// Parses an upper-case enum value, naming the allowed values on failure.
pub fn one_of<T: std::str::FromStr>(field: &str, value: &str, allowed: &[&str]) -> Result<T, FieldError> {
    value.parse::<T>().map_err(|_| FieldError::new(field, format!("must be one of {}", allowed.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_lowercased_and_checked() {
        assert_eq!(email("email", " Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "a b@example.com",
            "ann@exa_mple.com",
        ] {
            assert!(email("email", bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(text("subject", "  hi  ", 1, 10).unwrap(), "hi");
        assert_eq!(text("subject", "   ", 1, 10).unwrap_err().message, "must not be blank");
        assert!(text("subject", &"x".repeat(11), 1, 10).is_err());
        assert!(text("subject", "a\u{0}b", 1, 10).is_err());
        // Characters, not bytes: ten multi-byte characters fit.
        assert!(text("subject", &"é".repeat(10), 1, 10).is_ok());
    }

    #[test]
    fn tags_are_normalised() {
        let tags = tags("tags", &["VIP".into(), "vip".into(), "usdt".into()]).unwrap();
        assert_eq!(tags, vec!["vip", "usdt"]);
        assert!(super::tags("tags", &["has space".into()]).is_err());
        assert!(super::tags("tags", &vec!["a".to_string(); 21]).is_err());
    }
}
