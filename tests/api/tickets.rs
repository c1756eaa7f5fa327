//! Tickets: creation, visibility per role, the status transition table, updates, assignment,
//! deletion, and list paging/sorting/filtering.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    customer_opens_a_ticket_and_reads_it,
    customer_cannot_see_other_customers_ticket,
    customer_cannot_change_priority_or_assignment,
    status_changes_follow_the_transition_table,
    staff_opens_a_ticket_for_a_customer,
    agent_assigns_and_unassigns,
    delete_is_admin_only_soft_and_audited,
    lists_page_sort_and_filter,
);

async fn customer_opens_a_ticket_and_reads_it(app: TestApp) {
    let customer = app.customer().await;
    let reply = app
        .post(
            "/tickets",
            &customer.token,
            json!({ "subject": "  Withdrawal stuck  ", "description": "2,500 USDT pending since Monday",
                    "priority": "HIGH", "category": "DEPOSIT_WITHDRAWAL", "tags": ["USDT", "withdrawal"] }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let ticket = &reply.body;
    let id = ticket["id"].as_str().unwrap();
    assert_eq!(reply.headers["location"], format!("/api/customer-support/tickets/{id}").as_str());
    assert_eq!(ticket["subject"], "Withdrawal stuck", "text is trimmed");
    assert_eq!(ticket["status"], "NEW");
    assert_eq!(ticket["priority"], "HIGH");
    assert_eq!(ticket["tags"], json!(["usdt", "withdrawal"]));
    assert_eq!(ticket["customerId"], customer.id.to_string());
    assert!(ticket["ticketNumber"].as_str().unwrap().starts_with("ALP-"));
    assert!(ticket["slaDueAt"].is_string());
    assert!(ticket["assignedAgentId"].is_null());

    let details = app.get(&format!("/tickets/{id}"), &customer.token).await;
    assert_eq!(details.status, 200);
    assert_eq!(details.body["ticketNumber"], ticket["ticketNumber"]);
    assert_eq!(details.body["communications"], json!([]));

    // Ticket numbers are unique and increasing.
    let second = app.ticket(&customer, "Another question").await;
    let number = |t: &Value| t["ticketNumber"].as_str().unwrap()[4..].parse::<i64>().unwrap();
    assert!(number(&second) > number(ticket));
}

async fn customer_cannot_see_other_customers_ticket(app: TestApp) {
    let alice = app.customer().await;
    let mallory = app.customer().await;
    let ticket = app.ticket(&alice, "Private matter").await;
    let id = ticket["id"].as_str().unwrap();

    // Existence must not leak: 404 everywhere, exactly like a ticket that does not exist.
    app.get(&format!("/tickets/{id}"), &mallory.token).await.problem(404);
    app.put(&format!("/tickets/{id}"), &mallory.token, json!({ "status": "CLOSED" })).await.problem(404);
    app.get(&format!("/tickets/{id}/communications"), &mallory.token).await.problem(404);
    app.post(&format!("/tickets/{id}/communications"), &mallory.token, json!({ "content": "hi" })).await.problem(404);
    app.request(Method::DELETE, &format!("/tickets/{id}"), Some(&mallory.token), None).await.problem(404);
    let missing = app.get(&format!("/tickets/{}", uuid::Uuid::new_v4()), &mallory.token).await;
    missing.problem(404);

    // Mallory's list holds only Mallory's tickets, even when asking for Alice's.
    app.ticket(&mallory, "My own").await;
    let list = app.get(&format!("/tickets?customerId={}", alice.id), &mallory.token).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["page"]["totalElements"], 1);
    assert_eq!(list.body["content"][0]["customerId"], mallory.id.to_string());
}

async fn customer_cannot_change_priority_or_assignment(app: TestApp) {
    let customer = app.customer().await;
    let (_, agent_id) = app.agent().await;
    let ticket = app.ticket(&customer, "Please hurry").await;
    let path = format!("/tickets/{}", ticket["id"].as_str().unwrap());
    let reply = app.put(&path, &customer.token, json!({ "priority": "URGENT" })).await;
    assert!(reply.problem(403)["detail"].as_str().unwrap().contains("priority"));
    app.put(&path, &customer.token, json!({ "assignedAgentId": agent_id })).await.problem(403);
    app.post(&format!("{path}/assign"), &customer.token, json!({ "agentId": agent_id })).await.problem(403);
    let unchanged = app.get(&path, &customer.token).await;
    assert_eq!(unchanged.body["priority"], "MEDIUM");
    assert!(unchanged.body["assignedAgentId"].is_null());
}

async fn status_changes_follow_the_transition_table(app: TestApp) {
    let customer = app.customer().await;
    let (agent, _) = app.agent().await;
    let ticket = app.ticket(&customer, "Order not filled").await;
    let path = format!("/tickets/{}", ticket["id"].as_str().unwrap());
    let set = |token: String, status: &'static str| {
        let app = &app;
        let path = path.clone();
        async move { app.put(&path, &token, json!({ "status": status })).await }
    };

    assert_eq!(set(agent.token.clone(), "IN_PROGRESS").await.body["status"], "IN_PROGRESS");
    // Customers cannot resolve on the desk's behalf.
    set(customer.token.clone(), "RESOLVED").await.problem(409);
    let resolved = set(agent.token.clone(), "RESOLVED").await;
    assert_eq!(resolved.body["status"], "RESOLVED");
    assert!(resolved.body["resolvedAt"].is_string());
    // RESOLVED -> IN_PROGRESS is not in the table.
    let invalid = set(agent.token.clone(), "IN_PROGRESS").await;
    assert!(invalid.problem(409)["detail"].as_str().unwrap().contains("RESOLVED"));
    // The customer reopens, then closes; CLOSED is final.
    let reopened = set(customer.token.clone(), "OPEN").await;
    assert_eq!(reopened.body["status"], "OPEN");
    assert!(reopened.body["resolvedAt"].is_null());
    assert_eq!(set(customer.token.clone(), "CLOSED").await.body["status"], "CLOSED");
    set(agent.token.clone(), "OPEN").await.problem(409);
    let bogus = set(agent.token.clone(), "DONE").await;
    bogus.problem(400);
    assert_eq!(bogus.error_fields(), vec!["status"]);

    // Every change left an event in the conversation, in order.
    let events = app.get(&format!("{path}/communications"), &agent.token).await;
    let texts: Vec<&str> = events.body.as_array().unwrap().iter().map(|c| c["content"].as_str().unwrap()).collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert!(texts[0].contains("from NEW to IN_PROGRESS"));
    assert!(texts[3].contains("from OPEN to CLOSED"));
    assert!(events.body.as_array().unwrap().iter().all(|c| c["type"] == "STATUS_CHANGE"));
    assert_eq!(app.audit_count("ticket.status_changed", ticket["id"].as_str().unwrap()).await, 4);
}

