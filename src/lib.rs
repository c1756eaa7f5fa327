//! Alphintra Support: the help desk service. `main.rs` only parses configuration and calls [`run`].

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod ops;
pub mod realtime;
pub mod store;
pub mod telemetry;
pub mod web;

use tokio::net::TcpListener;

/// Binds the configured address, prepares the service and serves until SIGINT/SIGTERM.
pub async fn run(config: config::Config) -> anyhow::Result<()> {
    let address = std::net::SocketAddr::new(config.host, config.port);
    let ws_address = config.ws_port.map(|port| std::net::SocketAddr::new(config.host, port));
    let state = app::build_state(config).await?;
    release_startup_memory();
    let listener = TcpListener::bind(address).await.map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
    let ws_listener = match ws_address {
        Some(ws_address) => {
            let bound = TcpListener::bind(ws_address)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on WS_PORT {ws_address}: {e}"))?;
            tracing::info!("STOMP over WebSocket also on ws://{ws_address}/ws");
            Some(bound)
        }
        None => None,
    };
    tracing::info!(
        "Alphintra Support listening on http://{address} (database: {}); API docs at {}/swagger-ui.html",
        state.store.backend_name(),
        app::API_BASE
    );
    app::serve(state, listener, ws_listener, app::shutdown_signal()).await
}

/// Start-up hashes two passwords with Argon2 (the bootstrap administrator's and the decoy used
/// for unknown e-mails), 19 MiB of working memory each, on blocking threads. glibc keeps what
/// those threads freed in their arenas, so an idle server held ~20 MB it never used again;
/// handing it back now brings idle RSS down by that much (docs/benchmarks.md, idle).
fn release_startup_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}
