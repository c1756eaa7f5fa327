//! Storage: the `Store` trait the rest of the service talks to, its records, and the
//! SQLite and PostgreSQL implementations. SQL lives only below this module.

pub mod analytics;
mod group_commit;
mod postgres;
mod rows;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

use crate::config::DatabaseTarget;
use crate::domain::agent::{AgentLevel, AgentStatus};
use crate::domain::kb::{ArticleStatus, SearchQuery};
use crate::domain::ticket::{Category, CommunicationType, Priority, SenderType, TicketStatus};
use crate::domain::user::Role;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Why a store call failed. Handlers map these to problem responses.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique key already exists (e.g. a registered e-mail).
    #[error("already exists: {0}")]
    Duplicate(String),
    /// The domain rule run under the row lock refused the change.
    #[error("rejected: {0}")]
    Rejected(crate::domain::Rejection),
    /// The database cannot be reached or is overloaded.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate(db.message().to_string()),
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
            // PostgreSQL: connection exceptions (08xxx), shutdown (57P0x), too many connections (53300).
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53300") =>
            {
                StoreError::Unavailable(error.to_string())
            }
            // SQLite: busy / locked after the busy timeout.
            sqlx::Error::Database(db) if db.code().is_some_and(|c| c == "5" || c == "6") => {
                StoreError::Unavailable(error.to_string())
            }
            _ => StoreError::Other(error.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Timestamps are kept to the microsecond so both backends store exactly the same instant.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct Agent {
    pub id: Uuid,
    pub user_id: Uuid,
    pub full_name: String,
    pub email: String,
    pub level: AgentLevel,
    pub skills: Vec<Category>,
    pub languages: Vec<String>,
    pub status: AgentStatus,
    pub max_concurrent_tickets: i32,
    /// Active (not resolved/closed) tickets assigned now.
    pub current_load: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub id: Uuid,
    pub level: AgentLevel,
    pub skills: Vec<Category>,
    pub languages: Vec<String>,
    pub status: AgentStatus,
    pub max_concurrent_tickets: i32,
}

#[derive(Debug, Clone)]
pub struct Ticket {
    pub id: Uuid,
    pub number: i64,
    pub subject: String,
    pub description: String,
    pub status: TicketStatus,
    pub priority: Priority,
    pub category: Category,
    pub tags: Vec<String>,
    pub customer_id: Uuid,
    pub assigned_agent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub sla_due_at: Option<DateTime<Utc>>,
    pub escalation_level: i32,
    pub satisfaction_rating: Option<i32>,
    pub sentiment: Option<f64>,
    /// Highest communication `seq` so far.
    pub last_seq: i64,
    /// Bumped by every change (usable as an ETag).
    pub version: i64,
}

#[derive(Debug, Clone)]
pub struct NewTicket {
    pub id: Uuid,
    pub subject: String,
    pub description: String,
    pub status: TicketStatus,
    pub priority: Priority,
    pub category: Category,
    pub tags: Vec<String>,
    pub customer_id: Uuid,
    pub assigned_agent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub sla_due_at: DateTime<Utc>,
}

/// What a change to a ticket writes: its new field values, the communications appended with
/// it (messages, status-change events) and the audit entry, all in one transaction.
#[derive(Debug, Clone)]
pub struct TicketChange {
    pub ticket: Ticket,
    pub append: Vec<NewCommunication>,
    pub audit: Option<NewAudit>,
}

/// Decides a change from the ticket's current state. The store runs it while holding the
/// ticket's write lock, so rules like the status transition table see the latest state.
pub type TicketChangeFn = Box<dyn FnOnce(&Ticket) -> Result<TicketChange, crate::domain::Rejection> + Send>;

#[derive(Debug, Clone)]
pub struct Communication {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub seq: i64,
    pub sender_id: Option<Uuid>,
    pub sender_type: SenderType,
    pub kind: CommunicationType,
    pub content: String,
    pub attachments: Vec<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewCommunication {
    pub id: Uuid,
    pub sender_id: Option<Uuid>,
    pub sender_type: SenderType,
    pub kind: CommunicationType,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

impl NewCommunication {
    /// The communication as stored under `seq` of `ticket_id` (unread, no attachments yet).
    pub fn stored(&self, ticket_id: Uuid, seq: i64) -> Communication {
        Communication {
            id: self.id,
            ticket_id,
            seq,
            sender_id: self.sender_id,
            sender_type: self.sender_type,
            kind: self.kind,
            content: self.content.clone(),
            attachments: Vec::new(),
            created_at: self.created_at,
            read_at: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewAudit {
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

/// Ticket list filters; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub status: Option<TicketStatus>,
    pub priority: Option<Priority>,
    pub category: Option<Category>,
    pub assigned_agent_id: Option<Uuid>,
    pub unassigned: bool,
    pub customer_id: Option<Uuid>,
    /// Full-text search over subject, description and messages (internal notes only when
    /// `search_notes`), or a ticket number like ALP-1042.
    pub q: Option<SearchQuery>,
    pub ticket_number: Option<i64>,
    pub search_notes: bool,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Columns a ticket list may be sorted by (the API's allow-list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketSort {
    CreatedAt,
    UpdatedAt,
    Priority,
    Status,
    SlaDueAt,
    TicketNumber,
}

impl TicketSort {
    pub const NAMES: &'static [&'static str] =
        &["createdAt", "updatedAt", "priority", "status", "slaDueAt", "ticketNumber"];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "createdAt" => Self::CreatedAt,
            "updatedAt" => Self::UpdatedAt,
            "priority" => Self::Priority,
            "status" => Self::Status,
            "slaDueAt" => Self::SlaDueAt,
            "ticketNumber" => Self::TicketNumber,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::Priority => "priority_rank",
            Self::Status => "status",
            Self::SlaDueAt => "sla_due_at",
            Self::TicketNumber => "number",
        }
    }
}

/// A page request: 0-based page, bounded size, one sort key.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<S> {
    pub page: u32,
    pub size: u32,
    pub sort: S,
    pub descending: bool,
}

impl<S> PageRequest<S> {
    pub fn offset(&self) -> i64 {
        i64::from(self.page) * i64::from(self.size)
    }
}

/// One page of results and the total across all pages.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

#[derive(Debug, Clone)]
pub struct Article {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub summary: String,
    /// Markdown source.
    pub content: String,
    pub category: Category,
    pub tags: Vec<String>,
    pub status: ArticleStatus,
    pub view_count: i64,
    pub helpful_count: i64,
    pub not_helpful_count: i64,
    pub author_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    pub category: Option<Category>,
    pub status: Option<ArticleStatus>,
    /// Customers and anonymous readers see published articles only.
    pub published_only: bool,
}

/// A search result: the article, its relevance (higher is better) and a snippet whose matched
/// terms are wrapped in [`crate::domain::kb::MATCH_START`]/[`crate::domain::kb::MATCH_END`].
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub article: Article,
    pub rank: f64,
    pub snippet: String,
}

/// One audit-log entry: who did what to which entity, with before/after snapshots.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Everything the service stores. Both backends pass the same integration suite.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// "SQLite" or "PostgreSQL", for health and info.
    fn backend_name(&self) -> &'static str;
    /// A cheap round trip, for health checks.
    async fn ping(&self) -> StoreResult<()>;
    /// Connections in the pool and how many of them are idle (for metrics).
    fn pool_usage(&self) -> (u32, usize);
    /// Live tickets per status (for the metrics gauge).
    async fn count_tickets_by_status(&self) -> StoreResult<Vec<(String, i64)>>;

    async fn create_user(&self, user: NewUser, audit: Option<NewAudit>) -> StoreResult<User>;
    async fn user_by_id(&self, id: Uuid) -> StoreResult<User>;
    async fn user_by_email(&self, email: &str) -> StoreResult<User>;
    async fn count_users(&self) -> StoreResult<i64>;

    /// Stores a refresh token by its hash.
    async fn insert_refresh_token(&self, token: RefreshToken, token_hash: &[u8]) -> StoreResult<()>;
    /// Marks the token with this hash used and stores its successor, atomically. Returns the used
    /// token as it was before: the caller rejects it if it was already revoked or expired.
    async fn rotate_refresh_token(
        &self,
        token_hash: &[u8],
        successor: RefreshToken,
        successor_hash: &[u8],
    ) -> StoreResult<RefreshToken>;
    /// Revokes every token of a family (logout, or reuse of a rotated token).
    async fn revoke_refresh_family(&self, family_id: Uuid) -> StoreResult<()>;
    async fn refresh_token_by_hash(&self, token_hash: &[u8]) -> StoreResult<RefreshToken>;

    /// Creates a user and their agent profile in one transaction.
    async fn create_agent(&self, user: NewUser, agent: NewAgent, audit: NewAudit) -> StoreResult<Agent>;
    async fn agent_by_id(&self, id: Uuid) -> StoreResult<Agent>;
    async fn agent_by_user_id(&self, user_id: Uuid) -> StoreResult<Agent>;
    async fn list_agents(&self, page: PageRequest<()>) -> StoreResult<Page<Agent>>;
    /// Sets an agent's availability and audits it.
    async fn set_agent_status(&self, id: Uuid, status: AgentStatus, audit: NewAudit) -> StoreResult<Agent>;

    /// Creates a ticket with its opening communications; allocates the ticket number.
    async fn create_ticket(
        &self,
        ticket: NewTicket,
        append: Vec<NewCommunication>,
        audit: Option<NewAudit>,
    ) -> StoreResult<(Ticket, Vec<Communication>)>;
    /// A ticket that is not deleted.
    async fn ticket_by_id(&self, id: Uuid) -> StoreResult<Ticket>;
    async fn list_tickets(&self, filter: &TicketFilter, page: PageRequest<TicketSort>) -> StoreResult<Page<Ticket>>;
    /// Locks the ticket, asks `decide` for the change, writes the new state, appends the
    /// communications with gap-free `seq`s and records the audit entry, in one transaction.
    async fn change_ticket(&self, id: Uuid, decide: TicketChangeFn) -> StoreResult<(Ticket, Vec<Communication>)>;
    /// Soft-deletes a ticket and audits it.
    async fn delete_ticket(&self, id: Uuid, audit: NewAudit) -> StoreResult<()>;

    /// Communications with `seq > after`, oldest first, at most `limit`; internal notes only if asked.
    async fn list_communications(
        &self,
        ticket_id: Uuid,
        after: i64,
        limit: u32,
        include_internal: bool,
    ) -> StoreResult<Vec<Communication>>;

    async fn create_article(&self, article: Article, audit: NewAudit) -> StoreResult<Article>;
    async fn article_by_id(&self, id: Uuid) -> StoreResult<Article>;
    async fn article_by_slug(&self, slug: &str) -> StoreResult<Article>;
    /// Writes the editable fields (slug, title, summary, content, category, tags, status, published_at).
    async fn update_article(&self, article: Article, audit: NewAudit) -> StoreResult<Article>;
    async fn delete_article(&self, id: Uuid, audit: NewAudit) -> StoreResult<()>;
    async fn list_articles(&self, filter: &ArticleFilter, page: PageRequest<()>) -> StoreResult<Page<Article>>;
    /// Ranked full-text search: title above tags and summary above body; stemmed; last term a prefix.
    async fn search_articles(
        &self,
        query: &SearchQuery,
        filter: &ArticleFilter,
        page: PageRequest<()>,
    ) -> StoreResult<Page<SearchHit>>;
    async fn record_article_view(&self, id: Uuid) -> StoreResult<()>;
    /// Records (or changes) one user's vote and returns the article with recounted totals.
    async fn vote_article(&self, id: Uuid, user_id: Uuid, helpful: bool) -> StoreResult<Article>;
    async fn count_articles(&self) -> StoreResult<i64>;

    /// Records an audit entry on its own (for actions that change nothing else, like an export).
    async fn create_audit(&self, audit: NewAudit) -> StoreResult<()>;
    /// Audit entries, newest first.
    async fn list_audit(&self, filter: &AuditFilter, page: PageRequest<()>) -> StoreResult<Page<AuditEntry>>;
    /// GDPR erasure of a customer: profile anonymised, sessions and votes deleted, ticket texts
    /// and their own messages replaced; tickets, statuses, timestamps and ratings kept (anonymous),
    /// so analytics stay true. One transaction with its audit entry.
    async fn erase_customer(&self, user_id: Uuid, audit: NewAudit) -> StoreResult<()>;

    /// Volume, status/priority/category mix, per-period series, response and resolution
    /// percentiles, SLA and CSAT for tickets created in the range.
    async fn ticket_analytics(&self, range: &analytics::AnalyticsRange) -> StoreResult<analytics::TicketAnalytics>;
    /// Per-agent figures for the range, plus each agent's current load.
    async fn agent_analytics(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<analytics::AgentAnalytics>>;
}

/// Opens (creating if needed) the configured database and applies its migrations.
pub async fn connect(target: &DatabaseTarget, max_connections: u32) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match target {
        DatabaseTarget::Sqlite(path) => Arc::new(SqliteStore::open(path, max_connections).await?),
        DatabaseTarget::Postgres(url) => Arc::new(PgStore::connect(url, max_connections).await?),
    })
}
