//! Conversations: messages, internal notes, side effects on the ticket, catch-up with `after`,
//! and gap-free `seq` under concurrent posting.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    conversation_with_internal_notes_hidden_from_the_customer,
    replies_drive_first_response_and_status,
    catch_up_after_a_seq,
    concurrent_posts_get_gap_free_seq,
    closed_tickets_take_no_messages,
    message_validation,
);

async fn conversation_with_internal_notes_hidden_from_the_customer(app: TestApp) {
    let customer = app.customer().await;
    let (agent, _) = app.agent().await;
    let ticket = app.ticket(&customer, "Withdrawal stuck").await;
    let path = format!("/tickets/{}/communications", ticket["id"].as_str().unwrap());

    let mine = app.post(&path, &customer.token, json!({ "content": "Any news?" })).await;
    assert_eq!(mine.status, 201, "{}", mine.body);
    assert_eq!(mine.body["seq"], 1);
    assert_eq!(mine.body["senderType"], "CUSTOMER");
    assert_eq!(mine.body["type"], "MESSAGE");

    let note = app
        .post(
            &path,
            &agent.token,
            json!({ "content": "Compliance hold - do not promise a date", "type": "INTERNAL_NOTE" }),
        )
        .await;
    assert_eq!(note.status, 201);
    assert_eq!(note.body["type"], "INTERNAL_NOTE");
    let reply = app.post(&path, &agent.token, json!({ "content": "We are on it." })).await;
    assert_eq!(reply.body["senderType"], "AGENT");

    let staff_view = app.get(&path, &agent.token).await;
    let customer_view = app.get(&path, &customer.token).await;
    let contents = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|c| c["content"].as_str().unwrap().to_string()).collect()
    };
    assert!(contents(&staff_view.body).iter().any(|c| c.contains("Compliance hold")));
    assert!(!contents(&customer_view.body).iter().any(|c| c.contains("Compliance hold")));
    assert!(customer_view.body.as_array().unwrap().iter().all(|c| c["type"] != "INTERNAL_NOTE"));
    let details = app.get(&format!("/tickets/{}", ticket["id"].as_str().unwrap()), &customer.token).await;
    assert!(!details.body["communications"].to_string().contains("Compliance hold"));

    let forbidden = app.post(&path, &customer.token, json!({ "content": "sneaky", "type": "INTERNAL_NOTE" })).await;
    forbidden.problem(403);
    let system = app.post(&path, &agent.token, json!({ "content": "fake event", "type": "STATUS_CHANGE" })).await;
    system.problem(400);
    assert_eq!(system.error_fields(), vec!["type"]);
}

async fn replies_drive_first_response_and_status(app: TestApp) {
    let customer = app.customer().await;
    let (agent, agent_id) = app.agent().await;
    let ticket = app.ticket(&customer, "KYC documents").await;
    let id = ticket["id"].as_str().unwrap();
    let path = format!("/tickets/{id}/communications");

    app.post(&path, &customer.token, json!({ "content": "Uploaded my passport" })).await;
    let after_customer = app.get(&format!("/tickets/{id}"), &agent.token).await;
    assert!(after_customer.body["firstResponseAt"].is_null(), "customer messages are not responses");

    app.post(&path, &agent.token, json!({ "content": "Thanks, checking now" })).await;
    let after_agent = app.get(&format!("/tickets/{id}"), &agent.token).await;
    assert!(after_agent.body["firstResponseAt"].is_string());
    assert_eq!(after_agent.body["status"], "OPEN");
    assert_eq!(after_agent.body["assignedAgentId"], agent_id.to_string(), "first reply takes ownership");

    app.put(&format!("/tickets/{id}"), &agent.token, json!({ "status": "PENDING_CUSTOMER" })).await;
    app.post(&path, &customer.token, json!({ "content": "Here is the utility bill" })).await;
    let reopened = app.get(&format!("/tickets/{id}"), &agent.token).await;
    assert_eq!(reopened.body["status"], "OPEN", "a customer's reply puts the ticket back in the queue");
}

