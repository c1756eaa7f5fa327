-- Full-text search: weighted tsvectors kept by PostgreSQL itself (generated columns) with GIN indexes.
-- Title weighs most (A), then tags and summary (B), then the body (D).
ALTER TABLE knowledge_base_articles ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
    setweight(to_tsvector('english', tags), 'B') ||
    setweight(to_tsvector('english', coalesce(summary, '')), 'B') ||
    setweight(to_tsvector('english', coalesce(content, '')), 'D')
) STORED;
CREATE INDEX kb_articles_search_idx ON knowledge_base_articles USING GIN (search_vector);
CREATE INDEX kb_articles_status_idx ON knowledge_base_articles (status, updated_at);

ALTER TABLE tickets ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', coalesce(subject, '')), 'A') ||
    setweight(to_tsvector('english', coalesce(description, '')), 'B')
) STORED;
CREATE INDEX tickets_search_idx ON tickets USING GIN (search_vector);

ALTER TABLE communications ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    to_tsvector('english', coalesce(content, ''))
) STORED;
CREATE INDEX communications_search_idx ON communications USING GIN (search_vector);

-- One "was this helpful" vote per user per article; changing one's mind updates it.
CREATE TABLE kb_votes (
    article_id UUID NOT NULL REFERENCES knowledge_base_articles (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    helpful    BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (article_id, user_id)
);

-- Analytics filter on resolution time too.
CREATE INDEX tickets_resolved_idx ON tickets (resolved_at) WHERE deleted_at IS NULL;
