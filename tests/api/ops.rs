//! Operations: Prometheus metrics, GDPR export and erasure, the audit log.

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;
use crate::stomp_client::StompClient;

on_both_backends!(
    metrics_cover_http_websocket_and_tickets,
    gdpr_export_and_erasure,
    audit_log_is_admin_only_and_filterable
);

async fn metrics_cover_http_websocket_and_tickets(app: TestApp) {
    let customer = app.customer().await;
    app.ticket(&customer, "Metrics").await;
    app.get("/tickets", &customer.token).await;
    let _connection = StompClient::connect(&app, &customer.token).await;
    let reply = app.client.get(app.url("/actuator/prometheus")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert!(reply.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = reply.text().await.unwrap();
    for needle in [
        "# TYPE http_request_duration_seconds histogram",
        r#"http_requests_total{method="POST",route="/api/customer-support/tickets",status="201"}"#,
        r#"route="/api/customer-support/tickets/{id}""#,
        "http_requests_in_flight",
        "websocket_connections",
        r#"stomp_frames_in_total{command="CONNECT"}"#,
        r#"stomp_frames_out_total{command="CONNECTED"}"#,
        r#"tickets_by_status{status="NEW"}"#,
        r#"db_pool_connections{state="idle"}"#,
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ] {
        if needle.contains("{id}") {
            // Only present if such a route was hit; hit one now and re-scrape below.
            continue;
        }
        assert!(text.contains(needle), "metrics lack {needle}");
    }
    app.get(&format!("/tickets/{}", uuid::Uuid::new_v4()), &customer.token).await;
    let text = app.client.get(app.url("/actuator/prometheus")).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains(r#"route="/api/customer-support/tickets/{id}",status="404""#),
        "route templates, not raw paths"
    );
    assert!(!text.contains("/tickets/0"), "no raw ids in labels");
}

async fn gdpr_export_and_erasure(app: TestApp) {
    let customer = app.customer().await;
    let other = app.customer().await;
    let (agent, _) = app.agent().await;
    let admin = app.admin().await;
    let ticket = app
        .post(
            "/tickets",
            &customer.token,
            json!({ "subject": "Wallet payout zanzibar", "description": "My card 4111 1111 1111 1111" }),
        )
        .await
        .body;
    let id = ticket["id"].as_str().unwrap();
    let path = format!("/tickets/{id}/communications");
    app.post(&path, &customer.token, json!({ "content": "Personal detail: my flat number is 7" })).await;
    app.post(&path, &agent.token, json!({ "content": "Thanks, we are checking" })).await;
    app.post(&path, &agent.token, json!({ "content": "Internal: looks fine", "type": "INTERNAL_NOTE" })).await;
    app.put(&format!("/tickets/{id}"), &agent.token, json!({ "status": "RESOLVED" })).await;
    app.post(&format!("/tickets/{id}/rating"), &customer.token, json!({ "rating": 5 })).await;

    let export_path = format!("/gdpr/customers/{}/export", customer.id);
    let own = app.get(&export_path, &customer.token).await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["profile"]["email"], customer.email.as_str());
    assert_eq!(own.body["tickets"][0]["satisfactionRating"], 5);
    let exported = own.body["tickets"][0]["communications"].to_string();
    assert!(exported.contains("flat number") && exported.contains("we are checking"));
    assert!(!exported.contains("Internal: looks fine"), "internal notes are not the customer's data");
    assert_eq!(app.get(&export_path, &admin.token).await.status, 200);
    app.get(&export_path, &other.token).await.problem(404);
    app.get(&export_path, &agent.token).await.problem(403);
    app.request(Method::DELETE, &format!("/gdpr/customers/{}", customer.id), Some(&other.token), None)
        .await
        .problem(404);
    app.request(Method::DELETE, &format!("/gdpr/customers/{}", customer.id), Some(&agent.token), None)
        .await
        .problem(403);

    let before = app.get("/analytics/tickets", &admin.token).await.body;
    let erased =
        app.request(Method::DELETE, &format!("/gdpr/customers/{}", customer.id), Some(&admin.token), None).await;
    assert_eq!(erased.status, 204);
    // Their sessions and account are gone; the ticket stays, anonymous, for the record and analytics.
    let login = app
        .request(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": customer.email, "password": "customer-pass-1" })),
        )
        .await;
    login.problem(401);
    let refresh =
        app.request(Method::POST, "/auth/refresh", None, Some(json!({ "refreshToken": customer.refresh_token }))).await;
    refresh.problem(401);
    let kept = app.get(&format!("/tickets/{id}"), &agent.token).await;
    assert_eq!(kept.status, 200);
    assert_eq!(kept.body["subject"], "[erased]");
    assert_eq!(kept.body["satisfactionRating"], 5);
    let conversation = app.get(&path, &agent.token).await.body.to_string();
    assert!(!conversation.contains("flat number"));
    assert!(conversation.contains("we are checking"), "staff messages stay");
    let after = app.get("/analytics/tickets", &admin.token).await.body;
    assert_eq!(after["created"], before["created"]);
    assert_eq!(after["csat"], before["csat"]);
    // The full-text indexes forgot the erased words too.
    assert_eq!(app.get("/tickets?q=zanzibar", &agent.token).await.body["page"]["totalElements"], 0);
    assert_eq!(app.get("/tickets?q=flat", &agent.token).await.body["page"]["totalElements"], 0);
    let erasures = app.get(&format!("/audit?action=gdpr.erased&entityId={}", customer.id), &admin.token).await;
    assert_eq!(erasures.body["page"]["totalElements"], 1);
    assert_eq!(app.audit_count("gdpr.exported", &customer.id.to_string()).await, 2);
}

async fn audit_log_is_admin_only_and_filterable(app: TestApp) {
    let customer = app.customer().await;
    let (agent, _) = app.agent().await;
    let admin = app.admin().await;
    let ticket = app.ticket(&customer, "Audited").await;
    let id = ticket["id"].as_str().unwrap();
    app.put(&format!("/tickets/{id}"), &agent.token, json!({ "status": "IN_PROGRESS" })).await;

    app.get("/audit", &agent.token).await.problem(403);
    app.get("/audit", &customer.token).await.problem(403);
    let all = app.get("/audit?size=100", &admin.token).await;
    assert_eq!(all.status, 200);
    assert!(all.body["page"]["totalElements"].as_i64().unwrap() >= 3);
    let for_ticket = app.get(&format!("/audit?entityType=ticket&entityId={id}"), &admin.token).await;
    let actions: Vec<&str> =
        for_ticket.body["content"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["ticket.status_changed", "ticket.created"], "newest first");
    let change = &for_ticket.body["content"][0];
    assert_eq!(change["before"]["status"], "NEW");
    assert_eq!(change["after"]["status"], "IN_PROGRESS");
    assert_eq!(change["actorId"], agent.id.to_string());
    let by_actor = app.get(&format!("/audit?actorId={}&action=ticket.status_changed", agent.id), &admin.token).await;
    assert_eq!(by_actor.body["page"]["totalElements"], 1);
    app.get("/audit?actorId=nobody", &admin.token).await.problem(400);
    app.get("/audit?from=yesterday", &admin.token).await.problem(400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after() {
    let Some(app) = TestApp::spawn_with(crate::helpers::Backend::Sqlite, "rate limits", |config| {
        config.rate_limit_per_user = 5;
    })
    .await
    else {
        return;
    };
    let alice = app.customer().await;
    let bob = app.customer().await;
    crate::helpers::fresh_rate_window(10).await;
    for _ in 0..5 {
        assert_eq!(app.get("/tickets", &alice.token).await.status, 200);
    }
    let limited = app.get("/tickets", &alice.token).await;
    limited.problem(429);
    let retry_after: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(app.get("/tickets", &bob.token).await.status, 200, "limits are per user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_shared_across_instances_through_redis() {
    let Some(redis) = crate::helpers::redis_url("distributed rate limits").await else { return };
    let prefix = format!("alphintra-test-{}", uuid::Uuid::new_v4().simple());
    let configure = |config: &mut alphintra_support::config::Config| {
        config.redis_url = Some(redis.clone());
        config.redis_prefix = prefix.clone();
        config.rate_limit_per_user = 6;
    };
    let Some(a) = TestApp::spawn_with(crate::helpers::Backend::Postgres, "distributed rate limits", configure).await
    else {
        return;
    };
    let b = a.another_instance(configure).await;
    let customer = a.customer().await;
    crate::helpers::fresh_rate_window(10).await;
    for _ in 0..3 {
        assert_eq!(a.get("/tickets", &customer.token).await.status, 200);
        assert_eq!(b.get("/tickets", &customer.token).await.status, 200);
    }
    b.get("/tickets", &customer.token).await.problem(429);
    a.get("/tickets", &customer.token).await.problem(429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_live_in_redis_and_are_shared_by_instances() {
    let Some(redis) = crate::helpers::redis_url("sessions in Redis").await else { return };
    let prefix = format!("alphintra-test-{}", uuid::Uuid::new_v4().simple());
    let configure = |config: &mut alphintra_support::config::Config| {
        config.redis_url = Some(redis.clone());
        config.redis_prefix = prefix.clone();
    };
    let Some(a) = TestApp::spawn_with(crate::helpers::Backend::Postgres, "sessions in Redis", configure).await else {
        return;
    };
    let b = a.another_instance(configure).await;
    let customer = a.customer().await;
    // The refresh token is in Redis, not in the database.
    let client = redis::Client::open(redis.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:rt:*")).query_async(&mut conn).await.unwrap();
    assert_eq!(keys.len(), 1);

    // Signed in on A, refreshed on B, rotated: the old token is retired everywhere.
    async fn refresh(app: &TestApp, token: String) -> crate::helpers::Reply {
        app.request(Method::POST, "/auth/refresh", None, Some(json!({ "refreshToken": token }))).await
    }
    let rotated = refresh(&b, customer.refresh_token.clone()).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let next = rotated.body["refreshToken"].as_str().unwrap().to_string();
    refresh(&a, customer.refresh_token.clone()).await.problem(401);
    refresh(&a, next.clone()).await.problem(401);

    // Logout on one instance ends the session on both.
    let again = a.login(&customer.email, "customer-pass-1").await;
    let out = b.request(Method::POST, "/auth/logout", None, Some(json!({ "refreshToken": again.refresh_token }))).await;
    assert_eq!(out.status, 204);
    refresh(&a, again.refresh_token.clone()).await.problem(401);

    // Erasure ends every Redis session of the customer.
    let third = a.login(&customer.email, "customer-pass-1").await;
    let admin = a.admin().await;
    let erased = a.request(Method::DELETE, &format!("/gdpr/customers/{}", customer.id), Some(&admin.token), None).await;
    assert_eq!(erased.status, 204);
    refresh(&b, third.refresh_token).await.problem(401);
    let _: () = redis::cmd("DEL").arg(keys).query_async(&mut conn).await.unwrap_or(());
}
