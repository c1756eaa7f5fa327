//! Row types shared by both backends (sqlx decodes the same Rust types from either),
//! their conversion into store records, and the SQL that is identical on both.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Agent, Article, AuditEntry, Communication, RefreshToken, StoreError, Ticket, User};

/// Parses a text column holding one of our enums; anything else means the row is corrupt.
fn parse_column<T: std::str::FromStr>(column: &str, value: &str) -> Result<T, StoreError> {
    value.parse().map_err(|_| StoreError::Other(format!("unexpected value {value:?} in column {column}")))
}

pub const USER_COLUMNS: &str = "id, email, full_name, role, password_hash, created_at";

#[derive(sqlx::FromRow)]
pub struct UserRow {
    id: Uuid,
    email: String,
    full_name: String,
    role: String,
    password_hash: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: row.id,
            email: row.email,
            full_name: row.full_name,
            role: parse_column("role", &row.role)?,
            password_hash: row.password_hash,
            created_at: row.created_at,
        })
    }
}

pub const REFRESH_COLUMNS: &str = "id, user_id, family_id, expires_at, revoked_at";

#[derive(sqlx::FromRow)]
pub struct RefreshRow {
    id: Uuid,
    user_id: Uuid,
    family_id: Uuid,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<RefreshRow> for RefreshToken {
    fn from(row: RefreshRow) -> Self {
        RefreshToken {
            id: row.id,
            user_id: row.user_id,
            family_id: row.family_id,
            expires_at: row.expires_at,
            revoked: row.revoked_at.is_some(),
        }
    }
}

/// Agent columns with the user's name and e-mail and the live load, from `support_agents a JOIN users u`.
pub const AGENT_SELECT: &str = "SELECT a.id, a.user_id, u.full_name, u.email, a.level, a.skills, a.languages, \
     a.status, a.max_concurrent_tickets, a.created_at, \
     (SELECT COUNT(*) FROM tickets t WHERE t.assigned_agent_id = a.id AND t.deleted_at IS NULL \
        AND t.status NOT IN ('RESOLVED', 'CLOSED')) AS current_load \
     FROM support_agents a JOIN users u ON u.id = a.user_id";

#[derive(sqlx::FromRow)]
pub struct AgentRow {
    id: Uuid,
    user_id: Uuid,
    full_name: String,
    email: String,
    level: String,
    skills: Json<Vec<String>>,
    languages: Json<Vec<String>>,
    status: String,
    max_concurrent_tickets: i32,
    created_at: DateTime<Utc>,
    current_load: i64,
}

impl TryFrom<AgentRow> for Agent {
    type Error = StoreError;
    fn try_from(row: AgentRow) -> Result<Self, StoreError> {
        Ok(Agent {
            id: row.id,
            user_id: row.user_id,
            full_name: row.full_name,
            email: row.email,
            level: parse_column("level", &row.level)?,
            skills: row.skills.0.iter().map(|s| parse_column("skills", s)).collect::<Result<_, _>>()?,
            languages: row.languages.0,
            status: parse_column("status", &row.status)?,
            max_concurrent_tickets: row.max_concurrent_tickets,
            current_load: row.current_load,
            created_at: row.created_at,
        })
    }
}

pub const TICKET_COLUMNS: &str = "id, number, subject, description, status, priority, category, tags, \
     customer_id, assigned_agent_id, created_at, updated_at, first_response_at, resolved_at, sla_due_at, \
     escalation_level, satisfaction_rating, sentiment, last_seq, version";

#[derive(sqlx::FromRow)]
pub struct TicketRow {
    id: Uuid,
    number: i64,
    subject: String,
    description: String,
    status: String,
    priority: String,
    category: String,
    tags: Json<Vec<String>>,
    customer_id: Uuid,
    assigned_agent_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    first_response_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    sla_due_at: Option<DateTime<Utc>>,
    escalation_level: i32,
    satisfaction_rating: Option<i32>,
    sentiment: Option<f64>,
    last_seq: i64,
    version: i64,
}

impl TryFrom<TicketRow> for Ticket {
    type Error = StoreError;
    fn try_from(row: TicketRow) -> Result<Self, StoreError> {
        Ok(Ticket {
            id: row.id,
            number: row.number,
            subject: row.subject,
            description: row.description,
            status: parse_column("status", &row.status)?,
            priority: parse_column("priority", &row.priority)?,
            category: parse_column("category", &row.category)?,
            tags: row.tags.0,
            customer_id: row.customer_id,
            assigned_agent_id: row.assigned_agent_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            first_response_at: row.first_response_at,
            resolved_at: row.resolved_at,
            sla_due_at: row.sla_due_at,
            escalation_level: row.escalation_level,
            satisfaction_rating: row.satisfaction_rating,
            sentiment: row.sentiment,
            last_seq: row.last_seq,
            version: row.version,
        })
    }
}

/// Writes a ticket's mutable fields; the caller holds the row's write lock.
/// Binds a new ticket's columns to either backend's ticket INSERT: `$1` id, `$2`..`$8` subject to
/// tags, `$9` customer, `$10` agent, `$11` created (and updated) at, `$12` SLA due (the number is
/// the statement's own). One list for both backends, so they cannot drift apart.
macro_rules! bind_new_ticket {
    ($query:expr, $ticket:expr) => {
        $query
            .bind($ticket.id)
            .bind(&$ticket.subject)
            .bind(&$ticket.description)
            .bind($ticket.status.as_str())
            .bind($ticket.priority.as_str())
            .bind($ticket.priority.rank())
            .bind($ticket.category.as_str())
            .bind(Json(&$ticket.tags))
            .bind($ticket.customer_id)
            .bind($ticket.assigned_agent_id)
            .bind($ticket.created_at)
            .bind($ticket.sla_due_at)
    };
}
pub(crate) use bind_new_ticket;

/// Binds [`UPDATE_TICKET`]'s parameters: `$1` the id, then the ticket's editable columns.
macro_rules! bind_ticket_update {
    ($query:expr, $id:expr, $ticket:expr) => {
        $query
            .bind($id)
            .bind(&$ticket.subject)
            .bind(&$ticket.description)
            .bind($ticket.status.as_str())
            .bind($ticket.priority.as_str())
            .bind($ticket.priority.rank())
            .bind($ticket.category.as_str())
            .bind(Json(&$ticket.tags))
            .bind($ticket.assigned_agent_id)
            .bind($ticket.updated_at)
            .bind($ticket.first_response_at)
            .bind($ticket.resolved_at)
            .bind($ticket.sla_due_at)
            .bind($ticket.escalation_level)
            .bind($ticket.satisfaction_rating)
            .bind($ticket.sentiment)
    };
}
pub(crate) use bind_ticket_update;

/// Binds [`INSERT_COMMUNICATION`]'s parameters for `$new` stored as `$seq` of `$ticket_id`.
macro_rules! bind_new_communication {
    ($query:expr, $ticket_id:expr, $seq:expr, $new:expr) => {
        $query
            .bind($new.id)
            .bind($ticket_id)
            .bind($seq)
            .bind($new.sender_id)
            .bind($new.sender_type.as_str())
            .bind($new.kind.as_str())
            .bind(&$new.content)
            .bind($new.created_at)
    };
}
pub(crate) use bind_new_communication;

pub const UPDATE_TICKET: &str = "UPDATE tickets SET subject = $2, description = $3, status = $4, priority = $5, \
     priority_rank = $6, category = $7, tags = $8, assigned_agent_id = $9, updated_at = $10, \
     first_response_at = $11, resolved_at = $12, sla_due_at = $13, escalation_level = $14, \
     satisfaction_rating = $15, sentiment = $16, version = version + 1 \
     WHERE id = $1 AND deleted_at IS NULL";

/// Reserves `$2` sequence numbers on a ticket and returns the last one. The row lock taken here
/// (PostgreSQL) or the single writer (SQLite) is what makes `seq` gap-free under concurrent posts.
pub const RESERVE_SEQ: &str =
    "UPDATE tickets SET last_seq = last_seq + $2 WHERE id = $1 AND deleted_at IS NULL RETURNING last_seq";

pub const INSERT_COMMUNICATION: &str = "INSERT INTO communications \
     (id, ticket_id, seq, sender_id, sender_type, type, content, attachments, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, '[]', $8)";

pub const COMMUNICATION_COLUMNS: &str =
    "id, ticket_id, seq, sender_id, sender_type, type, content, attachments, created_at, read_at";

#[derive(sqlx::FromRow)]
pub struct CommunicationRow {
    id: Uuid,
    ticket_id: Uuid,
    seq: i64,
    sender_id: Option<Uuid>,
    sender_type: String,
    #[sqlx(rename = "type")]
    kind: String,
    content: String,
    attachments: Json<Vec<serde_json::Value>>,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
}

impl TryFrom<CommunicationRow> for Communication {
    type Error = StoreError;
    fn try_from(row: CommunicationRow) -> Result<Self, StoreError> {
        Ok(Communication {
            id: row.id,
            ticket_id: row.ticket_id,
            seq: row.seq,
            sender_id: row.sender_id,
            sender_type: parse_column("sender_type", &row.sender_type)?,
            kind: parse_column("type", &row.kind)?,
            content: row.content,
            attachments: row.attachments.0,
            created_at: row.created_at,
            read_at: row.read_at,
        })
    }
}

pub const INSERT_AUDIT: &str =
    "INSERT INTO audit_log (actor_id, action, entity_type, entity_id, before, after, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Converts rows, failing on the first corrupt one.
pub fn convert<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::try_from).collect()
}

