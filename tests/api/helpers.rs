//! The test harness: starts the real service on a random port against a fresh database
//! (a temporary SQLite file, or a new PostgreSQL database) and talks to it over HTTP.

use alphintra_support::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Connection;
use tokio::sync::oneshot;
use uuid::Uuid;

pub const JWT_SECRET: &str = "test-secret-of-at-least-thirty-two-bytes!";
pub const ADMIN_EMAIL: &str = "admin@alphintra.test";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per backend for a scenario `async fn(TestApp)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite, stringify!($scenario)).await {
                        super::$scenario(app).await;
                    }
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres, stringify!($scenario)).await {
                        super::$scenario(app).await;
                    }
                }
            )+
        }
    };
}

/// Waits until at least `needed` seconds are left in the current one-minute rate-limit window,
/// so a burst counted by the test cannot straddle two windows.
pub async fn fresh_rate_window(needed: u64) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let left = 60 - now % 60;
    if left < needed {
        tokio::time::sleep(std::time::Duration::from_secs(left + 1)).await;
    }
}

pub fn require_all_backends() -> bool {
    std::env::var("REQUIRE_ALL_BACKENDS").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// The PostgreSQL server to create test databases on: TEST_DATABASE_URL, or the local default.
fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Drops the per-test PostgreSQL database when the test ends, even if it failed.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime; do the async clean-up on a runtime of its own.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

pub struct TestApp {
    pub base: String,
    pub backend: Backend,
    pub client: reqwest::Client,
    pub database_url: String,
    _database: Option<TestDatabase>,
    shutdown: Option<oneshot::Sender<()>>,
}

/// A fresh database for one test: a SQLite file in a temporary directory, or a new PostgreSQL
/// database; both removed when this is dropped.
pub struct TestDatabase {
    pub url: String,
    /// The temporary directory (DATA_DIR for a server on this database).
    pub dir: std::path::PathBuf,
    _dir: tempdir::TempDir,
    _pg: Option<PgDatabase>,
}

impl TestDatabase {
    /// `None` (with a SKIPPED line, or a failure under REQUIRE_ALL_BACKENDS=1) when PostgreSQL
    /// is asked for and absent.
    pub async fn create(backend: Backend, test: &str) -> Option<TestDatabase> {
        let data_dir = tempdir::TempDir::new();
        let (url, pg) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", data_dir.0.join("support.db").display()), None),
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
                    Ok(conn) => conn,
                    Err(error) => {
                        if require_all_backends() {
                            panic!("REQUIRE_ALL_BACKENDS=1 but PostgreSQL is unreachable at {admin_url}: {error}");
                        }
                        eprintln!("SKIPPED: {test} on PostgreSQL: no server at {admin_url} ({error})");
                        return None;
                    }
                };
                let name = format!("alphintra_test_{}", Uuid::new_v4().simple());
                sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut admin)
                    .await
                    .expect("create test database");
                let url = match admin_url.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{name}"),
                    None => panic!("TEST_DATABASE_URL must name a database"),
                };
                (url, Some(PgDatabase { admin_url, name }))
            }
        };
        Some(TestDatabase { url, dir: data_dir.0.clone(), _dir: data_dir, _pg: pg })
    }
}

mod tempdir {
    /// A directory removed when dropped.
    pub struct TempDir(pub std::path::PathBuf);
    impl TempDir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!("alphintra-test-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&path).expect("create temp dir");
            TempDir(path)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: Uuid,
    pub token: String,
    pub refresh_token: String,
    pub email: String,
}

/// A response: status, headers and JSON body (Null when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// Asserts a problem+json response with this status and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        assert_eq!(self.content_type(), "application/problem+json", "body: {}", self.body);
        for field in ["type", "title", "status", "detail"] {
            assert!(self.body.get(field).is_some(), "problem lacks {field}: {}", self.body);
        }
        assert_eq!(self.body["status"], status);
        &self.body
    }

    /// The fields named in a validation problem.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["field"].as_str().map(String::from)).collect())
            .unwrap_or_default()
    }
}

impl TestApp {
    /// Starts the service on a fresh database; `None` (with a SKIPPED line) if the backend is absent.
    pub async fn spawn(backend: Backend, test: &str) -> Option<TestApp> {
        Self::spawn_with(backend, test, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with a chance to adjust the configuration first.
    pub async fn spawn_with(backend: Backend, test: &str, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let database = TestDatabase::create(backend, test).await?;
        let config = Config::for_tests(database.dir.clone());
        let mut app = Self::start(config, backend, database.url.clone(), adjust).await;
        app._database = Some(database);
        Some(app)
    }

    /// Starts the service with test defaults on `database_url`.
    async fn start(
        mut config: Config,
        backend: Backend,
        database_url: String,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        config.database_url = Some(database_url.clone());
        config.jwt_secret = Some(JWT_SECRET.into());
        config.admin_email = Some(ADMIN_EMAIL.into());
        config.admin_password = Some(ADMIN_PASSWORD.into());
        config.redis_url = None;
        config.ws_port = None;
        config.demo = false;
        config.db_max_connections = 5;
        config.max_body_bytes = 64 * 1024;
        adjust(&mut config);

        let state = alphintra_support::app::build_state(config).await.expect("service starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let (shutdown, stop) = oneshot::channel::<()>();
        tokio::spawn(alphintra_support::app::serve(state, listener, None, async {
            let _ = stop.await;
        }));
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            backend,
            client: reqwest::Client::new(),
            database_url,
            _database: None,
            shutdown: Some(shutdown),
        }
    }

    /// A client for a server started elsewhere in the test (no database of its own to clean up).
    pub fn attach(base: String) -> TestApp {
        TestApp {
            base,
            backend: Backend::Sqlite,
            client: reqwest::Client::new(),
            database_url: String::new(),
            _database: None,
            shutdown: None,
        }
    }

    /// Another instance of the service on the same database (as behind a load balancer).
    pub async fn another_instance(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = std::env::temp_dir();
        Self::start(Config::for_tests(dir), self.backend, self.database_url.clone(), adjust).await
    }

    /// Stops this instance as SIGTERM would: STOMP clients get ERROR, in-flight requests finish.
    pub fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("/api/") || path.starts_with("/support") || path.starts_with("/ws") {
            format!("{}{path}", self.base)
        } else {
            format!("{}/api/customer-support{path}", self.base)
        }
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::reply(request.send().await.expect("request sent")).await
    }

    pub async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body read");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::PUT, path, Some(token), Some(body)).await
    }

    fn session(body: &Value) -> Session {
        Session {
            id: body["user"]["id"].as_str().and_then(|id| Uuid::parse_str(id).ok()).expect("user id"),
            token: body["accessToken"].as_str().expect("access token").to_string(),
            refresh_token: body["refreshToken"].as_str().expect("refresh token").to_string(),
            email: body["user"]["email"].as_str().expect("email").to_string(),
        }
    }

    /// Registers a new customer and returns their session.
    pub async fn customer(&self) -> Session {
        let email = format!("customer-{}@example.com", Uuid::new_v4().simple());
        let reply = self
            .request(
                Method::POST,
                "/auth/register",
                None,
                Some(json!({ "email": email, "password": "customer-pass-1", "fullName": "Casey Customer" })),
            )
            .await;
        assert_eq!(reply.status, 201, "register: {}", reply.body);
        Self::session(&reply.body)
    }

    pub async fn login(&self, email: &str, password: &str) -> Session {
        let reply = self
            .request(Method::POST, "/auth/login", None, Some(json!({ "email": email, "password": password })))
            .await;
        assert_eq!(reply.status, 200, "login {email}: {}", reply.body);
        Self::session(&reply.body)
    }

    pub async fn admin(&self) -> Session {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// Creates an agent (as admin) with the given role and returns (session, agent id).
    pub async fn staff(&self, role: &str) -> (Session, Uuid) {
        let admin = self.admin().await;
        let email = format!("{}-{}@alphintra.test", role.to_lowercase(), Uuid::new_v4().simple());
        let reply = self
            .post(
                "/agents",
                &admin.token,
                json!({ "fullName": format!("Sam {role}"), "email": email, "password": "agent-pass-1", "role": role,
                        "skills": ["DEPOSIT_WITHDRAWAL"], "languages": ["en"], "maxConcurrentTickets": 5 }),
            )
            .await;
        assert_eq!(reply.status, 201, "create agent: {}", reply.body);
        let agent_id = Uuid::parse_str(reply.body["id"].as_str().expect("agent id")).expect("uuid");
        (self.login(&email, "agent-pass-1").await, agent_id)
    }

    pub async fn agent(&self) -> (Session, Uuid) {
        self.staff("AGENT").await
    }

    /// Opens a ticket and returns its JSON.
    pub async fn ticket(&self, session: &Session, subject: &str) -> Value {
        let reply = self
            .post("/tickets", &session.token, json!({ "subject": subject, "description": "Details of the problem." }))
            .await;
        assert_eq!(reply.status, 201, "create ticket: {}", reply.body);
        reply.body
    }

    /// Counts audit entries with this action, reading the database directly (there is no API for it yet).
    pub async fn audit_count(&self, action: &str, entity_id: &str) -> i64 {
        let sql = "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND entity_id = $2";
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.database_url).await.expect("open sqlite");
                sqlx::query_scalar(sql).bind(action).bind(entity_id).fetch_one(&mut conn).await.expect("count")
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.database_url).await.expect("open postgres");
                sqlx::query_scalar(sql).bind(action).bind(entity_id).fetch_one(&mut conn).await.expect("count")
            }
        }
    }
}

/// What a test sets directly in the database to build a history with known answers
/// (the API only ever writes "now").
pub struct Backdate {
    pub status: &'static str,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub first_response_at: Option<chrono::DateTime<chrono::Utc>>,
    pub resolved_at: Option<chrono::DateTime<chrono::Utc>>,
    pub sla_due_at: chrono::DateTime<chrono::Utc>,
    pub rating: Option<i32>,
    pub agent_id: Option<Uuid>,
}

impl TestApp {
    pub async fn backdate(&self, ticket_id: &str, b: Backdate) {
        let id = Uuid::parse_str(ticket_id).expect("ticket id");
        let sql = "UPDATE tickets SET status = $2, created_at = $3, first_response_at = $4, resolved_at = $5, \
                   sla_due_at = $6, satisfaction_rating = $7, assigned_agent_id = $8 WHERE id = $1";
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.database_url).await.expect("open sqlite");
                sqlx::query(sql)
                    .bind(id)
                    .bind(b.status)
                    .bind(b.created_at)
                    .bind(b.first_response_at)
                    .bind(b.resolved_at)
                    .bind(b.sla_due_at)
                    .bind(b.rating)
                    .bind(b.agent_id)
                    .execute(&mut conn)
                    .await
                    .expect("backdate");
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.database_url).await.expect("open postgres");
                sqlx::query(sql)
                    .bind(id)
                    .bind(b.status)
                    .bind(b.created_at)
                    .bind(b.first_response_at)
                    .bind(b.resolved_at)
                    .bind(b.sla_due_at)
                    .bind(b.rating)
                    .bind(b.agent_id)
                    .execute(&mut conn)
                    .await
                    .expect("backdate");
            }
        }
    }
}

/// The Redis server tests may use: TEST_REDIS_URL or the local default, if it answers.
/// `None` (with a SKIPPED line, or a failure under REQUIRE_ALL_BACKENDS=1) when it does not.
pub async fn redis_url(test: &str) -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let reachable = async {
        let client = redis::Client::open(url.as_str()).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING").query_async::<String>(&mut conn).await.ok()
    };
    match tokio::time::timeout(std::time::Duration::from_secs(2), reachable).await {
        Ok(Some(_)) => Some(url),
        _ => {
            if require_all_backends() {
                panic!("REQUIRE_ALL_BACKENDS=1 but Redis is unreachable at {url}");
            }
            eprintln!("SKIPPED: {test}: no Redis at {url}");
            None
        }
    }
}