async fn staff_opens_a_ticket_for_a_customer(app: TestApp) {
    let customer = app.customer().await;
    let other = app.customer().await;
    let (agent, _) = app.agent().await;
    let reply = app
        .post(
            "/tickets",
            &agent.token,
            json!({ "subject": "Phoned in: API keys", "description": "Caller lost 2FA", "customerId": customer.id }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["customerId"], customer.id.to_string());
    assert_eq!(app.get(&format!("/tickets/{}", reply.body["id"].as_str().unwrap()), &customer.token).await.status, 200);

    let sneaky = app
        .post(
            "/tickets",
            &other.token,
            json!({ "subject": "On your behalf", "description": "x", "customerId": customer.id }),
        )
        .await;
    sneaky.problem(403);
    let (_, agent_id) = app.agent().await;
    let for_staff = app
        .post(
            "/tickets",
            &agent.token,
            json!({ "subject": "For an agent", "description": "x", "customerId": agent_id }),
        )
        .await;
    for_staff.problem(400);
}

async fn agent_assigns_and_unassigns(app: TestApp) {
    let customer = app.customer().await;
    let (agent, agent_id) = app.agent().await;
    let ticket = app.ticket(&customer, "Bot stopped").await;
    let path = format!("/tickets/{}", ticket["id"].as_str().unwrap());

    let taken = app.post(&format!("{path}/assign"), &agent.token, json!({})).await;
    assert_eq!(taken.status, 200, "{}", taken.body);
    assert_eq!(taken.body["assignedAgentId"], agent_id.to_string());
    assert_eq!(taken.body["status"], "OPEN", "an owned ticket leaves NEW");

    let load = app.get(&format!("/agents/{agent_id}"), &agent.token).await;
    assert_eq!(load.body["currentLoad"], 1);

    let nobody = app.post(&format!("{path}/assign"), &agent.token, json!({ "agentId": uuid::Uuid::new_v4() })).await;
    nobody.problem(400);
    assert_eq!(nobody.error_fields(), vec!["assignedAgentId"]);

    let unassigned = app.put(&path, &agent.token, json!({ "assignedAgentId": null })).await;
    assert!(unassigned.body["assignedAgentId"].is_null());
    // Omitting the field leaves the assignment alone.
    app.post(&format!("{path}/assign"), &agent.token, json!({ "agentId": agent_id })).await;
    let kept = app.put(&path, &agent.token, json!({ "priority": "HIGH" })).await;
    assert_eq!(kept.body["assignedAgentId"], agent_id.to_string());
    assert_eq!(kept.body["priority"], "HIGH");

    let events = app.get(&format!("{path}/communications"), &agent.token).await;
    let kinds: Vec<&str> = events.body.as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["ASSIGNMENT", "STATUS_CHANGE", "ASSIGNMENT", "ASSIGNMENT"]);
}

