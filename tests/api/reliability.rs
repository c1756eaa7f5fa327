//! Reliability proofs against the real binary in its own process:
//! - every message acknowledged to a client (HTTP 201, STOMP RECEIPT) survives `kill -9` of the
//!   server exactly once, with a gap-free `seq`, on SQLite and on PostgreSQL;
//! - when PostgreSQL becomes unreachable (a TCP proxy between the server and the database, cut by
//!   the test) the API answers 503 problem+json and health says DOWN, nothing panics and nothing is
//!   half-written, and the service recovers on its own when the database is back.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alphintra_support::realtime::frame::{Command, Decoder, Frame, Item, Limits};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{Backend, TestApp, TestDatabase, JWT_SECRET};

const BINARY: &str = env!("CARGO_BIN_EXE_alphintra-support");

/// The service binary running as a child process (killed when dropped).
struct ServerProcess {
    child: tokio::process::Child,
    app: TestApp,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts the binary on `database_url` and waits for its health to say UP.
    async fn start(database_url: &str, dir: &Path, name: &str, extra: &[(&str, &str)]) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = tokio::process::Command::new(BINARY)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("DATA_DIR", dir)
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET", JWT_SECRET)
            .env("DB_MAX_CONNECTIONS", "5")
            .env("RATE_LIMIT_PER_IP", "0")
            .env("RATE_LIMIT_PER_USER", "0")
            .env("LOG_LEVEL", "warn")
            .envs(extra.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .expect("the server binary starts");
        let mut server = ServerProcess { child, app: TestApp::attach(format!("http://127.0.0.1:{port}")), log };
        let started = Instant::now();
        loop {
            if let Ok(response) = server.app.client.get(server.app.url("/api/health")).send().await {
                if response.status() == 200 {
                    return server;
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("the server exited during start-up ({status}):\n{}", server.log_tail());
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no healthy server in 30 s:\n{}", server.log_tail());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGKILL: no shutdown hook, no flush, no goodbye to clients.
    async fn kill_9(mut self) {
        self.child.start_kill().expect("SIGKILL sent");
        self.child.wait().await.expect("the killed server is reaped");
    }

    fn assert_alive(&mut self) {
        assert!(matches!(self.child.try_wait(), Ok(None)), "the server died:\n{}", self.log_tail());
    }
}

// ---------------------------------------------------------------------------------------------
// Durability under kill -9

mod durability {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        acknowledged_messages_survive_kill_9(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        acknowledged_messages_survive_kill_9(Backend::Postgres).await;
    }
}

/// What one sender was told was stored.
type Acknowledged = Arc<Mutex<Vec<String>>>;

/// A chat connection that reports failures instead of panicking: after the kill every call fails.
struct ChatConnection {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
    decoder: Decoder,
}

impl ChatConnection {
    async fn open(base: &str, token: &str) -> Result<ChatConnection, String> {
        let mut request =
            format!("{}/ws", base.replace("http://", "ws://")).into_client_request().map_err(|e| e.to_string())?;
        request.headers_mut().insert("Sec-WebSocket-Protocol", "v12.stomp".parse().map_err(|_| "header")?);
        let (ws, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| e.to_string())?;
        let mut connection = ChatConnection { ws, decoder: Decoder::new(Limits::default()) };
        let connect = Frame::new(Command::Connect)
            .with_header("accept-version", "1.2")
            .with_header("host", "localhost")
            .with_header("Authorization", format!("Bearer {token}"))
            .with_header("heart-beat", "0,0");
        connection.send(connect).await?;
        match connection.next().await? {
            frame if frame.command == Command::Connected => Ok(connection),
            other => Err(format!("expected CONNECTED, got {:?}", other.command)),
        }
    }

    async fn send(&mut self, frame: Frame) -> Result<(), String> {
        let text = String::from_utf8(frame.to_bytes()).map_err(|e| e.to_string())?;
        self.ws.send(Message::text(text)).await.map_err(|e| e.to_string())
    }

    async fn next(&mut self) -> Result<Frame, String> {
        loop {
            match self.decoder.next_frame() {
                Ok(Some(Item::Frame(frame))) => return Ok(frame),
                Ok(Some(Item::HeartBeat)) => continue,
                Ok(None) => {}
                Err(error) => return Err(format!("malformed frame: {error}")),
            }
            let message = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .map_err(|_| "no frame within 10 s".to_string())?
                .ok_or("connection closed")?
                .map_err(|e| e.to_string())?;
            match message {
                Message::Text(text) => self.decoder.feed(text.as_bytes()),
                Message::Binary(bytes) => self.decoder.feed(&bytes),
                Message::Close(_) => return Err("connection closed".into()),
                _ => {}
            }
        }
    }
}

/// Sends chat messages one after another, each with a receipt, until the connection fails.
async fn stomp_sender(base: String, token: String, ticket: String, name: String, acknowledged: Acknowledged) {
    let Ok(mut connection) = ChatConnection::open(&base, &token).await else { return };
    for i in 0.. {
        let text = format!("{name} {i}");
        let send = Frame::new(Command::Send)
            .with_header("destination", format!("/app/tickets/{ticket}/messages"))
            .with_header("content-type", "application/json")
            .with_header("receipt", format!("r-{i}"))
            .with_body(json!({ "message": text }).to_string());
        if connection.send(send).await.is_err() {
            return;
        }
        match connection.next().await {
            Ok(frame) if frame.command == Command::Receipt && frame.header("receipt-id") == Some(&format!("r-{i}")) => {
                acknowledged.lock().unwrap().push(text);
            }
            Ok(frame) => panic!("{name}: expected RECEIPT r-{i}, got {:?} {:?}", frame.command, frame.headers),
            Err(_) => return,
        }
    }
}

/// Posts messages over REST one after another until a request fails.
async fn rest_sender(app: TestApp, token: String, ticket: String, name: String, acknowledged: Acknowledged) {
    let url = app.url(&format!("/tickets/{ticket}/communications"));
    for i in 0.. {
        let text = format!("{name} {i}");
        let sent = app.client.post(&url).bearer_auth(&token).json(&json!({ "content": text })).send().await;
        match sent {
            Ok(response) if response.status() == 201 => acknowledged.lock().unwrap().push(text),
            Ok(response) => panic!("{name}: POST answered {}", response.status()),
            Err(_) => return,
        }
    }
}

async fn acknowledged_messages_survive_kill_9(backend: Backend) {
    let Some(database) = TestDatabase::create(backend, "acknowledged_messages_survive_kill_9").await else { return };
    let server = ServerProcess::start(&database.url, &database.dir, "before-kill", &[]).await;
    let customer = server.app.customer().await;
    let ticket = server.app.ticket(&customer, "Deposit missing").await;
    let ticket_id = ticket["id"].as_str().unwrap().to_string();

    // Two chat connections and three REST clients write into the same ticket at once.
    let acknowledged: Acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut senders = Vec::new();
    for k in 0..2 {
        senders.push(tokio::spawn(stomp_sender(
            server.app.base.clone(),
            customer.token.clone(),
            ticket_id.clone(),
            format!("stomp-{k}"),
            acknowledged.clone(),
        )));
    }
    for k in 0..3 {
        senders.push(tokio::spawn(rest_sender(
            TestApp::attach(server.app.base.clone()),
            customer.token.clone(),
            ticket_id.clone(),
            format!("rest-{k}"),
            acknowledged.clone(),
        )));
    }
    let started = Instant::now();
    while acknowledged.lock().unwrap().len() < 300 {
        assert!(started.elapsed() < Duration::from_secs(60), "writes too slow:\n{}", server.log_tail());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Mid-stream: every sender has a write in flight.
    server.kill_9().await;
    for sender in senders {
        sender.await.expect("a sender failed");
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());

    let restarted = ServerProcess::start(&database.url, &database.dir, "after-kill", &[]).await;
    let mut stored: Vec<Value> = Vec::new();
    loop {
        let after = stored.last().map_or(0, |c| c["seq"].as_i64().unwrap());
        let page = restarted
            .app
            .get(&format!("/tickets/{ticket_id}/communications?after={after}&limit=500"), &customer.token)
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body.as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        stored.extend(items);
    }
    let seqs: Vec<i64> = stored.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=stored.len() as i64).collect::<Vec<_>>(), "seq is gap-free after the crash");
    let mut copies: BTreeMap<&str, usize> = BTreeMap::new();
    for communication in &stored {
        *copies.entry(communication["content"].as_str().unwrap()).or_default() += 1;
    }
    let duplicated: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "stored more than once: {duplicated:?}");
    let lost: Vec<&String> = acknowledged.iter().filter(|text| !copies.contains_key(text.as_str())).collect();
    assert!(lost.is_empty(), "acknowledged but lost after kill -9: {lost:?}");
    let unacknowledged = stored.len() - acknowledged.len();
    assert!(unacknowledged <= 5, "at most one write in flight per sender, found {unacknowledged} unacknowledged");
    eprintln!(
        "{backend:?}: {} acknowledged writes before kill -9, {} stored after restart ({unacknowledged} were in flight)",
        acknowledged.len(),
        stored.len()
    );

    // The conversation goes on where it stopped.
    let next = restarted
        .app
        .post(&format!("/tickets/{ticket_id}/communications"), &customer.token, json!({ "content": "after the crash" }))
        .await;
    assert_eq!(next.status, 201, "{}", next.body);
    assert_eq!(next.body["seq"], stored.len() as i64 + 1);
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL outage

/// What the proxy between the server and PostgreSQL does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Forwards both ways.
    Up,
    /// Closes every connection, open or new (the database host is gone: connection refused).
    Refused,
    /// Keeps connections open but passes nothing either way (a network partition, a hung server).
    Stalled,
}

/// A TCP proxy between the server and PostgreSQL that the test switches between [`Link`]s.
struct DatabaseLink {
    address: SocketAddr,
    link: tokio::sync::watch::Sender<Link>,
    accepted: Arc<AtomicUsize>,
    acceptor: JoinHandle<()>,
}

impl DatabaseLink {
    async fn start(upstream: String) -> DatabaseLink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (link, _) = tokio::sync::watch::channel(Link::Up);
        let accepted = Arc::new(AtomicUsize::new(0));
        let acceptor = tokio::spawn({
            let (link, accepted) = (link.clone(), accepted.clone());
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    if *link.borrow() == Link::Refused {
                        continue; // dropped: closed at once
                    }
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let (upstream, state) = (upstream.clone(), link.subscribe());
                    tokio::spawn(async move {
                        if let Ok(server) = TcpStream::connect(&upstream).await {
                            let (client_read, client_write) = client.into_split();
                            let (server_read, server_write) = server.into_split();
                            tokio::select! {
                                _ = pump(client_read, server_write, state.clone()) => {}
                                _ = pump(server_read, client_write, state) => {}
                            }
                        }
                    });
                }
            }
        });
        DatabaseLink { address, link, accepted, acceptor }
    }

    fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

