//! The STOMP broker end to end: authentication, authorisation, chat stored before RECEIPT,
//! REST and STOMP broadcasting alike, internal notes kept from customers, typing, notifications,
//! protocol details (framing, heart-beats, limits).

use std::time::Duration;

use alphintra_support::realtime::frame::{Command, Frame};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use crate::stomp_client::StompClient;

on_both_backends!(
    connect_requires_a_valid_token,
    chat_message_is_stored_before_the_receipt_and_broadcast,
    rest_posts_are_broadcast_and_notes_stay_with_staff,
    customers_cannot_subscribe_beyond_their_tickets,
    typing_is_broadcast_but_not_stored,
    ticket_events_reach_the_right_topics,
    invalid_chat_messages_get_an_error_and_store_nothing,
    a_burst_of_chat_messages_is_stored_in_order_with_a_receipt_each,
);

async fn connect_requires_a_valid_token(app: TestApp) {
    let customer = app.customer().await;

    let mut anonymous = StompClient::open(&app, "/ws").await;
    assert_eq!(anonymous.protocol.as_deref(), Some("v12.stomp"), "sub-protocol negotiated");
    anonymous.send(Frame::new(Command::Connect).with_header("accept-version", "1.2")).await;
    assert!(anonymous.expect_error_and_close().await.contains("authentication"));

    let mut forged = StompClient::open(&app, "/ws/support").await;
    forged
        .send(
            Frame::new(Command::Connect).with_header("accept-version", "1.2").with_header("passcode", "bad.token.here"),
        )
        .await;
    forged.expect_error_and_close().await;

    // The token in the passcode header, on the second endpoint.
    let mut by_passcode = StompClient::open(&app, "/ws/support").await;
    by_passcode
        .send(
            Frame::new(Command::Stomp)
                .with_header("accept-version", "1.2")
                .with_header("passcode", customer.token.as_str()),
        )
        .await;
    let connected = by_passcode.expect(Command::Connected).await;
    assert_eq!(connected.header("version"), Some("1.2"));
    assert!(connected.header("session").is_some());
    assert!(connected.header("heart-beat").is_some());
    assert_eq!(connected.header("user-name"), Some(customer.id.to_string().as_str()));

    // The token on the upgrade request (browsers cannot set WebSocket headers).
    let mut by_query = StompClient::open(&app, &format!("/ws?access_token={}", customer.token)).await;
    by_query.send(Frame::new(Command::Connect).with_header("accept-version", "1.1")).await;
    assert_eq!(by_query.expect(Command::Connected).await.header("version"), Some("1.1"));

    // Anything before CONNECT is refused.
    let mut early = StompClient::open(&app, "/ws").await;
    early
        .send(
            Frame::new(Command::Subscribe)
                .with_header("id", "1")
                .with_header("destination", "/user/queue/notifications"),
        )
        .await;
    early.expect_error_and_close().await;

    let mut old = StompClient::open(&app, "/ws").await;
    old.send(
        Frame::new(Command::Connect)
            .with_header("accept-version", "2.0")
            .with_header("passcode", customer.token.as_str()),
    )
    .await;
    assert!(old.expect_error_and_close().await.contains("versions"));
}

