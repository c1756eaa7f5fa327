//! Knowledge base: publishing rules, safe Markdown, votes, and search relevance that is the same
//! on SQLite (FTS5, bm25) and PostgreSQL (weighted tsvector, GIN).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Session, TestApp};
use crate::on_both_backends;

on_both_backends!(
    staff_write_articles_and_readers_see_published_ones,
    markdown_is_rendered_safely,
    one_vote_per_user_per_article,
    search_ranks_titles_first_with_stemming_and_prefixes,
    search_finds_words_anywhere_in_long_articles,
    ticket_search_covers_messages_but_hides_notes_from_customers,
);

async fn article(app: &TestApp, staff: &Session, body: Value) -> Value {
    let reply = app.post("/knowledge-base/articles", &staff.token, body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

async fn staff_write_articles_and_readers_see_published_ones(app: TestApp) {
    let (agent, _) = app.agent().await;
    let customer = app.customer().await;
    let draft = article(
        &app,
        &agent,
        json!({ "title": "Resetting two-factor authentication", "summary": "Lost your phone?", "content": "Steps to reset **2FA**.",
                "category": "ACCOUNT", "tags": ["2fa", "security"] }),
    )
    .await;
    assert_eq!(draft["status"], "DRAFT");
    assert_eq!(draft["slug"], "resetting-two-factor-authentication");
    let id = draft["id"].as_str().unwrap();

    // Drafts are invisible to customers and anonymous readers, everywhere.
    app.get(&format!("/knowledge-base/articles/{id}"), &customer.token).await.problem(404);
    app.request(Method::GET, "/knowledge-base/articles/resetting-two-factor-authentication", None, None)
        .await
        .problem(404);
    let hidden = app.get("/knowledge-base/search?q=authentication", &customer.token).await;
    assert_eq!(hidden.body["page"]["totalElements"], 0);
    let listed = app.request(Method::GET, "/knowledge-base/articles", None, None).await;
    assert_eq!(listed.body["page"]["totalElements"], 0);
    app.get("/knowledge-base/articles?status=DRAFT", &customer.token).await.problem(400);
    let staff_search = app.get("/knowledge-base/search?q=authentication", &agent.token).await;
    assert_eq!(staff_search.body["page"]["totalElements"], 1, "staff can search drafts");

    let published = app.post(&format!("/knowledge-base/articles/{id}/publish"), &agent.token, json!({})).await;
    assert_eq!(published.body["status"], "PUBLISHED");
    assert!(published.body["publishedAt"].is_string());
    let by_slug =
        app.request(Method::GET, "/knowledge-base/articles/resetting-two-factor-authentication", None, None).await;
    assert_eq!(by_slug.status, 200);
    assert_eq!(by_slug.body["viewCount"], 1);
    let again = app.get(&format!("/knowledge-base/articles/{id}"), &customer.token).await;
    assert_eq!(again.body["viewCount"], 2);
    let found = app.request(Method::GET, "/knowledge-base/search?q=authentication", None, None).await;
    assert_eq!(found.body["page"]["totalElements"], 1);
    // Status and category are filters, never search text.
    for word in ["published", "account", "draft"] {
        let none = app.get(&format!("/knowledge-base/search?q={word}"), &agent.token).await;
        assert_eq!(none.body["page"]["totalElements"], 0, "{word} is not in the article's text");
    }
    let unpublished = app.post(&format!("/knowledge-base/articles/{id}/unpublish"), &agent.token, json!({})).await;
    assert_eq!(unpublished.body["status"], "DRAFT");
    let hidden = app.request(Method::GET, "/knowledge-base/search?q=authentication", None, None).await;
    assert_eq!(hidden.body["page"]["totalElements"], 0, "unpublished articles leave public search at once");
    app.post(&format!("/knowledge-base/articles/{id}/publish"), &agent.token, json!({})).await;

    // Editing, slug conflicts, archiving, deleting.
    let edited = app
        .put(
            &format!("/knowledge-base/articles/{id}"),
            &agent.token,
            json!({ "summary": "Lost your phone? Start here." }),
        )
        .await;
    assert_eq!(edited.body["summary"], "Lost your phone? Start here.");
    assert_eq!(edited.body["title"], "Resetting two-factor authentication", "partial update");
    let clash = app
        .post(
            "/knowledge-base/articles",
            &agent.token,
            json!({ "title": "Resetting two-factor authentication", "content": "x" }),
        )
        .await;
    clash.problem(409);
    let other = article(&app, &agent, json!({ "title": "Another article", "content": "x" })).await;
    let taken = app
        .put(
            &format!("/knowledge-base/articles/{}", other["id"].as_str().unwrap()),
            &agent.token,
            json!({ "slug": "resetting-two-factor-authentication" }),
        )
        .await;
    taken.problem(409);
    let archived = app.post(&format!("/knowledge-base/articles/{id}/archive"), &agent.token, json!({})).await;
    assert_eq!(archived.body["status"], "ARCHIVED");
    app.get(&format!("/knowledge-base/articles/{id}"), &customer.token).await.problem(404);

    app.post("/knowledge-base/articles", &customer.token, json!({ "title": "Mine", "content": "x" }))
        .await
        .problem(403);
    app.request(Method::POST, "/knowledge-base/articles", None, Some(json!({ "title": "Mine", "content": "x" })))
        .await
        .problem(401);
    let invalid = app
        .post("/knowledge-base/articles", &agent.token, json!({ "title": "x", "slug": "Bad Slug", "category": "FOOD" }))
        .await;
    invalid.problem(400);
    assert_eq!(invalid.error_fields(), vec!["category"]);
    let invalid = app.post("/knowledge-base/articles", &agent.token, json!({ "title": "x", "slug": "Bad Slug" })).await;
    let mut fields = invalid.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["content", "slug", "title"]);

    app.request(Method::DELETE, &format!("/knowledge-base/articles/{id}"), Some(&agent.token), None).await.problem(403);
    let admin = app.admin().await;
    let deleted =
        app.request(Method::DELETE, &format!("/knowledge-base/articles/{id}"), Some(&admin.token), None).await;
    assert_eq!(deleted.status, 204);
    app.get(&format!("/knowledge-base/articles/{id}"), &admin.token).await.problem(404);
    assert_eq!(app.audit_count("kb.article_deleted", id).await, 1);
}

async fn markdown_is_rendered_safely(app: TestApp) {
    let (agent, _) = app.agent().await;
    let created = article(
        &app,
        &agent,
        json!({ "title": "Fees explained", "status": "PUBLISHED", "category": "BILLING",
                "content": "## Maker and taker\n\n| tier | maker |\n|---|---|\n| 1 | 0.10% |\n\n<script>alert('x')</script>\n<img src=x onerror=\"alert(1)\">\n\n[click](javascript:alert(1)) and **bold**" }),
    )
    .await;
    let html = created["contentHtml"].as_str().unwrap();
    assert!(html.contains("<h2>Maker and taker</h2>"));
    assert!(html.contains("<table>"));
    assert!(html.contains("<strong>bold</strong>"));
    for forbidden in ["<script", "onerror", "javascript:"] {
        assert!(!html.contains(forbidden), "{forbidden} survived: {html}");
    }
    assert!(created["content"].as_str().unwrap().contains("<script>"), "the source is kept as written");
}

async fn one_vote_per_user_per_article(app: TestApp) {
    let (agent, _) = app.agent().await;
    let alice = app.customer().await;
    let bob = app.customer().await;
    let created = article(
        &app,
        &agent,
        json!({ "title": "Deposit times", "content": "SEPA takes a day.", "status": "PUBLISHED" }),
    )
    .await;
    let path = format!("/knowledge-base/articles/{}/vote", created["id"].as_str().unwrap());
    let first = app.post(&path, &alice.token, json!({ "helpful": true })).await;
    assert_eq!((first.body["helpfulCount"].clone(), first.body["notHelpfulCount"].clone()), (json!(1), json!(0)));
    let twice = app.post(&path, &alice.token, json!({ "helpful": true })).await;
    assert_eq!(twice.body["helpfulCount"], 1, "a second vote does not count twice");
    let changed = app.post(&path, &alice.token, json!({ "helpful": false })).await;
    assert_eq!((changed.body["helpfulCount"].clone(), changed.body["notHelpfulCount"].clone()), (json!(0), json!(1)));
    let other = app.post(&path, &bob.token, json!({ "helpful": true })).await;
    assert_eq!((other.body["helpfulCount"].clone(), other.body["notHelpfulCount"].clone()), (json!(1), json!(1)));
    app.request(Method::POST, &path, None, Some(json!({ "helpful": true }))).await.problem(401);
    app.post(&path, &alice.token, json!({ "helpful": "very" })).await.problem(400);
}

/// A small corpus with known answers: the same expectations hold on both backends.
const CORPUS: &[(&str, &str, &str, &str, &str)] = &[
    ("withdrawal-pending", "Why is my withdrawal pending?", "DEPOSIT_WITHDRAWAL", "Withdrawals wait for review.",
     "A withdrawal stays pending while compliance reviews it. Most reviews finish within four hours."),
    ("withdrawal-limits", "Daily withdrawal limits", "DEPOSIT_WITHDRAWAL", "How much you can withdraw per day.",
     "Limits depend on your verification level. Level 2 accounts may withdraw up to 50,000 USDT a day."),
    ("deposit-missing", "My deposit has not arrived", "DEPOSIT_WITHDRAWAL", "Missing deposits and how to trace them.",
     "Check the network and memo. Deposits need 12 confirmations. Unlike a withdrawal, a deposit cannot be pending review."),
    ("two-factor", "Setting up two-factor authentication", "ACCOUNT", "Protect your account with 2FA.",
     "Open Settings, Security, Two-factor authentication and scan the QR code with an authenticator app."),
    ("api-rate-limits", "API rate limits and HTTP 429", "API", "What to do when the API answers 429.",
     "Each API key may send 20 requests per second. Back off exponentially when you receive HTTP 429 Too Many Requests."),
    ("stop-limit-orders", "Stop-limit orders explained", "TRADING", "Trigger a limit order at a stop price.",
     "A stop-limit order places a limit order once the stop price trades. It may not fill in a fast market."),
    ("bot-stopped", "My strategy bot stopped", "STRATEGY", "Why bots stop and how to restart them.",
     "Bots stop when a risk limit trips, the API key is revoked, or the account lacks margin. Restarting resumes trading."),
];

async fn search(app: &TestApp, query: &str) -> Vec<String> {
    let reply = app.request(Method::GET, &format!("/knowledge-base/search?{query}"), None, None).await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.body);
    reply.body["content"].as_array().unwrap().iter().map(|hit| hit["slug"].as_str().unwrap().to_string()).collect()
}

