//! Analytics figures checked against a history with known answers, built by the test itself
//! (tickets created over the API, then given controlled timestamps), on both backends.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};

use crate::helpers::{Backdate, TestApp};
use crate::on_both_backends;

on_both_backends!(
    figures_match_a_known_history,
    analytics_are_for_supervisors_and_never_stale,
    customers_rate_resolved_tickets
);

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, hour, 0, 0).unwrap()
}

async fn figures_match_a_known_history(app: TestApp) {
    let customer = app.customer().await;
    let (_, agent_a) = app.agent().await;
    let (_, agent_b) = app.agent().await;
    let (supervisor, _) = app.staff("SUPERVISOR").await;
    let minutes = Duration::minutes;
    // (status, created, first response after, resolved after, SLA hours, rating, agent)
    let history = [
        ("RESOLVED", at(5, 10), Some(minutes(10)), Some(minutes(120)), 8, Some(5), Some(agent_a)),
        ("RESOLVED", at(5, 12), Some(minutes(30)), Some(minutes(600)), 8, Some(3), Some(agent_a)),
        ("OPEN", at(6, 9), Some(minutes(60)), None, 4, None, Some(agent_b)),
        ("NEW", at(7, 9), None, None, 72, None, None),
        ("CLOSED", at(8, 9), Some(minutes(20)), Some(minutes(60)), 24, Some(4), Some(agent_b)),
    ];
    for (i, (status, created, first, resolved, sla_hours, rating, agent)) in history.into_iter().enumerate() {
        let ticket = app.ticket(&customer, &format!("History {i}")).await;
        app.backdate(
            ticket["id"].as_str().unwrap(),
            Backdate {
                status,
                created_at: created,
                first_response_at: first.map(|d| created + d),
                resolved_at: resolved.map(|d| created + d),
                sla_due_at: created + Duration::hours(sla_hours),
                rating,
                agent_id: agent,
            },
        )
        .await;
    }
    // Created before the range, resolved inside it.
    let old = app.ticket(&customer, "Older").await;
    app.backdate(
        old["id"].as_str().unwrap(),
        Backdate {
            status: "RESOLVED",
            created_at: Utc.with_ymd_and_hms(2025, 12, 20, 8, 0, 0).unwrap(),
            first_response_at: None,
            resolved_at: Some(at(6, 0)),
            sla_due_at: Utc.with_ymd_and_hms(2025, 12, 21, 8, 0, 0).unwrap(),
            rating: None,
            agent_id: None,
        },
    )
    .await;

    let range = "from=2026-01-05T00:00:00Z&to=2026-01-09T00:00:00Z";
    let reply = app.get(&format!("/analytics/tickets?{range}&groupBy=day"), &supervisor.token).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let a = &reply.body;
    assert_eq!(a["created"], 5);
    assert_eq!(a["resolved"], 4);
    assert_eq!(a["byStatus"], json!({ "CLOSED": 1, "NEW": 1, "OPEN": 1, "RESOLVED": 2 }));
    assert_eq!(a["byPriority"], json!({ "MEDIUM": 5 }));
    assert_eq!(a["byCategory"], json!({ "OTHER": 5 }));
    assert_eq!(a["firstResponseTime"], json!({ "count": 4, "medianSeconds": 1200.0, "p90Seconds": 3600.0 }));
    assert_eq!(a["resolutionTime"], json!({ "count": 3, "medianSeconds": 7200.0, "p90Seconds": 36000.0 }));
    assert_eq!(a["sla"]["met"], 2);
    assert_eq!(a["sla"]["breached"], 3, "one resolved late, two still open past due");
    assert_eq!(a["sla"]["breachRate"], 0.6);
    assert_eq!(a["sla"]["targetsSeconds"]["URGENT"], 14400);
    assert_eq!(
        a["csat"],
        json!({ "average": 4.0, "responses": 3, "distribution": { "1": 0, "2": 0, "3": 1, "4": 1, "5": 1 } })
    );
    let series: Vec<(i64, i64, i64)> = a["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["created"].as_i64().unwrap(), p["resolved"].as_i64().unwrap(), p["backlog"].as_i64().unwrap()))
        .collect();
    assert_eq!(series, vec![(2, 2, 1), (1, 1, 1), (1, 0, 2), (1, 1, 2)]);
    assert_eq!(a["series"][0]["periodStart"], "2026-01-05T00:00:00Z");

    let weekly = app.get(&format!("/analytics/tickets?{range}&groupBy=week"), &supervisor.token).await;
    let weeks = weekly.body["series"].as_array().unwrap();
    assert_eq!(weeks.len(), 1);
    assert_eq!(
        (weeks[0]["created"].clone(), weeks[0]["resolved"].clone(), weeks[0]["backlog"].clone()),
        (json!(5), json!(4), json!(2))
    );

    let agents = app.get(&format!("/analytics/agents?{range}"), &supervisor.token).await;
    assert_eq!(agents.status, 200, "{}", agents.body);
    let row = |id: uuid::Uuid| -> Value {
        agents.body["agents"].as_array().unwrap().iter().find(|r| r["agentId"] == id.to_string()).cloned().unwrap()
    };
    let a_row = row(agent_a);
    assert_eq!(
        (a_row["assigned"].clone(), a_row["resolved"].clone(), a_row["openNow"].clone()),
        (json!(2), json!(2), json!(0))
    );
    assert_eq!(a_row["medianFirstResponseSeconds"], 600.0);
    assert_eq!(a_row["medianResolutionSeconds"], 7200.0);
    assert_eq!(a_row["csatAverage"], 4.0);
    assert_eq!(a_row["csatResponses"], 2);
    let b_row = row(agent_b);
    assert_eq!(
        (b_row["assigned"].clone(), b_row["resolved"].clone(), b_row["openNow"].clone()),
        (json!(2), json!(1), json!(1))
    );
    assert_eq!(b_row["medianFirstResponseSeconds"], 1200.0);
    assert_eq!(b_row["medianResolutionSeconds"], 3600.0);
    assert_eq!(b_row["capacity"], 5);
    assert_eq!(b_row["utilization"], 0.2);
}

async fn analytics_are_for_supervisors_and_never_stale(app: TestApp) {
    let customer = app.customer().await;
    let (agent, _) = app.agent().await;
    let admin = app.admin().await;
    app.get("/analytics/tickets", &customer.token).await.problem(403);
    app.get("/analytics/tickets", &agent.token).await.problem(403);
    app.get("/analytics/agents", &agent.token).await.problem(403);

    let before = app.get("/analytics/tickets", &admin.token).await;
    assert_eq!(before.status, 200);
    assert_eq!(before.body["created"], 0);
    assert_eq!(before.body["series"].as_array().unwrap().len(), 31, "30 days by day, the last one partial");
    app.ticket(&customer, "Fresh").await;
    let after = app.get("/analytics/tickets", &admin.token).await;
    assert_eq!(after.body["created"], 1, "a write invalidates the cache");

    for (query, field) in [
        ("from=yesterday", "from"),
        ("groupBy=month", "groupBy"),
        ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
        ("from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
    ] {
        let reply = app.get(&format!("/analytics/tickets?{query}"), &admin.token).await;
        reply.problem(400);
        assert_eq!(reply.error_fields(), vec![field], "{query}");
    }
}

async fn customers_rate_resolved_tickets(app: TestApp) {
    let customer = app.customer().await;
    let other = app.customer().await;
    let (agent, _) = app.agent().await;
    let ticket = app.ticket(&customer, "Rate me").await;
    let id = ticket["id"].as_str().unwrap();
    let path = format!("/tickets/{id}/rating");
    app.post(&path, &customer.token, json!({ "rating": 5 })).await.problem(409);
    app.put(&format!("/tickets/{id}"), &agent.token, json!({ "status": "RESOLVED" })).await;
    app.post(&path, &agent.token, json!({ "rating": 5 })).await.problem(403);
    app.post(&path, &other.token, json!({ "rating": 5 })).await.problem(404);
    app.post(&path, &customer.token, json!({ "rating": 6 })).await.problem(400);
    let rated = app.post(&path, &customer.token, json!({ "rating": 4 })).await;
    assert_eq!(rated.status, 200, "{}", rated.body);
    assert_eq!(rated.body["satisfactionRating"], 4);
    assert_eq!(app.audit_count("ticket.rated", id).await, 1);
}
