//! Application state, the router with its middleware stack, and start-up (database,
//! bootstrap admin, demo data) up to serving with graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, Response, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::api;
use crate::auth::password;
use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::TokenKeys;
use crate::config::Config;
use crate::domain::user::Role;
use crate::error::{problem_response, PROBLEM_JSON};
use crate::realtime::broker::{Broker, BrokerLimits};
use crate::realtime::redis_bus::RedisBus;
use crate::realtime::session::SessionSettings;
use crate::store::{self, NewAudit, NewUser, Store, StoreError};

pub const API_BASE: &str = "/api/customer-support";

/// Shared by every request handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub tokens: Arc<TokenKeys>,
    pub throttle: Arc<LoginThrottle>,
    pub config: Arc<Config>,
    /// Verified against for unknown e-mails so failed logins take the same time either way.
    pub decoy_hash: Arc<str>,
    pub started: Instant,
    /// The STOMP broker's subscription registry and fan-out.
    pub broker: Arc<Broker>,
    pub session_settings: SessionSettings,
    /// Short-lived cache of hot reads, shared through Redis when configured.
    pub cache: Arc<crate::ops::cache::Cache>,
    pub rate_limiter: Arc<crate::ops::rate_limit::RateLimiter>,
    /// Refresh tokens: Redis when configured, else the database.
    pub sessions: Arc<crate::auth::sessions::Sessions>,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let docs = SwaggerUi::new(format!("{API_BASE}/swagger-ui"))
        .url(format!("{API_BASE}/v3/api-docs"), api::docs::ApiDoc::openapi());
    let body_limit = usize::try_from(state.config.max_body_bytes).unwrap_or(usize::MAX);
    Router::new()
        .nest(
            API_BASE,
            api::router()
                .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::ops::rate_limit::enforce))
                .route_layer(axum::middleware::from_fn_with_state(state.clone(), request_deadline)),
        )
        .merge(crate::realtime::ws::router())
        .merge(crate::web::router())
        .route("/api/health", get(api::health::liveness))
        .route(
            &format!("{API_BASE}/swagger-ui.html"),
            get(|| async { Redirect::permanent(&format!("{API_BASE}/swagger-ui/")) }),
        )
        .merge(docs)
        .fallback(|| async {
            problem_response(StatusCode::NOT_FOUND, "not-found", "No such route.".into(), Vec::new())
        })
        .layer(axum::middleware::map_response(problem_for_bare_errors))
        .route_layer(axum::middleware::from_fn(crate::ops::metrics::track_http))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            tracing::error!("request handler panicked");
            problem_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "An unexpected error occurred; it has been logged.".into(),
                Vec::new(),
            )
        }))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// An API request that cannot finish within REQUEST_TIMEOUT_SECS (typically because the database
/// stopped answering without closing its connections) gets 503, instead of holding the client
/// and a pool connection until TCP gives up. Dropping the handler rolls back its transaction.
async fn request_deadline(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let limit = Duration::from_secs(state.config.request_timeout_secs);
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            crate::error::AppError::Unavailable(format!("request did not finish within {limit:?}")).into_response()
        }
    }
}

/// Errors produced by the framework itself (405, 415 ...) come without a body; give them one,
/// so every 4xx/5xx a client sees is a problem document.
async fn problem_for_bare_errors(response: Response<Body>) -> Response<Body> {
    let status = response.status();
    let has_type = response.headers().contains_key(header::CONTENT_TYPE);
    if !(status.is_client_error() || status.is_server_error()) || has_type {
        return response;
    }
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => "This method is not allowed on this route.".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => "The request body exceeds the allowed size.".to_string(),
        other => other.canonical_reason().unwrap_or("Error").to_string(),
    };
    let slug = status.canonical_reason().unwrap_or("error").to_ascii_lowercase().replace(' ', "-");
    let (parts, _) = response.into_parts();
    let mut problem = problem_response(status, &slug, detail, Vec::new());
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(PROBLEM_JSON));
    problem.into_response()
}