async fn search_ranks_titles_first_with_stemming_and_prefixes(app: TestApp) {
    let (agent, _) = app.agent().await;
    for (slug, title, category, summary, content) in CORPUS {
        article(&app, &agent, json!({ "slug": slug, "title": title, "category": category, "summary": summary, "content": content, "status": "PUBLISHED" }))
            .await;
    }
    // Title matches outrank body matches: "pending" is in the title of one, the body of another.
    assert_eq!(search(&app, "q=withdrawal%20pending").await, vec!["withdrawal-pending", "deposit-missing"]);
    // Stemming: "withdrawing" and "withdrawals" find "withdrawal"/"withdraw"; titles first.
    // Both title matches (in either order: their scores are close) come before the body-only match.
    let stemmed = search(&app, "q=withdrawing").await;
    assert_eq!(stemmed.len(), 3);
    let mut titles = stemmed[..2].to_vec();
    titles.sort();
    assert_eq!(titles, ["withdrawal-limits", "withdrawal-pending"]);
    assert_eq!(stemmed[2], "deposit-missing");
    assert_eq!(search(&app, "q=withdrawals").await, stemmed);
    // Search-as-you-type: the last word is a prefix.
    assert_eq!(search(&app, "q=two-fac").await, vec!["two-factor"]);
    // "stop" and "limit…" are also in the bot article's title and body; the order article matches more.
    assert_eq!(search(&app, "q=stop%20lim").await, vec!["stop-limit-orders", "bot-stopped"]);
    assert_eq!(search(&app, "q=429").await, vec!["api-rate-limits"]);
    // Category filter, nothing found, stop words only.
    assert_eq!(search(&app, "q=withdrawal&category=TRADING").await, Vec::<String>::new());
    assert_eq!(search(&app, "q=margin&category=STRATEGY").await, vec!["bot-stopped"]);
    assert_eq!(search(&app, "q=xylophone").await, Vec::<String>::new());
    assert_eq!(search(&app, "q=the%20of%20and").await, Vec::<String>::new());
    // Paging through results.
    let page = app.request(Method::GET, "/knowledge-base/search?q=withdrawing&size=1&page=1", None, None).await;
    assert_eq!(page.body["page"]["totalElements"], 3);
    assert_eq!(page.body["content"][0]["slug"], stemmed[1].as_str());

    // Snippets highlight the match and escape everything else.
    article(&app, &agent, json!({ "title": "Escaping test", "content": "The <b>margin</b> call & the 5 < 6 rule", "status": "PUBLISHED" })).await;
    let reply = app.request(Method::GET, "/knowledge-base/search?q=margin%20call", None, None).await;
    let snippet = reply.body["content"][0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("<mark>call</mark>"), "{snippet}");
    assert!(snippet.contains("&amp;") && snippet.contains("&lt;"), "{snippet}");
    assert!(!snippet.contains("<b>"), "{snippet}");
    assert!(reply.body["content"][0]["score"].as_f64().unwrap() > 0.0);

    app.request(Method::GET, "/knowledge-base/search", None, None).await.problem(400);
    app.request(Method::GET, "/knowledge-base/search?q=x&category=FOOD", None, None).await.problem(400);
}

