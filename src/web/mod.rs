//! The web UI (DESIGN §6): the customer portal under `/support` and the agent dashboard under
//! `/support/dashboard`. Pages are server-rendered HTML (minijinja templates) made live by small
//! hand-written ES modules that call the REST API and the STOMP broker; templates, scripts and the
//! stylesheet are embedded in the binary. See docs/ui.md.

mod assets;
mod flags;
mod pages;
mod templates;

use std::sync::Arc;

use axum::routing::get;
use axum::{Extension, Router};

pub use flags::Features;

use crate::app::AppState;

/// The UI's routes; feature flags are read from the environment here, once.
pub fn router() -> Router<AppState> {
    let ui = Arc::new(templates::Ui::new(Features::from_env()));
    Router::new()
        .route("/", get(pages::to_portal))
        .route("/support", get(pages::home))
        .route("/support/", get(pages::to_portal))
        .route("/support/signin", get(pages::signin))
        .route("/support/tickets", get(pages::my_tickets))
        .route("/support/tickets/new", get(pages::new_ticket))
        .route("/support/tickets/{id}", get(pages::ticket))
        .route("/support/kb/{slug}", get(pages::article))
        .route("/support/dashboard", get(pages::queue))
        .route("/support/dashboard/tickets/{id}", get(pages::workspace))
        .route("/support/dashboard/analytics", get(pages::analytics))
        .route("/support/dashboard/kb", get(pages::kb_editor))
        .route("/support/static/{version}/{file}", get(assets::serve))
        .route("/support/{*rest}", get(pages::not_found))
        .layer(Extension(ui))
}
