//! Several instances behind a load balancer: with Redis they behave as one broker; when Redis
//! goes away each keeps serving its own clients, health says so, and fan-out resumes on return.
//! Also: the WS_PORT listener, and graceful shutdown telling STOMP clients to reconnect.

use std::process::Stdio;
use std::time::Duration;

use alphintra_support::realtime::frame::Command;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{fresh_rate_window, redis_url, require_all_backends, Backend, TestApp};
use crate::stomp_client::StompClient;

fn unique_prefix() -> String {
    format!("alphintra-test-{}", Uuid::new_v4().simple())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_broker_through_redis() {
    let Some(redis) = redis_url("two instances through Redis").await else { return };
    let prefix = unique_prefix();
    let configure = |config: &mut alphintra_support::config::Config| {
        config.redis_url = Some(redis.clone());
        config.redis_prefix = prefix.clone();
    };
    let Some(a) = TestApp::spawn_with(Backend::Postgres, "two instances through Redis", configure).await else {
        return;
    };
    let b = a.another_instance(configure).await;
    wait_for_redis(&a, "UP").await;
    wait_for_redis(&b, "UP").await;

    let customer = a.customer().await;
    let (agent, _) = a.agent().await;
    let ticket = a.ticket(&customer, "Across instances").await;
    let id = ticket["id"].as_str().unwrap();
    let topic = format!("/topic/tickets/{id}/messages");

    // The customer is on A, the agent on B (tokens are valid on both: same JWT secret).
    let mut on_a = StompClient::connect(&a, &customer.token).await;
    on_a.subscribe("a", &topic).await;
    let mut on_b = StompClient::connect(&b, &agent.token).await;
    on_b.subscribe("b", &topic).await;
    let mut staff_on_b = StompClient::connect(&b, &agent.token).await;
    staff_on_b.subscribe("q", "/topic/support/notifications").await;

    let receipt = on_a.send_json(&format!("/app/tickets/{id}/messages"), &json!({ "message": "sent on A" }), "r").await;
    assert_eq!(receipt.command, Command::Receipt);
    let (_, body) = on_b.expect_message().await;
    assert_eq!(body["content"], "sent on A");
    let (_, echo) = on_a.expect_message().await;
    assert_eq!(echo["content"], "sent on A", "delivered once locally on A too");

    // REST on B reaches the STOMP client on A, exactly once.
    let posted =
        b.post(&format!("/tickets/{id}/communications"), &agent.token, json!({ "content": "answered via B" })).await;
    assert_eq!(posted.status, 201);
    let (_, reply) = on_a.expect_message().await;
    assert_eq!(reply["content"], "answered via B");

    // A new ticket opened on A shows up in the staff queue on B (after the updates B's reply caused).
    a.ticket(&customer, "Second ticket").await;
    let created = loop {
        let (_, event) = staff_on_b.expect_message().await;
        if event["type"] == "TICKET_CREATED" {
            break event;
        }
        assert_eq!(event["type"], "TICKET_UPDATED");
    };
    assert_eq!(created["ticket"]["subject"], "Second ticket");

    // No duplicates: nothing else is pending for the agent on B beyond the events of its own reply.
    while let Some(frame) = on_b.next_within(Duration::from_millis(400)).await {
        let body: serde_json::Value = serde_json::from_slice(&frame.body).unwrap();
        assert_ne!(body["content"], "sent on A", "delivered twice");
    }
}

async fn wait_for_redis(app: &TestApp, status: &str) {
    for _ in 0..100 {
        let health = app.request(Method::GET, "/actuator/health", None, None).await;
        if health.body["components"]["redis"]["status"] == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("redis never became {status} in health");
}

/// A throwaway Redis of the test's own, so an outage never touches the shared one.
struct OwnRedis {
    port: u16,
    child: tokio::process::Child,
}

impl OwnRedis {
    async fn start(port: u16) -> Option<OwnRedis> {
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        for _ in 0..50 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Some(OwnRedis { port, child });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// A throwaway Redis on a free port, or `None` with a SKIPPED line (a failure under
    /// REQUIRE_ALL_BACKENDS=1) when `redis-server` cannot be started.
    async fn start_or_skip(test: &str) -> Option<OwnRedis> {
        let redis = OwnRedis::start(free_port()).await;
        if redis.is_none() {
            assert!(!require_all_backends(), "REQUIRE_ALL_BACKENDS=1 but redis-server could not be started");
            eprintln!("SKIPPED: {test}: the redis-server binary is not available");
        }
        redis
    }

    async fn kill(mut self) {
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(46_379)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_degrades_to_local_delivery_and_recovers() {
    let Some(redis) = OwnRedis::start_or_skip("redis outage").await else { return };
    let port = redis.port;
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let prefix = unique_prefix();
    let configure = |config: &mut alphintra_support::config::Config| {
        config.redis_url = Some(url.clone());
        config.redis_prefix = prefix.clone();
    };
    let Some(a) = TestApp::spawn_with(Backend::Postgres, "redis outage", configure).await else { return };
    let b = a.another_instance(configure).await;
    wait_for_redis(&a, "UP").await;
    wait_for_redis(&b, "UP").await;

    let customer = a.customer().await;
    let ticket = a.ticket(&customer, "Outage").await;
    let id = ticket["id"].as_str().unwrap();
    let topic = format!("/topic/tickets/{id}/messages");
    let mut local = StompClient::connect(&a, &customer.token).await;
    local.subscribe("l", &topic).await;
    let mut remote = StompClient::connect(&b, &customer.token).await;
    remote.subscribe("r", &topic).await;

    redis.kill().await;
    wait_for_redis(&a, "DOWN").await;
    let health = a.request(Method::GET, "/actuator/health", None, None).await;
    assert_eq!(health.status, 200, "Redis down degrades, it does not take the service down");
    assert_eq!(health.body["status"], "UP");

    // Local delivery and storage go on.
    let posted =
        a.post(&format!("/tickets/{id}/communications"), &customer.token, json!({ "content": "during outage" })).await;
    assert_eq!(posted.status, 201);
    let (_, body) = local.expect_message().await;
    assert_eq!(body["content"], "during outage");
    // The other instance's client catches up over REST, as the browser client does after a gap.
    let caught_up = b.get(&format!("/tickets/{id}/communications?after=0"), &customer.token).await;
    assert_eq!(caught_up.body[0]["content"], "during outage");
    remote.expect_silence(Duration::from_millis(300)).await;

    // Redis returns on the same port: fan-out resumes without a restart.
    let redis = OwnRedis::start(port).await.expect("redis restarts");
    wait_for_redis(&a, "UP").await;
    wait_for_redis(&b, "UP").await;
    let posted =
        a.post(&format!("/tickets/{id}/communications"), &customer.token, json!({ "content": "after outage" })).await;
    assert_eq!(posted.status, 201);
    let (_, body) = remote.expect_message().await;
    assert_eq!(body["content"], "after outage");
    redis.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_keeps_sign_in_and_rate_limits_working() {
    let Some(redis) = OwnRedis::start_or_skip("redis outage (sessions, rate limits)").await else { return };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let prefix = unique_prefix();
    let configure = |config: &mut alphintra_support::config::Config| {
        config.redis_url = Some(url.clone());
        config.redis_prefix = prefix.clone();
        config.rate_limit_per_user = 8;
    };
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, "redis outage: sessions and limits", configure).await else {
        return;
    };
    wait_for_redis(&app, "UP").await;
    let earlier = app.customer().await;

    redis.kill().await;
    wait_for_redis(&app, "DOWN").await;
    // Sign-up, sign-in and refresh go on: new sessions are kept in the database meanwhile.
    let customer = app.customer().await;
    let again = app.login(&customer.email, "customer-pass-1").await;
    let refresh =
        |token: String| app.request(Method::POST, "/auth/refresh", None, Some(json!({ "refreshToken": token })));
    let rotated = refresh(again.refresh_token.clone()).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    refresh(again.refresh_token.clone()).await.problem(401);
    // A session that lives only in the unreachable Redis cannot be checked: a clean 401 (sign in
    // again), never a 5xx.
    refresh(earlier.refresh_token.clone()).await.problem(401);
    // Access tokens need no Redis at all.
    assert_eq!(app.get("/auth/me", &earlier.token).await.status, 200);

    // The per-user limit is still enforced, counted by this instance alone.
    fresh_rate_window(10).await;
    for _ in 0..8 {
        assert_eq!(app.get("/tickets", &customer.token).await.status, 200);
    }
    let limited = app.get("/tickets", &customer.token).await;
    limited.problem(429);
    assert!(limited.headers.get("retry-after").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_stomp_clients_to_reconnect() {
    let Some(mut app) = TestApp::spawn(Backend::Sqlite, "shutdown").await else { return };
    let customer = app.customer().await;
    let mut client = StompClient::connect(&app, &customer.token).await;
    client.subscribe("n", "/user/queue/notifications").await;
    app.stop();
    let message = client.expect_error_and_close().await;
    assert!(message.contains("shutting down"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_port_serves_stomp_on_its_own_listener() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("alphintra-wsport-{}", Uuid::new_v4()));
    let mut config = alphintra_support::config::Config::for_tests(dir.clone());
    config.port = free_port();
    config.ws_port = Some(port);
    config.jwt_secret = Some(crate::helpers::JWT_SECRET.into());
    let main_port = config.port;
    let server = tokio::spawn(alphintra_support::run(config));
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "WS_PORT listener is up");
    // Register on the main port, chat on the WebSocket port.
    let app = TestApp::attach(format!("http://127.0.0.1:{main_port}"));
    let customer = app.customer().await;
    let ws_app = TestApp::attach(format!("http://127.0.0.1:{port}"));
    let mut client = StompClient::connect(&ws_app, &customer.token).await;
    client.subscribe("n", "/user/queue/notifications").await;
    server.abort();
    let _ = std::fs::remove_dir_all(dir);
}