async fn catch_up_after_a_seq(app: TestApp) {
    let customer = app.customer().await;
    let ticket = app.ticket(&customer, "Fees").await;
    let path = format!("/tickets/{}/communications", ticket["id"].as_str().unwrap());
    for i in 1..=5 {
        app.post(&path, &customer.token, json!({ "content": format!("message {i}") })).await;
    }
    let after = app.get(&format!("{path}?after=3"), &customer.token).await;
    let seqs: Vec<i64> = after.body.as_array().unwrap().iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![4, 5]);
    let limited = app.get(&format!("{path}?after=0&limit=2"), &customer.token).await;
    assert_eq!(limited.body.as_array().unwrap().len(), 2);
    app.get(&format!("{path}?after=-1"), &customer.token).await.problem(400);
    app.get(&format!("{path}?limit=501"), &customer.token).await.problem(400);
    let details = app.get(&format!("/tickets/{}", ticket["id"].as_str().unwrap()), &customer.token).await;
    assert_eq!(details.body["lastSeq"], 5);
}

async fn concurrent_posts_get_gap_free_seq(app: TestApp) {
    let app = Arc::new(app);
    let customer = app.customer().await;
    let (agent, _) = app.agent().await;
    let ticket = app.ticket(&customer, "Many messages at once").await;
    let path = Arc::new(format!("/tickets/{}/communications", ticket["id"].as_str().unwrap()));
    let posts = 40;
    let mut tasks = Vec::new();
    for i in 0..posts {
        let (app, path) = (app.clone(), path.clone());
        let token = if i % 2 == 0 { customer.token.clone() } else { agent.token.clone() };
        tasks.push(tokio::spawn(async move {
            let reply = app.post(&path, &token, json!({ "content": format!("burst {i}") })).await;
            assert_eq!(reply.status, 201, "{}", reply.body);
            reply.body["seq"].as_i64().unwrap()
        }));
    }
    let mut acknowledged = BTreeSet::new();
    for task in tasks {
        assert!(acknowledged.insert(task.await.unwrap()), "a seq was handed out twice");
    }
    let all = app.get(&format!("{path}?limit=500"), &agent.token).await;
    let seqs: Vec<i64> = all.body.as_array().unwrap().iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, expected, "seq is gap-free and ordered");
    let bursts =
        all.body.as_array().unwrap().iter().filter(|c| c["content"].as_str().unwrap().starts_with("burst")).count();
    assert_eq!(bursts, posts);
    assert!(acknowledged.iter().all(|seq| seqs.contains(seq)));
}

async fn closed_tickets_take_no_messages(app: TestApp) {
    let customer = app.customer().await;
    let ticket = app.ticket(&customer, "Done").await;
    let id = ticket["id"].as_str().unwrap();
    app.put(&format!("/tickets/{id}"), &customer.token, json!({ "status": "CLOSED" })).await;
    let reply =
        app.post(&format!("/tickets/{id}/communications"), &customer.token, json!({ "content": "one more" })).await;
    reply.problem(409);
}

async fn message_validation(app: TestApp) {
    let customer = app.customer().await;
    let ticket = app.ticket(&customer, "Validation").await;
    let path = format!("/tickets/{}/communications", ticket["id"].as_str().unwrap());
    for (body, field) in [
        (json!({ "content": "   " }), "content"),
        (json!({ "content": "x".repeat(10_001) }), "content"),
        (json!({ "content": 42 }), "content"),
        (json!({}), "content"),
        (json!({ "content": "hi", "type": "SHOUT" }), "type"),
    ] {
        let reply = app.post(&path, &customer.token, body).await;
        reply.problem(400);
        assert_eq!(reply.error_fields(), vec![field]);
    }
    // Markup is stored as typed; escaping happens where it is rendered.
    let xss = app.post(&path, &customer.token, json!({ "content": "<script>alert(1)</script>" })).await;
    assert_eq!(xss.body["content"], "<script>alert(1)</script>");
    assert_eq!(xss.content_type(), "application/json");
}
