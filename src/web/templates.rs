//! The page templates (minijinja, embedded with `include_str!`, HTML auto-escaping on) and the
//! response every page goes out in: security headers, a strict Content-Security-Policy, no cache.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::{context, Environment, Value};

use super::assets;
use super::flags::Features;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("portal.html", include_str!("templates/portal.html")),
    ("dashboard.html", include_str!("templates/dashboard.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("home.html", include_str!("templates/home.html")),
    ("article.html", include_str!("templates/article.html")),
    ("signin.html", include_str!("templates/signin.html")),
    ("tickets.html", include_str!("templates/tickets.html")),
    ("new_ticket.html", include_str!("templates/new_ticket.html")),
    ("ticket.html", include_str!("templates/ticket.html")),
    ("queue.html", include_str!("templates/queue.html")),
    ("workspace.html", include_str!("templates/workspace.html")),
    ("analytics.html", include_str!("templates/analytics.html")),
    ("kb_editor.html", include_str!("templates/kb_editor.html")),
    ("not_found.html", include_str!("templates/not_found.html")),
];

/// Templates plus what every page needs to know.
pub struct Ui {
    env: Environment<'static>,
    pub features: Features,
}

/// What distinguishes one page from another in the shared layout.
pub struct PageMeta<'a> {
    pub template: &'a str,
    pub title: &'a str,
    /// Which script module boots the page, and which part of it (`data-page`).
    pub page: &'a str,
}

impl Ui {
    pub fn new(features: Features) -> Ui {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            // The templates are part of the binary; one that does not parse is a build defect,
            // caught by the unit test below.
            if let Err(error) = env.add_template(name, source) {
                tracing::error!(%error, template = name, "web UI template does not parse");
            }
        }
        Ui { env, features }
    }

    /// Renders `meta.template` with `data` merged into the layout's context.
    pub fn page(&self, headers: &HeaderMap, meta: PageMeta<'_>, data: Value) -> Response {
        self.page_with_status(headers, StatusCode::OK, meta, data)
    }

    pub fn page_with_status(
        &self,
        headers: &HeaderMap,
        status: StatusCode,
        meta: PageMeta<'_>,
        data: Value,
    ) -> Response {
        let static_base = format!("/support/static/{}", assets::version());
        let ctx = context! {
            title => meta.title,
            page => meta.page,
            static => static_base,
            features => Value::from_serialize(self.features),
            live_chat => self.features.live_chat(),
            ..data
        };
        match self.env.get_template(meta.template).and_then(|t| t.render(ctx)) {
            Ok(html) => html_response(headers, status, html),
            Err(error) => {
                tracing::error!(%error, template = meta.template, "cannot render a web UI page");
                html_response(
                    headers,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<!doctype html><title>Error</title><p>This page could not be shown; the error has been logged.</p>"
                        .into(),
                )
            }
        }
    }
}

/// The host the page was requested on, if it is a plain `name[:port]` fit for a CSP source.
fn request_host(headers: &HeaderMap) -> Option<&str> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let plain = !host.is_empty()
        && host.len() <= 255
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    plain.then_some(host)
}

/// Pages never load anything from elsewhere and run only our own scripts, so an injected
/// `<script>` or inline handler would not run even if escaping ever failed.
fn content_security_policy(headers: &HeaderMap) -> String {
    let sockets = request_host(headers).map(|h| format!(" ws://{h} wss://{h}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; \
         connect-src 'self'{sockets}; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

fn html_response(headers: &HeaderMap, status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // Pages are small shells whose asset URLs change with every release; always revalidate.
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    out.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    out.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(headers)) {
        out.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[tokio::test]
    async fn every_page_renders_with_data_escaped() {
        let ui = Ui::new(Features::default());
        let data = context! {
            q => "<script>q</script>",
            searched => true,
            hits => vec![context! { slug => "s", title => "<b>title</b>", category => "API", snippet => "a <mark>match</mark>" }],
            popular => Vec::<Value>::new(),
            categories => vec![context! { value => "OTHER", label => "Other" }],
            ticket_id => "00000000-0000-0000-0000-000000000000",
            content_html => "<p>safe</p>",
            helpful => 3,
            not_helpful => 1,
            tags => vec!["<i>tag</i>"],
            nav => "queue",
        };
        for (template, _) in TEMPLATES {
            if matches!(*template, "base.html" | "portal.html" | "dashboard.html" | "macros.html") {
                continue;
            }
            let meta = PageMeta { template, title: "Title", page: "home" };
            let response = ui.page(&HeaderMap::new(), meta, data.clone());
            assert_eq!(response.status(), StatusCode::OK, "{template}");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
            let html = String::from_utf8(body.to_vec()).expect("utf-8");
            assert!(!html.contains("<script>q</script>") && !html.contains("<b>title</b>"), "{template} escapes data");
            if *template == "home.html" {
                assert!(html.contains("&lt;b&gt;title&lt;") && html.contains("a <mark>match</mark>"), "{html}");
            }
        }
    }

    #[test]
    fn csp_allows_the_socket_only_on_the_requested_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8010"));
        assert!(
            content_security_policy(&headers).contains("connect-src 'self' ws://127.0.0.1:8010 wss://127.0.0.1:8010;")
        );
        headers.insert(header::HOST, HeaderValue::from_static("evil.example; script-src *"));
        assert!(content_security_policy(&headers).contains("connect-src 'self';"));
    }
}
