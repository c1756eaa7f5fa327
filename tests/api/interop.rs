//! Interop: an independent, standard STOMP client (@stomp/stompjs v7 on Node.js, see
//! tests/interop/stompjs_chat.mjs) chats through the broker unchanged, and what it sent is stored.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Backend, TestApp};

const NODE_TIMEOUT: Duration = Duration::from_secs(30);

/// `node` on PATH, if any.
fn find_node() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("node")).find(|candidate| candidate.is_file())
}

/// What is missing to run the interop script, if anything.
fn missing_prerequisite(interop_dir: &Path) -> Option<String> {
    if find_node().is_none() {
        return Some("no `node` on PATH".into());
    }
    let stompjs = interop_dir.join("node_modules/@stomp/stompjs");
    if !stompjs.is_dir() {
        return Some(format!("{} is missing", stompjs.display()));
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stompjs_client_chats_through_the_broker() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let interop_dir = root.join("tests/interop");
    if let Some(missing) = missing_prerequisite(&interop_dir) {
        let message = format!("SKIPPED: stompjs interop: {missing} (run npm ci in tests/interop)");
        if std::env::var("REQUIRE_ALL_BACKENDS").is_ok_and(|v| v == "1") {
            panic!("{message}");
        }
        eprintln!("{message}");
        return;
    }

    let Some(app) = TestApp::spawn(Backend::Sqlite, "stompjs interop").await else { return };
    let customer = app.customer().await;
    let (agent, _) = app.agent().await;
    let ticket = app.ticket(&customer, "Chat from stompjs").await;
    let id = ticket["id"].as_str().expect("ticket id");

    let child = tokio::process::Command::new("node")
        .arg(interop_dir.join("stompjs_chat.mjs"))
        .current_dir(root)
        .env("BASE_URL", &app.base)
        .env("CUSTOMER_TOKEN", &customer.token)
        .env("AGENT_TOKEN", &agent.token)
        .env("TICKET_ID", id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    // On timeout the future, and with it the child, is dropped: kill_on_drop ends the process.
    let output = match tokio::time::timeout(NODE_TIMEOUT, child.wait_with_output()).await {
        Ok(output) => output.expect("node runs"),
        Err(_) => panic!("stompjs_chat.mjs did not finish within {} s; killed", NODE_TIMEOUT.as_secs()),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stompjs_chat.mjs failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    println!("stompjs interop observed: {}", stdout.trim());

    let observed: Value = stdout
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no JSON line on stdout:\n{stdout}\nstderr:\n{stderr}"));
    assert_eq!(observed["ok"], true, "{observed}");
    assert_eq!(observed["receipt"], "m1", "{observed}");
    assert_eq!(observed["typing"]["typing"], true, "{observed}");
    assert_eq!(observed["agentSaw"]["content"], "hello from stompjs", "{observed}");
    assert_eq!(observed["customerSaw"]["content"], "reply from agent", "{observed}");

    // Both messages were stored, in order; the first staff reply also appends system events.
    let stored = app.get(&format!("/tickets/{id}/communications"), &agent.token).await;
    assert_eq!(stored.status, 200, "{}", stored.body);
    let entries = stored.body.as_array().unwrap_or_else(|| panic!("a list: {}", stored.body));
    let messages: Vec<&Value> = entries.iter().filter(|entry| entry["type"] == "MESSAGE").collect();
    let contents: Vec<&str> = messages.iter().filter_map(|m| m["content"].as_str()).collect();
    assert_eq!(contents, ["hello from stompjs", "reply from agent"], "{}", stored.body);
    let seqs: Vec<i64> = messages.iter().map(|m| m["seq"].as_i64().expect("seq")).collect();
    assert!(seqs[0] < seqs[1], "message seqs increase: {seqs:?}");
    assert_eq!(observed["agentSaw"]["seq"], seqs[0], "the broadcast carries the stored seq");
    assert_eq!(observed["customerSaw"]["seq"], seqs[1], "the broadcast carries the stored seq");
    let all_seqs: Vec<i64> = entries.iter().filter_map(|entry| entry["seq"].as_i64()).collect();
    assert!(all_seqs.contains(&1) && all_seqs.contains(&2), "seqs 1 and 2 are stored: {all_seqs:?}");
}
