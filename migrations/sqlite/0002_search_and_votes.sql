-- SQLite twin of migrations/postgres/0002_search_and_votes.sql: FTS5 external-content tables
-- with the Porter stemmer, kept in sync by triggers (in the writing transaction itself).
CREATE VIRTUAL TABLE kb_fts USING fts5(
    title, tags, summary, content,
    content = 'knowledge_base_articles', content_rowid = 'rowid', tokenize = 'porter unicode61'
);
CREATE TRIGGER kb_fts_insert AFTER INSERT ON knowledge_base_articles BEGIN
    INSERT INTO kb_fts (rowid, title, tags, summary, content) VALUES (new.rowid, new.title, new.tags, new.summary, new.content);
END;
CREATE TRIGGER kb_fts_delete AFTER DELETE ON knowledge_base_articles BEGIN
    INSERT INTO kb_fts (kb_fts, rowid, title, tags, summary, content) VALUES ('delete', old.rowid, old.title, old.tags, old.summary, old.content);
END;
-- Only when searchable text changes: view counts and votes must not rewrite the index.
CREATE TRIGGER kb_fts_update AFTER UPDATE OF title, tags, summary, content ON knowledge_base_articles BEGIN
    INSERT INTO kb_fts (kb_fts, rowid, title, tags, summary, content) VALUES ('delete', old.rowid, old.title, old.tags, old.summary, old.content);
    INSERT INTO kb_fts (rowid, title, tags, summary, content) VALUES (new.rowid, new.title, new.tags, new.summary, new.content);
END;
CREATE INDEX kb_articles_status_idx ON knowledge_base_articles (status, updated_at);

CREATE VIRTUAL TABLE tickets_fts USING fts5(
    subject, description, content = 'tickets', content_rowid = 'rowid', tokenize = 'porter unicode61'
);
CREATE TRIGGER tickets_fts_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO tickets_fts (rowid, subject, description) VALUES (new.rowid, new.subject, new.description);
END;
CREATE TRIGGER tickets_fts_delete AFTER DELETE ON tickets BEGIN
    INSERT INTO tickets_fts (tickets_fts, rowid, subject, description) VALUES ('delete', old.rowid, old.subject, old.description);
END;
CREATE TRIGGER tickets_fts_update AFTER UPDATE OF subject, description ON tickets BEGIN
    INSERT INTO tickets_fts (tickets_fts, rowid, subject, description) VALUES ('delete', old.rowid, old.subject, old.description);
    INSERT INTO tickets_fts (rowid, subject, description) VALUES (new.rowid, new.subject, new.description);
END;

CREATE VIRTUAL TABLE communications_fts USING fts5(
    content, content = 'communications', content_rowid = 'rowid', tokenize = 'porter unicode61'
);
CREATE TRIGGER communications_fts_insert AFTER INSERT ON communications BEGIN
    INSERT INTO communications_fts (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER communications_fts_delete AFTER DELETE ON communications BEGIN
    INSERT INTO communications_fts (communications_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;

CREATE TABLE kb_votes (
    article_id BLOB NOT NULL REFERENCES knowledge_base_articles (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    helpful    INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (article_id, user_id)
);

CREATE INDEX tickets_resolved_idx ON tickets (resolved_at) WHERE deleted_at IS NULL;