/// Long articles: PostgreSQL ranks on the title, tags, summary and the body's first 1,000
/// characters (migration 0006) but matches on the whole body; SQLite ranks on everything. A word
/// found only far down the body still finds the article, and early mentions rank above it.
async fn search_finds_words_anywhere_in_long_articles(app: TestApp) {
    let (agent, _) = app.agent().await;
    let filler = "Market hours follow the exchange calendar and may change on public holidays. ".repeat(20);
    let articles = [
        ("rebate-late", "Trading calendar", format!("{filler}Maker rebates are credited monthly.")),
        (
            "rebate-early",
            "Funding schedule",
            format!("Rebates are credited weekly. Each rebate shows in the ledger. {filler}"),
        ),
        ("rebate-title", "Maker fee rebates", "How the rebate tiers work.".to_string()),
    ];
    for (slug, title, content) in &articles {
        article(
            &app,
            &agent,
            json!({ "slug": slug, "title": title, "content": content, "category": "BILLING", "status": "PUBLISHED" }),
        )
        .await;
    }
    assert!(filler.len() > 1_000);
    assert_eq!(search(&app, "q=rebate").await, vec!["rebate-title", "rebate-early", "rebate-late"]);
    assert_eq!(
        search(&app, "q=monthly").await,
        vec!["rebate-late"],
        "a word found only past the first 1,000 characters"
    );
    assert_eq!(search(&app, "q=calendar%20month").await, vec!["rebate-late"], "title and a late body prefix together");
    // Totals hold on every page, also past the last one.
    for (page, len) in [(0, 2), (1, 1), (5, 0)] {
        let reply =
            app.request(Method::GET, &format!("/knowledge-base/search?q=rebates&size=2&page={page}"), None, None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["page"]["totalElements"], 3, "page {page}");
        assert_eq!(reply.body["content"].as_array().map(Vec::len), Some(len), "page {page}");
    }
}

