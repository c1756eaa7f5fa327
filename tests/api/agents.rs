//! Agents: who may list and onboard them, validation, and workload.

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    supervisors_onboard_agents_and_staff_list_them,
    customers_and_agents_cannot_manage_agents,
    agent_creation_is_validated,
    agents_set_their_own_presence,
);

async fn agents_set_their_own_presence(app: TestApp) {
    let (agent, agent_id) = app.agent().await;
    let (other, other_id) = app.agent().await;
    let (supervisor, _) = app.staff("SUPERVISOR").await;
    let customer = app.customer().await;
    let path = format!("/agents/{agent_id}/status");
    let away = app.put(&path, &agent.token, json!({ "status": "AWAY" })).await;
    assert_eq!(away.status, 200, "{}", away.body);
    assert_eq!(away.body["status"], "AWAY");
    assert_eq!(app.get(&format!("/agents/{agent_id}"), &other.token).await.body["status"], "AWAY");
    app.put(&path, &other.token, json!({ "status": "OFFLINE" })).await.problem(403);
    app.put(&path, &customer.token, json!({ "status": "OFFLINE" })).await.problem(403);
    app.put(&path, &agent.token, json!({ "status": "SLEEPING" })).await.problem(400);
    let by_supervisor =
        app.put(&format!("/agents/{other_id}/status"), &supervisor.token, json!({ "status": "BUSY" })).await;
    assert_eq!(by_supervisor.body["status"], "BUSY");
    app.put(&format!("/agents/{}/status", uuid::Uuid::new_v4()), &supervisor.token, json!({ "status": "BUSY" }))
        .await
        .problem(404);
    assert_eq!(app.audit_count("agent.status_changed", &agent_id.to_string()).await, 1);
}

async fn supervisors_onboard_agents_and_staff_list_them(app: TestApp) {
    let (supervisor, _) = app.staff("SUPERVISOR").await;
    let created = app
        .post(
            "/agents",
            &supervisor.token,
            json!({ "fullName": "Priya N", "email": "Priya@Alphintra.test", "password": "agent-pass-1",
                    "level": "L2", "skills": ["KYC", "API"], "languages": ["en", "hi"], "maxConcurrentTickets": 8 }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let agent = &created.body;
    assert_eq!(agent["email"], "priya@alphintra.test");
    assert_eq!(agent["level"], "L2");
    assert_eq!(agent["skills"], json!(["KYC", "API"]));
    assert_eq!(agent["status"], "AVAILABLE");
    assert_eq!(agent["currentLoad"], 0);
    assert!(created.headers["location"].to_str().unwrap().ends_with(agent["id"].as_str().unwrap()));

    // The new agent can sign in and sees the team.
    let priya = app.login("priya@alphintra.test", "agent-pass-1").await;
    let me = app.get("/auth/me", &priya.token).await;
    assert_eq!(me.body["role"], "AGENT");
    assert_eq!(me.body["agent"]["id"], agent["id"]);
    let list = app.get("/agents?size=50", &priya.token).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["page"]["totalElements"], 2);
    let one = app.get(&format!("/agents/{}", agent["id"].as_str().unwrap()), &priya.token).await;
    assert_eq!(one.body["maxConcurrentTickets"], 8);
    app.get(&format!("/agents/{}", uuid::Uuid::new_v4()), &priya.token).await.problem(404);
    app.get("/agents/not-a-uuid", &priya.token).await.problem(404);

    let duplicate = app
        .post(
            "/agents",
            &supervisor.token,
            json!({ "fullName": "Copy", "email": "priya@alphintra.test", "password": "agent-pass-1" }),
        )
        .await;
    duplicate.problem(409);
    // Only admins appoint supervisors.
    let promote = app
        .post("/agents", &supervisor.token, json!({ "fullName": "Boss", "email": "boss@alphintra.test", "password": "agent-pass-1", "role": "SUPERVISOR" }))
        .await;
    promote.problem(403);
    assert_eq!(app.audit_count("agent.created", agent["id"].as_str().unwrap()).await, 1);
}

async fn customers_and_agents_cannot_manage_agents(app: TestApp) {
    let customer = app.customer().await;
    let (agent, agent_id) = app.agent().await;
    app.get("/agents", &customer.token).await.problem(403);
    app.get(&format!("/agents/{agent_id}"), &customer.token).await.problem(403);
    let body = json!({ "fullName": "X", "email": "x@alphintra.test", "password": "agent-pass-1" });
    app.post("/agents", &customer.token, body.clone()).await.problem(403);
    app.post("/agents", &agent.token, body.clone()).await.problem(403);
    app.request(Method::POST, "/agents", None, Some(body)).await.problem(401);
}

async fn agent_creation_is_validated(app: TestApp) {
    let admin = app.admin().await;
    let reply = app
        .post(
            "/agents",
            &admin.token,
            json!({ "fullName": "", "email": "nope", "password": "123", "languages": ["english"], "maxConcurrentTickets": 0, "role": "CUSTOMER" }),
        )
        .await;
    reply.problem(400);
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["email", "fullName", "languages", "maxConcurrentTickets", "password", "role"]);
    let bad_skill = app
        .post(
            "/agents",
            &admin.token,
            json!({ "fullName": "A", "email": "a@alphintra.test", "password": "agent-pass-1", "skills": ["COOKING"] }),
        )
        .await;
    bad_skill.problem(400);
    assert_eq!(bad_skill.error_fields(), vec!["skills[0]"]);
}
