-- Status and category join the full-text index (with weight 0 in bm25), so a search filters
-- inside FTS5 and ranks only the visible matches, instead of looking up every matching article
-- row to check its status: with 10,000 articles a broad query matched thousands of rows, and
-- those lookups cost more than the ranking itself. Prefix indexes for 3 to 6 characters make the
-- search-as-you-type term (`"wit"*`) one doclist instead of a merge of every word it starts.
DROP TRIGGER kb_fts_insert;
DROP TRIGGER kb_fts_delete;
DROP TRIGGER kb_fts_update;
DROP TABLE kb_fts;

CREATE VIRTUAL TABLE kb_fts USING fts5(
    title, tags, summary, content, status, category,
    content = 'knowledge_base_articles', content_rowid = 'rowid', tokenize = 'porter unicode61',
    prefix = '3 4 5 6'
);
CREATE TRIGGER kb_fts_insert AFTER INSERT ON knowledge_base_articles BEGIN
    INSERT INTO kb_fts (rowid, title, tags, summary, content, status, category)
    VALUES (new.rowid, new.title, new.tags, new.summary, new.content, new.status, new.category);
END;
CREATE TRIGGER kb_fts_delete AFTER DELETE ON knowledge_base_articles BEGIN
    INSERT INTO kb_fts (kb_fts, rowid, title, tags, summary, content, status, category)
    VALUES ('delete', old.rowid, old.title, old.tags, old.summary, old.content, old.status, old.category);
END;
-- Only when indexed text changes: view counts and votes must not rewrite the index.
CREATE TRIGGER kb_fts_update AFTER UPDATE OF title, tags, summary, content, status, category ON knowledge_base_articles BEGIN
    INSERT INTO kb_fts (kb_fts, rowid, title, tags, summary, content, status, category)
    VALUES ('delete', old.rowid, old.title, old.tags, old.summary, old.content, old.status, old.category);
    INSERT INTO kb_fts (rowid, title, tags, summary, content, status, category)
    VALUES (new.rowid, new.title, new.tags, new.summary, new.content, new.status, new.category);
END;
INSERT INTO kb_fts (kb_fts) VALUES ('rebuild');