pub const ARTICLE_COLUMNS: &str = "id, slug, title, summary, content, category, tags, status, view_count, \
     helpful_count, not_helpful_count, author_id, created_at, updated_at, published_at";

/// [`ARTICLE_COLUMNS`] qualified with `a.`, for joins with tables that share some of the names.
pub fn article_columns_of_a() -> String {
    ARTICLE_COLUMNS.split(", ").map(|column| format!("a.{column}")).collect::<Vec<_>>().join(", ")
}

#[derive(sqlx::FromRow)]
pub struct ArticleRow {
    id: Uuid,
    slug: String,
    title: String,
    summary: String,
    content: String,
    category: String,
    tags: Json<Vec<String>>,
    status: String,
    view_count: i64,
    helpful_count: i64,
    not_helpful_count: i64,
    author_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
}

impl TryFrom<ArticleRow> for Article {
    type Error = StoreError;
    fn try_from(row: ArticleRow) -> Result<Self, StoreError> {
        Ok(Article {
            id: row.id,
            slug: row.slug,
            title: row.title,
            summary: row.summary,
            content: row.content,
            category: parse_column("category", &row.category)?,
            tags: row.tags.0,
            status: parse_column("status", &row.status)?,
            view_count: row.view_count,
            helpful_count: row.helpful_count,
            not_helpful_count: row.not_helpful_count,
            author_id: row.author_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            published_at: row.published_at,
        })
    }
}

