-- Erasure rewrites message text; the full-text index must forget the old words too.
CREATE TRIGGER communications_fts_update AFTER UPDATE OF content ON communications BEGIN
    INSERT INTO communications_fts (communications_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
    INSERT INTO communications_fts (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, created_at);
CREATE INDEX audit_log_action_idx ON audit_log (action, created_at);
ALTER TABLE users ADD COLUMN erased_at TEXT;