async fn delete_is_admin_only_soft_and_audited(app: TestApp) {
    let customer = app.customer().await;
    let (agent, _) = app.agent().await;
    let admin = app.admin().await;
    let ticket = app.ticket(&customer, "Spam").await;
    let id = ticket["id"].as_str().unwrap();
    let path = format!("/tickets/{id}");
    app.request(Method::DELETE, &path, Some(&customer.token), None).await.problem(403);
    app.request(Method::DELETE, &path, Some(&agent.token), None).await.problem(403);
    let deleted = app.request(Method::DELETE, &path, Some(&admin.token), None).await;
    assert_eq!(deleted.status, 204);
    app.get(&path, &admin.token).await.problem(404);
    app.request(Method::DELETE, &path, Some(&admin.token), None).await.problem(404);
    let list = app.get("/tickets", &customer.token).await;
    assert_eq!(list.body["page"]["totalElements"], 0, "deleted tickets leave every list");
    assert_eq!(app.audit_count("ticket.deleted", id).await, 1);
}

async fn lists_page_sort_and_filter(app: TestApp) {
    let customer = app.customer().await;
    let (agent, _) = app.agent().await;
    let priorities = ["LOW", "MEDIUM", "HIGH", "URGENT"];
    for i in 0..25 {
        let reply = app
            .post(
                "/tickets",
                &customer.token,
                json!({ "subject": format!("Question number {i}"), "description": if i == 7 { "mentions 100%_sure" } else { "plain" },
                        "priority": priorities[i % 4], "category": if i % 5 == 0 { "KYC" } else { "TRADING" } }),
            )
            .await;
        assert_eq!(reply.status, 201);
    }

    let first = app.get("/tickets?size=10", &agent.token).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["page"], json!({ "size": 10, "number": 0, "totalElements": 25, "totalPages": 3 }));
    assert_eq!(first.body["content"].as_array().unwrap().len(), 10);
    // Default order: newest first.
    assert_eq!(first.body["content"][0]["subject"], "Question number 24");
    let last = app.get("/tickets?size=10&page=2", &agent.token).await;
    assert_eq!(last.body["content"].as_array().unwrap().len(), 5);
    assert_eq!(last.body["content"][4]["subject"], "Question number 0");

    let by_priority = app.get("/tickets?size=100&sort=priority,desc", &agent.token).await;
    let order: Vec<&str> =
        by_priority.body["content"].as_array().unwrap().iter().map(|t| t["priority"].as_str().unwrap()).collect();
    assert!(order[..6].iter().all(|p| *p == "URGENT"), "{order:?}");
    assert_eq!(order[6], "HIGH");
    assert_eq!(order.last(), Some(&"LOW"));

    let urgent = app.get("/tickets?priority=URGENT", &agent.token).await;
    assert_eq!(urgent.body["page"]["totalElements"], 6);
    let kyc = app.get("/tickets?category=KYC&status=NEW", &agent.token).await;
    assert_eq!(kyc.body["page"]["totalElements"], 5);
    let text = app.get("/tickets?q=number%2012", &agent.token).await;
    assert_eq!(text.body["page"]["totalElements"], 1);
    // LIKE wildcards in the query match literally.
    let literal = app.get("/tickets?q=100%25_sure", &agent.token).await;
    assert_eq!(literal.body["page"]["totalElements"], 1);
    let wildcard = app.get("/tickets?q=%25%25", &agent.token).await;
    assert_eq!(wildcard.body["page"]["totalElements"], 0);
    let number = first.body["content"][0]["ticketNumber"].as_str().unwrap();
    let by_number = app.get(&format!("/tickets?q={number}"), &agent.token).await;
    assert_eq!(by_number.body["page"]["totalElements"], 1);
    let unassigned = app.get("/tickets?assignedAgentId=none", &agent.token).await;
    assert_eq!(unassigned.body["page"]["totalElements"], 25);
    let future = app.get("/tickets?from=2999-01-01T00:00:00Z", &agent.token).await;
    assert_eq!(future.body["page"]["totalElements"], 0);
    let window = app.get("/tickets?from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z", &agent.token).await;
    assert_eq!(window.body["page"]["totalElements"], 25);

    for (query, field) in [
        ("size=101", "size"),
        ("size=0", "size"),
        ("page=-1", "page"),
        ("sort=password,asc", "sort"),
        ("sort=createdAt,sideways", "sort"),
        ("status=SOLVED", "status"),
        ("priority=low", "priority"),
        ("assignedAgentId=42", "assignedAgentId"),
        ("from=yesterday", "from"),
        ("q=' OR 1=1 --", "q"),
    ] {
        let reply = app.get(&format!("/tickets?{query}"), &agent.token).await;
        if field == "q" {
            // SQL in a filter is just text: its words "1" and "1" find the one ticket containing "1".
            assert_eq!(reply.status, 200, "{query}: {}", reply.body);
            assert_eq!(reply.body["page"]["totalElements"], 1);
            assert_eq!(reply.body["content"][0]["subject"], "Question number 1");
            continue;
        }
        reply.problem(400);
        assert_eq!(reply.error_fields(), vec![field], "{query}");
    }
}
