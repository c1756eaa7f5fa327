//! WebSocket endpoints `/ws` and `/ws/support`: sub-protocol negotiation, size limits, and
//! handing the socket to a STOMP session.

use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::session;
use crate::app::AppState;

/// STOMP over WebSocket sub-protocols, preferred first.
pub const SUBPROTOCOLS: [&str; 3] = ["v12.stomp", "v11.stomp", "v10.stomp"];

pub fn router() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade)).route("/ws/support", get(upgrade))
}

#[derive(Deserialize)]
struct UpgradeParams {
    /// Browsers cannot set headers on a WebSocket; they may pass the token here instead.
    access_token: Option<String>,
}

async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<UpgradeParams>,
    ws: WebSocketUpgrade,
) -> Response {
    let header_token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string());
    let token = header_token.or(params.access_token);
    // Room for the largest frame plus framing; the STOMP decoder enforces the exact limit.
    let max_message = state.session_settings.max_frame_bytes + 1024;
    // Idle connections dominate memory: tungstenite's defaults reserve 128 KiB of read buffer and
    // batch writes up to 128 KiB per connection. Chat frames are small, so read in 4 KiB chunks
    // (larger frames still assemble across reads) and write each frame out at once.
    ws.protocols(SUBPROTOCOLS)
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| session::run(socket, state, token))
}
