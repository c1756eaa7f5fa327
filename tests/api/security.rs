//! Hostile input across the API: SQL in every filter and paging parameter of every list, and one
//! customer probing every route of another customer's ticket. Each must end in a clear 4xx or a
//! harmless 200 — never a 5xx, never another customer's data, never a changed database.

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(sql_in_every_filter_is_just_text, customers_cannot_reach_each_others_tickets_anywhere);

const INJECTIONS: &[&str] = &[
    "' OR 1=1 --",
    "1; DROP TABLE tickets; --",
    "\" OR \"\"=\"",
    "') UNION SELECT password_hash, email FROM users --",
    "%' AND 1=0 UNION SELECT NULL --",
    "*",
    "\\",
    "NULL",
    "ALP-1' OR '1'='1",
    "2026-01-01T00:00:00Z' OR '1'='1",
];

/// (path with its required parameters, parameters) of every list or search; every injection is
/// tried in every parameter.
const LISTS: &[(&str, &[&str])] = &[
    (
        "/tickets?",
        &["status", "priority", "category", "assignedAgentId", "customerId", "q", "from", "to", "page", "size", "sort"],
    ),
    ("/knowledge-base/search?q=withdrawal&", &["category", "status", "page", "size"]),
    ("/knowledge-base/search?", &["q"]),
    ("/knowledge-base/articles?", &["category", "status", "page", "size", "sort"]),
    ("/agents?", &["page", "size", "sort"]),
    ("/analytics/tickets?", &["from", "to", "groupBy"]),
    ("/analytics/agents?", &["from", "to"]),
    ("/audit?", &["actorId", "action", "entityType", "entityId", "from", "to", "page", "size", "sort"]),
];

async fn sql_in_every_filter_is_just_text(app: TestApp) {
    let admin = app.admin().await;
    let customer = app.customer().await;
    app.ticket(&customer, "Withdrawal stuck").await;
    let other = app.customer().await;
    app.ticket(&other, "Someone else's ticket").await;

    let mut probes = 0;
    for (path, parameters) in LISTS {
        for parameter in *parameters {
            for injection in INJECTIONS {
                let value: String = form_urlencoded::byte_serialize(injection.as_bytes()).collect();
                let url = format!("{path}{parameter}={value}");
                for token in [&admin.token, &customer.token] {
                    let reply = app.get(&url, token).await;
                    probes += 1;
                    let status = reply.status.as_u16();
                    assert!(status < 500, "{url}: {status} {}", reply.body);
                    match status {
                        200 => {
                            let text = reply.body.to_string();
                            assert!(!text.contains("$argon2"), "{url} leaked a password hash");
                            if token == &customer.token && path.starts_with("/tickets") {
                                assert!(
                                    !text.contains("Someone else's ticket"),
                                    "{url} leaked another customer's ticket"
                                );
                            }
                        }
                        400 => assert_eq!(reply.error_fields(), vec![parameter.to_string()], "{url}: {}", reply.body),
                        // Customers may not list agents, analytics or the audit log at all.
                        403 => assert_eq!(token, &customer.token, "{url}"),
                        other => panic!("{url}: unexpected {other}: {}", reply.body),
                    }
                }
            }
        }
    }
    assert!(probes >= 700, "{probes} probes");

    // A parameter given twice is refused by name (found by the ticket_query fuzz target).
    for (path, parameter) in [("/tickets", "status"), ("/knowledge-base/search", "q"), ("/audit", "action")] {
        let reply = app.get(&format!("{path}?{parameter}=a&{parameter}=b"), &admin.token).await;
        reply.problem(400);
        assert_eq!(reply.error_fields(), vec![parameter.to_string()], "{path}: {}", reply.body);
    }

    // Nothing was changed or dropped.
    let all = app.get("/tickets", &admin.token).await;
    assert_eq!(all.status, 200);
    assert_eq!(all.body["page"]["totalElements"], 2);
    let mine = app.get("/tickets", &customer.token).await;
    assert_eq!(mine.body["page"]["totalElements"], 1);
}

async fn customers_cannot_reach_each_others_tickets_anywhere(app: TestApp) {
    let alice = app.customer().await;
    let mallory = app.customer().await;
    let (agent, _) = app.agent().await;
    let ticket = app.ticket(&alice, "Private matter").await;
    let id = ticket["id"].as_str().unwrap();
    let number = ticket["ticketNumber"].as_str().unwrap_or_default().to_string();
    // Resolved, so that rating it would be allowed for its owner.
    for status in ["IN_PROGRESS", "RESOLVED"] {
        let reply = app.put(&format!("/tickets/{id}"), &agent.token, json!({ "status": status })).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let before = app.get(&format!("/tickets/{id}"), &alice.token).await.body["communications"].clone();

    // Every route that names the ticket answers Mallory exactly as for a ticket that does not exist.
    let routes: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, format!("/tickets/{id}"), None),
        (Method::PUT, format!("/tickets/{id}"), Some(json!({ "status": "CLOSED" }))),
        (Method::DELETE, format!("/tickets/{id}"), None),
        (Method::GET, format!("/tickets/{id}/communications"), None),
        (Method::GET, format!("/tickets/{id}/communications?after=0&limit=500"), None),
        (Method::POST, format!("/tickets/{id}/communications"), Some(json!({ "content": "hi" }))),
        (Method::POST, format!("/tickets/{id}/rating"), Some(json!({ "rating": 1, "comment": "spite" }))),
    ];
    for (method, path, body) in &routes {
        let reply = app.request(method.clone(), path, Some(&mallory.token), body.clone()).await;
        let status = reply.status.as_u16();
        assert!(status == 404 || (status == 403 && *method == Method::DELETE), "{method} {path}: {status}");
        let missing = path.replace(id, &uuid::Uuid::new_v4().to_string());
        let twin = app.request(method.clone(), &missing, Some(&mallory.token), body.clone()).await;
        assert_eq!(twin.status, reply.status, "{method} {path}: the answer reveals that the ticket exists");
    }
    // Assigning is for staff: a customer learns nothing either way.
    let assign = app.post(&format!("/tickets/{id}/assign"), &mallory.token, json!({ "agentId": null })).await;
    assert!(matches!(assign.status.as_u16(), 403 | 404), "{}", assign.status);
    // Search by number or text finds only Mallory's own tickets.
    if !number.is_empty() {
        let by_number = app.get(&format!("/tickets?q={number}"), &mallory.token).await;
        assert_eq!(by_number.body["page"]["totalElements"], 0);
    }
    let by_text = app.get("/tickets?q=private", &mallory.token).await;
    assert_eq!(by_text.body["page"]["totalElements"], 0);
    // A customer may export only their own data; someone else's looks like no one's.
    let export = app.get(&format!("/gdpr/customers/{}/export", alice.id), &mallory.token).await;
    export.problem(404);
    let nobody = app.get(&format!("/gdpr/customers/{}/export", uuid::Uuid::new_v4()), &mallory.token).await;
    assert_eq!(nobody.body["detail"], export.body["detail"]);
    let erase = app.request(Method::DELETE, &format!("/gdpr/customers/{}", alice.id), Some(&mallory.token), None).await;
    assert!(matches!(erase.status.as_u16(), 403 | 404), "{}", erase.status);
    assert_eq!(app.get("/auth/me", &alice.token).await.status, 200, "Alice still exists");

    // Alice's ticket is untouched.
    let after = app.get(&format!("/tickets/{id}"), &alice.token).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.body["status"], "RESOLVED");
    assert!(after.body["satisfactionRating"].is_null(), "{}", after.body);
    assert_eq!(after.body["communications"], before, "no message from Mallory");
}
