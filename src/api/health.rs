//! Liveness, Spring-Boot-style health with per-component status, and build info.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::app::AppState;

pub fn actuator_router() -> Router<AppState> {
    Router::new()
        .route("/actuator/health", get(actuator_health))
        .route("/actuator/info", get(info))
        .route("/actuator/prometheus", get(crate::ops::metrics::prometheus))
}

/// Liveness of the web front: the process answers.
pub async fn liveness() -> Json<Value> {
    Json(json!({ "status": "UP" }))
}

/// Health with components. 503 and `DOWN` when the database does not answer within 2 s.
#[utoipa::path(get, path = "/actuator/health", tag = "health",
    responses(
        (status = 200, description = "Up", body = Object),
        (status = 503, description = "Database down", body = Object),
    ))]
pub async fn actuator_health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let started = std::time::Instant::now();
    let db = match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => json!({
            "status": "UP",
            "details": { "database": state.store.backend_name(), "latencyMs": started.elapsed().as_millis() as u64 }
        }),
        Ok(Err(error)) => json!({
            "status": "DOWN",
            "details": { "database": state.store.backend_name(), "error": error.to_string() }
        }),
        Err(_) => json!({
            "status": "DOWN",
            "details": { "database": state.store.backend_name(), "error": "no answer within 2 s" }
        }),
    };
    let up = db["status"] == "UP";
    let broker = &state.broker;
    let mut components = json!({
        "db": db,
        "broker": { "status": "UP", "details": {
            "mode": if broker.remote().is_some() { "redis" } else { "in-process" },
            "connections": broker.connection_count(),
        } },
    });
    if let Some(remote) = broker.remote() {
        // Redis down degrades fan-out across instances; this instance keeps serving.
        components["redis"] = json!({
            "status": if remote.is_connected() { "UP" } else { "DOWN" },
            "details": { "publishErrors": remote.errors.load(std::sync::atomic::Ordering::Relaxed) },
        });
    }
    let body = json!({ "status": if up { "UP" } else { "DOWN" }, "components": components });
    (if up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}

/// Version, build and enabled features.
#[utoipa::path(get, path = "/actuator/info", tag = "health",
    responses((status = 200, description = "Build info", body = Object)))]
pub async fn info(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "app": {
            "name": env!("CARGO_PKG_NAME"),
            "version": env!("CARGO_PKG_VERSION"),
            "description": env!("CARGO_PKG_DESCRIPTION"),
        },
        "build": { "rustc": option_env!("RUSTC_VERSION").unwrap_or("stable"), "profile": if cfg!(debug_assertions) { "debug" } else { "release" } },
        "database": state.store.backend_name(),
        "uptimeSeconds": state.started.elapsed().as_secs(),
    }))
}