async fn ticket_search_covers_messages_but_hides_notes_from_customers(app: TestApp) {
    let customer = app.customer().await;
    let (agent, _) = app.agent().await;
    let ticket = app.ticket(&customer, "Bot halted overnight").await;
    let id = ticket["id"].as_str().unwrap();
    app.post(
        &format!("/tickets/{id}/communications"),
        &customer.token,
        json!({ "content": "The liquidation engine closed my positions" }),
    )
    .await;
    app.post(
        &format!("/tickets/{id}/communications"),
        &agent.token,
        json!({ "content": "Suspected chargeback fraud", "type": "INTERNAL_NOTE" }),
    )
    .await;
    app.ticket(&customer, "Unrelated question").await;

    let total = |reply: crate::helpers::Reply| reply.body["page"]["totalElements"].clone();
    assert_eq!(total(app.get("/tickets?q=halting", &customer.token).await), 1, "subject, stemmed");
    assert_eq!(total(app.get("/tickets?q=liquidated", &customer.token).await), 1, "message content, stemmed");
    assert_eq!(total(app.get("/tickets?q=liquid", &agent.token).await), 1, "prefix");
    assert_eq!(total(app.get("/tickets?q=chargeback", &agent.token).await), 1, "staff search internal notes");
    assert_eq!(total(app.get("/tickets?q=chargeback", &customer.token).await), 0, "customers never match on notes");
}
