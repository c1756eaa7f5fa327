//! The project's bench tool: starts the release server (or uses one already running on
//! loopback), seeds it, drives one scenario for a fixed time or count, and prints a table and
//! one JSON line with every figure. See docs/benchmarks.md for the scenarios and results.
//!
//! ```text
//! cargo build --release --bins
//! cargo run --release --bin bench -- tickets-list --db postgres --duration 10
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alphintra_support::config::DatabaseTarget;
use alphintra_support::domain::kb::ArticleStatus;
use alphintra_support::domain::ticket::{Category, Priority, TicketStatus};
use alphintra_support::domain::user::Role;
use alphintra_support::realtime::frame::{Command, Decoder, Frame, Item, Limits};
use alphintra_support::store::{self, NewTicket, NewUser};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, ValueEnum};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

const API: &str = "/api/customer-support";
const DEFAULT_PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// How long any single request, connect or expected frame may take before it counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages posted one after another in `stomp-fanout`.
const FANOUT_MESSAGES: usize = 50;
/// Seeded tickets are owned by this many customers; the bench customer owns every N-th.
const SEED_CUSTOMERS: usize = 10;
/// Seeding: rows per multi-row INSERT (one transaction each).
const SEED_BATCH: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Start, wait 2 s, report start-up time and RSS.
    Idle,
    /// GET /tickets?page=0&size=20 as an agent over a seeded database.
    TicketsList,
    /// GET /tickets/{id} over random seeded ids, as an agent.
    TicketGet,
    /// POST /tickets as a customer.
    TicketCreate,
    /// GET /knowledge-base/search as a customer over --seed articles (default 10,000), with
    /// varied queries (1–3 words, often the last one cut short as while typing).
    KbSearch,
    /// STOMP SEND → MESSAGE latency between two connections at a fixed rate.
    StompLatency,
    /// One message to --count subscribers of one topic; time to the last delivery.
    StompFanout,
    /// --count STOMP connections with heart-beats, held for --duration.
    StompConnections,
    /// Two instances (PostgreSQL + Redis); --count clients chat at --rate messages/s in total
    /// for --duration (default 60 s) while instance A is killed (SIGKILL) and restarted: its
    /// clients reconnect to B, and every acknowledged message must be stored exactly once.
    StompFaults,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Idle => "idle",
            Scenario::TicketsList => "tickets-list",
            Scenario::TicketGet => "ticket-get",
            Scenario::TicketCreate => "ticket-create",
            Scenario::KbSearch => "kb-search",
            Scenario::StompLatency => "stomp-latency",
            Scenario::StompFanout => "stomp-fanout",
            Scenario::StompConnections => "stomp-connections",
            Scenario::StompFaults => "stomp-faults",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Db {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SeedVia {
    /// Multi-row INSERTs, 500 tickets per transaction (fast).
    Batch,
    /// The service's own Store::create_ticket, one transaction per ticket (slow on SQLite).
    Store,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum HttpClient {
    /// A minimal keep-alive HTTP/1.1 client written for the bench (cheap, like wrk).
    Raw,
    /// reqwest (hyper) with a connection pool.
    Reqwest,
}

/// Benchmarks Alphintra Support on loopback: HTTP throughput and latency, STOMP latency,
/// fan-out and connection capacity, start-up time and memory.
#[derive(Debug, Parser)]
#[command(name = "bench", about, long_about = None)]
struct Args {
    #[arg(value_enum)]
    scenario: Scenario,

    /// Database of the server the bench starts (ignored with --target).
    #[arg(long, value_enum, default_value_t = Db::Sqlite)]
    db: Db,

    /// Use this already-running server instead of starting one: http://127.0.0.1:PORT
    /// (only 127.0.0.1, ::1 and localhost are accepted).
    #[arg(long)]
    target: Option<String>,

    /// Measured seconds (default 10; 20 for stomp-connections).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=600))]
    duration: Option<u64>,

    /// Concurrent HTTP connections (one request in flight on each).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    connections: u64,

    /// stomp-fanout: subscribers (default 1000); stomp-connections: connections (default 10000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=19_000))]
    count: Option<u64>,

    /// Tickets to seed (default 100000 for tickets-list and ticket-get, 0 otherwise); for
    /// kb-search, knowledge-base articles (default 10000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    seed: Option<u64>,

    /// How seeded tickets are written when the bench starts the server.
    #[arg(long, value_enum, default_value_t = SeedVia::Store)]
    seed_via: SeedVia,

    /// stomp-latency: messages per second (default 1000); stomp-faults: messages per second from
    /// all clients together (default 250).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=20_000))]
    rate: Option<u64>,

    /// stomp-latency: customer connections that share the --rate, each chatting on its own ticket
    /// (one agent connection receives them all).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    senders: u64,

    /// Seconds of load before measuring starts (HTTP scenarios and stomp-latency).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=60))]
    warmup: u64,

    /// HTTP client used to generate load.
    #[arg(long, value_enum, default_value_t = HttpClient::Raw)]
    http_client: HttpClient,

    /// WebSocket/STOMP connections opened at the same time.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
    open_concurrency: u64,

    /// PostgreSQL server on which the bench creates (and drops) its database.
    #[arg(long, env = "BENCH_POSTGRES_URL", default_value = DEFAULT_PG_ADMIN_URL)]
    postgres_url: String,

    /// The server binary (default: alphintra-support next to this executable).
    #[arg(long)]
    server_bin: Option<PathBuf>,

    /// With --target: an administrator account, needed to create the bench agent.
    #[arg(long, env = "BENCH_ADMIN_EMAIL")]
    admin_email: Option<String>,

    /// With --target: the administrator's password.
    #[arg(long, env = "BENCH_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,

    /// With --target: the server's process id, for RSS and CPU (default: found from the port).
    #[arg(long)]
    pid: Option<u32>,

    /// tickets-list: afterwards, run `wrk` (if installed) on the same endpoint with the same token,
    /// connections and duration, and report its figures too.
    #[arg(long)]
    wrk: bool,
}

impl Args {
    fn rate(&self) -> u64 {
        self.rate.unwrap_or(if self.scenario == Scenario::StompFaults { 250 } else { 1000 })
    }

    fn duration(&self) -> Duration {
        let default = match self.scenario {
            Scenario::StompConnections => 20,
            Scenario::StompFaults => 60,
            _ => 10,
        };
        Duration::from_secs(self.duration.unwrap_or(default))
    }

    fn count(&self) -> usize {
        let default = if self.scenario == Scenario::StompConnections { 10_000 } else { 1000 };
        self.count.unwrap_or(default) as usize
    }

    fn seed(&self) -> usize {
        let default = match self.scenario {
            Scenario::TicketsList | Scenario::TicketGet => 100_000,
            Scenario::KbSearch => 10_000,
            _ => 0,
        };
        self.seed.unwrap_or(default) as usize
    }

    fn warmup(&self) -> Duration {
        Duration::from_secs(self.warmup)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<()> {
    MEASURE_POSTGRES.store(args.target.is_none() && args.db == Db::Postgres, Ordering::Relaxed);
    let mut env = Env::new(&args).await?;
    let outcome = tokio::select! {
        outcome = run_scenario(&args, &mut env) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    env.shut_down().await;
    let report = outcome?;
    report.print();
    Ok(())
}

async fn run_scenario(args: &Args, env: &mut Env) -> Result<Report> {
    let mut report = Report::new(args, env);
    match args.scenario {
        Scenario::Idle => idle(env, &mut report).await?,
        Scenario::TicketsList | Scenario::TicketGet | Scenario::TicketCreate | Scenario::KbSearch => {
            http(args, env, &mut report).await?
        }
        Scenario::StompLatency => stomp_latency(args, env, &mut report).await?,
        Scenario::StompFanout => stomp_fanout(args, env, &mut report).await?,
        Scenario::StompConnections => stomp_connections(args, env, &mut report).await?,
        Scenario::StompFaults => stomp_faults(args, env, &mut report).await?,
    }
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// The server under test

/// A server the bench started: its files, database and process.
struct Spawned {
    exe: PathBuf,
    temp_dir: PathBuf,
    database: DatabaseTarget,
    /// PostgreSQL: the maintenance URL and the database created for this run.
    postgres: Option<(String, String)>,
    child: Option<tokio::process::Child>,
    port: u16,
    /// Shared by every instance the bench starts, so tokens work on all of them and survive restarts.
    jwt_secret: String,
    /// Settings added for every instance (stomp-faults: Redis).
    extra_env: Vec<(String, String)>,
}

impl Spawned {
    /// The server's command line for an instance on `port`, logging to `<name>.log`.
    fn command(&self, port: u16, name: &str, admin: &(String, String)) -> Result<tokio::process::Command> {
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.temp_dir.join(format!("{name}.log")))?;
        let mut command = tokio::process::Command::new(&self.exe);
        for name in [
            "DATABASE_URL",
            "REDIS_URL",
            "REDIS_PREFIX",
            "WS_PORT",
            "SEED_DEMO",
            "JWT_PUBLIC_KEY_FILE",
            "DB_MAX_CONNECTIONS",
            "LOG_FORMAT",
            "MAX_WS_CONNECTIONS",
            "STOMP_OUTBOUND_QUEUE",
            "STOMP_MAX_SUBSCRIPTIONS",
            "STOMP_MAX_FRAME_BYTES",
        ] {
            command.env_remove(name);
        }
        command
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("DATA_DIR", self.temp_dir.join("data"))
            .env("JWT_SECRET", &self.jwt_secret)
            .env("ADMIN_EMAIL", &admin.0)
            .env("ADMIN_PASSWORD", &admin.1)
            .env("LOG_LEVEL", "warn")
            .env("STOMP_HEARTBEAT_MS", "10000")
            .env("ACCESS_TOKEN_TTL_SECS", "3600")
            // Capacity is measured, not abuse protection: one client address sends everything.
            .env("RATE_LIMIT_PER_IP", "0")
            .env("RATE_LIMIT_PER_USER", "0")
            .envs(self.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        if let DatabaseTarget::Postgres(url) = &self.database {
            command.env("DATABASE_URL", url);
        }
        Ok(command)
    }

    /// Starts an instance and waits for its first 200 from /api/health.
    async fn start_instance(&self, port: u16, name: &str, admin: &(String, String)) -> Result<tokio::process::Child> {
        let mut child =
            self.command(port, name, admin)?.spawn().with_context(|| format!("cannot start {}", self.exe.display()))?;
        let host_port = format!("127.0.0.1:{port}");
        let mut probe = RawHttp::new(&host_port);
        let request = format!("GET /api/health HTTP/1.1\r\nHost: {host_port}\r\nConnection: close\r\n\r\n");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(self.temp_dir.join(format!("{name}.log"))).unwrap_or_default();
                bail!("the server exited during start-up ({status}); its log:\n{}", tail(&log, 40));
            }
            if let Ok(Ok(200)) = tokio::time::timeout(Duration::from_secs(1), probe.send(request.as_bytes())).await {
                return Ok(child);
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("the server did not answer /api/health within 60 s");
            }
            probe.reset();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// The server under test, started by the bench or given with --target.
struct Env {
    base: String,
    host_port: String,
    ws_url: String,
    pid: Option<u32>,
    startup: Option<Duration>,
    http: reqwest::Client,
    admin: Option<(String, String)>,
    spawned: Option<Spawned>,
    backend: String,
    seed_via: SeedVia,
}

impl Env {
    async fn new(args: &Args) -> Result<Env> {
        let http = reqwest::Client::builder().no_proxy().timeout(IO_TIMEOUT).build()?;
        if let Some(target) = &args.target {
            let (base, host_port, port) = loopback_target(target)?;
            let pid = args.pid.or_else(|| listener_pid(port));
            if pid.is_none() {
                eprintln!("bench: could not find the server's process for port {port}; RSS and CPU are not reported (pass --pid)");
            }
            let admin = args.admin_email.clone().zip(args.admin_password.clone());
            return Ok(Env {
                ws_url: format!("ws://{host_port}/ws"),
                base,
                host_port,
                pid,
                startup: None,
                http,
                admin,
                spawned: None,
                backend: "target".into(),
                seed_via: args.seed_via,
            });
        }
        let exe = match &args.server_bin {
            Some(path) => path.clone(),
            None => std::env::current_exe()?.with_file_name("alphintra-support"),
        };
        if !exe.is_file() {
            bail!("{} not found: build it first with `cargo build --release --bins`", exe.display());
        }
        let temp_dir = std::env::temp_dir().join(format!("alphintra-bench-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(temp_dir.join("data"))
            .with_context(|| format!("cannot create {}", temp_dir.display()))?;
        let mut spawned = Spawned {
            exe,
            database: DatabaseTarget::Sqlite(temp_dir.join("data").join("support.db")),
            temp_dir,
            postgres: None,
            child: None,
            port: free_port()?,
            jwt_secret: secret(48),
            extra_env: Vec::new(),
        };
        if args.db == Db::Postgres {
            let name = format!("alphintra_bench_{}", Uuid::new_v4().simple());
            let mut url = reqwest::Url::parse(&args.postgres_url).context("--postgres-url")?;
            loopback_host(&url).context("--postgres-url")?;
            let mut admin = postgres_admin(&args.postgres_url).await?;
            sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE \"{name}\"").as_str())
                .await
                .context("CREATE DATABASE")?;
            url.set_path(&format!("/{name}"));
            spawned.database = DatabaseTarget::Postgres(url.to_string());
            spawned.postgres = Some((args.postgres_url.clone(), name));
        }
        let host_port = format!("127.0.0.1:{}", spawned.port);
        Ok(Env {
            base: format!("http://{host_port}"),
            ws_url: format!("ws://{host_port}/ws"),
            host_port,
            pid: None,
            startup: None,
            http,
            admin: Some((format!("bench-admin-{}@bench.example", short_id()), secret(24))),
            spawned: Some(spawned),
            seed_via: args.seed_via,
            backend: match args.db {
                Db::Sqlite => "sqlite".into(),
                Db::Postgres => "postgres".into(),
            },
        })
    }

    /// Starts the server (when the bench owns it) and waits for the first 200 from /api/health.
    async fn start(&mut self) -> Result<()> {
        let Some(spawned) = self.spawned.as_mut() else { return Ok(()) };
        let admin = self.admin.clone().unwrap_or_default();
        let started = Instant::now();
        let child = spawned.start_instance(spawned.port, "server", &admin).await?;
        self.pid = child.id();
        self.startup = Some(started.elapsed());
        spawned.child = Some(child);
        Ok(())
    }

    /// Stops the server (SIGTERM, then SIGKILL after 15 s), drops the database, removes files.
    async fn shut_down(&mut self) {
        let Some(spawned) = self.spawned.as_mut() else { return };
        if let Some(mut child) = spawned.child.take() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
            }
            match tokio::time::timeout(Duration::from_secs(15), child.wait()).await {
                Ok(_) => {}
                Err(_) => {
                    eprintln!("bench: the server did not stop within 15 s of SIGTERM; killing it");
                    let _ = child.kill().await;
                }
            }
        }
        if let Some((admin_url, name)) = spawned.postgres.take() {
            let dropped = async {
                let mut admin = postgres_admin(&admin_url).await?;
                sqlx::Executor::execute(
                    &mut admin,
                    format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str(),
                )
                .await?;
                anyhow::Ok(())
            };
            if let Err(error) = dropped.await {
                eprintln!("bench: could not drop database {name}: {error:#}");
            }
        }
        if let Err(error) = std::fs::remove_dir_all(&spawned.temp_dir) {
            eprintln!("bench: could not remove {}: {error}", spawned.temp_dir.display());
        }
    }

    /// One REST call with the setup client; the JSON answer, or an error naming the status.
    async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value> {
        let mut request = self.http.request(method.clone(), format!("{}{API}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{method} {path}: {status}: {}", tail(&text, 5));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn register(&self, label: &str) -> Result<Account> {
        let email = format!("bench-{label}-{}@bench.example", short_id());
        let password = secret(24);
        let body = json!({ "email": email, "password": password, "fullName": format!("Bench {label}") });
        let answer = self.api(reqwest::Method::POST, "/auth/register", None, Some(&body)).await?;
        Account::from_auth(&answer)
    }

    async fn login(&self, email: &str, password: &str) -> Result<Account> {
        let body = json!({ "email": email, "password": password });
        let answer = self.api(reqwest::Method::POST, "/auth/login", None, Some(&body)).await?;
        Account::from_auth(&answer)
    }

    /// The administrator creates an agent over the API, who then signs in.
    async fn create_agent(&self) -> Result<Account> {
        let Some((admin_email, admin_password)) = &self.admin else {
            bail!("this scenario needs an agent: with --target, pass --admin-email and --admin-password");
        };
        let admin = self.login(admin_email, admin_password).await.context("admin sign-in")?;
        let email = format!("bench-agent-{}@bench.example", short_id());
        let password = secret(24);
        let body = json!({ "fullName": "Bench Agent", "email": email, "password": password });
        self.api(reqwest::Method::POST, "/agents", Some(&admin.token), Some(&body)).await?;
        self.login(&email, &password).await
    }

    /// Seeds `count` knowledge-base articles, starts the server and registers a customer (who,
    /// like an anonymous visitor, searches published articles only).
    async fn prepare_articles(&mut self, count: usize, report: &mut Report) -> Result<Account> {
        let started = Instant::now();
        let method = match &self.spawned {
            Some(spawned) => {
                let method = seed_articles_store(&spawned.database, count).await?;
                self.start().await?;
                method
            }
            None => {
                seed_articles_rest(self, count).await?;
                "POST /knowledge-base/articles, 8 concurrent".to_string()
            }
        };
        let seconds = started.elapsed().as_secs_f64() - self.startup.map_or(0.0, |s| s.as_secs_f64());
        report.num("seed_seconds", "seeding time", seconds, "s", 1);
        report.num("seed_rate", "seeding rate", count as f64 / seconds, "articles/s", 0);
        report.text("seed_method", "seeding method", method);
        if let Some(startup) = self.startup {
            report.num("startup_ms", "start-up (spawn → first 200 /api/health)", ms(startup), "ms", 1);
        }
        self.register("customer").await
    }

    /// Seeds `tickets` tickets (see [`seed_store`]), starts the server, and signs in the bench
    /// customer (and an agent when asked).
    async fn prepare(&mut self, tickets: usize, need_agent: bool, report: &mut Report) -> Result<Setup> {
        let mut setup = Setup::default();
        if let Some(spawned) = &self.spawned {
            if tickets > 0 {
                let seeded = seed_store(&spawned.database, tickets, self.seed_via).await?;
                report.num("seed_seconds", "seeding time", seeded.seconds, "s", 1);
                report.num("seed_rate", "seeding rate", tickets as f64 / seeded.seconds, "tickets/s", 0);
                report.text("seed_method", "seeding method", seeded.method.clone());
                self.start().await?;
                setup.customer = Some(self.login(&seeded.email, &seeded.password).await?);
                setup.ticket_ids = seeded.ids;
            } else {
                self.start().await?;
            }
        }
        if setup.customer.is_none() {
            setup.customer = Some(self.register("customer").await?);
        }
        if self.spawned.is_none() && tickets > 0 {
            let customer = setup.customer.clone().expect("set above");
            let started = Instant::now();
            setup.ticket_ids = seed_rest(self, customer, tickets).await?;
            let seconds = started.elapsed().as_secs_f64();
            report.num("seed_seconds", "seeding time", seconds, "s", 1);
            report.num("seed_rate", "seeding rate", tickets as f64 / seconds, "tickets/s", 0);
            report.text("seed_method", "seeding method", "POST /tickets, 32 concurrent".into());
        }
        if need_agent {
            setup.agent = Some(self.create_agent().await?);
        }
        if let Some(startup) = self.startup {
            report.num("startup_ms", "start-up (spawn → first 200 /api/health)", ms(startup), "ms", 1);
        }
        Ok(setup)
    }
}

#[derive(Debug, Clone)]
struct Account {
    token: String,
}

impl Account {
    fn from_auth(answer: &Value) -> Result<Account> {
        let token = answer["accessToken"].as_str().ok_or_else(|| anyhow!("no accessToken in {answer}"))?;
        Ok(Account { token: token.to_string() })
    }
}

#[derive(Debug, Default)]
struct Setup {
    customer: Option<Account>,
    agent: Option<Account>,
    ticket_ids: Vec<Uuid>,
}

impl Setup {
    fn customer(&self) -> &Account {
        self.customer.as_ref().expect("prepare signs in a customer")
    }

    fn agent(&self) -> &Account {
        self.agent.as_ref().expect("prepare was asked for an agent")
    }
}

/// Accepts only http:// URLs on 127.0.0.1, ::1 or localhost; returns (base, host:port, port).
fn loopback_target(url: &str) -> Result<(String, String, u16)> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("not a URL: {url}"))?;
    if parsed.scheme() != "http" {
        bail!("only http:// targets are supported, got {url}");
    }
    let host = loopback_host(&parsed)?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let host_port = format!("{host}:{port}");
    Ok((format!("http://{host_port}"), host_port, port))
}

/// The URL's host if it is 127.0.0.1, ::1 or localhost; an error otherwise.
fn loopback_host(url: &reqwest::Url) -> Result<String> {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if !matches!(host.as_str(), "127.0.0.1" | "[::1]" | "localhost") {
        bail!("refusing host {host:?}: the bench only runs against 127.0.0.1, ::1 or localhost");
    }
    Ok(host)
}

async fn postgres_admin(url: &str) -> Result<sqlx::PgConnection> {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url).await.with_context(|| format!("cannot connect to PostgreSQL at {url}"))
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The process listening on this TCP port, from /proc/net/tcp{,6} and /proc/*/fd.
fn listener_pid(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (fields.get(1), fields.get(3), fields.get(9)) else {
                continue;
            };
            let local_port = local.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
            if *state == "0A" && local_port == Some(port) {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path()) {
                if inodes.iter().any(|i| link.as_os_str() == i.as_str()) {
                    return Some(pid);
                }
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Seeding

struct Seeded {
    email: String,
    password: String,
    ids: Vec<Uuid>,
    seconds: f64,
    method: String,
}

/// Writes customers and tickets straight into the database with the service's own store, before
/// the server starts (SQLite has a single writer). Every SEED_CUSTOMERS-th ticket belongs to the
/// bench customer, the rest to other customers.
async fn seed_store(target: &DatabaseTarget, tickets: usize, via: SeedVia) -> Result<Seeded> {
    let started = Instant::now();
    let store = store::connect(target, 16).await.context("opening the database for seeding")?;
    let password = secret(24);
    let hash = alphintra_support::auth::password::hash(password.clone()).await?;
    let email = format!("bench-customer-{}@bench.example", short_id());
    let mut owners = Vec::with_capacity(SEED_CUSTOMERS);
    for k in 0..SEED_CUSTOMERS {
        let user = NewUser {
            id: Uuid::new_v4(),
            email: if k == 0 { email.clone() } else { format!("bench-other-{k}-{}@bench.example", short_id()) },
            full_name: format!("Bench Customer {k}"),
            role: Role::Customer,
            password_hash: hash.clone(),
        };
        owners.push(store.create_user(user, None).await?.id);
    }
    let ids: Arc<Vec<Uuid>> = Arc::new((0..tickets).map(|_| Uuid::new_v4()).collect());
    let owners = Arc::new(owners);
    let now = store::now();
    let method = match (via, target) {
        (SeedVia::Store, _) => {
            // SQLite has one writer: concurrency would only queue on it.
            let tasks = if matches!(target, DatabaseTarget::Postgres(_)) { 16 } else { 1 };
            let (seeding, ids_for_tasks, owners) = (store.clone(), ids.clone(), owners.clone());
            for_each_index(tasks, ids.len(), move |i| {
                let (store, ids, owners) = (seeding.clone(), ids_for_tasks.clone(), owners.clone());
                async move {
                    let ticket = seed_ticket(i, &ids, &owners, now);
                    store
                        .create_ticket(ticket, Vec::new(), None)
                        .await
                        .with_context(|| format!("seeding ticket {i}"))?;
                    progress(i + 1, ids.len(), started);
                    Ok(())
                }
            })
            .await?;
            drop(store);
            format!("Store::create_ticket, {tasks} concurrent, before start")
        }
        (SeedVia::Batch, DatabaseTarget::Sqlite(path)) => {
            drop(store);
            seed_sqlite_batched(path, &ids, &owners, now, started).await?;
            format!("batched INSERTs ({SEED_BATCH} rows per transaction), before start")
        }
        (SeedVia::Batch, DatabaseTarget::Postgres(url)) => {
            drop(store);
            seed_postgres_batched(url, &ids, &owners, now, started).await?;
            format!("batched INSERTs ({SEED_BATCH} rows per transaction), before start")
        }
    };
    if let DatabaseTarget::Postgres(url) = target {
        // What autovacuum would do within a minute anyway; done now so it cannot start mid-run.
        let mut connection = postgres_admin(url).await?;
        sqlx::Executor::execute(&mut connection, "VACUUM ANALYZE").await?;
    }
    Ok(Seeded {
        email,
        password,
        ids: Arc::try_unwrap(ids).unwrap_or_else(|a| (*a).clone()),
        seconds: started.elapsed().as_secs_f64(),
        method,
    })
}

/// Runs `job(i)` for every `i` in `0..count` on `tasks` concurrent tasks, each taking the next
/// index as it finishes one; the first error is returned once all tasks have stopped.
async fn for_each_index<F, Fut>(tasks: usize, count: usize, job: F) -> Result<()>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let (job, next) = (job.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return anyhow::Ok(());
                    }
                    job(i).await?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

/// Ticket `i` of the seed: oldest first, 10 s apart, so "newest first" pages are stable; every
/// SEED_CUSTOMERS-th belongs to the bench customer (`owners[0]`).
fn seed_ticket(i: usize, ids: &[Uuid], owners: &[Uuid], now: chrono::DateTime<chrono::Utc>) -> NewTicket {
    let priority = [Priority::Low, Priority::Medium, Priority::High, Priority::Urgent][i % 4];
    let category: Category = Category::ALL[i % Category::ALL.len()].parse().unwrap_or(Category::Other);
    let created_at = now - chrono::Duration::seconds(10 * (ids.len() - i) as i64);
    NewTicket {
        id: ids[i],
        subject: format!("Bench ticket {i}: withdrawal pending"),
        description: format!("Seeded by the bench tool. Ticket {i} of {}, nothing to do here.", ids.len()),
        status: TicketStatus::New,
        priority,
        category,
        tags: vec!["bench".into()],
        customer_id: owners[i % SEED_CUSTOMERS],
        assigned_agent_id: None,
        created_at,
        sla_due_at: priority.sla_due(created_at),
    }
}

fn progress(done: usize, total: usize, started: Instant) {
    if done % 10_000 == 0 {
        eprintln!("bench: seeded {done} of {total} tickets ({:.0} s)", started.elapsed().as_secs_f64());
    }
}

/// Multi-row INSERTs straight into `tickets`, with the columns and encodings the store uses
/// (migrations/sqlite/0001_init.sql; later migrations' triggers fill the search index).
/// The store's one-ticket-per-transaction path managed only ~650 tickets/s here (an fsync per
/// commit), too slow for 100k; see docs/benchmarks.md.
async fn seed_sqlite_batched(
    path: &std::path::Path,
    ids: &[Uuid],
    owners: &[Uuid],
    now: chrono::DateTime<chrono::Utc>,
    started: Instant,
) -> Result<()> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    use sqlx::Connection;
    let options = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let mut connection = sqlx::SqliteConnection::connect_with(&options).await?;
    let first_number: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(number), 1000) + 1 FROM tickets").fetch_one(&mut connection).await?;
    let indexes: Vec<usize> = (0..ids.len()).collect();
    for batch in indexes.chunks(SEED_BATCH) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO tickets (id, number, subject, description, status, priority, priority_rank, category, \
             tags, customer_id, assigned_agent_id, created_at, updated_at, sla_due_at) ",
        );
        insert.push_values(batch, |mut row, &i| {
            let ticket = seed_ticket(i, ids, owners, now);
            row.push_bind(ticket.id)
                .push_bind(first_number + i as i64)
                .push_bind(ticket.subject)
                .push_bind(ticket.description)
                .push_bind(ticket.status.as_str())
                .push_bind(ticket.priority.as_str())
                .push_bind(ticket.priority.rank())
                .push_bind(ticket.category.as_str())
                .push_bind(sqlx::types::Json(ticket.tags))
                .push_bind(ticket.customer_id)
                .push_bind(ticket.assigned_agent_id)
                .push_bind(ticket.created_at)
                .push_bind(ticket.created_at)
                .push_bind(ticket.sla_due_at);
        });
        let mut transaction = connection.begin().await?;
        insert.build().execute(&mut *transaction).await?;
        transaction.commit().await?;
        for done in batch {
            progress(done + 1, ids.len(), started);
        }
    }
    connection.close().await?;
    Ok(())
}

/// PostgreSQL twin of [`seed_sqlite_batched`] (migrations/postgres/0001_init.sql: the number comes
/// from `ticket_number_seq`, the search vector is a generated column). Store::create_ticket with
/// 16 concurrent tasks managed only ~450 tickets/s here.
async fn seed_postgres_batched(
    url: &str,
    ids: &[Uuid],
    owners: &[Uuid],
    now: chrono::DateTime<chrono::Utc>,
    started: Instant,
) -> Result<()> {
    use sqlx::Connection;
    let mut connection = postgres_admin(url).await?;
    let indexes: Vec<usize> = (0..ids.len()).collect();
    for batch in indexes.chunks(SEED_BATCH) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Postgres>::new(
            "INSERT INTO tickets (id, number, subject, description, status, priority, priority_rank, category, \
             tags, customer_id, assigned_agent_id, created_at, updated_at, sla_due_at) ",
        );
        insert.push_values(batch, |mut row, &i| {
            let ticket = seed_ticket(i, ids, owners, now);
            row.push_bind(ticket.id)
                .push("nextval('ticket_number_seq')")
                .push_bind(ticket.subject)
                .push_bind(ticket.description)
                .push_bind(ticket.status.as_str())
                .push_bind(ticket.priority.as_str())
                .push_bind(ticket.priority.rank())
                .push_bind(ticket.category.as_str())
                .push_bind(sqlx::types::Json(ticket.tags))
                .push_bind(ticket.customer_id)
                .push_bind(ticket.assigned_agent_id)
                .push_bind(ticket.created_at)
                .push_bind(ticket.created_at)
                .push_bind(ticket.sla_due_at);
        });
        let mut transaction = connection.begin().await?;
        insert.build().execute(&mut *transaction).await?;
        transaction.commit().await?;
        for done in batch {
            progress(done + 1, ids.len(), started);
        }
    }
    connection.close().await?;
    Ok(())
}

/// Article `i` of the bench corpus: the demo knowledge base (61 articles written for a trading
/// platform) repeated, each copy with its own slug, a variant title and one more paragraph taken
/// from another article, so copies differ in rank. Every 10th copy is a draft (customers must
/// not find it), the rest published.
fn bench_article(i: usize, templates: &[store::Article]) -> store::Article {
    let template = &templates[i % templates.len()];
    let other = &templates[(i * 17 + 5) % templates.len()];
    let round = i / templates.len();
    let mut article = template.clone();
    article.id = Uuid::new_v4();
    article.slug = format!("{}-{i}", template.slug);
    if round > 0 {
        article.title = format!("{} (edition {round})", template.title);
        article.content = format!("{}\n\n## See also: {}\n\n{}", template.content, other.title, other.summary);
        let draft = i % 10 == 0;
        article.status = if draft { ArticleStatus::Draft } else { ArticleStatus::Published };
        article.published_at = (!draft).then_some(article.created_at);
    }
    article
}

fn bench_article_audit(id: Uuid) -> store::NewAudit {
    store::NewAudit {
        actor_id: None,
        action: "bench.seeded".into(),
        entity_type: "kb_article".into(),
        entity_id: id.to_string(),
        before: None,
        after: None,
    }
}

/// Writes `count` articles with the service's own store before the server starts (its
/// triggers or generated columns build the search index exactly as in production).
async fn seed_articles_store(target: &DatabaseTarget, count: usize) -> Result<String> {
    let store = store::connect(target, 16).await.context("opening the database for seeding")?;
    let templates = Arc::new(alphintra_support::demo::knowledge_base()?);
    // SQLite has one writer: concurrency would only queue on it.
    let tasks = if matches!(target, DatabaseTarget::Postgres(_)) { 16 } else { 1 };
    let seeding = store.clone();
    for_each_index(tasks, count, move |i| {
        let (store, templates) = (seeding.clone(), templates.clone());
        async move {
            let article = bench_article(i, &templates);
            let audit = bench_article_audit(article.id);
            store.create_article(article, audit).await.with_context(|| format!("seeding article {i}"))?;
            if (i + 1) % 2_000 == 0 {
                eprintln!("bench: seeded {} of {count} articles", i + 1);
            }
            Ok(())
        }
    })
    .await?;
    if let DatabaseTarget::Postgres(url) = target {
        let mut connection = postgres_admin(url).await?;
        sqlx::Executor::execute(&mut connection, "VACUUM ANALYZE").await?;
    }
    Ok(format!("Store::create_article, {tasks} concurrent, before start"))
}

/// Seeds a running server (--target) over the API as its administrator.
async fn seed_articles_rest(env: &Env, count: usize) -> Result<()> {
    let Some((email, password)) = &env.admin else {
        bail!("kb-search creates articles: with --target, pass --admin-email and --admin-password");
    };
    let admin = env.login(email, password).await.context("admin sign-in")?;
    let templates = Arc::new(alphintra_support::demo::knowledge_base()?);
    let run = short_id();
    let (http, base, token) = (env.http.clone(), env.base.clone(), admin.token);
    for_each_index(8, count, move |i| {
        let article = bench_article(i, &templates);
        let body = json!({
            "title": article.title,
            "summary": article.summary,
            "content": article.content,
            "category": article.category,
            "tags": article.tags,
            "status": article.status,
            "slug": format!("{}-{run}", article.slug),
        });
        let request = http.post(format!("{base}{API}/knowledge-base/articles")).bearer_auth(&token).json(&body);
        async move {
            request.send().await?.error_for_status().with_context(|| format!("creating article {i}"))?;
            Ok(())
        }
    })
    .await
}

/// The words a visitor might type, per demo article (from its title and tags).
struct SearchWords {
    per_article: Vec<Vec<String>>,
}

impl SearchWords {
    fn from_demo() -> Result<SearchWords> {
        const STOP: &[&str] = &["your", "with", "what", "when", "from", "that", "this", "does", "have", "into"];
        let per_article = alphintra_support::demo::knowledge_base()?
            .into_iter()
            .map(|article| {
                let text = format!("{} {}", article.title, article.tags.join(" ")).to_lowercase();
                let mut words: Vec<String> = text
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .filter(|w| w.len() >= 4 && !STOP.contains(w))
                    .map(str::to_string)
                    .collect();
                words.dedup();
                words
            })
            .filter(|words| !words.is_empty())
            .collect();
        Ok(SearchWords { per_article })
    }

    /// One to three words of one article, the last often cut short (search-as-you-type).
    fn query(&self, rng: &mut XorShift) -> String {
        let words = &self.per_article[rng.below(self.per_article.len())];
        let mut picked: Vec<&str> = (0..1 + rng.below(3)).map(|_| words[rng.below(words.len())].as_str()).collect();
        if let Some(last) = picked.last_mut() {
            if rng.below(2) == 0 && last.len() > 3 {
                *last = &last[..3 + rng.below(last.len() - 3)];
            }
        }
        picked.join(" ")
    }
}

/// Seeds a running server (--target) over the API: SEED_CUSTOMERS customers open their own tickets.
async fn seed_rest(env: &Env, customer: Account, tickets: usize) -> Result<Vec<Uuid>> {
    let mut owners = vec![customer];
    for k in 1..SEED_CUSTOMERS {
        owners.push(env.register(&format!("other-{k}")).await?);
    }
    let ids = Arc::new(Mutex::new(Vec::with_capacity(tickets)));
    let (http, base, seeded) = (env.http.clone(), env.base.clone(), ids.clone());
    for_each_index(32, tickets, move |i| {
        let priority = ["LOW", "MEDIUM", "HIGH", "URGENT"][i % 4];
        let body = json!({
            "subject": format!("Bench ticket {i}: withdrawal pending"),
            "description": "Seeded by the bench tool.",
            "priority": priority,
            "category": Category::ALL[i % Category::ALL.len()],
        });
        let request =
            http.post(format!("{base}{API}/tickets")).bearer_auth(&owners[i % SEED_CUSTOMERS].token).json(&body);
        let ids = seeded.clone();
        async move {
            let answer: Value = request.send().await?.error_for_status()?.json().await?;
            let id = answer["id"].as_str().and_then(|id| Uuid::parse_str(id).ok());
            ids.lock().expect("not poisoned").push(id.ok_or_else(|| anyhow!("no id in {answer}"))?);
            if (i + 1) % 10_000 == 0 {
                eprintln!("bench: seeded {} of {tickets} tickets", i + 1);
            }
            Ok(())
        }
    })
    .await?;
    let ids = std::mem::take(&mut *ids.lock().expect("not poisoned"));
    Ok(ids)
}

// ---------------------------------------------------------------------------------------------
// Resource meter: server RSS and CPU from /proc, and the bench's own CPU

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Proportional set size: shared pages (the memory-mapped database file) counted once.
fn pss_kb(pid: u32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = rollup.lines().find(|l| l.starts_with("Pss:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime in clock ticks (USER_HZ, 100 per second on Linux).
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU ticks of each thread of a process: thread id → (thread name, ticks).
fn thread_ticks(pid: u32) -> HashMap<String, (String, u64)> {
    let mut threads = HashMap::new();
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return threads };
    for entry in entries.flatten() {
        let tid = entry.file_name().to_string_lossy().into_owned();
        let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default().trim().to_string();
        if let Some(ticks) = cpu_ticks(&format!("{pid}/task/{tid}")) {
            threads.insert(tid, (name, ticks));
        }
    }
    threads
}

/// Set when the server under test runs on the local PostgreSQL, whose CPU then counts too.
static MEASURE_POSTGRES: AtomicBool = AtomicBool::new(false);

/// CPU ticks of every PostgreSQL process on the machine (postmaster, backends, WAL writer, ...).
fn postgres_ticks() -> HashMap<u32, u64> {
    let mut ticks = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return ticks };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            if let Some(t) = cpu_ticks(&pid.to_string()) {
                ticks.insert(pid, t);
            }
        }
    }
    ticks
}

/// CPU ticks of this process's children that have been waited for (cutime + cstime).
fn children_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(13)?.parse::<u64>().ok()? + fields.get(14)?.parse::<u64>().ok()?)
}

/// Busy CPU ticks of the whole machine, all cores (user, nice, system, irq, softirq, steal).
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let fields: Vec<u64> = line.split_whitespace().filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    Some([0, 1, 2, 5, 6, 7].iter().filter_map(|&i| fields.get(i)).sum())
}

/// Measures a window: CPU of the server (by thread name), of PostgreSQL, of the bench itself and
/// of everything else on the machine (a high "other" share means the figures were disturbed).
struct Meter {
    pid: Option<u32>,
    started: Instant,
    server: Option<u64>,
    bench: Option<u64>,
    children: Option<u64>,
    machine: Option<u64>,
    threads: HashMap<String, (String, u64)>,
    postgres: Option<HashMap<u32, u64>>,
}

impl Meter {
    fn start(pid: Option<u32>) -> Meter {
        let postgres = MEASURE_POSTGRES.load(Ordering::Relaxed).then(postgres_ticks);
        Meter {
            postgres,
            pid,
            started: Instant::now(),
            server: pid.and_then(|p| cpu_ticks(&p.to_string())),
            bench: cpu_ticks("self"),
            children: children_ticks(),
            machine: machine_busy_ticks(),
            threads: pid.map(thread_ticks).unwrap_or_default(),
        }
    }

    /// CPU used since `start`, and the server's RSS now.
    fn finish(&self, report: &mut Report) {
        let wall = self.started.elapsed().as_secs_f64();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let mut accounted = 0u64;
        let mut cpu = |report: &mut Report, key: &str, label: &str, ticks: u64| {
            accounted += ticks;
            let seconds = ticks as f64 / 100.0;
            report.num(&format!("{key}_cpu_s"), &format!("{label} CPU time"), seconds, "s", 2);
            report.num(
                &format!("{key}_cpu_pct"),
                &format!("{label} CPU (100% = one core)"),
                100.0 * seconds / wall,
                "%",
                0,
            );
        };
        if let (Some(before), Some(after)) = (self.server, self.pid.and_then(|p| cpu_ticks(&p.to_string()))) {
            cpu(report, "server", "server", after.saturating_sub(before));
            // Where the server's CPU went, by thread name (runtime workers, SQLite workers, ...).
            let mut by_name: HashMap<String, u64> = HashMap::new();
            for (tid, (name, ticks)) in self.pid.map(thread_ticks).unwrap_or_default() {
                let before = self.threads.get(&tid).map_or(0, |(_, t)| *t);
                *by_name.entry(name).or_default() += ticks.saturating_sub(before);
            }
            let mut by_name: Vec<(String, u64)> = by_name.into_iter().filter(|(_, t)| *t > 0).collect();
            by_name.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let text: Vec<String> =
                by_name.iter().take(6).map(|(name, t)| format!("{name} {:.2} s", *t as f64 / 100.0)).collect();
            if !text.is_empty() {
                report.text("server_cpu_by_thread", "server CPU by thread name", text.join(", "));
            }
        }
        if let Some(before) = &self.postgres {
            // Processes that ended in the window are missed; new ones count from zero.
            let used = postgres_ticks().iter().map(|(pid, t)| t.saturating_sub(*before.get(pid).unwrap_or(&0))).sum();
            cpu(report, "postgres", "PostgreSQL processes", used);
        }
        if let (Some(before), Some(after)) = (self.bench, cpu_ticks("self")) {
            cpu(report, "bench", "bench (load generator)", after.saturating_sub(before));
        }
        if let (Some(before), Some(after)) = (self.children, children_ticks()) {
            // Children waited for in the window, i.e. wrk.
            if after > before {
                cpu(report, "wrk", "wrk", after - before);
            }
        }
        if let (Some(before), Some(after)) = (self.machine, machine_busy_ticks()) {
            let busy = after.saturating_sub(before);
            let other = busy.saturating_sub(accounted) as f64 / 100.0;
            report.num(
                "machine_cpu_pct",
                "machine CPU busy (all cores)",
                100.0 * busy as f64 / 100.0 / wall / cores,
                "%",
                0,
            );
            report.num("other_cpu_pct", "other processes (100% = one core)", 100.0 * other / wall, "%", 0);
        }
        if let Some(rss) = self.pid.and_then(rss_kb) {
            report.num("server_rss_mb", "server RSS at the end", rss as f64 / 1024.0, "MB", 1);
            if let Some(pss) = self.pid.and_then(pss_kb) {
                // RSS counts the SQLite file once per memory-mapping connection; PSS once.
                report.num("server_pss_mb", "server PSS at the end", pss as f64 / 1024.0, "MB", 1);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Report

struct Row {
    label: String,
    value: String,
    target: Option<(String, bool)>,
}

struct Report {
    scenario: &'static str,
    header: Map<String, Value>,
    figures: Map<String, Value>,
    targets: Map<String, Value>,
    rows: Vec<Row>,
}

impl Report {
    fn new(args: &Args, env: &Env) -> Report {
        let mut header = Map::new();
        header.insert("scenario".into(), args.scenario.name().into());
        header.insert("db".into(), env.backend.clone().into());
        header.insert("target".into(), args.target.clone().map_or(Value::Null, Value::from));
        let mut params = Map::new();
        params.insert("duration_s".into(), args.duration().as_secs().into());
        params.insert("warmup_s".into(), args.warmup.into());
        match args.scenario {
            Scenario::TicketsList | Scenario::TicketGet | Scenario::TicketCreate | Scenario::KbSearch => {
                params.insert("connections".into(), args.connections.into());
                params.insert("http_client".into(), format!("{:?}", args.http_client).to_lowercase().into());
                params.insert("seed".into(), args.seed().into());
            }
            Scenario::StompLatency => {
                params.insert("rate".into(), args.rate().into());
                params.insert("senders".into(), args.senders.into());
            }
            Scenario::StompFaults => {
                params.insert("count".into(), args.count().into());
                params.insert("rate".into(), args.rate().into());
            }
            Scenario::StompFanout | Scenario::StompConnections => {
                params.insert("count".into(), args.count().into());
                params.insert("open_concurrency".into(), args.open_concurrency.into());
            }
            Scenario::Idle => {}
        }
        header.insert("params".into(), Value::Object(params));
        let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        header
            .insert("loadavg_at_start".into(), loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" ").into());
        header.insert("nproc".into(), std::thread::available_parallelism().map_or(0, |n| n.get()).into());
        header.insert("time".into(), chrono::Utc::now().to_rfc3339().into());
        Report { scenario: args.scenario.name(), header, ..Report::empty() }
    }

    fn empty() -> Report {
        Report { scenario: "", header: Map::new(), figures: Map::new(), targets: Map::new(), rows: Vec::new() }
    }

    fn num(&mut self, key: &str, label: &str, value: f64, unit: &str, decimals: usize) {
        let rounded = (value * 1000.0).round() / 1000.0;
        self.figures.insert(key.into(), json!(rounded));
        self.rows.push(Row { label: label.into(), value: format!("{value:.decimals$} {unit}"), target: None });
    }

    fn int(&mut self, key: &str, label: &str, value: u64) {
        self.figures.insert(key.into(), value.into());
        self.rows.push(Row { label: label.into(), value: value.to_string(), target: None });
    }

    fn text(&mut self, key: &str, label: &str, value: String) {
        self.figures.insert(key.into(), value.clone().into());
        self.rows.push(Row { label: label.into(), value, target: None });
    }

    /// Attaches a target to the row just added.
    fn target(&mut self, key: &str, description: &str, met: bool) {
        self.targets.insert(key.into(), json!({ "target": description, "met": met }));
        if let Some(row) = self.rows.last_mut() {
            row.target = Some((description.into(), met));
        }
    }

    fn latency(&mut self, prefix: &str, label: &str, stats: &Latency) {
        self.int(&format!("{prefix}_samples"), &format!("{label}: samples"), stats.count as u64);
        for (name, value) in [("p50", stats.p50), ("p90", stats.p90), ("p99", stats.p99), ("max", stats.max)] {
            self.num(&format!("{prefix}_{name}_ms"), &format!("{label}: {name}"), value, "ms", 3);
        }
        self.num(&format!("{prefix}_mean_ms"), &format!("{label}: mean"), stats.mean, "ms", 3);
    }

    fn print(self) {
        println!(
            "\n== {} ({}) ==  load average at start: {}",
            self.scenario,
            self.header["db"].as_str().unwrap_or_default(),
            self.header["loadavg_at_start"].as_str().unwrap_or_default()
        );
        let width = self.rows.iter().map(|r| r.label.chars().count()).max().unwrap_or(0);
        let value_width = self.rows.iter().map(|r| r.value.chars().count()).max().unwrap_or(0);
        for row in &self.rows {
            let target = match &row.target {
                Some((description, met)) => format!("  target {description}: {}", if *met { "MET" } else { "MISSED" }),
                None => String::new(),
            };
            println!("  {:<width$}  {:>value_width$}{target}", row.label, row.value);
        }
        let mut line = self.header;
        line.insert("figures".into(), Value::Object(self.figures));
        line.insert("targets".into(), Value::Object(self.targets));
        println!("{}", Value::Object(line));
    }
}

/// Percentiles of latencies in microseconds, reported in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy)]
struct Latency {
    count: usize,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Latency {
    fn of(samples: &mut [u64]) -> Latency {
        samples.sort_unstable();
        let count = samples.len();
        let rank = |p: f64| -> f64 {
            if count == 0 {
                return 0.0;
            }
            let index = ((p * count as f64).ceil() as usize).clamp(1, count) - 1;
            samples[index] as f64 / 1000.0
        };
        let mean = if count == 0 { 0.0 } else { samples.iter().sum::<u64>() as f64 / count as f64 / 1000.0 };
        Latency { count, p50: rank(0.50), p90: rank(0.90), p99: rank(0.99), max: rank(1.0), mean }
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario: idle

async fn idle(env: &mut Env, report: &mut Report) -> Result<()> {
    env.start().await?;
    if let Some(startup) = env.startup {
        report.num("startup_ms", "start-up (spawn → first 200 /api/health)", ms(startup), "ms", 1);
        report.target("startup_ms", "< 1000 ms", ms(startup) < 1000.0);
    }
    let meter = Meter::start(env.pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    if let Some(rss) = env.pid.and_then(rss_kb) {
        let mb = rss as f64 / 1024.0;
        report.num("idle_rss_mb", "RSS after 2 s idle", mb, "MB", 1);
        report.target("idle_rss_mb", "< 30 MB", mb < 30.0);
    }
    meter.finish(report);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Scenarios: tickets-list, ticket-get, ticket-create

/// A minimal HTTP/1.1 keep-alive client: one request in flight per connection, like wrk.
struct RawHttp {
    host_port: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

struct Parsed {
    status: u16,
    len: usize,
    close: bool,
}

const MAX_RESPONSE: usize = 16 * 1024 * 1024;

impl RawHttp {
    fn new(host_port: &str) -> RawHttp {
        RawHttp { host_port: host_port.to_string(), stream: None, buf: Vec::with_capacity(32 * 1024) }
    }

    fn reset(&mut self) {
        self.stream = None;
        self.buf.clear();
    }

    /// Sends one request and reads its whole response; the status code.
    async fn send(&mut self, request: &[u8]) -> Result<u16> {
        let result = self.exchange(request).await;
        if result.is_err() {
            self.reset();
        }
        result
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<u16> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.host_port).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
            self.buf.clear();
        }
        let Some(stream) = self.stream.as_mut() else { bail!("not connected") };
        stream.write_all(request).await?;
        loop {
            if let Some(parsed) = parse_response(&self.buf)? {
                self.buf.drain(..parsed.len);
                if parsed.close {
                    self.stream = None;
                }
                return Ok(parsed.status);
            }
            if self.buf.len() > MAX_RESPONSE {
                bail!("response larger than {MAX_RESPONSE} bytes");
            }
            self.buf.reserve(16 * 1024);
            if stream.read_buf(&mut self.buf).await? == 0 {
                bail!("the server closed the connection");
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A complete response at the start of `buf`, or `None` if more bytes are needed.
fn parse_response(buf: &[u8]) -> Result<Option<Parsed>> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else { return Ok(None) };
    let head = std::str::from_utf8(&buf[..head_end]).context("response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("bad status line {status_line:?}"))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().context("bad content-length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let body = head_end + 4;
    let len = if chunked {
        match chunked_end(&buf[body..])? {
            Some(n) => body + n,
            None => return Ok(None),
        }
    } else if let Some(n) = length {
        if buf.len() < body + n {
            return Ok(None);
        }
        body + n
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        body
    } else {
        bail!("response without content-length or chunked encoding")
    };
    Ok(Some(Parsed { status, len, close }))
}

/// Length of a complete chunked body at the start of `body`, or `None` if incomplete.
fn chunked_end(body: &[u8]) -> Result<Option<usize>> {
    let mut pos = 0;
    loop {
        let Some(line_len) = find(&body[pos..], b"\r\n") else { return Ok(None) };
        let line = std::str::from_utf8(&body[pos..pos + line_len])?;
        let size = usize::from_str_radix(line.split(';').next().unwrap_or_default().trim(), 16)
            .with_context(|| format!("bad chunk size {line:?}"))?;
        pos += line_len + 2;
        if size == 0 {
            // Optional trailers, then an empty line.
            return Ok(find(&body[pos - 2..], b"\r\n\r\n").map(|i| pos - 2 + i + 4));
        }
        if body.len() < pos + size + 2 {
            return Ok(None);
        }
        pos += size + 2;
    }
}

#[derive(Clone)]
enum Load {
    List,
    Get(Arc<Vec<Uuid>>),
    Create,
    Search(Arc<SearchWords>),
}

impl Load {
    /// (method, path, body) of request number `n` of a worker.
    fn request(&self, worker: usize, n: u64, rng: &mut XorShift) -> (&'static str, String, Option<String>) {
        match self {
            Load::List => ("GET", format!("{API}/tickets?page=0&size=20"), None),
            Load::Get(ids) => ("GET", format!("{API}/tickets/{}", ids[rng.below(ids.len())]), None),
            Load::Create => {
                let body = json!({
                    "subject": format!("Bench ticket w{worker}-{n}"),
                    "description": "Opened by the bench tool to measure ticket creation.",
                    "priority": "MEDIUM",
                    "category": "TECHNICAL",
                });
                ("POST", format!("{API}/tickets"), Some(body.to_string()))
            }
            Load::Search(words) => {
                let q: String = form_urlencoded::byte_serialize(words.query(rng).as_bytes()).collect();
                ("GET", format!("{API}/knowledge-base/search?q={q}&page=0&size=10"), None)
            }
        }
    }
}

struct WorkerPlan {
    host_port: String,
    base: String,
    token: String,
    load: Load,
    measure_from: Instant,
    deadline: Instant,
    reqwest: Option<reqwest::Client>,
}

#[derive(Default)]
struct WorkerResult {
    latencies: Vec<u64>,
    /// Hashes of the measured request paths (kb-search only), to count distinct queries.
    paths: std::collections::HashSet<u64>,
    errors: u64,
    first_error: Option<String>,
}

async fn http_worker(plan: Arc<WorkerPlan>, worker: usize) -> WorkerResult {
    let mut result = WorkerResult { latencies: Vec::with_capacity(1 << 16), ..WorkerResult::default() };
    let mut raw = RawHttp::new(&plan.host_port);
    let mut rng = XorShift::new(worker as u64 + 1);
    let mut n = 0u64;
    while Instant::now() < plan.deadline {
        let (method, path, body) = plan.load.request(worker, n, &mut rng);
        n += 1;
        let started = Instant::now();
        let outcome: Result<u16> = match &plan.reqwest {
            None => {
                let mut request = format!(
                    "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: application/json\r\n",
                    plan.host_port, plan.token
                );
                if let Some(body) = &body {
                    request.push_str(&format!(
                        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    ));
                } else {
                    request.push_str("\r\n");
                }
                match tokio::time::timeout(IO_TIMEOUT, raw.send(request.as_bytes())).await {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        raw.reset();
                        Err(anyhow!("timed out after {IO_TIMEOUT:?}"))
                    }
                }
            }
            Some(client) => {
                let method = if method == "POST" { reqwest::Method::POST } else { reqwest::Method::GET };
                let mut request = client.request(method, format!("{}{path}", plan.base)).bearer_auth(&plan.token);
                if let Some(body) = body {
                    request = request.header("content-type", "application/json").body(body);
                }
                async {
                    let response = request.send().await?;
                    let status = response.status().as_u16();
                    response.bytes().await?;
                    anyhow::Ok(status)
                }
                .await
            }
        };
        let elapsed = started.elapsed();
        if started < plan.measure_from || started >= plan.deadline {
            continue;
        }
        if matches!(plan.load, Load::Search(_)) {
            use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
            result.paths.insert(BuildHasherDefault::<DefaultHasher>::default().hash_one(&path));
        }
        match outcome {
            Ok(status) if (200..300).contains(&status) => result.latencies.push(elapsed.as_micros() as u64),
            Ok(status) => {
                result.errors += 1;
                result.first_error.get_or_insert_with(|| format!("HTTP {status}"));
            }
            Err(error) => {
                result.errors += 1;
                result.first_error.get_or_insert_with(|| format!("{error:#}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    result
}

async fn http(args: &Args, env: &mut Env, report: &mut Report) -> Result<()> {
    if args.scenario == Scenario::KbSearch {
        let customer = env.prepare_articles(args.seed(), report).await?;
        let words = Arc::new(SearchWords::from_demo()?);
        return http_load(args, env, report, Load::Search(words), customer.token).await;
    }
    let need_agent = matches!(args.scenario, Scenario::TicketsList | Scenario::TicketGet);
    let setup = env.prepare(args.seed(), need_agent, report).await?;
    let (load, token) = match args.scenario {
        Scenario::TicketsList => (Load::List, setup.agent().token.clone()),
        Scenario::TicketGet => {
            if setup.ticket_ids.is_empty() {
                bail!("ticket-get needs seeded tickets: --seed must be above 0");
            }
            (Load::Get(Arc::new(setup.ticket_ids.clone())), setup.agent().token.clone())
        }
        _ => (Load::Create, setup.customer().token.clone()),
    };
    http_load(args, env, report, load, token).await
}

/// Runs `load` on --connections keep-alive connections for --warmup + --duration and reports it.
async fn http_load(args: &Args, env: &mut Env, report: &mut Report, load: Load, token: String) -> Result<()> {
    let duration = args.duration();
    let start = Instant::now();
    let plan = Arc::new(WorkerPlan {
        host_port: env.host_port.clone(),
        base: env.base.clone(),
        token,
        load,
        measure_from: start + args.warmup(),
        deadline: start + args.warmup() + duration,
        reqwest: match args.http_client {
            HttpClient::Raw => None,
            HttpClient::Reqwest => Some(
                reqwest::Client::builder()
                    .no_proxy()
                    .tcp_nodelay(true)
                    .timeout(IO_TIMEOUT)
                    .pool_max_idle_per_host(args.connections as usize)
                    .build()?,
            ),
        },
    });
    let workers: Vec<_> = (0..args.connections as usize).map(|w| tokio::spawn(http_worker(plan.clone(), w))).collect();
    tokio::time::sleep_until(plan.measure_from.into()).await;
    let meter = Meter::start(env.pid);
    let mut latencies = Vec::new();
    let (mut errors, mut first_error) = (0u64, None);
    let mut distinct = matches!(plan.load, Load::Search(_)).then(std::collections::HashSet::new);
    for worker in workers {
        let result = worker.await?;
        latencies.extend(result.latencies);
        if let Some(distinct) = distinct.as_mut() {
            distinct.extend(result.paths);
        }
        errors += result.errors;
        if first_error.is_none() {
            first_error = result.first_error;
        }
    }
    meter.finish(report);
    let ok = latencies.len();
    let stats = Latency::of(&mut latencies);
    let throughput = ok as f64 / duration.as_secs_f64();
    report.int("requests_ok", "successful requests (2xx)", ok as u64);
    report.int("errors", "errors (non-2xx or transport)", errors);
    if let Some(error) = first_error {
        if error == "HTTP 429" && env.spawned.is_none() {
            eprintln!("bench: the target rate-limits; start it with RATE_LIMIT_PER_IP=0 RATE_LIMIT_PER_USER=0");
        }
        report.text("first_error", "first error", error);
    }
    report.num("throughput_rps", "throughput", throughput, "req/s", 0);
    // A run with errors (or nothing measured) meets no target, whatever its figures say.
    let clean = ok > 0 && errors == 0;
    match args.scenario {
        Scenario::TicketsList => report.target("throughput_rps", "≥ 10,000 req/s", clean && throughput >= 10_000.0),
        Scenario::TicketCreate => report.target("throughput_rps", "≥ 2,000 req/s", clean && throughput >= 2_000.0),
        _ => {}
    }
    report.latency("latency", "latency", &stats);
    let p99_target = match args.scenario {
        Scenario::TicketsList => Some(10.0),
        Scenario::TicketCreate | Scenario::KbSearch => Some(20.0),
        _ => None,
    };
    if let Some(limit) = p99_target {
        report.target_row("latency_p99_ms", "latency: p99", &format!("< {limit} ms"), clean && stats.p99 < limit);
    }
    if let Some(distinct) = distinct {
        // The service caches search answers for 30 s: a repeated query may not reach the database.
        report.int("distinct_queries", "distinct queries among them", distinct.len() as u64);
    }
    if args.wrk && args.scenario == Scenario::TicketsList {
        run_wrk(args, env, &plan.token, report).await?;
    }
    Ok(())
}

/// The same load as `tickets-list`, generated by wrk (2 threads, one per core), for comparison.
async fn run_wrk(args: &Args, env: &Env, token: &str, report: &mut Report) -> Result<()> {
    let url = format!("{}{API}/tickets?page=0&size=20", env.base);
    let seconds = args.duration().as_secs();
    let mut command = tokio::process::Command::new("wrk");
    command
        .args(["-t2", &format!("-c{}", args.connections), &format!("-d{seconds}s"), "--latency", "--timeout", "10s"])
        .args(["-H", &format!("Authorization: Bearer {token}"), "-H", "Accept: application/json", &url])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let meter = Meter::start(env.pid);
    let output = tokio::time::timeout(args.duration() + Duration::from_secs(30), command.output())
        .await
        .context("wrk did not finish")?
        .context("cannot run wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!("wrk failed: {}{}", text, String::from_utf8_lossy(&output.stderr));
    }
    let mut server = Report::empty();
    meter.finish(&mut server);
    let parsed = parse_wrk(&text).with_context(|| format!("unexpected wrk output:\n{text}"))?;
    report.text("wrk", "---- wrk, same endpoint and token ----", format!("-t2 -c{} -d{seconds}s", args.connections));
    for (key, label, value, unit, decimals) in parsed {
        report.num(&format!("wrk_{key}"), &format!("wrk {label}"), value, unit, decimals);
    }
    // CPU during the wrk run (the bench itself only waited).
    for row in server.rows.into_iter().filter(|r| !r.label.starts_with("bench")) {
        report.rows.push(Row { label: format!("wrk run: {}", row.label), ..row });
    }
    for (key, value) in server.figures.into_iter().filter(|(k, _)| !k.starts_with("bench")) {
        let key = if key.starts_with("wrk_") { key } else { format!("wrk_{key}") };
        report.figures.insert(key, value);
    }
    Ok(())
}

/// (JSON key, label, value, unit, decimals shown).
type WrkFigure = (&'static str, &'static str, f64, &'static str, usize);

/// Throughput, non-2xx count and latency percentiles from wrk's `--latency` output.
fn parse_wrk(text: &str) -> Result<Vec<WrkFigure>> {
    let duration_ms = |value: &str| -> Option<f64> {
        let split = value.find(|c: char| c.is_ascii_alphabetic())?;
        let (number, unit) = value.split_at(split);
        let number: f64 = number.parse().ok()?;
        Some(match unit {
            "us" => number / 1000.0,
            "ms" => number,
            "s" => number * 1000.0,
            "m" => number * 60_000.0,
            _ => return None,
        })
    };
    let mut figures = Vec::new();
    let mut non_2xx = 0.0;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", value] => figures.push(("throughput_rps", "throughput", value.parse()?, "req/s", 0)),
            ["Non-2xx", "or", "3xx", "responses:", value] => non_2xx = value.parse()?,
            ["Latency", avg, _, max, ..] => {
                figures.push(("latency_mean_ms", "latency: mean", duration_ms(avg).context("latency")?, "ms", 3));
                figures.push(("latency_max_ms", "latency: max", duration_ms(max).context("latency")?, "ms", 3));
            }
            [percent @ ("50%" | "90%" | "99%"), value] => {
                let (key, label) = match *percent {
                    "50%" => ("latency_p50_ms", "latency: p50"),
                    "90%" => ("latency_p90_ms", "latency: p90"),
                    _ => ("latency_p99_ms", "latency: p99"),
                };
                figures.push((key, label, duration_ms(value).context("percentile")?, "ms", 3));
            }
            _ => {}
        }
    }
    if !figures.iter().any(|f| f.0 == "throughput_rps") {
        bail!("no Requests/sec line");
    }
    figures.push(("non_2xx", "non-2xx responses", non_2xx, "", 0));
    Ok(figures)
}

// ---------------------------------------------------------------------------------------------
// STOMP over WebSocket

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One STOMP connection: the WebSocket and the decoder of what it receives.
struct Stomp {
    ws: Ws,
    decoder: Decoder,
}

fn text_message(frame: &Frame) -> Message {
    Message::text(String::from_utf8_lossy(&frame.to_bytes()).into_owned())
}

/// The next STOMP frame from `stream` (heart-beats skipped); `None` when the connection closes.
async fn read_frame<S>(stream: &mut S, decoder: &mut Decoder) -> Result<Option<Frame>>
where
    S: Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match decoder.next_frame() {
            Ok(Some(Item::Frame(frame))) => return Ok(Some(frame)),
            Ok(Some(Item::HeartBeat)) => continue,
            Ok(None) => {}
            Err(error) => bail!("malformed frame from the server: {error}"),
        }
        match stream.next().await {
            Some(Ok(Message::Text(text))) => decoder.feed(text.as_bytes()),
            Some(Ok(Message::Binary(bytes))) => decoder.feed(&bytes),
            Some(Ok(Message::Close(_))) | None => return Ok(None),
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
        }
    }
}

/// A frame that was not the one expected, for error messages.
fn describe(frame: &Frame) -> String {
    let message = frame.header("message").unwrap_or_default();
    format!("{} {message} {}", frame.command, tail(&String::from_utf8_lossy(&frame.body), 3))
}

impl Stomp {
    /// Opens `/ws` and completes CONNECT. `lean` uses 4 KiB buffers, for many connections.
    async fn connect(ws_url: &str, token: &str, heart_beat: &str, lean: bool) -> Result<Stomp> {
        let mut request = ws_url.into_client_request()?;
        request.headers_mut().insert("Sec-WebSocket-Protocol", "v12.stomp".parse()?);
        let config = lean.then(|| WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0));
        let (ws, _) = tokio_tungstenite::connect_async_with_config(request, config, true).await?;
        let mut stomp = Stomp { ws, decoder: Decoder::new(Limits::default()) };
        let connect = Frame::new(Command::Connect)
            .with_header("accept-version", "1.2")
            .with_header("host", "localhost")
            .with_header("Authorization", format!("Bearer {token}"))
            .with_header("heart-beat", heart_beat);
        stomp.send(&connect).await?;
        match stomp.next().await? {
            frame if frame.command == Command::Connected => Ok(stomp),
            frame => bail!("CONNECT answered with {}", describe(&frame)),
        }
    }

    async fn send(&mut self, frame: &Frame) -> Result<()> {
        self.ws.send(text_message(frame)).await?;
        Ok(())
    }

    /// The next frame within IO_TIMEOUT; an error on timeout or close.
    async fn next(&mut self) -> Result<Frame> {
        match tokio::time::timeout(IO_TIMEOUT, read_frame(&mut self.ws, &mut self.decoder)).await {
            Ok(Ok(Some(frame))) => Ok(frame),
            Ok(Ok(None)) => bail!("the server closed the STOMP connection"),
            Ok(Err(error)) => Err(error),
            Err(_) => bail!("no frame within {IO_TIMEOUT:?}"),
        }
    }

    /// SUBSCRIBE with a receipt; returns once the subscription is live.
    async fn subscribe(&mut self, id: &str, destination: &str) -> Result<()> {
        let subscribe = Frame::new(Command::Subscribe)
            .with_header("id", id)
            .with_header("destination", destination)
            .with_header("ack", "auto")
            .with_header("receipt", format!("sub-{id}"));
        self.send(&subscribe).await?;
        match self.next().await? {
            frame if frame.command == Command::Receipt => Ok(()),
            frame => bail!("SUBSCRIBE answered with {}", describe(&frame)),
        }
    }
}

fn chat_send(ticket: Uuid, text: &str, receipt: Option<&str>) -> Frame {
    let mut frame = Frame::new(Command::Send)
        .with_header("destination", format!("/app/tickets/{ticket}/messages"))
        .with_header("content-type", "application/json");
    if let Some(receipt) = receipt {
        frame = frame.with_header("receipt", receipt);
    }
    frame.with_body(json!({ "message": text }).to_string())
}

/// The n of a MESSAGE whose communication content is "<prefix> <n>", without a full JSON parse.
fn bench_number(body: &[u8], prefix: &str) -> Option<usize> {
    let marker = format!("\"content\":\"{prefix} ");
    let at = find(body, marker.as_bytes())? + marker.len();
    let digits = body[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&body[at..at + digits]).ok()?.parse().ok()
}

async fn open_ticket(env: &Env, customer: &Account) -> Result<Uuid> {
    let body = json!({ "subject": "Bench chat ticket", "description": "Live chat measured by the bench tool." });
    let ticket = env.api(reqwest::Method::POST, "/tickets", Some(&customer.token), Some(&body)).await?;
    ticket["id"].as_str().and_then(|id| Uuid::parse_str(id).ok()).ok_or_else(|| anyhow!("no ticket id in {ticket}"))
}

fn nanos_since(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64
}

// ---------------------------------------------------------------------------------------------
// Scenario: stomp-latency

async fn stomp_latency(args: &Args, env: &mut Env, report: &mut Report) -> Result<()> {
    let setup = env.prepare(args.seed(), true, report).await?;
    let senders = args.senders as usize;
    let mut tickets = Vec::with_capacity(senders);
    let mut receiver = Stomp::connect(&env.ws_url, &setup.agent().token, "0,0", false).await?;
    for k in 0..senders {
        let ticket = open_ticket(env, setup.customer()).await?;
        receiver.subscribe(&k.to_string(), &format!("/topic/tickets/{ticket}/messages")).await?;
        tickets.push(ticket);
    }

    let warm = (args.rate() * args.warmup) as usize;
    let measured = (args.rate() * args.duration().as_secs()) as usize;
    let total = warm + measured;
    let base = Instant::now();
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let finish_by = base + args.warmup() + args.duration() + Duration::from_secs(10);

    // Receiver: MESSAGE frames at the agent, matched by n.
    let receive = {
        let sent_at = sent_at.clone();
        tokio::spawn(async move {
            let (mut latencies, mut seen, mut error) = (Vec::with_capacity(measured), 0usize, None);
            while seen < total {
                let frame =
                    tokio::time::timeout_at(finish_by.into(), read_frame(&mut receiver.ws, &mut receiver.decoder))
                        .await;
                let now = nanos_since(base);
                match frame {
                    Ok(Ok(Some(frame))) if frame.command == Command::Message => {
                        if let Some(n) = bench_number(&frame.body, "bench").filter(|n| *n < total) {
                            seen += 1;
                            let sent = sent_at[n].load(Ordering::Acquire);
                            if n >= warm && sent > 0 {
                                latencies.push(now.saturating_sub(sent) / 1000);
                            }
                        }
                    }
                    Ok(Ok(Some(frame))) => {
                        error = Some(format!("receiver got {}", describe(&frame)));
                        break;
                    }
                    Ok(Ok(None)) => {
                        error = Some("receiver connection closed".to_string());
                        break;
                    }
                    Ok(Err(e)) => {
                        error = Some(format!("receiver: {e:#}"));
                        break;
                    }
                    Err(_) => break,
                }
            }
            (latencies, error)
        })
    };

    // Senders: SENDs at a fixed schedule, message n on connection n % senders; each
    // connection's RECEIPTs are read by a task of its own.
    let mut sinks = Vec::with_capacity(senders);
    let mut receipt_readers = Vec::with_capacity(senders);
    for k in 0..senders {
        let Stomp { ws, decoder } = Stomp::connect(&env.ws_url, &setup.customer().token, "0,0", false).await?;
        let (sink, mut stream) = ws.split();
        sinks.push(sink);
        let expected = (k..total).step_by(senders).count();
        let sent_at = sent_at.clone();
        receipt_readers.push(tokio::spawn(async move {
            let mut decoder = decoder;
            let (mut latencies, mut seen, mut error) = (Vec::with_capacity(expected), 0usize, None);
            while seen < expected {
                match tokio::time::timeout_at(finish_by.into(), read_frame(&mut stream, &mut decoder)).await {
                    Ok(Ok(Some(frame))) if frame.command == Command::Receipt => {
                        let now = nanos_since(base);
                        seen += 1;
                        let n = frame.header("receipt-id").and_then(|r| r.strip_prefix("r-")?.parse::<usize>().ok());
                        if let Some(n) = n.filter(|n| *n >= warm && *n < total) {
                            latencies.push(now.saturating_sub(sent_at[n].load(Ordering::Acquire)) / 1000);
                        }
                    }
                    Ok(Ok(Some(frame))) => {
                        error = Some(format!("sender got {}", describe(&frame)));
                        break;
                    }
                    Ok(Ok(None)) => {
                        error = Some("sender connection closed".to_string());
                        break;
                    }
                    Ok(Err(e)) => {
                        error = Some(format!("sender: {e:#}"));
                        break;
                    }
                    Err(_) => break,
                }
            }
            (latencies, error)
        }));
    }
    let period = Duration::from_secs_f64(1.0 / args.rate() as f64);
    let mut meter = None;
    let mut measure_start = base;
    let mut send_error = None;
    for n in 0..total {
        if n == warm {
            meter = Some(Meter::start(env.pid));
            measure_start = Instant::now();
        }
        let due = base + period.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        let frame = chat_send(tickets[n % senders], &format!("bench {n}"), Some(&format!("r-{n}")));
        let message = text_message(&frame);
        sent_at[n].store(nanos_since(base).max(1), Ordering::Release);
        if let Err(error) = sinks[n % senders].send(message).await {
            send_error = Some(format!("{error}"));
            break;
        }
    }
    let send_seconds = measure_start.elapsed().as_secs_f64();
    let (mut latencies, receive_error) = receive.await?;
    let (mut receipt_latencies, mut receipt_error) = (Vec::new(), None);
    for reader in receipt_readers {
        let (latencies, error) = reader.await?;
        receipt_latencies.extend(latencies);
        receipt_error = receipt_error.or(error);
    }
    if let Some(meter) = meter {
        meter.finish(report);
    }
    let achieved = measured as f64 / send_seconds;
    report.num("rate_requested", "requested rate", args.rate() as f64, "msg/s", 0);
    report.num("rate_achieved", "achieved send rate", achieved, "msg/s", 0);
    report.int("messages_measured", "messages sent in the window", measured as u64);
    let lost = (measured - latencies.len().min(measured)) as u64;
    report.int("messages_lost", "not delivered by 10 s after the last SEND", lost);
    for (key, error) in [("send_error", send_error), ("receive_error", receive_error), ("receipt_error", receipt_error)]
    {
        if let Some(error) = error {
            report.text(key, key, error);
        }
    }
    let stats = Latency::of(&mut latencies);
    report.latency("latency", "SEND → MESSAGE", &stats);
    let met = stats.p99 < 3.0 && stats.count == measured && achieved >= 0.98 * 1000.0;
    report.target_row("latency_p99_ms", "SEND → MESSAGE: p99", "p99 < 3 ms at 1,000 msg/s", met);
    let receipts = Latency::of(&mut receipt_latencies);
    report.latency("receipt", "SEND → RECEIPT", &receipts);
    Ok(())
}

impl Report {
    /// Attaches a target to the row with this label.
    fn target_row(&mut self, key: &str, label: &str, description: &str, met: bool) {
        self.targets.insert(key.into(), json!({ "target": description, "met": met }));
        if let Some(row) = self.rows.iter_mut().find(|r| r.label == label) {
            row.target = Some((description.into(), met));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario: stomp-fanout

struct Fanout {
    base: Instant,
    subscribers: usize,
    delivered: Vec<AtomicUsize>,
    first: Vec<AtomicU64>,
    last: Vec<AtomicU64>,
    complete: mpsc::UnboundedSender<usize>,
}

async fn fanout_subscriber(
    ws_url: String,
    token: String,
    topic: String,
    permits: Arc<Semaphore>,
    state: Arc<Fanout>,
    ready: mpsc::UnboundedSender<Result<(), String>>,
    mut stop: watch::Receiver<bool>,
) {
    let opened = async {
        let _permit = permits.acquire().await?;
        let mut stomp = Stomp::connect(&ws_url, &token, "0,0", true).await?;
        stomp.subscribe("0", &topic).await?;
        anyhow::Ok(stomp)
    };
    let mut stomp = match tokio::time::timeout(Duration::from_secs(60), opened).await {
        Ok(Ok(stomp)) => stomp,
        Ok(Err(error)) => {
            let _ = ready.send(Err(format!("{error:#}")));
            return;
        }
        Err(_) => {
            let _ = ready.send(Err("opening took more than 60 s".into()));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    loop {
        let frame = tokio::select! {
            frame = read_frame(&mut stomp.ws, &mut stomp.decoder) => frame,
            _ = stop.changed() => return,
        };
        let now = nanos_since(state.base);
        match frame {
            Ok(Some(frame)) if frame.command == Command::Message => {
                let Some(k) = bench_number(&frame.body, "fan").filter(|k| *k < state.delivered.len()) else {
                    continue;
                };
                state.first[k].fetch_min(now, Ordering::AcqRel);
                state.last[k].fetch_max(now, Ordering::AcqRel);
                if state.delivered[k].fetch_add(1, Ordering::AcqRel) + 1 == state.subscribers {
                    let _ = state.complete.send(k);
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
}

async fn stomp_fanout(args: &Args, env: &mut Env, report: &mut Report) -> Result<()> {
    let setup = env.prepare(args.seed(), false, report).await?;
    let customer = setup.customer().clone();
    let ticket = open_ticket(env, &customer).await?;
    let topic = format!("/topic/tickets/{ticket}/messages");
    let subscribers = args.count();
    let (complete_tx, mut complete_rx) = mpsc::unbounded_channel();
    let state = Arc::new(Fanout {
        base: Instant::now(),
        subscribers,
        delivered: (0..FANOUT_MESSAGES).map(|_| AtomicUsize::new(0)).collect(),
        first: (0..FANOUT_MESSAGES).map(|_| AtomicU64::new(u64::MAX)).collect(),
        last: (0..FANOUT_MESSAGES).map(|_| AtomicU64::new(0)).collect(),
        complete: complete_tx,
    });
    let permits = Arc::new(Semaphore::new(args.open_concurrency as usize));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let rss_before = env.pid.and_then(rss_kb);
    let opening = Instant::now();
    let mut tasks = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        tasks.push(tokio::spawn(fanout_subscriber(
            env.ws_url.clone(),
            customer.token.clone(),
            topic.clone(),
            permits.clone(),
            state.clone(),
            ready_tx.clone(),
            stop_rx.clone(),
        )));
    }
    let (mut opened, mut failed, mut first_failure) = (0usize, 0usize, None);
    while opened + failed < subscribers {
        match ready_rx.recv().await {
            Some(Ok(())) => opened += 1,
            Some(Err(error)) => {
                failed += 1;
                first_failure.get_or_insert(error);
            }
            None => break,
        }
    }
    report.num("open_seconds", "time to open and subscribe all", opening.elapsed().as_secs_f64(), "s", 2);
    report.int("subscribers", "subscribers", opened as u64);
    if failed > 0 {
        report.int("open_failures", "subscribers that failed to open", failed as u64);
        report.text("first_open_failure", "first open failure", first_failure.unwrap_or_default());
    }
    if let (Some(before), Some(after)) = (rss_before, env.pid.and_then(rss_kb)) {
        report.num("server_rss_subscribed_mb", "server RSS with all subscribed", after as f64 / 1024.0, "MB", 1);
        report.num(
            "rss_per_subscriber_kb",
            "RSS per subscriber",
            after.saturating_sub(before) as f64 / opened.max(1) as f64,
            "kB",
            1,
        );
    }
    if opened == 0 {
        bail!("no subscriber could connect: {}", report.figures.get("first_open_failure").cloned().unwrap_or_default());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut sender = Stomp::connect(&env.ws_url, &customer.token, "0,0", false).await?;
    let meter = Meter::start(env.pid);
    let (mut last, mut first) = (Vec::new(), Vec::new());
    let mut incomplete = 0usize;
    for k in 0..FANOUT_MESSAGES {
        let sent = nanos_since(state.base);
        sender.send(&chat_send(ticket, &format!("fan {k}"), Some(&format!("r-{k}")))).await?;
        let waited = tokio::time::timeout(IO_TIMEOUT, async {
            while let Some(done) = complete_rx.recv().await {
                if done == k {
                    return true;
                }
            }
            false
        })
        .await;
        if !matches!(waited, Ok(true)) {
            incomplete += 1;
        }
        let reply = sender.next().await?;
        if reply.command != Command::Receipt {
            bail!("SEND answered with {}", describe(&reply));
        }
        let last_at = state.last[k].load(Ordering::Acquire);
        let first_at = state.first[k].load(Ordering::Acquire);
        if matches!(waited, Ok(true)) {
            last.push(last_at.saturating_sub(sent) / 1000);
            first.push(first_at.saturating_sub(sent) / 1000);
        }
    }
    meter.finish(report);
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    report.int("messages", "messages posted", FANOUT_MESSAGES as u64);
    report.int("messages_incomplete", "messages not delivered to all within 10 s", incomplete as u64);
    let stats = Latency::of(&mut last);
    report.latency("last_delivery", "SEND → last subscriber", &stats);
    let met = stats.p99 < 20.0 && incomplete == 0 && opened >= 1000;
    report.target_row("last_delivery_p99_ms", "SEND → last subscriber: p99", "p99 < 20 ms with 1,000 subscribers", met);
    let stats = Latency::of(&mut first);
    report.latency("first_delivery", "SEND → first subscriber", &stats);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Scenario: stomp-connections

async fn held_connection(
    ws_url: String,
    token: String,
    permits: Arc<Semaphore>,
    alive: Arc<AtomicUsize>,
    ready: mpsc::UnboundedSender<Result<(), String>>,
    mut stop: watch::Receiver<bool>,
) {
    let opened = async {
        let _permit = permits.acquire().await?;
        Stomp::connect(&ws_url, &token, "10000,10000", true).await
    };
    let stomp = match tokio::time::timeout(Duration::from_secs(60), opened).await {
        Ok(Ok(stomp)) => stomp,
        Ok(Err(error)) => {
            let _ = ready.send(Err(format!("{error:#}")));
            return;
        }
        Err(_) => {
            let _ = ready.send(Err("opening took more than 60 s".into()));
            return;
        }
    };
    alive.fetch_add(1, Ordering::AcqRel);
    let _ = ready.send(Ok(()));
    let (mut sink, mut stream) = stomp.ws.split();
    let every = Duration::from_secs(10);
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = beat.tick() => {
                if send_beat(&mut sink).await.is_err() {
                    break;
                }
            }
            _ = stop.changed() => break,
        }
    }
    alive.fetch_sub(1, Ordering::AcqRel);
}

async fn send_beat<K>(sink: &mut K) -> Result<(), K::Error>
where
    K: Sink<Message> + Unpin,
{
    sink.send(Message::text("\n")).await
}

async fn stomp_connections(args: &Args, env: &mut Env, report: &mut Report) -> Result<()> {
    let setup = env.prepare(args.seed(), false, report).await?;
    let token = setup.customer().token.clone();
    let count = args.count();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = env.pid.and_then(rss_kb);
    let permits = Arc::new(Semaphore::new(args.open_concurrency as usize));
    let alive = Arc::new(AtomicUsize::new(0));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let opening = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        tasks.push(tokio::spawn(held_connection(
            env.ws_url.clone(),
            token.clone(),
            permits.clone(),
            alive.clone(),
            ready_tx.clone(),
            stop_rx.clone(),
        )));
    }
    let (mut opened, mut failed, mut first_failure) = (0usize, 0usize, None);
    while opened + failed < count {
        match ready_rx.recv().await {
            Some(Ok(())) => opened += 1,
            Some(Err(error)) => {
                failed += 1;
                first_failure.get_or_insert(error);
            }
            None => break,
        }
    }
    let open_seconds = opening.elapsed().as_secs_f64();
    report.int("requested", "connections requested", count as u64);
    report.int("opened", "connections opened (CONNECTED received)", opened as u64);
    report.num("open_seconds", "time to connect all", open_seconds, "s", 2);
    report.num("open_rate", "connection rate", opened as f64 / open_seconds, "conn/s", 0);
    if failed > 0 {
        report.int("open_failures", "connections that failed to open", failed as u64);
        report.text("first_open_failure", "first open failure", first_failure.unwrap_or_default());
    }
    // Let the server settle (allocator, queues) before reading its memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = env.pid.and_then(rss_kb);
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        report.num("server_rss_before_mb", "server RSS before", before as f64 / 1024.0, "MB", 1);
        report.num("server_rss_after_mb", "server RSS with all connected", after as f64 / 1024.0, "MB", 1);
        let per = after.saturating_sub(before) as f64 / opened.max(1) as f64;
        report.num("rss_per_connection_kb", "RSS per connection", per, "kB", 1);
        report.target("rss_per_connection_kb", "≤ 30 kB", per <= 30.0);
    }
    let meter = Meter::start(env.pid);
    tokio::time::sleep(args.duration()).await;
    let held = alive.load(Ordering::Acquire);
    meter.finish(report);
    report.num("held_seconds", "held for", args.duration().as_secs_f64(), "s", 0);
    report.int("alive_at_end", "connections alive at the end", held as u64);
    report.target("alive_at_end", "10,000 held", held >= 10_000 && held == count);
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Small helpers

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn short_id() -> String {
    Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Random hex characters (from v4 UUIDs).
fn secret(len: usize) -> String {
    let mut out = String::new();
    while out.len() < len {
        out.push_str(&Uuid::new_v4().simple().to_string());
    }
    out.truncate(len);
    out
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// xorshift64: random ticket ids without a dependency.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_responses_with_length_and_chunks() {
        let fixed = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhiHTTP/1.1";
        let parsed = parse_response(fixed).unwrap().unwrap();
        assert_eq!((parsed.status, parsed.len, parsed.close), (200, 40, false));
        assert!(parse_response(&fixed[..39]).unwrap().is_none());
        let chunked =
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let parsed = parse_response(chunked).unwrap().unwrap();
        assert_eq!((parsed.status, parsed.len, parsed.close), (404, chunked.len(), true));
        assert!(parse_response(&chunked[..chunked.len() - 1]).unwrap().is_none());
    }

    #[test]
    fn reads_wrk_output() {
        let text = "Running 10s test @ http://127.0.0.1:1/x\n  2 threads and 32 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency     3.10ms    1.20ms   1.02s    80.00%\n    Req/Sec     5.00k   300.00     6.00k    70.00%\n  Latency Distribution\n     50%  850.00us\n     75%    3.50ms\n     90%    4.20ms\n     99%    7.80ms\n  100000 requests in 10.00s, 1.20GB read\n  Non-2xx or 3xx responses: 5\nRequests/sec:  10000.50\nTransfer/sec:    120.00MB\n";
        let figures = parse_wrk(text).unwrap();
        let get = |key: &str| figures.iter().find(|f| f.0 == key).map(|f| f.2);
        assert_eq!(get("throughput_rps"), Some(10000.5));
        assert_eq!(get("latency_p50_ms"), Some(0.85));
        assert_eq!(get("latency_p99_ms"), Some(7.8));
        assert_eq!(get("latency_max_ms"), Some(1020.0));
        assert_eq!(get("non_2xx"), Some(5.0));
    }

    #[test]
    fn refuses_non_loopback_targets() {
        assert!(loopback_target("http://127.0.0.1:8010").is_ok());
        assert!(loopback_target("http://[::1]:8010").is_ok());
        assert!(loopback_target("http://localhost:8010").is_ok());
        assert!(loopback_target("http://10.0.0.1:8010").is_err());
        assert!(loopback_target("http://example.com").is_err());
        assert!(loopback_target("https://127.0.0.1").is_err());
    }

    #[test]
    fn search_queries_come_from_the_demo_articles() {
        let words = SearchWords::from_demo().unwrap();
        let mut rng = XorShift::new(7);
        let queries: std::collections::HashSet<String> = (0..1000).map(|_| words.query(&mut rng)).collect();
        assert!(queries.len() > 500, "only {} distinct queries", queries.len());
        assert!(queries.iter().all(|q| !q.is_empty() && q.split(' ').count() <= 3));
        let templates = alphintra_support::demo::knowledge_base().unwrap();
        let copy = bench_article(templates.len() * 3 + 1, &templates);
        assert_eq!(copy.slug, format!("{}-{}", templates[1].slug, templates.len() * 3 + 1));
        assert!(copy.title.ends_with("(edition 3)"));
    }

    #[test]
    fn percentiles_and_message_numbers() {
        let mut samples: Vec<u64> = (1..=100).map(|v| v * 1000).collect();
        let stats = Latency::of(&mut samples);
        assert_eq!((stats.p50, stats.p99, stats.max), (50.0, 99.0, 100.0));
        assert_eq!(bench_number(br#"{"seq":3,"content":"bench 42","x":1}"#, "bench"), Some(42));
        assert_eq!(bench_number(br#"{"content":"other 42"}"#, "bench"), None);
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario: stomp-faults

/// Connections per ticket: one on each instance, so every message also crosses Redis.
const FAULT_CONNECTIONS_PER_TICKET: usize = 2;
/// Tickets per bench customer.
const FAULT_TICKETS_PER_CUSTOMER: usize = 5;

/// What one chat client saw.
#[derive(Default)]
struct FaultClient {
    /// Texts of the messages the server acknowledged with a RECEIPT.
    acknowledged: Vec<String>,
    /// SENDs whose connection broke before their RECEIPT (neither confirmed nor retried).
    unconfirmed: u64,
    receipt_latencies: Vec<u64>,
    /// Milliseconds from losing a connection to being subscribed again on the other instance.
    reconnect_ms: Vec<u64>,
    /// MESSAGE frames received for the ticket (its own and the other connection's).
    delivered: u64,
    errors: Vec<String>,
}

struct FaultPlan {
    urls: [String; 2],
    deadline: Instant,
    interval: Duration,
}

/// One chat client: connects to its home instance, subscribes to its ticket, sends a message
/// with a receipt every `interval`; when the connection breaks it moves to the other instance.
async fn fault_client(plan: Arc<FaultPlan>, index: usize, ticket: Uuid, token: String) -> FaultClient {
    let mut seen = FaultClient::default();
    let mut instance = index % 2;
    let mut lost_at: Option<Instant> = None;
    let mut n = 0u64;
    let topic = format!("/topic/tickets/{ticket}/messages");
    // Spread the first SENDs over one interval.
    let offset = plan.interval.mul_f64((index % 97) as f64 / 97.0);
    while Instant::now() < plan.deadline {
        let mut stomp = match Stomp::connect(&plan.urls[instance], &token, "0,0", true).await {
            Ok(stomp) => stomp,
            Err(error) => {
                if lost_at.is_none() {
                    seen.errors.push(format!("connect: {error:#}"));
                }
                instance = 1 - instance;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if let Err(error) = stomp.subscribe("chat", &topic).await {
            seen.errors.push(format!("subscribe: {error:#}"));
            instance = 1 - instance;
            continue;
        }
        if let Some(at) = lost_at.take() {
            seen.reconnect_ms.push(at.elapsed().as_millis() as u64);
        }
        let mut next_send = tokio::time::Instant::now() + if n == 0 { offset } else { Duration::ZERO };
        let mut pending: Option<(String, String, Instant)> = None;
        let broke = loop {
            let deadline = tokio::time::Instant::from_std(plan.deadline);
            tokio::select! {
                _ = tokio::time::sleep_until(next_send), if pending.is_none() => {
                    let text = format!("faults {index}-{n}");
                    let receipt = format!("m-{n}");
                    n += 1;
                    let started = Instant::now();
                    if stomp.send(&chat_send(ticket, &text, Some(&receipt))).await.is_err() {
                        seen.unconfirmed += 1;
                        break true;
                    }
                    pending = Some((text, receipt, started));
                    next_send += plan.interval;
                }
                frame = read_frame(&mut stomp.ws, &mut stomp.decoder) => match frame {
                    Ok(Some(frame)) if frame.command == Command::Receipt => {
                        match pending.take() {
                            Some((text, receipt, started)) if frame.header("receipt-id") == Some(receipt.as_str()) => {
                                seen.receipt_latencies.push(started.elapsed().as_micros() as u64);
                                seen.acknowledged.push(text);
                            }
                            other => {
                                seen.errors.push(format!("unexpected RECEIPT {:?}", frame.header("receipt-id")));
                                pending = other;
                            }
                        }
                    }
                    Ok(Some(frame)) if frame.command == Command::Message => seen.delivered += 1,
                    Ok(Some(frame)) if frame.command == Command::Error => {
                        seen.errors.push(format!("ERROR: {}", describe(&frame)));
                        break true;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break true,
                },
                _ = tokio::time::sleep_until(deadline) => break false,
            }
        };
        if !broke {
            // Wait for the last receipt, so a message in flight at the end is not miscounted.
            if let Some((text, receipt, started)) = pending.take() {
                loop {
                    match stomp.next().await {
                        Ok(frame)
                            if frame.command == Command::Receipt
                                && frame.header("receipt-id") == Some(receipt.as_str()) =>
                        {
                            seen.receipt_latencies.push(started.elapsed().as_micros() as u64);
                            seen.acknowledged.push(text);
                            break;
                        }
                        Ok(_) => {}
                        Err(_) => {
                            seen.unconfirmed += 1;
                            break;
                        }
                    }
                }
            }
            let _ = stomp.send(&Frame::new(Command::Disconnect)).await;
            return seen;
        }
        if pending.is_some() {
            seen.unconfirmed += 1;
        }
        lost_at = Some(Instant::now());
        instance = 1 - instance;
    }
    seen
}

async fn stomp_faults(args: &Args, env: &mut Env, report: &mut Report) -> Result<()> {
    let Some(spawned) = env.spawned.as_mut() else {
        bail!("stomp-faults starts and kills its own two instances: it cannot use --target");
    };
    if !matches!(spawned.database, DatabaseTarget::Postgres(_)) {
        bail!("stomp-faults runs two instances on one database: use --db postgres");
    }
    let redis_url = std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    spawned.extra_env = vec![
        ("REDIS_URL".into(), redis_url),
        ("REDIS_PREFIX".into(), format!("bench-{}", short_id())),
        ("MAX_WS_CONNECTIONS".into(), "20000".into()),
    ];
    env.start().await?;
    let admin = env.admin.clone().unwrap_or_default();
    let spawned = env.spawned.as_ref().ok_or_else(|| anyhow!("no server"))?;
    let port_b = free_port()?;
    let mut instance_b = spawned.start_instance(port_b, "server-b", &admin).await?;
    let urls = [env.ws_url.clone(), format!("ws://127.0.0.1:{port_b}/ws")];

    let connections = args.count();
    let tickets_needed = connections.div_ceil(FAULT_CONNECTIONS_PER_TICKET);
    let mut tickets: Vec<(Uuid, String)> = Vec::with_capacity(tickets_needed);
    while tickets.len() < tickets_needed {
        let customer = env.register("faults").await?;
        for _ in 0..FAULT_TICKETS_PER_CUSTOMER.min(tickets_needed - tickets.len()) {
            tickets.push((open_ticket(env, &customer).await?, customer.token.clone()));
        }
    }
    eprintln!("bench: {} tickets for {connections} clients; opening connections", tickets.len());

    let duration = args.duration();
    let plan = Arc::new(FaultPlan {
        urls,
        deadline: Instant::now() + duration,
        interval: Duration::from_secs_f64(connections as f64 / args.rate() as f64),
    });
    let started = Instant::now();
    let clients: Vec<_> = (0..connections)
        .map(|i| {
            let (ticket, token) = tickets[i / FAULT_CONNECTIONS_PER_TICKET].clone();
            tokio::spawn(fault_client(plan.clone(), i, ticket, token))
        })
        .collect();

    // The fault: a third of the way in, instance A dies without warning and comes back 5 s later.
    tokio::time::sleep(duration / 3).await;
    let spawned = env.spawned.as_mut().ok_or_else(|| anyhow!("no server"))?;
    let mut instance_a = spawned.child.take().ok_or_else(|| anyhow!("instance A is not running"))?;
    instance_a.start_kill()?;
    instance_a.wait().await?;
    let killed_at = started.elapsed();
    eprintln!("bench: instance A killed (SIGKILL) at {:.1} s", killed_at.as_secs_f64());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let restarted = spawned.start_instance(spawned.port, "server", &admin).await?;
    env.pid = restarted.id();
    spawned.child = Some(restarted);
    eprintln!("bench: instance A back at {:.1} s", started.elapsed().as_secs_f64());

    let mut all = FaultClient::default();
    for client in clients {
        let seen = client.await?;
        all.acknowledged.extend(seen.acknowledged);
        all.unconfirmed += seen.unconfirmed;
        all.receipt_latencies.extend(seen.receipt_latencies);
        all.reconnect_ms.extend(seen.reconnect_ms);
        all.delivered += seen.delivered;
        all.errors.extend(seen.errors);
    }

    // Every acknowledged message must be in its ticket's conversation exactly once.
    let acknowledged: std::collections::HashSet<&str> = all.acknowledged.iter().map(String::as_str).collect();
    let mut stored_once = 0usize;
    let mut duplicated = 0usize;
    let mut stored_total = 0usize;
    for (ticket, token) in &tickets {
        let mut after = 0i64;
        loop {
            let page = env
                .api(
                    reqwest::Method::GET,
                    &format!("/tickets/{ticket}/communications?after={after}&limit=500"),
                    Some(token),
                    None,
                )
                .await?;
            let items = page.as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                break;
            }
            let mut counts: HashMap<String, usize> = HashMap::new();
            for item in &items {
                after = item["seq"].as_i64().unwrap_or(after);
                if let Some(text) = item["content"].as_str() {
                    *counts.entry(text.to_string()).or_default() += 1;
                }
            }
            stored_total += items.len();
            for (text, count) in counts {
                if count > 1 {
                    duplicated += 1;
                }
                if acknowledged.contains(text.as_str()) {
                    stored_once += 1;
                }
            }
        }
    }
    let lost = acknowledged.len() - stored_once;
    let _ = std::process::Command::new("kill").args(["-TERM", &instance_b.id().unwrap_or(0).to_string()]).status();
    let _ = tokio::time::timeout(Duration::from_secs(15), instance_b.wait()).await;

    report.int("clients", "chat clients (half on each instance at start)", connections as u64);
    report.num("killed_at_s", "instance A killed (SIGKILL) at", killed_at.as_secs_f64(), "s", 1);
    report.int("acknowledged", "messages acknowledged (RECEIPT)", acknowledged.len() as u64);
    report.int("unconfirmed", "SENDs cut off before their RECEIPT", all.unconfirmed);
    report.int("stored", "messages stored", stored_total as u64);
    report.int("lost", "acknowledged but not stored", lost as u64);
    report.target("lost", "0", lost == 0);
    report.int("duplicated", "stored more than once", duplicated as u64);
    report.target("duplicated", "0", duplicated == 0);
    report.int("reconnects", "reconnections to the other instance", all.reconnect_ms.len() as u64);
    let mut reconnect_us: Vec<u64> = all.reconnect_ms.iter().map(|ms| ms * 1000).collect();
    let reconnect = Latency::of(&mut reconnect_us);
    report.latency("reconnect", "reconnect (lost → subscribed on the other)", &reconnect);
    let receipts = Latency::of(&mut all.receipt_latencies);
    report.latency("receipt", "SEND → RECEIPT", &receipts);
    report.int("delivered", "MESSAGE frames delivered to the clients", all.delivered);
    report.int("client_errors", "client errors (ERROR frames, failed connects)", all.errors.len() as u64);
    if let Some(first) = all.errors.first() {
        report.text("first_client_error", "first client error", first.clone());
    }
    Ok(())
}
