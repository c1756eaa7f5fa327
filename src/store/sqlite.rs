//! SQLite implementation of [`Store`]: the embedded default. One writer connection (SQLite
//! serialises writers anyway, and a single writer never hits SQLITE_BUSY), a pool of readers
//! beside it thanks to WAL, and `synchronous=FULL` so an acknowledged write survives power loss.

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

use super::analytics::{self, AgentAnalytics, AnalyticsRange, DurationStats, PeriodStats, TicketAnalytics};
use super::group_commit::GroupCommit;
use super::rows::*;
use super::*;

/// Upper bound of the memory map over the database file (address space, not RSS: only the pages
/// actually read become resident, and they are the OS page cache's, shared and reclaimable).
const MMAP_BYTES: u64 = 1 << 30;

pub struct SqliteStore {
    /// The single writer; every transaction runs here.
    pool: SqlitePool,
    /// Batches the hot writes (new tickets, ticket changes and messages) into shared commits.
    writer: GroupCommit,
    /// Readers for plain queries, so reads never queue behind writes.
    readers: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating file and directory if needed) and applies `migrations/sqlite`.
    pub async fn open(path: &Path, max_readers: u32) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // Read the file through a memory map instead of read() into each connection's
            // 2 MB page cache: a profile of kb-search showed a fifth of the server's time copying
            // pages out of the kernel. Pages are shared by all connections and the OS cache.
            .pragma("mmap_size", MMAP_BYTES.to_string());
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(max_readers.clamp(1, 64))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self { writer: GroupCommit::start(pool.clone()), pool, readers })
    }
}

async fn insert_audit(conn: &mut SqliteConnection, audit: &NewAudit) -> StoreResult<()> {
    sqlx::query(INSERT_AUDIT)
        .bind(audit.actor_id)
        .bind(&audit.action)
        .bind(&audit.entity_type)
        .bind(&audit.entity_id)
        .bind(audit.before.as_ref().map(Json))
        .bind(audit.after.as_ref().map(Json))
        .bind(now())
        .execute(conn)
        .await?;
    Ok(())
}

/// Appends communications after the ticket's current `last_seq`; the caller holds the ticket's lock.
async fn append_communications(
    conn: &mut SqliteConnection,
    ticket_id: Uuid,
    append: &[NewCommunication],
) -> StoreResult<Vec<Communication>> {
    if append.is_empty() {
        return Ok(Vec::new());
    }
    let count = i64::try_from(append.len()).map_err(|e| StoreError::Other(e.to_string()))?;
    let last: i64 = sqlx::query_scalar(RESERVE_SEQ).bind(ticket_id).bind(count).fetch_one(&mut *conn).await?;
    let mut stored = Vec::with_capacity(append.len());
    for (seq, new) in (last - count + 1..).zip(append) {
        bind_new_communication!(sqlx::query(INSERT_COMMUNICATION), ticket_id, seq, new).execute(&mut *conn).await?;
        stored.push(new.stored(ticket_id, seq));
    }
    Ok(stored)
}

/// No row lock here: the single writer connection already serialises changes.
async fn fetch_ticket(conn: &mut SqliteConnection, id: Uuid) -> StoreResult<Ticket> {
    let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1 AND deleted_at IS NULL");
    let row: TicketRow = sqlx::query_as(&sql).bind(id).fetch_one(conn).await?;
    row.try_into()
}

async fn fetch_agent(pool: &SqlitePool, column: &str, id: Uuid) -> StoreResult<Agent> {
    let sql = format!("{AGENT_SELECT} WHERE a.{column} = $1");
    let row: AgentRow = sqlx::query_as(&sql).bind(id).fetch_one(pool).await?;
    row.try_into()
}