async fn chat_message_is_stored_before_the_receipt_and_broadcast(app: TestApp) {
    let customer = app.customer().await;
    let (agent, _) = app.agent().await;
    let ticket = app.ticket(&customer, "Live chat").await;
    let id = ticket["id"].as_str().unwrap();
    let topic = format!("/topic/tickets/{id}/messages");

    let mut agent_ws = StompClient::connect(&app, &agent.token).await;
    agent_ws.subscribe("a1", &topic).await;
    let mut customer_ws = StompClient::connect(&app, &customer.token).await;
    customer_ws.subscribe("c1", &topic).await;

    let reply = customer_ws
        .send_json(
            &format!("/app/tickets/{id}/messages"),
            &json!({ "message": "Hello, anyone there?", "timestamp": "2026-11-29T10:00:00Z" }),
            "r1",
        )
        .await;
    assert_eq!(reply.command, Command::Receipt, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header("receipt-id"), Some("r1"));
    // Acknowledged means stored: it is already readable over REST.
    let stored = app.get(&format!("/tickets/{id}/communications"), &customer.token).await;
    assert_eq!(stored.body[0]["content"], "Hello, anyone there?");
    assert_eq!(stored.body[0]["seq"], 1);

    let (frame, body) = agent_ws.expect_message().await;
    assert_eq!(frame.header("subscription"), Some("a1"));
    assert_eq!(frame.header("destination"), Some(topic.as_str()));
    assert!(frame.header("message-id").is_some());
    assert_eq!(frame.header("content-type"), Some("application/json"));
    assert_eq!(body["content"], "Hello, anyone there?");
    assert_eq!(body["seq"], 1);
    assert_eq!(body["senderType"], "CUSTOMER");
    let (_, echo) = customer_ws.expect_message().await;
    assert_eq!(echo["id"], body["id"], "the sender sees its own message too, once");

    // The seed-compatible destination does the same.
    let reply = agent_ws
        .send_json(
            "/app/chat_message",
            &json!({ "ticketId": id, "message": "Yes - looking now", "timestamp": "2026-11-29T10:01:00Z" }),
            "r2",
        )
        .await;
    assert_eq!(reply.command, Command::Receipt);
    // Seq 2 is the reply; the first staff reply also assigns and opens the ticket (events 3 and 4).
    let (_, reply_body) = customer_ws.expect_message().await;
    assert_eq!(reply_body["content"], "Yes - looking now");
    assert_eq!(reply_body["seq"], 2);
    let details = app.get(&format!("/tickets/{id}"), &customer.token).await;
    assert!(details.body["firstResponseAt"].is_string());
    assert_eq!(details.body["status"], "OPEN");

    // DISCONNECT with a receipt is acknowledged, then the server closes.
    customer_ws.send(Frame::new(Command::Disconnect).with_header("receipt", "bye")).await;
    loop {
        let frame = customer_ws.next().await.expect("receipt before close");
        if frame.command == Command::Receipt {
            assert_eq!(frame.header("receipt-id"), Some("bye"));
            break;
        }
    }
    assert!(customer_ws.next_within(Duration::from_secs(3)).await.is_none());
}

async fn rest_posts_are_broadcast_and_notes_stay_with_staff(app: TestApp) {
    let customer = app.customer().await;
    let (agent, _) = app.agent().await;
    let ticket = app.ticket(&customer, "Broadcasts").await;
    let id = ticket["id"].as_str().unwrap();
    let topic = format!("/topic/tickets/{id}/messages");
    let mut customer_ws = StompClient::connect(&app, &customer.token).await;
    customer_ws.subscribe("c", &topic).await;
    let mut agent_ws = StompClient::connect(&app, &agent.token).await;
    agent_ws.subscribe("a", &topic).await;

    let path = format!("/tickets/{id}/communications");
    let note =
        app.post(&path, &agent.token, json!({ "content": "Internal: VIP customer", "type": "INTERNAL_NOTE" })).await;
    assert_eq!(note.status, 201);
    let (_, seen_by_agent) = agent_ws.expect_message().await;
    assert_eq!(seen_by_agent["type"], "INTERNAL_NOTE");

    let public = app.post(&path, &customer.token, json!({ "content": "<b>bold</b> question" })).await;
    assert_eq!(public.status, 201);
    // The customer's next message is the public one: the note never reached them.
    let (_, first_for_customer) = customer_ws.expect_message().await;
    assert_eq!(first_for_customer["content"], "<b>bold</b> question");
    assert_eq!(first_for_customer["seq"], public.body["seq"]);
    let (_, second_for_agent) = agent_ws.expect_message().await;
    assert_eq!(second_for_agent["id"], public.body["id"], "REST posts are broadcast exactly like STOMP ones");
    customer_ws.expect_silence(Duration::from_millis(300)).await;
}

