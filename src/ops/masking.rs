//! Masks sensitive data in every log line before it is written: e-mail addresses, JWTs and
//! bearer tokens, passwords, refresh tokens and API keys, card and IBAN-like numbers.

use std::io::{self, Write};
use std::sync::OnceLock;

use regex::Regex;
use tracing_subscriber::fmt::MakeWriter;

struct Rule {
    pattern: Regex,
    replacement: &'static str,
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        [
            // JWTs: three base64url parts, the first two starting with eyJ ({").
            (r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", "[jwt]"),
            (r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}", "$1 [token]"),
            // key=value and "key":"value" forms of secrets.
            (
                r#"(?i)("?(?:password|passcode|secret|token|access_token|refresh_token|refreshtoken|accesstoken|api_?key|authorization)"?\s*[:=]\s*"?)[^"&\s,}]+"#,
                "$1[masked]",
            ),
            (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "[email]"),
            // IBAN-like: country code, check digits, 11-30 alphanumerics (spaces allowed in groups of 4).
            (r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b", "[iban]"),
            // Card-like: 13-19 digits, optionally grouped by spaces or dashes.
            (r"\b\d(?:[ -]?\d){12,18}\b", "[card]"),
            // Long opaque keys (refresh tokens, API keys): 32+ base64url/hex characters.
            // (UUIDs, which have dashes every few characters, stay readable.)
            (r"\b[A-Za-z0-9_]{32,}\b|[A-Za-z0-9_-]{40,}", "[key]"),
        ]
        .into_iter()
        .filter_map(|(pattern, replacement)| Regex::new(pattern).ok().map(|pattern| Rule { pattern, replacement }))
        .collect()
    })
}

/// The line with every sensitive value replaced.
pub fn mask(line: &str) -> String {
    let mut masked = line.to_string();
    for rule in rules() {
        if rule.pattern.is_match(&masked) {
            masked = rule.pattern.replace_all(&masked, rule.replacement).into_owned();
        }
    }
    masked
}

/// A writer that masks what passes through it, line by line.
pub struct MaskingWriter<W: Write> {
    inner: W,
    buffer: Vec<u8>,
}

impl<W: Write> Write for MaskingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buffer.is_empty() {
            let text = String::from_utf8_lossy(&self.buffer);
            self.inner.write_all(mask(&text).as_bytes())?;
            self.buffer.clear();
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for MaskingWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Wraps a writer factory (stdout, a test buffer) so every event it writes is masked.
pub struct Masking<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Masking<M> {
    type Writer = MaskingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        MaskingWriter { inner: self.0.make_writer(), buffer: Vec::with_capacity(256) }
    }
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn secrets_never_survive() {
        let line = r#"login ann.lee@example.com password=hunter2 {"refreshToken":"abc"} Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig card 4111 1111 1111 1111 iban DE89 3704 0044 0532 0130 00 key sk_live_0123456789abcdef0123456789abcdef"#;
        let masked = mask(line);
        for secret in [
            "ann.lee@example.com",
            "hunter2",
            "abc",
            "eyJhbGciOiJIUzI1NiJ9",
            "4111 1111",
            "DE89 3704",
            "0123456789abcdef0123",
        ] {
            assert!(!masked.contains(secret), "{secret} leaked: {masked}");
        }
        assert!(masked.contains("login"));
    }

    #[test]
    fn every_rule_compiles() {
        // Rules that fail to compile are skipped at run time; none may be.
        assert_eq!(super::rules().len(), 7);
    }

    #[test]
    fn ordinary_text_is_kept() {
        let line = "GET /api/customer-support/tickets?page=0&size=20 200 in 3 ms ticket ALP-1042 id 0b7c4a8e-4c1f-4e8a-9a55-1d2f3e4a5b6c";
        assert_eq!(mask(line), line);
    }
}