/// A search result row: the article's columns plus rank and snippet.
#[derive(sqlx::FromRow)]
pub struct HitRow {
    #[sqlx(flatten)]
    pub article: ArticleRow,
    pub rank: f64,
    pub snippet: String,
}

/// PostgreSQL's search result row: a hit plus the number of all matches, counted in the same scan.
#[derive(sqlx::FromRow)]
pub struct RankedHitRow {
    #[sqlx(flatten)]
    pub hit: HitRow,
    pub total: i64,
}

pub const INSERT_ARTICLE: &str = "INSERT INTO knowledge_base_articles (id, slug, title, summary, content, category, tags, \
     status, author_id, created_at, updated_at, published_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)";

pub const UPDATE_ARTICLE: &str =
    "UPDATE knowledge_base_articles SET slug = $2, title = $3, summary = $4, content = $5, \
     category = $6, tags = $7, status = $8, updated_at = $9, published_at = $10 WHERE id = $1";

/// Recounts an article's votes from the votes table ($1 article id).
pub const RECOUNT_VOTES: &str = "UPDATE knowledge_base_articles SET \
     helpful_count = (SELECT COUNT(*) FROM kb_votes WHERE article_id = $1 AND helpful), \
     not_helpful_count = (SELECT COUNT(*) FROM kb_votes WHERE article_id = $1 AND NOT helpful) WHERE id = $1";

pub const AUDIT_COLUMNS: &str = "id, actor_id, action, entity_type, entity_id, before, after, created_at";

#[derive(sqlx::FromRow)]
pub struct AuditRow {
    id: i64,
    actor_id: Option<Uuid>,
    action: String,
    entity_type: String,
    entity_id: String,
    before: Option<Json<serde_json::Value>>,
    after: Option<Json<serde_json::Value>>,
    created_at: DateTime<Utc>,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        AuditEntry {
            id: row.id,
            actor_id: row.actor_id,
            action: row.action,
            entity_type: row.entity_type,
            entity_id: row.entity_id,
            before: row.before.map(|j| j.0),
            after: row.after.map(|j| j.0),
            created_at: row.created_at,
        }
    }
}

/// The statements of a GDPR erasure, in order; each binds $1 = user id ($2 = now where used).
pub const ERASE_CUSTOMER: &[&str] = &[
    "UPDATE communications SET content = '[erased]' WHERE sender_id = $1",
    "UPDATE tickets SET subject = '[erased]', description = '[erased]', tags = '[]' WHERE customer_id = $1",
    "DELETE FROM refresh_tokens WHERE user_id = $1",
    "DELETE FROM kb_votes WHERE user_id = $1",
];
