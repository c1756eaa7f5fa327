-- (The tsvector columns are generated, so erasing message text updates the index by itself.)
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, created_at);
CREATE INDEX audit_log_action_idx ON audit_log (action, created_at);
ALTER TABLE users ADD COLUMN erased_at TIMESTAMPTZ;
