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