async fn customers_cannot_subscribe_beyond_their_tickets(app: TestApp) {
    let alice = app.customer().await;
    let mallory = app.customer().await;
    let ticket = app.ticket(&alice, "Alice's").await;
    let id = ticket["id"].as_str().unwrap();

    for destination in [
        format!("/topic/tickets/{id}/messages"),
        format!("/topic/tickets/{id}/typing"),
        format!("/topic/tickets/{id}/notifications"),
        "/topic/support/notifications".to_string(),
        format!("/user/{}/queue/notifications", alice.id),
        "/topic/everything".to_string(),
    ] {
        let mut ws = StompClient::connect(&app, &mallory.token).await;
        ws.send(Frame::new(Command::Subscribe).with_header("id", "x").with_header("destination", destination.as_str()))
            .await;
        ws.expect_error_and_close().await;
    }
    // Nor send into someone else's ticket.
    let mut ws = StompClient::connect(&app, &mallory.token).await;
    let reply = ws.send_json(&format!("/app/tickets/{id}/messages"), &json!({ "message": "hi" }), "r").await;
    assert_eq!(reply.command, Command::Error);
    let stored = app.get(&format!("/tickets/{id}/communications"), &alice.token).await;
    assert_eq!(stored.body, json!([]));

    // The owner may; duplicate subscription ids are refused.
    let mut owner = StompClient::connect(&app, &alice.token).await;
    owner.subscribe("s1", &format!("/topic/tickets/{id}/messages")).await;
    owner
        .send(
            Frame::new(Command::Subscribe)
                .with_header("id", "s1")
                .with_header("destination", "/user/queue/notifications"),
        )
        .await;
    owner.expect_error_and_close().await;
}

