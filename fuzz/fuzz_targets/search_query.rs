//! What a user types into a search box, turned into backend queries by `SearchQuery`:
//! - the pure invariants in `domain::kb::fuzz_search_query` (terms, FTS5 and tsquery shapes);
//! - SQLite accepts every FTS5 expression: it is run, with the service's ranking and snippet
//!   functions, against an FTS5 table made like migrations/sqlite/0005 (`porter unicode61`,
//!   status and category columns, prefix indexes), with the expression the store builds
//!   (`fts5_for_articles`, published articles only), and any SQLite error is a crash;
//! - recall: the input itself, stored as an article, is found by its own query (checked for
//!   ASCII input whose words are at most 64 characters, where Rust's and FTS5's notions of a
//!   word and of lower case agree; longer words are cut to 64 characters by design).
#![no_main]

use std::cell::RefCell;

use alphintra_support::domain::kb;
use libfuzzer_sys::fuzz_target;
use rusqlite::Connection;

const SEARCH: &str = "SELECT kb_fts.rowid, -bm25(kb_fts, 10.0, 6.0, 4.0, 1.0, 0.0, 0.0) AS rank, \
     snippet(kb_fts, 3, char(57344), char(57345), '…', 24) AS snippet \
     FROM kb_fts WHERE kb_fts MATCH ?1 ORDER BY rank DESC";

fn open() -> Connection {
    let db = Connection::open_in_memory().expect("in-memory SQLite");
    db.execute_batch(
        "CREATE VIRTUAL TABLE kb_fts USING fts5(title, tags, summary, content, status, category,
             tokenize = 'porter unicode61', prefix = '3 4 5 6');
         INSERT INTO kb_fts (rowid, title, tags, summary, content, status, category) VALUES
           (1, 'How do I reset 2FA?', 'security 2fa', 'Resetting two-factor authentication', 'Open Settings, then Security.', 'PUBLISHED', 'ACCOUNT'),
           (2, 'Withdrawals pending', 'withdrawal usdt', 'Why a withdrawal waits', 'Pending withdrawals clear within 24 hours.', 'DRAFT', 'DEPOSIT_WITHDRAWAL'),
           (3, 'Crème brûlée', 'ünïcödé', 'Straße İstanbul', 'Ελληνικά русский 日本語 ١٢٣', 'PUBLISHED', 'OTHER');",
    )
    .expect("schema");
    db
}

thread_local! {
    static DB: RefCell<Connection> = RefCell::new(open());
}

fuzz_target!(|data: &[u8]| {
    // Query strings are decoded lossily (form_urlencoded), JSON bodies are valid UTF-8.
    let text = String::from_utf8_lossy(data);
    let Some(query) = kb::fuzz_search_query(&text) else { return };
    let expression = query.fts5_for_articles(&[("status", "PUBLISHED")]);
    DB.with(|db| {
        let mut db = db.borrow_mut();
        let tx = db.transaction().expect("begin");
        tx.execute(
            "INSERT INTO kb_fts (rowid, title, tags, summary, content, status, category) \
             VALUES (100, ?1, '', '', ?1, 'PUBLISHED', 'OTHER')",
            [text.as_ref()],
        )
        .expect("insert");
        let hits: Vec<(i64, f64, String)> = {
            let mut statement = tx.prepare_cached(SEARCH).expect("prepare");
            let rows = statement
                .query_map([&expression], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .unwrap_or_else(|e| panic!("FTS5 rejected {expression:?}: {e}"));
            rows.collect::<Result<_, _>>().unwrap_or_else(|e| panic!("FTS5 rejected {expression:?}: {e}"))
        };
        for (_, rank, snippet) in &hits {
            assert!(rank.is_finite(), "rank {rank}");
            let _ = kb::highlight(snippet);
        }
        let recall_applies = text.is_ascii()
            && !text.contains('\0')
            && text.split(|c: char| !c.is_ascii_alphanumeric()).all(|word| word.len() <= 64);
        if recall_applies {
            assert!(
                hits.iter().any(|(rowid, _, _)| *rowid == 100),
                "{text:?} does not find itself with {expression:?}"
            );
        }
        tx.rollback().expect("rollback");
    });
});
