//! The web UI in a real browser: Debian's Chromium, headless, driven over WebDriver (chromedriver)
//! against the real server on a random port and a fresh SQLite database.
//!
//! Without `chromium` and `chromedriver` each test prints a `SKIPPED:` line and passes, unless
//! `REQUIRE_ALL_BACKENDS=1`, where that is a failure. `SAVE_SCREENSHOTS=1` writes the PNGs of
//! `docs/screenshots/`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alphintra_support::config::Config;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::sync::{oneshot, Mutex};
use uuid::Uuid;

const JWT_SECRET: &str = "browser-test-secret-of-at-least-32-bytes";
const ADMIN_EMAIL: &str = "admin@alphintra.test";
const ADMIN_PASSWORD: &str = "admin-password-1";
const AGENT_EMAIL: &str = "priya@alphintra.test";
const AGENT_PASSWORD: &str = "agent-password-1";
const WAIT: Duration = Duration::from_secs(10);

/// Chromium is heavy for a 2-core machine: one browser test at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

// ---------------------------------------------------------------------------------------------
// Harness: server, chromedriver, browser sessions
// ---------------------------------------------------------------------------------------------

fn require_all_backends() -> bool {
    std::env::var("REQUIRE_ALL_BACKENDS").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

/// Chromium and chromedriver, or the reason the tests cannot run.
fn browser_tools() -> Result<(PathBuf, PathBuf), String> {
    let chromium = ["/usr/bin/chromium"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| find_program("chromium"))
        .or_else(|| find_program("chromium-browser"));
    let driver =
        find_program("chromedriver").or_else(|| Some(PathBuf::from("/usr/bin/chromedriver")).filter(|p| p.is_file()));
    match (chromium, driver) {
        (Some(c), Some(d)) => Ok((c, d)),
        (None, Some(_)) => Err("chromium is not installed (apt-get install chromium)".into()),
        (Some(_), None) => Err("chromedriver is not installed (apt-get install chromium-driver)".into()),
        (None, None) => {
            Err("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)".into())
        }
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The service on a random port with a fresh SQLite database.
struct Server {
    base: String,
    port: u16,
    http: reqwest::Client,
    dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
}

impl Server {
    async fn start() -> Server {
        let dir = TempDir::new("alphintra-browser");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let stop = Self::serve(&dir.0, listener).await;
        Server { base: format!("http://127.0.0.1:{port}"), port, http: reqwest::Client::new(), dir, stop: Some(stop) }
    }

    async fn serve(dir: &Path, listener: tokio::net::TcpListener) -> oneshot::Sender<()> {
        let mut config = Config::for_tests(dir.to_path_buf());
        config.database_url = Some(format!("sqlite://{}", dir.join("support.db").display()));
        config.jwt_secret = Some(JWT_SECRET.into());
        config.admin_email = Some(ADMIN_EMAIL.into());
        config.admin_password = Some(ADMIN_PASSWORD.into());
        config.redis_url = None;
        config.ws_port = None;
        config.demo = false;
        let state = alphintra_support::app::build_state(config).await.expect("service starts");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(alphintra_support::app::serve(state, listener, None, async {
            let _ = stopped.await;
        }));
        stop
    }

    /// Stops the service as SIGTERM would (STOMP clients get ERROR and are disconnected).
    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Starts the service again on the same port and database.
    async fn restart(&mut self) {
        let deadline = Instant::now() + WAIT;
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(error) => assert!(Instant::now() < deadline, "port {} stays busy: {error}", self.port),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        self.stop = Some(Self::serve(&self.dir.0, listener).await);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Calls the REST API; panics unless the status is 2xx.
    async fn api(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>) -> Value {
        let mut request = self.http.request(method.clone(), self.url(&format!("/api/customer-support{path}")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn login(&self, email: &str, password: &str) -> Value {
        self.api(reqwest::Method::POST, "/auth/login", None, Some(json!({ "email": email, "password": password })))
            .await
    }

    /// The administrator's token, an agent account and a few published articles.
    async fn seed(&self) -> String {
        let admin = self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await["accessToken"].as_str().expect("token").to_string();
        self.api(
            reqwest::Method::POST,
            "/agents",
            Some(&admin),
            Some(json!({
                "fullName": "Priya Natarajan", "email": AGENT_EMAIL, "password": AGENT_PASSWORD,
                "skills": ["DEPOSIT_WITHDRAWAL", "ACCOUNT"],
            })),
        )
        .await;
        let articles = [
            (
                "Why is my withdrawal pending?",
                "Withdrawals wait for network confirmations and security review.",
                "Most withdrawals complete within **30 minutes**.\n\n## Pending for longer?\n\n1. Check the transaction hash.\n2. Large withdrawals get a manual security review.",
                "DEPOSIT_WITHDRAWAL",
            ),
            (
                "Reset two-factor authentication",
                "Lost your phone? Here is how to regain access.",
                "Open **Security settings** and choose *Reset 2FA*. You will need your recovery codes.",
                "ACCOUNT",
            ),
            (
                "Creating API keys for trading bots",
                "Scopes, IP allow-lists and rotation.",
                "Create a key under **API management**. Limit it to the scopes your bot needs.",
                "API",
            ),
        ];
        for (title, summary, content, category) in articles {
            self.api(
                reqwest::Method::POST,
                "/knowledge-base/articles",
                Some(&admin),
                Some(json!({ "title": title, "summary": summary, "content": content, "category": category, "status": "PUBLISHED" })),
            )
            .await;
        }
        admin
    }
}

/// A chromedriver process on a free port, killed when dropped.
struct Driver {
    url: String,
    child: Child,
    chromium: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver runs in a process group of its own, with the Chromium processes it started:
        // end the whole group, so a failed test leaves no browser behind.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Option<Driver> {
        let (chromium, chromedriver) = match browser_tools() {
            Ok(tools) => tools,
            Err(missing) => {
                if require_all_backends() {
                    panic!("REQUIRE_ALL_BACKENDS=1 but the browser tests cannot run: {missing}");
                }
                eprintln!("SKIPPED: browser tests: {missing}");
                return None;
            }
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver { url: format!("http://127.0.0.1:{port}"), child, chromium };
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(reply) = reqwest::get(format!("{}/status", driver.url)).await {
                if reply.json::<Value>().await.is_ok_and(|v| v["value"]["ready"] == true) {
                    return Some(driver);
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new browser with its own fresh profile (so its own sessionStorage).
    async fn browser(&self) -> Browser {
        let profile = TempDir::new("alphintra-chromium");
        let mut capabilities = Capabilities::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": self.chromium.display().to_string(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.0.display()), "--window-size=1280,900",
                ],
            }),
        );
        let client =
            ClientBuilder::native().capabilities(capabilities).connect(&self.url).await.expect("browser session");
        Browser { client, _profile: profile }
    }
}

struct Browser {
    client: Client,
    _profile: TempDir,
}

impl Browser {
    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls a JavaScript expression until it is truthy (at most 10 s).
    async fn wait_for(&self, what: &str, expression: &str) {
        let script = format!("return !!({expression});");
        let deadline = Instant::now() + WAIT;
        loop {
            if self.client.execute(&script, Vec::new()).await.is_ok_and(|v| v == Value::Bool(true)) {
                return;
            }
            if Instant::now() > deadline {
                let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
                let body = self.js("return document.body ? document.body.innerText.slice(0, 1500) : ''").await;
                panic!("timed out waiting for {what} on {url}\n--- page text ---\n{}", body.as_str().unwrap_or(""));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        element.send_keys(text).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    async fn clear(&self, css: &str) {
        let element = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        element.clear().await.unwrap_or_else(|e| panic!("clear {css}: {e}"));
    }

    async fn click(&self, css: &str) {
        let element = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        element.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Signs in on the dashboard's staff gate and waits for the live connection.
    async fn staff_sign_in(&self, server: &Server, email: &str, password: &str, path: &str) {
        self.goto(&server.url(path)).await;
        self.wait_for(
            "the staff sign-in form",
            "document.querySelector('[data-staff-signin]') && !document.querySelector('[data-staff-signin]').hidden",
        )
        .await;
        self.type_into("#staff-email", email).await;
        self.type_into("#staff-password", password).await;
        self.click("[data-signin-form] button[type=submit]").await;
        self.wait_for("the dashboard", "!document.querySelector('[data-staff-app]').hidden").await;
    }

    async fn screenshot(&self, name: &str) {
        if std::env::var("SAVE_SCREENSHOTS").as_deref() != Ok("1") {
            return;
        }
        // Let entrance animations settle so the picture is what a person sees.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(name), png).expect("write screenshot");
    }

    async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// Puts a signed-in session into a browser tab without going through the forms.
async fn sign_in_as(browser: &Browser, server: &Server, auth: &Value) {
    browser.goto(&server.url("/support/signin")).await;
    let session =
        json!({ "accessToken": auth["accessToken"], "refreshToken": auth["refreshToken"], "user": auth["user"] });
    browser
        .js(&format!("sessionStorage.setItem('alphintra.support.session', JSON.stringify({session})); return true;"))
        .await;
}

fn js_string(text: &str) -> String {
    serde_json::to_string(text).expect("string")
}

fn conversation_has(text: &str) -> String {
    format!(
        "Array.from(document.querySelectorAll('[data-conversation] [data-content]')).some(n => n.textContent === {})",
        js_string(text)
    )
}

// ---------------------------------------------------------------------------------------------
// Stories
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn customer_and_agent_chat_live_in_two_browsers() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(driver) = Driver::start().await else { return };
    let server = Server::start().await;
    server.seed().await;
    let agent = driver.browser().await;
    let customer = driver.browser().await;

    // The agent opens the live queue first and waits until it is live.
    agent.staff_sign_in(&server, AGENT_EMAIL, AGENT_PASSWORD, "/support/dashboard").await;
    agent
        .wait_for("the live connection", "document.querySelector('.conn-pill').dataset.connState === 'connected'")
        .await;
    agent
        .wait_for("the queue", "document.querySelector('[data-queue-body]').getAttribute('aria-busy') === 'false'")
        .await;
    agent.js("window.__noReload = 'queue'; return true;").await;

    // The agent's presence switch: shown with the current status, and a change is saved.
    agent.wait_for("the presence switch", "!document.querySelector('[data-presence]').hidden").await;
    agent
        .js("const s = document.querySelector('[data-presence-select]'); s.value = 'BUSY'; s.dispatchEvent(new Event('change')); return true;")
        .await;
    agent.wait_for("the saved presence", "document.body.innerText.includes('Status: Busy')").await;
    let agent_token =
        server.login(AGENT_EMAIL, AGENT_PASSWORD).await["accessToken"].as_str().expect("token").to_string();
    let me = server.api(reqwest::Method::GET, "/auth/me", Some(&agent_token), None).await;
    assert_eq!(me["agent"]["status"], "BUSY", "the presence change is stored");

    // The customer looks at the help center, signs up, and searches while typing.
    customer.goto(&server.url("/support")).await;
    customer.wait_for("popular articles", "document.body.innerText.includes('Reset two-factor authentication')").await;
    customer.screenshot("portal-home.png").await;
    customer.goto(&server.url("/support/signin#signup")).await;
    customer.wait_for("the sign-up form", "!document.querySelector('[data-panel=signup]').hidden").await;
    customer.type_into("#signup-name", "Casey Customer").await;
    customer.type_into("#signup-email", &format!("casey-{}@example.com", Uuid::new_v4().simple())).await;
    customer.type_into("#signup-password", "customer-pass-1").await;
    customer.click("[data-signup-form] button[type=submit]").await;
    customer
        .wait_for(
            "the ticket list",
            "location.pathname === '/support/tickets' && !document.querySelector('[data-ticket-empty]').hidden",
        )
        .await;
    customer
        .wait_for("the account name", "document.querySelector('[data-account-name]')?.textContent === 'Casey Customer'")
        .await;

    customer.goto(&server.url("/support")).await;
    customer.type_into("#kb-q", "withdrawal pend").await;
    customer.wait_for(
        "live search results",
        "!document.querySelector('[data-kb-results]').hidden && document.querySelector('[data-kb-results-list] .article-title')?.textContent === 'Why is my withdrawal pending?'",
    )
    .await;
    let marked = customer.js("return document.querySelector('[data-kb-results-list] mark')?.textContent || ''").await;
    assert!(
        marked.as_str().is_some_and(|m| m.to_lowercase().starts_with("withdraw")),
        "matches are highlighted: {marked}"
    );

    // The article, rendered on the server, takes a "was this helpful" vote.
    customer.click("[data-kb-results-list] .article-link").await;
    customer.wait_for("the article", "location.pathname === '/support/kb/why-is-my-withdrawal-pending'").await;
    customer
        .wait_for("the rendered Markdown", "document.querySelector('.prose strong')?.textContent === '30 minutes'")
        .await;
    customer.click("[data-vote=true]").await;
    customer
        .wait_for("the vote to count", "document.querySelector('[data-vote-status]').textContent.includes('1 of 1')")
        .await;

    // A too-short subject: the API's validation message appears next to the field.
    customer.goto(&server.url("/support/tickets/new")).await;
    customer.type_into("#ticket-subject", "Hi").await;
    customer.type_into("#ticket-description", "My withdrawal of 2,500 USDT has been pending since Monday.").await;
    customer.click("[data-new-ticket-form] button[type=submit]").await;
    customer
        .wait_for(
            "the subject's validation error",
            "!document.querySelector('[data-error-for=subject]').hidden && /subject/i.test(document.querySelector('[data-error-for=subject]').textContent) && document.querySelector('#ticket-subject').getAttribute('aria-invalid') === 'true'",
        )
        .await;
    assert_eq!(customer.js("return location.pathname").await, "/support/tickets/new");

    // A proper subject: matching articles are suggested while typing; then the ticket is sent.
    let subject = "Withdrawal pending for three days";
    customer.clear("#ticket-subject").await;
    customer.type_into("#ticket-subject", subject).await;
    customer
        .wait_for("article suggestions", "!document.querySelector('[data-suggestions]').hidden && document.querySelector('[data-suggestions-list]').textContent.includes('Why is my withdrawal pending?')")
        .await;
    customer.click("[data-new-ticket-form] button[type=submit]").await;
    customer.wait_for("the ticket page", "/^\\/support\\/tickets\\/[0-9a-f-]{36}$/.test(location.pathname)").await;
    customer
        .wait_for(
            "the customer's live connection",
            "document.querySelector('.conn-pill').dataset.connState === 'connected'",
        )
        .await;
    customer.js("window.__noReload = 'chat'; return true;").await;

    // The agent's queue shows the new ticket without a reload.
    agent
        .wait_for(
            "the new ticket in the live queue",
            &format!("Array.from(document.querySelectorAll('[data-queue-body] .subject-link')).some(a => a.textContent === {})", js_string(subject)),
        )
        .await;
    assert_eq!(agent.js("return window.__noReload || null").await, "queue", "the queue must update without reloading");
    assert_eq!(agent.js("return document.querySelector('[data-count=NEW]').textContent").await, "1");
    agent.screenshot("dashboard-queue.png").await;

    // The agent opens it and starts typing: the customer sees the typing indicator.
    agent.click("[data-queue-body] .subject-link").await;
    agent
        .wait_for(
            "the workspace",
            "document.querySelector('[data-conversation]').getAttribute('aria-busy') === 'false'",
        )
        .await;
    agent
        .wait_for(
            "the agent's live connection",
            "document.querySelector('.conn-pill').dataset.connState === 'connected'",
        )
        .await;
    agent.type_into("#reply", "Hello Casey, I am checking").await;
    customer
        .wait_for("the agent's typing indicator", "!document.querySelector('[data-typing]').hidden && document.querySelector('[data-typing-text]').textContent === 'Priya Natarajan is typing…'")
        .await;

    // The reply arrives live.
    let reply = "Hello Casey, I am checking your withdrawal now.";
    agent.type_into("#reply", " your withdrawal now.").await;
    agent.click("[data-composer] [data-send]").await;
    customer.wait_for("the agent's reply, live", &conversation_has(reply)).await;
    assert_eq!(customer.js("return window.__noReload || null").await, "chat", "the chat must update without reloading");

    // An internal note stays with staff, even when a public reply follows it.
    let note = "INTERNAL: large amount, security review pending";
    agent.click(".switch").await;
    agent.wait_for("note mode", "document.querySelector('[data-composer]').classList.contains('is-note')").await;
    agent.type_into("#reply", note).await;
    agent.click("[data-composer] [data-send]").await;
    agent
        .wait_for(
            "the note, marked as internal",
            &format!(
                "{} && document.querySelector('.msg-note [data-content]')?.textContent === {}",
                conversation_has(note),
                js_string(note)
            ),
        )
        .await;
    agent.click(".switch").await;
    let second = "Our security team is reviewing it; you will hear from us within the hour.";
    agent.type_into("#reply", second).await;
    agent.click("[data-composer] [data-send]").await;
    customer.wait_for("the second reply", &conversation_has(second)).await;
    assert_eq!(
        customer.js("return document.body.innerText.includes('INTERNAL')").await,
        false,
        "internal note leaked to the customer"
    );

    // An XSS payload is shown as text, on both sides.
    let payload = "<img src=x onerror=alert(1)>";
    customer.type_into("#chat-message", payload).await;
    customer.click("[data-composer] [data-send]").await;
    customer.wait_for("the payload, as text", &conversation_has(payload)).await;
    agent.wait_for("the payload, as text, for the agent", &conversation_has(payload)).await;
    for browser in [&customer, &agent] {
        assert_eq!(
            browser.js("return document.querySelectorAll('[data-conversation] img').length").await,
            0,
            "markup was rendered"
        );
    }
    customer.screenshot("ticket-chat.png").await;
    agent.screenshot("ticket-workspace.png").await;

    // After a reload the customer still sees the conversation, still without the note.
    customer.client.refresh().await.expect("reload");
    customer.wait_for("the conversation after reload", &conversation_has(second)).await;
    assert_eq!(
        customer.js("return document.body.innerText.includes('INTERNAL')").await,
        false,
        "internal note leaked after reload"
    );

    // The agent resolves the ticket: the customer's page changes live and asks for a rating.
    let status = agent.client.find(Locator::Css("#c-status")).await.expect("status control");
    status.select_by_value("RESOLVED").await.expect("choose RESOLVED");
    customer
        .wait_for("the rating prompt", "!document.querySelector('[data-rating]').hidden && document.querySelector('[data-ticket-status] [data-status]').dataset.status === 'RESOLVED'")
        .await;
    customer.click("[data-rate='5']").await;
    customer
        .wait_for(
            "the rating to be stored",
            "document.querySelector('[data-rating-status]').textContent.includes('5 out of 5')",
        )
        .await;

    // Signing out forgets the tokens.
    customer.click("[data-signout]").await;
    customer
        .wait_for(
            "the signed-out portal",
            "location.pathname === '/support' && !!document.querySelector('[data-signin-link]')",
        )
        .await;
    assert_eq!(customer.js("return sessionStorage.length").await, 0);

    customer.close().await;
    agent.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn analytics_page_draws_its_charts() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(driver) = Driver::start().await else { return };
    let server = Server::start().await;
    server.seed().await;
    // Some history: a ticket answered, resolved and rated.
    let customer = server
        .api(
            reqwest::Method::POST,
            "/auth/register",
            None,
            Some(json!({ "email": "rated@example.com", "password": "customer-pass-1", "fullName": "Riley Rated" })),
        )
        .await;
    let customer_token = customer["accessToken"].as_str().expect("token");
    let agent_token =
        server.login(AGENT_EMAIL, AGENT_PASSWORD).await["accessToken"].as_str().expect("token").to_string();
    for (i, subject) in ["Cannot log in after 2FA reset", "Deposit not credited", "API key rejected"].iter().enumerate()
    {
        let ticket = server
            .api(
                reqwest::Method::POST,
                "/tickets",
                Some(customer_token),
                Some(json!({ "subject": subject, "description": "Please help." })),
            )
            .await;
        let path = format!("/tickets/{}", ticket["id"].as_str().expect("id"));
        server
            .api(
                reqwest::Method::POST,
                &format!("{path}/communications"),
                Some(&agent_token),
                Some(json!({ "content": "On it." })),
            )
            .await;
        if i < 2 {
            server.api(reqwest::Method::PUT, &path, Some(&agent_token), Some(json!({ "status": "RESOLVED" }))).await;
            server
                .api(
                    reqwest::Method::POST,
                    &format!("{path}/rating"),
                    Some(customer_token),
                    Some(json!({ "rating": 5 - i })),
                )
                .await;
        }
    }

    let admin = driver.browser().await;
    admin.staff_sign_in(&server, ADMIN_EMAIL, ADMIN_PASSWORD, "/support/dashboard/analytics").await;
    admin
        .wait_for("the volume chart", "document.querySelectorAll('[data-chart=volume] svg polyline').length === 2")
        .await;
    admin
        .wait_for("the backlog chart", "document.querySelectorAll('[data-chart=backlog] svg rect.bar').length > 0")
        .await;
    admin
        .wait_for("the times chart", "document.querySelectorAll('[data-chart=times] svg rect.bar').length === 4")
        .await;
    admin.wait_for("the CSAT chart", "document.querySelectorAll('[data-chart=csat] svg rect.bar').length === 5").await;
    admin
        .wait_for(
            "the agent table",
            "document.querySelector('[data-agent-rows]').textContent.includes('Priya Natarajan')",
        )
        .await;
    assert_eq!(admin.js("return document.querySelector('[data-kpi=created]').textContent").await, "3");
    assert_eq!(admin.js("return document.querySelector('[data-kpi=csat]').textContent").await, "4.5 / 5");
    let title = admin.js("return document.querySelector('[data-chart=volume] svg title').textContent").await;
    assert!(
        title.as_str().is_some_and(|t| t.contains("created and resolved")),
        "charts carry an accessible title: {title}"
    );
    admin.screenshot("dashboard-analytics.png").await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn portal_is_usable_on_a_phone() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(driver) = Driver::start().await else { return };
    let server = Server::start().await;
    server.seed().await;
    let auth = server
        .api(
            reqwest::Method::POST,
            "/auth/register",
            None,
            Some(json!({ "email": "phone@example.com", "password": "customer-pass-1", "fullName": "Pat Phone" })),
        )
        .await;
    let phone = driver.browser().await;
    phone.client.set_window_size(390, 844).await.expect("phone-sized window");
    sign_in_as(&phone, &server, &auth).await;

    let no_overflow = "document.documentElement.scrollWidth <= window.innerWidth";
    for path in ["/support", "/support/kb/why-is-my-withdrawal-pending", "/support/tickets"] {
        phone.goto(&server.url(path)).await;
        phone.wait_for("the page", "document.readyState === 'complete'").await;
        assert_eq!(phone.js(&format!("return {no_overflow}")).await, true, "{path} overflows horizontally on a phone");
    }

    phone.goto(&server.url("/support/tickets/new")).await;
    phone
        .wait_for(
            "the new-ticket form",
            "document.querySelector('[data-new-ticket-form]').getBoundingClientRect().width > 0",
        )
        .await;
    let inner_width = phone.js("return window.innerWidth").await.as_f64().expect("width");
    assert!(inner_width <= 400.0, "the window is phone-sized ({inner_width})");
    assert_eq!(phone.js(&format!("return {no_overflow}")).await, true, "the new-ticket page overflows on a phone");
    // Every field and the submit button fit the screen.
    let fits = phone
        .js("return Array.from(document.querySelectorAll('[data-new-ticket-form] input, [data-new-ticket-form] select, [data-new-ticket-form] textarea, [data-new-ticket-form] button')).every(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth; })")
        .await;
    assert_eq!(fits, true, "form controls must fit a phone screen");

    // And it works: a ticket sent from the phone opens its conversation.
    phone.type_into("#ticket-subject", "Phone app shows wrong balance").await;
    phone.type_into("#ticket-description", "Balance differs from the web app.").await;
    phone.click("[data-new-ticket-form] button[type=submit]").await;
    phone.wait_for("the ticket page", "/^\\/support\\/tickets\\/[0-9a-f-]{36}$/.test(location.pathname)").await;
    phone
        .wait_for(
            "the conversation",
            "document.querySelector('[data-conversation]').getAttribute('aria-busy') === 'false'",
        )
        .await;
    assert_eq!(phone.js(&format!("return {no_overflow}")).await, true, "the ticket page overflows on a phone");
    phone.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chat_catches_up_after_the_server_restarts() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(driver) = Driver::start().await else { return };
    let mut server = Server::start().await;
    server.seed().await;
    let auth = server
        .api(
            reqwest::Method::POST,
            "/auth/register",
            None,
            Some(json!({ "email": "robin@example.com", "password": "customer-pass-1", "fullName": "Robin Reconnect" })),
        )
        .await;
    let customer_token = auth["accessToken"].as_str().expect("token");
    let ticket = server
        .api(
            reqwest::Method::POST,
            "/tickets",
            Some(customer_token),
            Some(json!({ "subject": "Order history is empty", "description": "Since this morning." })),
        )
        .await;
    let messages = format!("/tickets/{}/communications", ticket["id"].as_str().expect("id"));
    let agent_token =
        server.login(AGENT_EMAIL, AGENT_PASSWORD).await["accessToken"].as_str().expect("token").to_string();
    let browser = driver.browser().await;
    sign_in_as(&browser, &server, &auth).await;
    browser.goto(&server.url(&format!("/support/tickets/{}", ticket["id"].as_str().expect("id")))).await;
    browser
        .wait_for("the live connection", "document.querySelector('.conn-pill').dataset.connState === 'connected'")
        .await;

    // The server goes away: the page says so and keeps trying.
    server.stop();
    browser
        .wait_for(
            "the lost connection to show",
            "document.querySelector('.conn-pill').dataset.connState !== 'connected'",
        )
        .await;

    // Meanwhile an agent replies through another instance on the same database.
    let missed = "Written while you were disconnected.";
    let side = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let side_url =
        format!("http://127.0.0.1:{}/api/customer-support{messages}", side.local_addr().expect("address").port());
    let side_stop = Server::serve(&server.dir.0, side).await;
    let reply = server.http.post(side_url).bearer_auth(&agent_token).json(&json!({ "content": missed })).send().await;
    assert_eq!(reply.expect("reply sent").status(), 201);
    let _ = side_stop.send(());

    // Back again: the missed reply is fetched on reconnect and shown once; live delivery resumes.
    server.restart().await;
    browser.wait_for("the missed reply", &conversation_has(missed)).await;
    browser
        .wait_for("the live connection again", "document.querySelector('.conn-pill').dataset.connState === 'connected'")
        .await;
    let live = "And this one arrives live.";
    server.api(reqwest::Method::POST, &messages, Some(&agent_token), Some(json!({ "content": live }))).await;
    browser.wait_for("the live reply", &conversation_has(live)).await;
    let shown = browser
        .js(&format!(
            "return Array.from(document.querySelectorAll('[data-conversation] [data-content]')).filter(n => n.textContent === {}).length",
            js_string(missed)
        ))
        .await;
    assert_eq!(shown, 1, "the missed reply must appear exactly once");
    browser.close().await;
}
