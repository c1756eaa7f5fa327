//! Hostile and malformed requests all get a clear problem+json 4xx, never a 500, and write nothing.

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(malformed_requests_get_problem_responses, invalid_tickets_write_nothing);

async fn malformed_requests_get_problem_responses(app: TestApp) {
    let customer = app.customer().await;
    let url = app.url("/tickets");
    let send = |body: Vec<u8>, content_type: &'static str| {
        app.client.post(&url).bearer_auth(&customer.token).header("content-type", content_type).body(body).send()
    };

    let bad_json = TestApp::reply(send(b"{\"subject\": ".to_vec(), "application/json").await.unwrap()).await;
    assert!(bad_json.problem(400)["detail"].as_str().unwrap().contains("not valid JSON"));
    let not_object = TestApp::reply(send(b"[1,2,3]".to_vec(), "application/json").await.unwrap()).await;
    not_object.problem(400);
    let wrong_type =
        TestApp::reply(send(br#"{"subject": ["a"], "description": "x"}"#.to_vec(), "application/json").await.unwrap())
            .await;
    wrong_type.problem(400);
    assert_eq!(wrong_type.error_fields(), vec!["subject"]);
    let text = TestApp::reply(send(b"subject=hi".to_vec(), "application/x-www-form-urlencoded").await.unwrap()).await;
    text.problem(415);
    let invalid_utf8 =
        TestApp::reply(send(b"{\"subject\": \"\xff\xfe\"}".to_vec(), "application/json").await.unwrap()).await;
    invalid_utf8.problem(400);

    // The test server accepts bodies up to 64 KiB.
    let huge = format!(r#"{{"subject": "big", "description": "{}"}}"#, "x".repeat(70 * 1024));
    let too_large = TestApp::reply(send(huge.into_bytes(), "application/json").await.unwrap()).await;
    too_large.problem(413);

    let unknown_enum = app
        .post("/tickets", &customer.token, json!({ "subject": "Hello there", "description": "x", "priority": "ASAP" }))
        .await;
    unknown_enum.problem(400);
    assert_eq!(unknown_enum.error_fields(), vec!["priority"]);
    assert!(unknown_enum.body["errors"][0]["message"].as_str().unwrap().contains("URGENT"), "names the allowed values");

    let long = app
        .post(
            "/tickets",
            &customer.token,
            json!({ "subject": "s".repeat(201), "description": "d".repeat(10_001), "tags": ["ok", "not ok"] }),
        )
        .await;
    long.problem(400);
    let mut fields = long.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["description", "subject", "tags"]);

    app.get("/no/such/route", &customer.token).await.problem(404);
    app.request(Method::GET, "/api/nothing-here", None, None).await.problem(404);
    let wrong_method = app.request(Method::PATCH, "/tickets", Some(&customer.token), None).await;
    wrong_method.problem(405);
    assert!(wrong_method.headers.contains_key("allow"));
    app.get("/tickets/not-a-uuid", &customer.token).await.problem(404);
    let bad_query = app.get("/tickets?page=%ZZ", &customer.token).await;
    assert!(bad_query.status.is_client_error(), "{}", bad_query.status);
    app.get("/tickets?page=99999999999999999999", &customer.token).await.problem(400);
}

async fn invalid_tickets_write_nothing(app: TestApp) {
    let customer = app.customer().await;
    let (agent, _) = app.agent().await;
    let ticket = app.ticket(&customer, "Atomic update").await;
    let path = format!("/tickets/{}", ticket["id"].as_str().unwrap());
    // One bad field spoils the whole update: nothing of it is applied.
    let reply =
        app.put(&path, &agent.token, json!({ "priority": "URGENT", "subject": "", "escalationLevel": 9 })).await;
    reply.problem(400);
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["escalationLevel", "subject"]);
    // A status change the table refuses leaves the other fields unchanged too.
    app.put(&path, &agent.token, json!({ "status": "CLOSED" })).await;
    app.put(&path, &agent.token, json!({ "priority": "URGENT", "status": "OPEN" })).await.problem(409);
    let after = app.get(&path, &agent.token).await;
    assert_eq!(after.body["priority"], "MEDIUM");
    assert_eq!(after.body["subject"], "Atomic update");
    assert_eq!(after.body["status"], "CLOSED");
    let list = app.get("/tickets", &customer.token).await;
    assert_eq!(list.body["page"]["totalElements"], 1);
}
