-- SQLite twin of migrations/postgres/0001_init.sql: UUIDs are 16-byte BLOBs, timestamps RFC 3339 text
-- (sortable as stored by sqlx), JSON columns text. Keep the two files in step.
-- Users of every role; e-mail is stored lower-cased.
CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    full_name     TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('CUSTOMER', 'AGENT', 'SUPERVISOR', 'ADMIN')),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX users_role_idx ON users (role);

-- Server-side refresh tokens (only their SHA-256 hash), rotated on every use.
CREATE TABLE refresh_tokens (
    id          BLOB PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   BLOB NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE support_agents (
    id                     BLOB PRIMARY KEY,
    user_id                BLOB NOT NULL UNIQUE REFERENCES users (id),
    level                  TEXT NOT NULL CHECK (level IN ('L1', 'L2', 'L3', 'SUPERVISOR')),
    skills                 TEXT NOT NULL DEFAULT '[]',
    languages              TEXT NOT NULL DEFAULT '[]',
    status                 TEXT NOT NULL CHECK (status IN ('AVAILABLE', 'BUSY', 'AWAY', 'OFFLINE')),
    max_concurrent_tickets INTEGER NOT NULL CHECK (max_concurrent_tickets > 0),
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);
CREATE INDEX support_agents_created_idx ON support_agents (created_at);


CREATE TABLE tickets (
    id                  BLOB PRIMARY KEY,
    number              BIGINT NOT NULL UNIQUE,
    subject             TEXT NOT NULL,
    description         TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('NEW', 'OPEN', 'IN_PROGRESS', 'PENDING_CUSTOMER', 'ESCALATED', 'RESOLVED', 'CLOSED')),
    priority            TEXT NOT NULL CHECK (priority IN ('LOW', 'MEDIUM', 'HIGH', 'URGENT')),
    priority_rank       INTEGER NOT NULL,
    category            TEXT NOT NULL,
    tags                TEXT NOT NULL DEFAULT '[]',
    customer_id         BLOB NOT NULL REFERENCES users (id),
    assigned_agent_id   BLOB REFERENCES support_agents (id),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    first_response_at   TEXT,
    resolved_at         TEXT,
    sla_due_at          TEXT,
    escalation_level    INTEGER NOT NULL DEFAULT 0,
    satisfaction_rating INTEGER CHECK (satisfaction_rating BETWEEN 1 AND 5),
    sentiment           REAL,
    last_seq            BIGINT NOT NULL DEFAULT 0,
    version             BIGINT NOT NULL DEFAULT 0,
    deleted_at          TEXT
);
-- One index per list filter/sort; partial on live rows because deleted tickets are never listed.
CREATE INDEX tickets_created_idx ON tickets (created_at) WHERE deleted_at IS NULL;
CREATE INDEX tickets_updated_idx ON tickets (updated_at) WHERE deleted_at IS NULL;
CREATE INDEX tickets_status_idx ON tickets (status, created_at) WHERE deleted_at IS NULL;
CREATE INDEX tickets_priority_idx ON tickets (priority_rank, created_at) WHERE deleted_at IS NULL;
CREATE INDEX tickets_category_idx ON tickets (category, created_at) WHERE deleted_at IS NULL;
CREATE INDEX tickets_customer_idx ON tickets (customer_id, created_at) WHERE deleted_at IS NULL;
CREATE INDEX tickets_agent_idx ON tickets (assigned_agent_id, status) WHERE deleted_at IS NULL;
CREATE INDEX tickets_sla_idx ON tickets (sla_due_at) WHERE deleted_at IS NULL;

CREATE TABLE communications (
    id          BLOB PRIMARY KEY,
    ticket_id   BLOB NOT NULL REFERENCES tickets (id),
    seq         BIGINT NOT NULL,
    sender_id   BLOB REFERENCES users (id),
    sender_type TEXT NOT NULL CHECK (sender_type IN ('CUSTOMER', 'AGENT', 'SYSTEM', 'BOT')),
    type        TEXT NOT NULL CHECK (type IN ('MESSAGE', 'INTERNAL_NOTE', 'STATUS_CHANGE', 'ASSIGNMENT', 'ATTACHMENT')),
    content     TEXT NOT NULL,
    attachments TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL,
    read_at     TEXT,
    -- The gap-free per-ticket sequence: a duplicate can never be stored.
    UNIQUE (ticket_id, seq)
);

CREATE TABLE knowledge_base_articles (
    id                BLOB PRIMARY KEY,
    slug              TEXT NOT NULL UNIQUE,
    title             TEXT NOT NULL,
    summary           TEXT NOT NULL DEFAULT '',
    content           TEXT NOT NULL,
    category          TEXT NOT NULL,
    tags              TEXT NOT NULL DEFAULT '[]',
    status            TEXT NOT NULL CHECK (status IN ('DRAFT', 'PUBLISHED', 'ARCHIVED')),
    view_count        BIGINT NOT NULL DEFAULT 0,
    helpful_count     BIGINT NOT NULL DEFAULT 0,
    not_helpful_count BIGINT NOT NULL DEFAULT 0,
    author_id         BLOB REFERENCES users (id),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    published_at      TEXT
);
CREATE INDEX kb_articles_category_idx ON knowledge_base_articles (category, status);

-- Who did what, written in the same transaction as the change it records.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id    BLOB,
    action      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    before      TEXT,
    after       TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id);
CREATE INDEX audit_log_created_idx ON audit_log (created_at);
