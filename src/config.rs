//! Every setting of the service: environment variable names, defaults and validation.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Alphintra Support: help desk with tickets, live chat and a knowledge base.
///
/// Every option can be given as a flag or as the environment variable shown.
#[derive(Debug, Clone, Parser)]
#[command(name = "alphintra-support", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port of the HTTP API, web UI and WebSocket endpoints.
    #[arg(long, env = "PORT", default_value_t = 8010)]
    pub port: u16,

    /// Optional second port serving the WebSocket endpoints (/ws, /ws/support) too.
    #[arg(long, env = "WS_PORT")]
    pub ws_port: Option<u16>,

    /// Directory for the embedded SQLite database (used when DATABASE_URL is not set).
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Database: sqlite://path/to/file.db or postgres://user@host/db. Default: SQLite in DATA_DIR.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Maximum database connections in the pool (PostgreSQL; SQLite readers).
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,

    /// Redis for cross-instance fan-out, cache and sessions: redis://host:port.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Secret for signing HS256 access tokens (at least 32 bytes). Random per process when unset.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// PEM file with an RSA public key: RS256 tokens signed by Alphintra's auth service are accepted too.
    #[arg(long, env = "JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(30..=86_400))]
    pub access_token_ttl_secs: u64,

    /// Lifetime of refresh tokens, in days.
    #[arg(long, env = "REFRESH_TOKEN_TTL_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=365))]
    pub refresh_token_ttl_days: u64,

    /// E-mail of the administrator created on first start (with ADMIN_PASSWORD).
    #[arg(long, env = "ADMIN_EMAIL")]
    pub admin_email: Option<String>,

    /// Password of the administrator created on first start.
    #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Log filter (tracing EnvFilter syntax), e.g. "info" or "alphintra_support=debug".
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 1_048_576, value_parser = clap::value_parser!(u64).range(1024..=104_857_600))]
    pub max_body_bytes: u64,

    /// Longest an API request may take, in seconds; past it the client gets 503 (typically the
    /// database stopped answering) instead of waiting with a connection held.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,

    /// Failed logins (per account and client address) before login is throttled for 15 minutes.
    #[arg(long, env = "LOGIN_MAX_FAILURES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub login_max_failures: u32,

    /// Prefix of every Redis key and channel, so several deployments (or tests) can share one Redis.
    #[arg(long, env = "REDIS_PREFIX", default_value = "alphintra-support")]
    pub redis_prefix: String,

    /// STOMP heart-beat interval offered to and asked of clients, in milliseconds (0 disables).
    #[arg(long, env = "STOMP_HEARTBEAT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub stomp_heartbeat_ms: u64,

    /// Largest STOMP frame accepted from a client, in bytes.
    #[arg(long, env = "STOMP_MAX_FRAME_BYTES", default_value_t = 65_536, value_parser = clap::value_parser!(u64).range(1024..=1_048_576))]
    pub stomp_max_frame_bytes: u64,

    /// Messages queued for one client before it is disconnected as a slow consumer.
    #[arg(long, env = "STOMP_OUTBOUND_QUEUE", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub stomp_outbound_queue: u64,

    /// Subscriptions allowed per STOMP connection.
    #[arg(long, env = "STOMP_MAX_SUBSCRIPTIONS", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub stomp_max_subscriptions: u64,

    /// Concurrent WebSocket connections accepted by this instance.
    #[arg(long, env = "MAX_WS_CONNECTIONS", default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_ws_connections: u64,

    /// API requests per minute from one client address (0 disables).
    #[arg(long, env = "RATE_LIMIT_PER_IP", default_value_t = 3000)]
    pub rate_limit_per_ip: u32,

    /// API requests per minute by one signed-in user (0 disables).
    #[arg(long, env = "RATE_LIMIT_PER_USER", default_value_t = 1200)]
    pub rate_limit_per_user: u32,

    /// Load demo data (customers, agents, tickets, conversations) into an empty database.
    #[arg(long = "demo", env = "SEED_DEMO")]
    pub demo: bool,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The database the service runs on, chosen from `DATABASE_URL`'s scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Config {
    /// Which database to open; validates the URL scheme.
    pub fn database(&self) -> Result<DatabaseTarget, String> {
        match self.database_url.as_deref() {
            None | Some("") => Ok(DatabaseTarget::Sqlite(self.data_dir.join("support.db"))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(DatabaseTarget::Postgres(url.to_string()))
            }
            Some(url) => match url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
                Some(path) if !path.is_empty() => Ok(DatabaseTarget::Sqlite(PathBuf::from(path))),
                _ => Err(format!(
                    "DATABASE_URL must start with sqlite:// or postgres:// (got {:?})",
                    url.split(':').next().unwrap_or_default()
                )),
            },
        }
    }

    /// Checks cross-field rules that clap cannot express.
    pub fn validate(&self) -> Result<(), String> {
        self.database()?;
        if let Some(secret) = &self.jwt_secret {
            if secret.len() < 32 {
                return Err("JWT_SECRET must be at least 32 bytes long".into());
            }
        }
        if let Some(url) = &self.redis_url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err("REDIS_URL must start with redis:// or rediss://".into());
            }
        }
        match (&self.admin_email, &self.admin_password) {
            (Some(_), None) | (None, Some(_)) => {
                return Err("ADMIN_EMAIL and ADMIN_PASSWORD must be set together".into())
            }
            (Some(email), Some(password)) => {
                crate::domain::validate::email("ADMIN_EMAIL", email).map_err(|e| e.message)?;
                crate::domain::validate::password("ADMIN_PASSWORD", password).map_err(|e| e.message)?;
            }
            _ => {}
        }
        if self.ws_port.is_some() && self.ws_port == Some(self.port) {
            return Err("WS_PORT must differ from PORT".into());
        }
        Ok(())
    }

    /// A configuration for tests: SQLite in the given directory, random secret, everything else default.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        let mut config = Config::parse_from(["alphintra-support"]);
        config.data_dir = data_dir;
        config
    }
}