/// Opens the database and prepares everything a request needs.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let target = config.database().map_err(|e| anyhow::anyhow!(e))?;
    crate::ops::metrics::install();
    let store = store::connect(&target, config.db_max_connections).await?;
    let secret = match &config.jwt_secret {
        Some(secret) => secret.as_bytes().to_vec(),
        None => {
            tracing::warn!("JWT_SECRET is not set: using a random key, so tokens will not survive a restart or work across instances");
            password::rand_bytes::<32>().to_vec()
        }
    };
    let public_key = match &config.jwt_public_key_file {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("cannot read JWT_PUBLIC_KEY_FILE {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let tokens = TokenKeys::new(&secret, public_key.as_deref(), config.access_token_ttl_secs)?;
    if config.demo {
        crate::demo::seed_if_empty(store.as_ref()).await?;
    }
    bootstrap_admin(store.as_ref(), &config).await?;
    let broker = Broker::new(BrokerLimits {
        max_connections: usize::try_from(config.max_ws_connections).unwrap_or(usize::MAX),
        max_subscriptions: usize::try_from(config.stomp_max_subscriptions).unwrap_or(usize::MAX),
        outbound_queue: usize::try_from(config.stomp_outbound_queue).unwrap_or(usize::MAX),
    });
    if let Some(url) = &config.redis_url {
        let channel = format!("{}:stomp", config.redis_prefix);
        broker.attach_remote(RedisBus::start(url, channel, Arc::downgrade(&broker), broker.instance_id)?);
    }
    let session_settings = SessionSettings {
        heartbeat: Duration::from_millis(config.stomp_heartbeat_ms),
        max_frame_bytes: usize::try_from(config.stomp_max_frame_bytes).unwrap_or(65_536),
        connect_timeout: Duration::from_secs(10),
        write_timeout: Duration::from_secs(10),
    };
    let rate_limiter = crate::ops::rate_limit::RateLimiter::new(
        config.rate_limit_per_ip,
        config.rate_limit_per_user,
        config.redis_url.as_deref(),
        &config.redis_prefix,
    );
    let sessions =
        crate::auth::sessions::Sessions::new(store.clone(), config.redis_url.as_deref(), &config.redis_prefix);
    Ok(AppState {
        sessions: Arc::new(sessions),
        rate_limiter: Arc::new(rate_limiter),
        cache: Arc::new(crate::ops::cache::Cache::new(config.redis_url.as_deref(), &config.redis_prefix)),
        broker,
        session_settings,
        store,
        tokens: Arc::new(tokens),
        throttle: Arc::new(LoginThrottle::new(config.login_max_failures)),
        decoy_hash: password::decoy_hash().await.into(),
        config: Arc::new(config),
        started: Instant::now(),
    })
}

/// Creates the administrator named by ADMIN_EMAIL/ADMIN_PASSWORD if that account does not exist.
async fn bootstrap_admin(store: &dyn Store, config: &Config) -> anyhow::Result<()> {
    let (Some(email), Some(admin_password)) = (&config.admin_email, &config.admin_password) else {
        return Ok(());
    };
    let email = email.trim().to_lowercase();
    match store.user_by_email(&email).await {
        Ok(_) => return Ok(()),
        Err(StoreError::NotFound) => {}
        Err(other) => return Err(other.into()),
    }
    let user = NewUser {
        id: uuid::Uuid::new_v4(),
        email,
        full_name: "Administrator".into(),
        role: Role::Admin,
        password_hash: password::hash(admin_password.clone()).await?,
    };
    let audit = NewAudit {
        actor_id: None,
        action: "user.bootstrap_admin".into(),
        entity_type: "user".into(),
        entity_id: user.id.to_string(),
        before: None,
        after: Some(serde_json::json!({ "role": Role::Admin })),
    };
    match store.create_user(user, Some(audit)).await {
        Ok(_) => tracing::info!("created the bootstrap administrator account"),
        // Another instance created it at the same moment.
        Err(StoreError::Duplicate(_)) => {}
        Err(other) => return Err(other.into()),
    }
    Ok(())
}

/// Small STOMP frames (a RECEIPT, a chat MESSAGE) and API answers go out at once: with Nagle's
/// algorithm a RECEIPT waited for the client's next frame to carry the ACK (measured: the receipt
/// median equalled the client's send interval).
fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
}

/// Serves until `shutdown` resolves, then drains in-flight requests (at most 10 s).
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    ws_listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let broker = state.broker.clone();
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    if let Some(ws_listener) = ws_listener {
        // The same service on the WebSocket port, for deployments that route WebSocket separately.
        let mut stop = broker.shutdown_signal();
        let ws_app = app.clone();
        tokio::spawn(async move {
            let served = axum::serve(ws_listener.tap_io(no_delay), ws_app).with_graceful_shutdown(async move {
                let _ = stop.changed().await;
            });
            if let Err(error) = served.await {
                tracing::error!(%error, "WebSocket listener failed");
            }
        });
    }
    let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener.tap_io(no_delay), app).with_graceful_shutdown(async move {
        shutdown.await;
        // STOMP sessions get an ERROR frame and close, so clients reconnect to another instance.
        broker.shut_down();
        let _ = drained_tx.send(());
    });
    tokio::select! {
        result = server => result?,
        _ = async {
            let _ = drained_rx.await;
            tokio::time::sleep(Duration::from_secs(10)).await;
        } => tracing::warn!("in-flight requests did not finish within 10 s; stopping anyway"),
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested; draining");
}
