//! The binary's command line: every setting documented in --help, clear errors for bad values,
//! and a real start and graceful stop on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_alphintra-support");

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut command = Command::new(BINARY);
    command.args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("binary runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn help_lists_every_setting() {
    let (code, text) = run(&["--help"], &[]);
    assert_eq!(code, 0);
    for name in [
        "HOST",
        "PORT",
        "DATA_DIR",
        "DATABASE_URL",
        "REDIS_URL",
        "WS_PORT",
        "JWT_SECRET",
        "ADMIN_EMAIL",
        "ADMIN_PASSWORD",
        "LOG_FORMAT",
        "SEED_DEMO",
        "--demo",
    ] {
        assert!(text.contains(name), "--help mentions {name}:\n{text}");
    }
}

#[test]
fn invalid_values_are_refused_with_a_clear_message() {
    for (env, needle) in [
        (("PORT", "eighty"), "PORT"),
        (("HOST", "localhost:80"), "HOST"),
        (("DATABASE_URL", "mysql://db/x"), "DATABASE_URL"),
        (("JWT_SECRET", "short"), "JWT_SECRET"),
        (("LOG_FORMAT", "xml"), "xml"),
        (("REDIS_URL", "http://cache"), "REDIS_URL"),
        (("ADMIN_EMAIL", "admin@example.com"), "ADMIN_PASSWORD"),
    ] {
        let (code, text) = run(&[], &[env]);
        assert_eq!(code, 2, "{env:?} should be refused:\n{text}");
        assert!(text.contains(needle), "{env:?}: message names {needle}:\n{text}");
    }
}

#[cfg(unix)]
#[test]
fn starts_on_embedded_sqlite_and_stops_gracefully_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("alphintra-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        listener.local_addr().expect("address").port()
    };
    let mut child = Command::new(BINARY)
        .env_clear()
        .env("DATA_DIR", &dir)
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let started = Instant::now();
    let mut up = false;
    while started.elapsed() < Duration::from_secs(20) {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = stream.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            let mut response = String::new();
            let _ = stream.read_to_string(&mut response);
            if response.contains("\"UP\"") {
                up = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up, "server answered /api/health");
    assert!(dir.join("support.db").exists(), "SQLite file created in DATA_DIR");
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let stopping = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "clean exit after SIGTERM: {status:?}");
            break;
        }
        assert!(stopping.elapsed() < Duration::from_secs(15), "stopped within 15 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs a full flow against the real binary with debug logs and scans everything it logged:
/// no e-mail, password, token, card or IBAN number may appear in clear.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_show_secrets() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let dir = std::env::temp_dir().join(format!("alphintra-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log_path = dir.join("server.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(BINARY)
        .env_clear()
        .env("DATA_DIR", &dir)
        .env("PORT", port.to_string())
        .env("LOG_LEVEL", "debug")
        .env("LOG_FORMAT", "json")
        .stdout(std::fs::File::create(&log_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let base = format!("http://127.0.0.1:{port}/api/customer-support");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if client.get(format!("http://127.0.0.1:{port}/api/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "server up");

    let email = "secret.person@example.org";
    let password = "my-secret-passphrase";
    let registered: serde_json::Value = client
        .post(format!("{base}/auth/register"))
        .json(&serde_json::json!({ "email": email, "password": password, "fullName": "Secret Person" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = registered["accessToken"].as_str().unwrap().to_string();
    let refresh = registered["refreshToken"].as_str().unwrap().to_string();
    client
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({ "email": email, "password": "wrong-guess-1" }))
        .send()
        .await
        .unwrap();
    client
        .post(format!("{base}/tickets"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "subject": "Card problem", "description": "Card 4111 1111 1111 1111, IBAN DE89370400440532013000" }))
        .send()
        .await
        .unwrap();
    client
        .post(format!("{base}/auth/refresh"))
        .json(&serde_json::json!({ "refreshToken": refresh }))
        .send()
        .await
        .unwrap();
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws?access_token={token}")).await.unwrap();
    ws.send(Message::text(format!("CONNECT\naccept-version:1.2\npasscode:{token}\n\n\0"))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(ws);

    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.contains("sign-in failed"), "the flow was logged");
    for secret in [
        email,
        password,
        "wrong-guess-1",
        token.as_str(),
        refresh.as_str(),
        "4111 1111 1111 1111",
        "DE89370400440532013000",
    ] {
        assert!(!logs.contains(secret), "{secret} appears in the logs");
    }
    assert!(logs.contains("[email]"), "e-mails are masked, not just absent");
    assert!(
        logs.contains("access_token=[masked]") || logs.contains("[jwt]"),
        "the token in the WebSocket URL is masked"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
