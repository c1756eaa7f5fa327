//! The UI's static files (one stylesheet, ES modules, an icon), embedded in the binary and served
//! under `/support/static/{version}/{file}`. The version is a hash of every file, so URLs change
//! whenever any file does and responses can be cached for a year; relative `import`s between
//! modules stay inside the same versioned folder.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// A file and its media type.
struct Asset {
    name: &'static str,
    body: &'static [u8],
    content_type: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset { name: $name, body: include_bytes!(concat!("static/", $name)), content_type: $type }
    };
}

static ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("api.js", JS),
    asset!("ui.js", JS),
    asset!("stomp-client.js", JS),
    asset!("auth-forms.js", JS),
    asset!("conversation.js", JS),
    asset!("kb-search.js", JS),
    asset!("portal.js", JS),
    asset!("ticket-chat.js", JS),
    asset!("dashboard.js", JS),
    asset!("queue-live.js", JS),
    asset!("workspace.js", JS),
    asset!("charts.js", JS),
    asset!("analytics.js", JS),
    asset!("kb-editor.js", JS),
];

/// Twelve hex digits of a SHA-256 over every asset: the cache-busting path segment.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hasher = Sha256::new();
        for asset in ASSETS {
            hasher.update(asset.name.as_bytes());
            hasher.update([0]);
            hasher.update(asset.body);
        }
        hasher.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
    })
}

/// `GET /support/static/{version}/{file}`.
pub async fn serve(Path((requested_version, file)): Path<(String, String)>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "Not found\n")
            .into_response();
    };
    // An old page asking for an old version gets today's file, but must not keep it for a year.
    let cache = if requested_version == version() { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_media_type_by_its_extension() {
        for asset in ASSETS {
            let expected = match asset.name.rsplit_once('.').map(|(_, ext)| ext) {
                Some("js") => "text/javascript",
                Some("css") => "text/css",
                Some("svg") => "image/svg+xml",
                other => panic!("unexpected asset extension {other:?}"),
            };
            assert!(asset.content_type.starts_with(expected), "{}", asset.name);
        }
        assert_eq!(version().len(), 12);
    }
}