async fn insert_user(conn: &mut SqliteConnection, user: &NewUser) -> StoreResult<()> {
    let at = now();
    sqlx::query(
        "INSERT INTO users (id, email, full_name, role, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(user.id)
    .bind(&user.email)
    .bind(&user.full_name)
    .bind(user.role.as_str())
    .bind(&user.password_hash)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

fn push_ticket_filters(query: &mut QueryBuilder<'_, Sqlite>, filter: &TicketFilter) {
    query.push(" WHERE deleted_at IS NULL");
    if let Some(status) = filter.status {
        query.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(priority) = filter.priority {
        query.push(" AND priority = ").push_bind(priority.as_str());
    }
    if let Some(category) = filter.category {
        query.push(" AND category = ").push_bind(category.as_str());
    }
    if let Some(agent) = filter.assigned_agent_id {
        query.push(" AND assigned_agent_id = ").push_bind(agent);
    }
    if filter.unassigned {
        query.push(" AND assigned_agent_id IS NULL");
    }
    if let Some(customer) = filter.customer_id {
        query.push(" AND customer_id = ").push_bind(customer);
    }
    if let Some(from) = filter.from {
        query.push(" AND created_at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        query.push(" AND created_at < ").push_bind(to);
    }
    if filter.q.is_some() || filter.ticket_number.is_some() {
        query.push(" AND (0");
        if let Some(q) = &filter.q {
            let expression = q.fts5();
            query
                .push(" OR rowid IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ")
                .push_bind(expression.clone())
                .push(") OR id IN (SELECT c.ticket_id FROM communications_fts f JOIN communications c ON c.rowid = f.rowid \
                       WHERE communications_fts MATCH ")
                .push_bind(expression);
            if !filter.search_notes {
                query.push(" AND c.type <> 'INTERNAL_NOTE'");
            }
            query.push(")");
        }
        if let Some(number) = filter.ticket_number {
            query.push(" OR number = ").push_bind(number);
        }
        query.push(")");
    }
}

fn push_article_filters(query: &mut QueryBuilder<'_, Sqlite>, filter: &ArticleFilter) {
    if filter.published_only {
        query.push(" AND a.status = 'PUBLISHED'");
    }
    if let Some(status) = filter.status {
        query.push(" AND a.status = ").push_bind(status.as_str());
    }
    if let Some(category) = filter.category {
        query.push(" AND a.category = ").push_bind(category.as_str());
    }
}

async fn insert_article(conn: &mut SqliteConnection, article: &Article) -> StoreResult<()> {
    sqlx::query(INSERT_ARTICLE)
        .bind(article.id)
        .bind(&article.slug)
        .bind(&article.title)
        .bind(&article.summary)
        .bind(&article.content)
        .bind(article.category.as_str())
        .bind(Json(&article.tags))
        .bind(article.status.as_str())
        .bind(article.author_id)
        .bind(article.created_at)
        .bind(article.published_at)
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "SQLite"
    }

    fn pool_usage(&self) -> (u32, usize) {
        (self.readers.size(), self.readers.num_idle())
    }

    async fn count_tickets_by_status(&self) -> StoreResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT status, COUNT(*) FROM tickets WHERE deleted_at IS NULL GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.readers)
        .await?)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        Ok(())
    }

    async fn create_user(&self, user: NewUser, audit: Option<NewAudit>) -> StoreResult<User> {
        let mut tx = self.pool.begin().await?;
        insert_user(&mut tx, &user).await?;
        if let Some(audit) = &audit {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await?;
        self.user_by_id(user.id).await
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row: UserRow = sqlx::query_as(&sql).bind(id).fetch_one(&self.readers).await?;
        row.try_into()
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        let row: UserRow = sqlx::query_as(&sql).bind(email).fetch_one(&self.readers).await?;
        row.try_into()
    }

    async fn count_users(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.readers).await?)
    }

    async fn insert_refresh_token(&self, token: RefreshToken, token_hash: &[u8]) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token.id)
        .bind(token.user_id)
        .bind(token.family_id)
        .bind(token_hash)
        .bind(token.expires_at)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        token_hash: &[u8],
        successor: RefreshToken,
        successor_hash: &[u8],
    ) -> StoreResult<RefreshToken> {
        let mut tx = self.pool.begin().await?;
        let sql = format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE token_hash = $1");
        let row: RefreshRow = sqlx::query_as(&sql).bind(token_hash).fetch_one(&mut *tx).await?;
        let used = RefreshToken::from(row);
        if used.revoked || used.expires_at <= now() {
            // Nothing to rotate; the caller decides what a replay means.
            return Ok(used);
        }
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE id = $1")
            .bind(used.id)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(successor.id)
        .bind(successor.user_id)
        .bind(successor.family_id)
        .bind(successor_hash)
        .bind(successor.expires_at)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(used)
    }

    async fn revoke_refresh_family(&self, family_id: Uuid) -> StoreResult<()> {
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL")
            .bind(family_id)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn refresh_token_by_hash(&self, token_hash: &[u8]) -> StoreResult<RefreshToken> {
        let sql = format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE token_hash = $1");
        let row: RefreshRow = sqlx::query_as(&sql).bind(token_hash).fetch_one(&self.readers).await?;
        Ok(row.into())
    }

    async fn create_agent(&self, user: NewUser, agent: NewAgent, audit: NewAudit) -> StoreResult<Agent> {
        let mut tx = self.pool.begin().await?;
        insert_user(&mut tx, &user).await?;
        let at = now();
        let skills: Vec<&str> = agent.skills.iter().map(|s| s.as_str()).collect();
        sqlx::query(
            "INSERT INTO support_agents (id, user_id, level, skills, languages, status, max_concurrent_tickets, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(agent.id)
        .bind(user.id)
        .bind(agent.level.as_str())
        .bind(Json(&skills))
        .bind(Json(&agent.languages))
        .bind(agent.status.as_str())
        .bind(agent.max_concurrent_tickets)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        self.agent_by_id(agent.id).await
    }

    async fn agent_by_id(&self, id: Uuid) -> StoreResult<Agent> {
        fetch_agent(&self.readers, "id", id).await
    }

    async fn agent_by_user_id(&self, user_id: Uuid) -> StoreResult<Agent> {
        fetch_agent(&self.readers, "user_id", user_id).await
    }

    async fn set_agent_status(&self, id: Uuid, status: AgentStatus, audit: NewAudit) -> StoreResult<Agent> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE support_agents SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(status.as_str())
            .bind(now())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        self.agent_by_id(id).await
    }

    async fn list_agents(&self, page: PageRequest<()>) -> StoreResult<Page<Agent>> {
        let sql = format!("{AGENT_SELECT} ORDER BY u.full_name, a.id LIMIT $1 OFFSET $2");
        let rows: Vec<AgentRow> =
            sqlx::query_as(&sql).bind(i64::from(page.size)).bind(page.offset()).fetch_all(&self.readers).await?;
        let total = sqlx::query_scalar("SELECT COUNT(*) FROM support_agents").fetch_one(&self.readers).await?;
        Ok(Page { items: convert(rows)?, total })
    }

    async fn create_ticket(
        &self,
        ticket: NewTicket,
        append: Vec<NewCommunication>,
        audit: Option<NewAudit>,
    ) -> StoreResult<(Ticket, Vec<Communication>)> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let insert = sqlx::query(
                        "INSERT INTO tickets (id, number, subject, description, status, priority, priority_rank, \
                         category, tags, customer_id, assigned_agent_id, created_at, updated_at, sla_due_at) \
                         VALUES ($1, (SELECT COALESCE(MAX(number), 1000) + 1 FROM tickets), $2, $3, $4, $5, $6, $7, \
                         $8, $9, $10, $11, $11, $12)",
                    );
                    bind_new_ticket!(insert, ticket).execute(&mut *conn).await?;
                    let communications = append_communications(conn, ticket.id, &append).await?;
                    if let Some(audit) = &audit {
                        insert_audit(conn, audit).await?;
                    }
                    let stored = fetch_ticket(conn, ticket.id).await?;
                    Ok((stored, communications))
                })
            })
            .await
    }

    async fn ticket_by_id(&self, id: Uuid) -> StoreResult<Ticket> {
        let mut conn = self.readers.acquire().await?;
        fetch_ticket(&mut conn, id).await
    }

    async fn list_tickets(&self, filter: &TicketFilter, page: PageRequest<TicketSort>) -> StoreResult<Page<Ticket>> {
        let mut query = QueryBuilder::<Sqlite>::new(format!("SELECT {TICKET_COLUMNS} FROM tickets"));
        push_ticket_filters(&mut query, filter);
        let direction = if page.descending { "DESC" } else { "ASC" };
        query
            .push(format!(" ORDER BY {} {direction}, number {direction} LIMIT ", page.sort.column()))
            .push_bind(i64::from(page.size))
            .push(" OFFSET ")
            .push_bind(page.offset());
        let rows: Vec<TicketRow> = query.build_query_as().fetch_all(&self.readers).await?;

        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM tickets");
        push_ticket_filters(&mut count, filter);
        let total: i64 = count.build_query_scalar().fetch_one(&self.readers).await?;
        Ok(Page { items: convert(rows)?, total })
    }

    async fn change_ticket(&self, id: Uuid, decide: TicketChangeFn) -> StoreResult<(Ticket, Vec<Communication>)> {
        // The single writer is the lock: the rule runs on the current row inside the write.
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let current = fetch_ticket(conn, id).await?;
                    let change = decide(&current).map_err(StoreError::Rejected)?;
                    let t = &change.ticket;
                    bind_ticket_update!(sqlx::query(UPDATE_TICKET), id, t).execute(&mut *conn).await?;
                    let communications = append_communications(conn, id, &change.append).await?;
                    if let Some(audit) = &change.audit {
                        insert_audit(conn, audit).await?;
                    }
                    let stored = fetch_ticket(conn, id).await?;
                    Ok((stored, communications))
                })
            })
            .await
    }

    async fn delete_ticket(&self, id: Uuid, audit: NewAudit) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE tickets SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_communications(
        &self,
        ticket_id: Uuid,
        after: i64,
        limit: u32,
        include_internal: bool,
    ) -> StoreResult<Vec<Communication>> {
        let sql = format!(
            "SELECT {COMMUNICATION_COLUMNS} FROM communications WHERE ticket_id = $1 AND seq > $2 \
             AND ($3 OR type <> 'INTERNAL_NOTE') ORDER BY seq LIMIT $4"
        );
        let rows: Vec<CommunicationRow> = sqlx::query_as(&sql)
            .bind(ticket_id)
            .bind(after)
            .bind(include_internal)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await?;
        convert(rows)
    }

    async fn create_article(&self, article: Article, audit: NewAudit) -> StoreResult<Article> {
        let mut tx = self.pool.begin().await?;
        insert_article(&mut tx, &article).await?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        self.article_by_id(article.id).await
    }

    async fn article_by_id(&self, id: Uuid) -> StoreResult<Article> {
        let sql = format!("SELECT {ARTICLE_COLUMNS} FROM knowledge_base_articles WHERE id = $1");
        let row: ArticleRow = sqlx::query_as(&sql).bind(id).fetch_one(&self.readers).await?;
        row.try_into()
    }

    async fn article_by_slug(&self, slug: &str) -> StoreResult<Article> {
        let sql = format!("SELECT {ARTICLE_COLUMNS} FROM knowledge_base_articles WHERE slug = $1");
        let row: ArticleRow = sqlx::query_as(&sql).bind(slug).fetch_one(&self.readers).await?;
        row.try_into()
    }

    async fn update_article(&self, article: Article, audit: NewAudit) -> StoreResult<Article> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(UPDATE_ARTICLE)
            .bind(article.id)
            .bind(&article.slug)
            .bind(&article.title)
            .bind(&article.summary)
            .bind(&article.content)
            .bind(article.category.as_str())
            .bind(Json(&article.tags))
            .bind(article.status.as_str())
            .bind(article.updated_at)
            .bind(article.published_at)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        self.article_by_id(article.id).await
    }

    async fn delete_article(&self, id: Uuid, audit: NewAudit) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM knowledge_base_articles WHERE id = $1").bind(id).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_articles(&self, filter: &ArticleFilter, page: PageRequest<()>) -> StoreResult<Page<Article>> {
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {} FROM knowledge_base_articles a WHERE 1",
            article_columns_of_a()
        ));
        push_article_filters(&mut query, filter);
        query
            .push(" ORDER BY a.title, a.id LIMIT ")
            .push_bind(i64::from(page.size))
            .push(" OFFSET ")
            .push_bind(page.offset());
        let rows: Vec<ArticleRow> = query.build_query_as().fetch_all(&self.readers).await?;
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM knowledge_base_articles a WHERE 1");
        push_article_filters(&mut count, filter);
        let total: i64 = count.build_query_scalar().fetch_one(&self.readers).await?;
        Ok(Page { items: convert(rows)?, total })
    }

    async fn search_articles(
        &self,
        query: &SearchQuery,
        filter: &ArticleFilter,
        page: PageRequest<()>,
    ) -> StoreResult<Page<SearchHit>> {
        // The user's terms search the four text columns; visibility and category are filters on
        // the index's status and category columns (migration 0005), so FTS5 alone finds and ranks
        // the visible matches and article rows are read for the page only. The values come from
        // enums, never from the client.
        let mut filters: Vec<(&str, &str)> = Vec::new();
        if filter.published_only {
            filters.push(("status", ArticleStatus::Published.as_str()));
        }
        if let Some(status) = filter.status {
            filters.push(("status", status.as_str()));
        }
        if let Some(category) = filter.category {
            filters.push(("category", category.as_str()));
        }
        let expression = query.fts5_for_articles(&filters);
        // bm25 is lower-is-better; negate it so rank is higher-is-better on both backends.
        // Column weights: title 10, tags 6, summary 4, content 1, filters 0. Ties go to the
        // newest article (highest rowid), which keeps the tie-break inside the index too.
        const BM25: &str = "bm25(kb_fts, 10.0, 6.0, 4.0, 1.0, 0.0, 0.0)";
        let mut sql = QueryBuilder::<Sqlite>::new(format!(
            "WITH hits AS (SELECT rowid AS hit, -{BM25} AS rank FROM kb_fts WHERE kb_fts MATCH "
        ));
        sql.push_bind(expression.clone())
            .push(format!(" ORDER BY {BM25}, rowid DESC LIMIT "))
            .push_bind(i64::from(page.size))
            .push(" OFFSET ")
            .push_bind(page.offset())
            .push(format!(
                ") SELECT {}, hits.rank, snippet(kb_fts, 3, char(57344), char(57345), '…', 24) AS snippet \
                 FROM hits JOIN kb_fts ON kb_fts.rowid = hits.hit \
                 JOIN knowledge_base_articles a ON a.rowid = hits.hit WHERE kb_fts MATCH ",
                article_columns_of_a()
            ))
            .push_bind(expression.clone())
            .push(" ORDER BY hits.rank DESC, hits.hit DESC");
        let rows: Vec<HitRow> = sql.build_query_as().fetch_all(&self.readers).await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kb_fts WHERE kb_fts MATCH $1")
            .bind(expression)
            .fetch_one(&self.readers)
            .await?;
        let items = rows
            .into_iter()
            .map(|row| Ok(SearchHit { article: row.article.try_into()?, rank: row.rank, snippet: row.snippet }))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page { items, total })
    }

    async fn record_article_view(&self, id: Uuid) -> StoreResult<()> {
        sqlx::query("UPDATE knowledge_base_articles SET view_count = view_count + 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn vote_article(&self, id: Uuid, user_id: Uuid, helpful: bool) -> StoreResult<Article> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO kb_votes (article_id, user_id, helpful, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (article_id, user_id) DO UPDATE SET helpful = EXCLUDED.helpful",
        )
        .bind(id)
        .bind(user_id)
        .bind(helpful)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        sqlx::query(RECOUNT_VOTES).bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        self.article_by_id(id).await
    }

    async fn count_articles(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM knowledge_base_articles").fetch_one(&self.readers).await?)
    }

    async fn ticket_analytics(&self, range: &AnalyticsRange) -> StoreResult<TicketAnalytics> {
        let pool = &self.readers;
        let (from, to) = (range.from, range.to);
        let mut result = TicketAnalytics::default();
        let totals: (i64, i64, i64, i64, Option<f64>, i64) =
            sqlx::query_as(analytics::TOTALS).bind(from).bind(to).bind(now()).fetch_one(pool).await?;
        (
            result.created,
            result.resolved,
            result.sla_met,
            result.sla_breached,
            result.csat_average,
            result.csat_responses,
        ) = totals;
        for (column, target) in [
            ("status", &mut result.by_status),
            ("priority", &mut result.by_priority),
            ("category", &mut result.by_category),
        ] {
            *target = sqlx::query_as(&analytics::count_by(column)).bind(from).bind(to).fetch_all(pool).await?;
        }
        let ratings: Vec<(i32, i64)> = sqlx::query_as(&format!(
            "SELECT satisfaction_rating, COUNT(*) FROM tickets WHERE {} AND satisfaction_rating IS NOT NULL \
             GROUP BY satisfaction_rating",
            analytics::IN_RANGE
        ))
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
        for (rating, count) in ratings {
            if let Some(slot) = usize::try_from(rating - 1).ok().and_then(|i| result.csat_distribution.get_mut(i)) {
                *slot = count;
            }
        }
        for (durations, target) in [
            (analytics::first_response_seconds(&analytics::SQLITE), &mut result.first_response),
            (analytics::resolution_seconds(&analytics::SQLITE), &mut result.resolution),
        ] {
            let row: Option<(i32, i64, Option<f64>, Option<f64>)> =
                sqlx::query_as(&analytics::percentiles(&durations.0, &durations.1, None))
                    .bind(from)
                    .bind(to)
                    .fetch_optional(pool)
                    .await?;
            if let Some((_, count, median, p90)) = row {
                *target = DurationStats {
                    count,
                    median_seconds: analytics::whole_seconds(median),
                    p90_seconds: analytics::whole_seconds(p90),
                };
            }
        }
        let periods = range.periods();
        if !periods.is_empty() {
            let sql = analytics::period_series(periods.len());
            let mut query = sqlx::query_as::<_, (DateTime<Utc>, i64, i64, i64)>(&sql);
            for (start, end) in &periods {
                query = query.bind(*start).bind(*end);
            }
            result.periods = query
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|(start, created, resolved, backlog)| PeriodStats { start, created, resolved, backlog })
                .collect();
        }
        Ok(result)
    }

    async fn agent_analytics(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<AgentAnalytics>> {
        let pool = &self.readers;
        let rows: Vec<(Uuid, String, i32, i64, i64, i64, Option<f64>, i64)> =
            sqlx::query_as(analytics::AGENT_COUNTS).bind(from).bind(to).fetch_all(pool).await?;
        let (mut first_response, mut resolution) = (std::collections::HashMap::new(), std::collections::HashMap::new());
        let mut medians = [&mut first_response, &mut resolution];
        for (durations, target) in
            [analytics::first_response_seconds(&analytics::SQLITE), analytics::resolution_seconds(&analytics::SQLITE)]
                .into_iter()
                .zip(medians.iter_mut())
        {
            let sql = analytics::percentiles(
                &durations.0,
                &format!("{} AND assigned_agent_id IS NOT NULL", durations.1),
                Some("assigned_agent_id"),
            );
            let per_agent: Vec<(Uuid, i64, Option<f64>, Option<f64>)> =
                sqlx::query_as(&sql).bind(from).bind(to).fetch_all(pool).await?;
            target.extend(per_agent.into_iter().map(|(agent, _, median, _)| (agent, analytics::whole_seconds(median))));
        }
        Ok(rows
            .into_iter()
            .map(
                |(
                    agent_id,
                    full_name,
                    max_concurrent_tickets,
                    assigned,
                    resolved,
                    open_now,
                    csat_average,
                    csat_responses,
                )| {
                    AgentAnalytics {
                        first_response_median_seconds: first_response.get(&agent_id).copied().flatten(),
                        resolution_median_seconds: resolution.get(&agent_id).copied().flatten(),
                        agent_id,
                        full_name,
                        assigned,
                        resolved,
                        open_now,
                        csat_average,
                        csat_responses,
                        max_concurrent_tickets,
                    }
                },
            )
            .collect())
    }

    async fn create_audit(&self, audit: NewAudit) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        insert_audit(&mut conn, &audit).await
    }

    async fn list_audit(&self, filter: &AuditFilter, page: PageRequest<()>) -> StoreResult<Page<AuditEntry>> {
        let push_filters = |query: &mut QueryBuilder<'_, Sqlite>| {
            if let Some(actor) = filter.actor_id {
                query.push(" AND actor_id = ").push_bind(actor);
            }
            if let Some(action) = &filter.action {
                query.push(" AND action = ").push_bind(action.clone());
            }
            if let Some(entity_type) = &filter.entity_type {
                query.push(" AND entity_type = ").push_bind(entity_type.clone());
            }
            if let Some(entity_id) = &filter.entity_id {
                query.push(" AND entity_id = ").push_bind(entity_id.clone());
            }
            if let Some(from) = filter.from {
                query.push(" AND created_at >= ").push_bind(from);
            }
            if let Some(to) = filter.to {
                query.push(" AND created_at < ").push_bind(to);
            }
        };
        let mut query = QueryBuilder::<Sqlite>::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE 1"));
        push_filters(&mut query);
        query
            .push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(page.size))
            .push(" OFFSET ")
            .push_bind(page.offset());
        let rows: Vec<AuditRow> = query.build_query_as().fetch_all(&self.readers).await?;
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM audit_log WHERE 1");
        push_filters(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.readers).await?;
        Ok(Page { items: rows.into_iter().map(AuditEntry::from).collect(), total })
    }

    async fn erase_customer(&self, user_id: Uuid, audit: NewAudit) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let erased = sqlx::query(
            "UPDATE users SET email = $2, full_name = 'Erased customer', password_hash = '!erased', erased_at = $3, \
             updated_at = $3 WHERE id = $1 AND role = 'CUSTOMER'",
        )
        .bind(user_id)
        .bind(format!("erased-{}@erased.invalid", user_id.simple()))
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if erased.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        for statement in ERASE_CUSTOMER {
            sqlx::query(statement).bind(user_id).execute(&mut *tx).await?;
        }
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
