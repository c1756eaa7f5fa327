//! Alphintra Support: the help desk service. `main.rs` only parses configuration and calls [`run`].

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod realtime;
pub mod store;
pub mod telemetry;

use tokio::net::TcpListener;

/// Binds the configured address, prepares the service and serves until SIGINT/SIGTERM.
pub async fn run(config: config::Config) -> anyhow::Result<()> {
    let address = std::net::SocketAddr::new(config.host, config.port);
    let state = app::build_state(config).await?;
    let listener = TcpListener::bind(address).await.map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
    tracing::info!(
        "Alphintra Support listening on http://{address} (database: {}); API docs at {}/swagger-ui.html",
        state.store.backend_name(),
        app::API_BASE
    );
    app::serve(state, listener, app::shutdown_signal()).await
}