/// Copies one direction while the link is up; holds the bytes while it is stalled; returns
/// (closing the connection) when it is refused or either side closes.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut link: tokio::sync::watch::Receiver<Link>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            changed = link.changed() => {
                if changed.is_err() || *link.borrow() == Link::Refused {
                    return;
                }
                continue;
            }
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        loop {
            let current = *link.borrow_and_update();
            match current {
                Link::Up => break,
                Link::Refused => return,
                Link::Stalled => {
                    if link.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

impl Drop for DatabaseLink {
    fn drop(&mut self) {
        self.set(Link::Refused);
        self.acceptor.abort();
    }
}

/// Lists tickets until the answer is 200 (the outage is over), asserting every other answer is
/// a 503 problem; returns the list and how long recovery took.
async fn wait_for_recovery(app: &TestApp, token: &str) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let list = app.get("/tickets", token).await;
        if list.status == 200 {
            return (list.body, started.elapsed());
        }
        list.problem(503);
        assert!(started.elapsed() < Duration::from_secs(30), "no recovery 30 s after PostgreSQL came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn subjects(list: &Value) -> BTreeSet<String> {
    list["content"].as_array().unwrap().iter().map(|t| t["subject"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_outage_gives_503_and_recovers_on_its_own() {
    let Some(database) =
        TestDatabase::create(Backend::Postgres, "postgres_outage_gives_503_and_recovers_on_its_own").await
    else {
        return;
    };
    let mut url = reqwest::Url::parse(&database.url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let link = DatabaseLink::start(upstream).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(link.address.port())).unwrap();
    let mut server =
        ServerProcess::start(url.as_str(), &database.dir, "outage", &[("REQUEST_TIMEOUT_SECS", "3")]).await;
    let app = TestApp::attach(server.app.base.clone());
    let customer = app.customer().await;
    app.ticket(&customer, "Before the outage").await;
    assert!(link.accepted.load(Ordering::SeqCst) > 0, "the server reaches PostgreSQL through the proxy");

    // 1. The database host goes away: connections refused.
    link.set(Link::Refused);
    let cut_at = Instant::now();
    app.get("/tickets", &customer.token).await.problem(503);
    let first_503 = cut_at.elapsed();
    assert!(first_503 < Duration::from_secs(10), "503 came after {first_503:?}");
    let create =
        app.post("/tickets", &customer.token, json!({ "subject": "During the outage", "description": "Lost?" })).await;
    create.problem(503);
    let health = app.request(reqwest::Method::GET, "/actuator/health", None, None).await;
    assert_eq!(health.status, 503, "{}", health.body);
    assert_eq!(health.body["status"], "DOWN");
    assert_eq!(health.body["components"]["db"]["status"], "DOWN", "{}", health.body);
    // Liveness stays UP: the process is fine, only its database is not (no restart loop).
    let live = app.request(reqwest::Method::GET, "/api/health", None, None).await;
    assert_eq!(live.status, 200);
    let signup = app
        .request(
            reqwest::Method::POST,
            "/auth/register",
            None,
            Some(json!({ "email": "outage@example.com", "password": "customer-pass-1", "fullName": "Olga Outage" })),
        )
        .await;
    signup.problem(503);
    server.assert_alive();

    link.set(Link::Up);
    let (list, recovery) = wait_for_recovery(&app, &customer.token).await;
    assert_eq!(subjects(&list), BTreeSet::from(["Before the outage".to_string()]), "nothing half-written");
    let health = app.request(reqwest::Method::GET, "/actuator/health", None, None).await;
    assert_eq!(health.status, 200, "{}", health.body);
    app.ticket(&customer, "Between the outages").await;

    // 2. A partition: connections stay open and nothing comes back. Requests end in 503 at
    // REQUEST_TIMEOUT_SECS (3 s here) instead of hanging; health answers DOWN within its 2 s.
    link.set(Link::Stalled);
    let stalled_at = Instant::now();
    let create = app
        .post("/tickets", &customer.token, json!({ "subject": "During the partition", "description": "Lost?" }))
        .await;
    create.problem(503);
    let stalled_503 = stalled_at.elapsed();
    assert!(stalled_503 < Duration::from_secs(8), "503 came after {stalled_503:?}");
    let health = app.request(reqwest::Method::GET, "/actuator/health", None, None).await;
    assert_eq!(health.status, 503, "{}", health.body);
    server.assert_alive();

    link.set(Link::Up);
    let (list, partition_recovery) = wait_for_recovery(&app, &customer.token).await;
    assert_eq!(
        subjects(&list),
        BTreeSet::from(["Before the outage".to_string(), "Between the outages".to_string()]),
        "the request that timed out was rolled back"
    );
    app.ticket(&customer, "After the outages").await;
    server.assert_alive();
    eprintln!(
        "PostgreSQL refused: first 503 after {first_503:?}, recovered {recovery:?} after it came back; \
         stalled: 503 after {stalled_503:?}, recovered {partition_recovery:?} after it came back"
    );
}