async fn typing_is_broadcast_but_not_stored(app: TestApp) {
    let customer = app.customer().await;
    let (agent, _) = app.agent().await;
    let ticket = app.ticket(&customer, "Typing").await;
    let id = ticket["id"].as_str().unwrap();
    let mut agent_ws = StompClient::connect(&app, &agent.token).await;
    agent_ws.subscribe("t", &format!("/topic/tickets/{id}/typing")).await;
    let mut customer_ws = StompClient::connect(&app, &customer.token).await;
    let reply = customer_ws.send_json(&format!("/app/tickets/{id}/typing"), &json!({ "typing": true }), "t1").await;
    assert_eq!(reply.command, Command::Receipt);
    let (_, body) = agent_ws.expect_message().await;
    assert_eq!(body, json!({ "userId": customer.id, "displayName": "Casey Customer", "typing": true }));

    // A burst is rate-limited: at most 5 a second get through.
    for _ in 0..20 {
        customer_ws
            .send(
                Frame::new(Command::Send)
                    .with_header("destination", format!("/app/tickets/{id}/typing"))
                    .with_body(br#"{"typing":true}"#.to_vec()),
            )
            .await;
    }
    let mut received = 0;
    while agent_ws.next_within(Duration::from_millis(300)).await.is_some() {
        received += 1;
    }
    assert!(received <= 5, "typing burst limited, got {received}");
    let stored = app.get(&format!("/tickets/{id}/communications"), &agent.token).await;
    assert_eq!(stored.body, json!([]), "typing is not stored");
}

async fn ticket_events_reach_the_right_topics(app: TestApp) {
    let customer = app.customer().await;
    let (agent, agent_id) = app.agent().await;
    let mut staff_queue = StompClient::connect(&app, &agent.token).await;
    staff_queue.subscribe("q", "/topic/support/notifications").await;
    staff_queue.subscribe("me", "/user/queue/notifications").await;
    let mut customer_ws = StompClient::connect(&app, &customer.token).await;
    customer_ws.subscribe("mine", "/user/queue/notifications").await;

    let ticket = app.ticket(&customer, "Queue me").await;
    let id = ticket["id"].as_str().unwrap();
    let (_, created) = staff_queue.expect_message().await;
    assert_eq!(created["type"], "TICKET_CREATED");
    assert_eq!(created["ticket"]["id"], id);

    customer_ws.subscribe("n", &format!("/topic/tickets/{id}/notifications")).await;
    app.post(&format!("/tickets/{id}/assign"), &agent.token, json!({ "agentId": agent_id })).await;
    // The assignee hears about it on their own queue, the customer on the ticket's topic.
    let mut kinds = Vec::new();
    while let Some(frame) = staff_queue.next_within(Duration::from_millis(500)).await {
        let body: serde_json::Value = serde_json::from_slice(&frame.body).unwrap();
        kinds.push((
            frame.header("destination").unwrap_or_default().to_string(),
            body["type"].as_str().unwrap_or_default().to_string(),
        ));
    }
    assert!(kinds.contains(&("/user/queue/notifications".into(), "ASSIGNED".into())), "{kinds:?}");
    assert!(kinds.contains(&("/topic/support/notifications".into(), "TICKET_UPDATED".into())), "{kinds:?}");

    app.put(&format!("/tickets/{id}"), &agent.token, json!({ "status": "ESCALATED" })).await;
    let mut customer_kinds = Vec::new();
    while let Some(frame) = customer_ws.next_within(Duration::from_millis(500)).await {
        let body: serde_json::Value = serde_json::from_slice(&frame.body).unwrap();
        customer_kinds.push((
            frame.header("destination").unwrap_or_default().to_string(),
            body["type"].as_str().unwrap_or_default().to_string(),
        ));
    }
    let ticket_topic = format!("/topic/tickets/{id}/notifications");
    assert!(customer_kinds.contains(&(ticket_topic.clone(), "ASSIGNED".into())), "{customer_kinds:?}");
    assert!(customer_kinds.contains(&(ticket_topic, "STATUS_CHANGED".into())), "{customer_kinds:?}");
    assert!(
        customer_kinds.contains(&("/user/queue/notifications".into(), "STATUS_CHANGED".into())),
        "{customer_kinds:?}"
    );
    let mut escalated = false;
    while let Some(frame) = staff_queue.next_within(Duration::from_millis(500)).await {
        let body: serde_json::Value = serde_json::from_slice(&frame.body).unwrap();
        escalated |= body["type"] == "TICKET_ESCALATED";
    }
    assert!(escalated, "escalations reach the staff queue");
}

async fn invalid_chat_messages_get_an_error_and_store_nothing(app: TestApp) {
    let customer = app.customer().await;
    let ticket = app.ticket(&customer, "Errors").await;
    let id = ticket["id"].as_str().unwrap();
    for (body, needle) in [
        (json!({ "message": "   " }), "content"),
        (json!({ "message": "x".repeat(10_001) }), "content"),
        (json!({ "nothing": true }), "message"),
        (json!({ "message": "note?", "type": "INTERNAL_NOTE" }), "staff"),
    ] {
        let mut ws = StompClient::connect(&app, &customer.token).await;
        let reply = ws.send_json(&format!("/app/tickets/{id}/messages"), &body, "r").await;
        assert_eq!(reply.command, Command::Error, "{body}");
        assert_eq!(reply.header("receipt-id"), Some("r"));
        let message = reply.header("message").unwrap_or_default().to_lowercase();
        assert!(message.contains(needle), "{message} mentions {needle}");
    }
    let mut ws = StompClient::connect(&app, &customer.token).await;
    ws.send_text(&format!("SEND\ndestination:/app/tickets/{id}/messages\n\nnot json\0")).await;
    ws.expect_error_and_close().await;
    let stored = app.get(&format!("/tickets/{id}/communications"), &customer.token).await;
    assert_eq!(stored.body, json!([]));
}

fn chat_send(id: &str, text: &str, receipt: &str) -> String {
    let body = json!({ "message": text }).to_string();
    format!(
        "SEND\ndestination:/app/tickets/{id}/messages\ncontent-type:application/json\nreceipt:{receipt}\n\n{body}\0"
    )
}

/// `stomp_chat_batched_messages_total` from the metrics endpoint (0 before the first burst).
async fn batched_messages(app: &TestApp) -> u64 {
    let text = app.client.get(app.url("/actuator/prometheus")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("stomp_chat_batched_messages_total "))
        .map_or(0, |value| value.trim().parse().unwrap())
}

/// Frames that arrive together (here: in one WebSocket message) are stored as bursts sharing a
/// commit; order, sequence numbers, one RECEIPT per frame and the all-or-nothing rule still hold.
async fn a_burst_of_chat_messages_is_stored_in_order_with_a_receipt_each(app: TestApp) {
    let customer = app.customer().await;
    let (agent, _) = app.agent().await;
    let ticket = app.ticket(&customer, "Burst").await;
    let id = ticket["id"].as_str().unwrap();
    let mut agent_ws = StompClient::connect(&app, &agent.token).await;
    agent_ws.subscribe("a1", &format!("/topic/tickets/{id}/messages")).await;
    let mut customer_ws = StompClient::connect(&app, &customer.token).await;

    let batched_before = batched_messages(&app).await;
    // 40 messages with a typing frame in the middle, more than one burst holds, in one message.
    let mut text = String::new();
    for i in 0..40 {
        if i == 20 {
            text.push_str(&format!(
                "SEND\ndestination:/app/tickets/{id}/typing\nreceipt:typing\n\n{{\"typing\":true}}\0"
            ));
        }
        text.push_str(&chat_send(id, &format!("m{i}"), &format!("r{i}")));
    }
    customer_ws.send_text(&text).await;
    let mut expected: Vec<String> = (0..40).map(|i| format!("r{i}")).collect();
    expected.insert(20, "typing".into());
    for receipt in &expected {
        let frame = customer_ws.expect(Command::Receipt).await;
        assert_eq!(frame.header("receipt-id"), Some(receipt.as_str()));
    }
    for i in 0..40 {
        let (_, body) = agent_ws.expect_message().await;
        assert_eq!((body["content"].clone(), body["seq"].clone()), (json!(format!("m{i}")), json!(i + 1)));
    }
    let stored = app.get(&format!("/tickets/{id}/communications"), &customer.token).await;
    let contents: Vec<&str> = stored.body.as_array().unwrap().iter().map(|c| c["content"].as_str().unwrap()).collect();
    assert_eq!(contents, (0..40).map(|i| format!("m{i}")).collect::<Vec<_>>());
    // They did share commits (other tests running at the same time can only add to the count).
    assert!(batched_messages(&app).await - batched_before >= 40, "the messages were stored in bursts");

    // An invalid frame ends the burst: those before it are stored and acknowledged, it gets the
    // ERROR, and nothing after it is processed.
    let text = [
        chat_send(id, "m40", "r40"),
        chat_send(id, "m41", "r41"),
        chat_send(id, "   ", "bad"),
        chat_send(id, "m43", "r43"),
    ]
    .concat();
    customer_ws.send_text(&text).await;
    assert_eq!(customer_ws.expect(Command::Receipt).await.header("receipt-id"), Some("r40"));
    assert_eq!(customer_ws.expect(Command::Receipt).await.header("receipt-id"), Some("r41"));
    let error = customer_ws.expect(Command::Error).await;
    assert_eq!(error.header("receipt-id"), Some("bad"));
    assert!(customer_ws.next_within(Duration::from_secs(3)).await.is_none(), "connection closes after ERROR");
    let stored = app.get(&format!("/tickets/{id}/communications?after=40"), &customer.token).await;
    let contents: Vec<&str> = stored.body.as_array().unwrap().iter().map(|c| c["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["m40", "m41"]);
}

/// Framing, heart-beats and limits, on SQLite only: they do not touch the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_framing_heartbeats_and_limits() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, "stomp protocol", |config| {
        config.stomp_heartbeat_ms = 100;
        config.stomp_max_frame_bytes = 4096;
    })
    .await
    else {
        return;
    };
    let customer = app.customer().await;
    let ticket = app.ticket(&customer, "Framing").await;
    let id = ticket["id"].as_str().unwrap();

    // Two frames in one WebSocket message, then one frame split across three messages.
    let mut ws = StompClient::open(&app, "/ws").await;
    ws.send_text(&format!(
        "CONNECT\naccept-version:1.2\nhost:localhost\npasscode:{}\nheart-beat:0,0\n\n\0\nSUBSCRIBE\nid:a\ndestination:/topic/tickets/{id}/messages\nreceipt:r-a\n\n\0",
        customer.token
    ))
    .await;
    ws.expect(Command::Connected).await;
    assert_eq!(ws.expect(Command::Receipt).await.header("receipt-id"), Some("r-a"));
    let body = r#"{"message":"split: \u00e9 and a colon"}"#;
    let frame = format!(
        "SEND\ndestination:/app/tickets/{id}/messages\ncontent-length:{}\nreceipt:r\\cb\n\n{body}\0",
        body.len()
    );
    let (first, rest) = frame.split_at(10);
    let (second, third) = rest.split_at(30);
    for part in [first, second, third] {
        ws.send_text(part).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut got_receipt = false;
    let mut got_message = false;
    for _ in 0..2 {
        let frame = ws.next().await.expect("frame");
        match frame.command {
            // `r\cb` is the escaped form of `r:b`.
            Command::Receipt => got_receipt = frame.header("receipt-id") == Some("r:b"),
            Command::Message => {
                got_message = serde_json::from_slice::<serde_json::Value>(&frame.body).unwrap()["content"]
                    == "split: é and a colon"
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(got_receipt && got_message);

    // Heart-beats: the client asks for them every 100 ms and gets them.
    let mut beats = StompClient::open(&app, "/ws").await;
    beats
        .send(
            Frame::new(Command::Connect)
                .with_header("accept-version", "1.2")
                .with_header("passcode", customer.token.as_str())
                .with_header("heart-beat", "0,100"),
        )
        .await;
    let connected = beats.expect(Command::Connected).await;
    assert_eq!(connected.header("heart-beat"), Some("100,100"));
    assert!(beats.next_within(Duration::from_millis(700)).await.is_none());
    assert!(beats.heartbeats_seen >= 3, "server heart-beats arrive ({})", beats.heartbeats_seen);

    // A client that promised heart-beats and fell silent is dropped after the grace period.
    let mut silent = StompClient::open(&app, "/ws").await;
    silent
        .send(
            Frame::new(Command::Connect)
                .with_header("accept-version", "1.2")
                .with_header("passcode", customer.token.as_str())
                .with_header("heart-beat", "100,0"),
        )
        .await;
    silent.expect(Command::Connected).await;
    let started = std::time::Instant::now();
    assert!(silent.next_within(Duration::from_secs(3)).await.is_none(), "silent client disconnected");
    assert!(started.elapsed() < Duration::from_secs(2));

    // Oversized frame, malformed frame, unsupported commands: ERROR then close.
    for text in [
        format!("SEND\ndestination:/app/tickets/{id}/messages\n\n{}\0", "x".repeat(5000)),
        "SEND\nno colon header\n\n\0".to_string(),
        "FLY\n\n\0".to_string(),
        "BEGIN\ntransaction:t\n\n\0".to_string(),
        "SEND\ndestination:/app/tickets/x\\tz\n\n\0".to_string(),
    ] {
        let mut ws = StompClient::connect(&app, &customer.token).await;
        ws.send_text(&text).await;
        ws.expect_error_and_close().await;
    }
}
