//! PostgreSQL implementation of [`Store`]: the production backend, shared by many instances.

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

use super::analytics::{self, AgentAnalytics, AnalyticsRange, DurationStats, PeriodStats, TicketAnalytics};
use super::rows::*;
use super::*;

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects and applies `migrations/postgres`.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url)?.application_name("alphintra-support");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            // Fail fast when the database is gone: requests answer 503 instead of hanging.
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

async fn insert_audit(conn: &mut PgConnection, audit: &NewAudit) -> StoreResult<()> {
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
    conn: &mut PgConnection,
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

async fn fetch_ticket(conn: &mut PgConnection, id: Uuid, lock: bool) -> StoreResult<Ticket> {
    let sql = format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1 AND deleted_at IS NULL{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row: TicketRow = sqlx::query_as(&sql).bind(id).fetch_one(conn).await?;
    row.try_into()
}

async fn fetch_agent(pool: &PgPool, column: &str, id: Uuid) -> StoreResult<Agent> {
    let sql = format!("{AGENT_SELECT} WHERE a.{column} = $1");
    let row: AgentRow = sqlx::query_as(&sql).bind(id).fetch_one(pool).await?;
    row.try_into()
}

async fn insert_user(conn: &mut PgConnection, user: &NewUser) -> StoreResult<()> {
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

fn push_ticket_filters(query: &mut QueryBuilder<'_, Postgres>, filter: &TicketFilter) {
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
        query.push(" AND (FALSE");
        if let Some(q) = &filter.q {
            let (leading, last) = q.postgres_parts();
            let tsquery = |query: &mut QueryBuilder<'_, Postgres>| {
                query
                    .push("(websearch_to_tsquery('english', ")
                    .push_bind(leading.clone())
                    .push(") && to_tsquery('english', ")
                    .push_bind(last.clone())
                    .push("))");
            };
            query.push(" OR search_vector @@ ");
            tsquery(query);
            query.push(" OR id IN (SELECT ticket_id FROM communications WHERE search_vector @@ ");
            tsquery(query);
            if !filter.search_notes {
                query.push(" AND type <> 'INTERNAL_NOTE'");
            }
            query.push(")");
        }
        if let Some(number) = filter.ticket_number {
            query.push(" OR number = ").push_bind(number);
        }
        query.push(")");
    }
}

fn push_article_filters(query: &mut QueryBuilder<'_, Postgres>, filter: &ArticleFilter) {
    if filter.published_only {
        query.push(" AND status = 'PUBLISHED'");
    }
    if let Some(status) = filter.status {
        query.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(category) = filter.category {
        query.push(" AND category = ").push_bind(category.as_str());
    }
}

async fn insert_article(conn: &mut PgConnection, article: &Article) -> StoreResult<()> {
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
impl Store for PgStore {
    fn backend_name(&self) -> &'static str {
        "PostgreSQL"
    }

    fn pool_usage(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    async fn count_tickets_by_status(&self) -> StoreResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT status, COUNT(*) FROM tickets WHERE deleted_at IS NULL GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
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
        let row: UserRow = sqlx::query_as(&sql).bind(id).fetch_one(&self.pool).await?;
        row.try_into()
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        let row: UserRow = sqlx::query_as(&sql).bind(email).fetch_one(&self.pool).await?;
        row.try_into()
    }

    async fn count_users(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
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
        let sql = format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE");
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
        let row: RefreshRow = sqlx::query_as(&sql).bind(token_hash).fetch_one(&self.pool).await?;
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
        fetch_agent(&self.pool, "id", id).await
    }

    async fn agent_by_user_id(&self, user_id: Uuid) -> StoreResult<Agent> {
        fetch_agent(&self.pool, "user_id", user_id).await
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
            sqlx::query_as(&sql).bind(i64::from(page.size)).bind(page.offset()).fetch_all(&self.pool).await?;
        let total = sqlx::query_scalar("SELECT COUNT(*) FROM support_agents").fetch_one(&self.pool).await?;
        Ok(Page { items: convert(rows)?, total })
    }

    async fn create_ticket(
        &self,
        ticket: NewTicket,
        append: Vec<NewCommunication>,
        audit: Option<NewAudit>,
    ) -> StoreResult<(Ticket, Vec<Communication>)> {
        let mut tx = self.pool.begin().await?;
        let insert = sqlx::query(
            "INSERT INTO tickets (id, number, subject, description, status, priority, priority_rank, category, tags, \
             customer_id, assigned_agent_id, created_at, updated_at, sla_due_at) \
             VALUES ($1, nextval('ticket_number_seq'), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)",
        );
        bind_new_ticket!(insert, ticket).execute(&mut *tx).await?;
        let communications = append_communications(&mut tx, ticket.id, &append).await?;
        if let Some(audit) = &audit {
            insert_audit(&mut tx, audit).await?;
        }
        let stored = fetch_ticket(&mut tx, ticket.id, false).await?;
        tx.commit().await?;
        Ok((stored, communications))
    }

    async fn ticket_by_id(&self, id: Uuid) -> StoreResult<Ticket> {
        let mut conn = self.pool.acquire().await?;
        fetch_ticket(&mut conn, id, false).await
    }

    async fn list_tickets(&self, filter: &TicketFilter, page: PageRequest<TicketSort>) -> StoreResult<Page<Ticket>> {
        let mut query = QueryBuilder::<Postgres>::new(format!("SELECT {TICKET_COLUMNS} FROM tickets"));
        push_ticket_filters(&mut query, filter);
        let direction = if page.descending { "DESC" } else { "ASC" };
        query
            .push(format!(" ORDER BY {} {direction}, number {direction} LIMIT ", page.sort.column()))
            .push_bind(i64::from(page.size))
            .push(" OFFSET ")
            .push_bind(page.offset());
        let rows: Vec<TicketRow> = query.build_query_as().fetch_all(&self.pool).await?;

        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM tickets");
        push_ticket_filters(&mut count, filter);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(Page { items: convert(rows)?, total })
    }

    async fn change_ticket(&self, id: Uuid, decide: TicketChangeFn) -> StoreResult<(Ticket, Vec<Communication>)> {
        let mut tx = self.pool.begin().await?;
        let current = fetch_ticket(&mut tx, id, true).await?;
        let change = decide(&current).map_err(StoreError::Rejected)?;
        let t = &change.ticket;
        bind_ticket_update!(sqlx::query(UPDATE_TICKET), id, t).execute(&mut *tx).await?;
        let communications = append_communications(&mut tx, id, &change.append).await?;
        if let Some(audit) = &change.audit {
            insert_audit(&mut tx, audit).await?;
        }
        let stored = fetch_ticket(&mut tx, id, false).await?;
        tx.commit().await?;
        Ok((stored, communications))
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
            .fetch_all(&self.pool)
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
        let row: ArticleRow = sqlx::query_as(&sql).bind(id).fetch_one(&self.pool).await?;
        row.try_into()
    }

    async fn article_by_slug(&self, slug: &str) -> StoreResult<Article> {
        let sql = format!("SELECT {ARTICLE_COLUMNS} FROM knowledge_base_articles WHERE slug = $1");
        let row: ArticleRow = sqlx::query_as(&sql).bind(slug).fetch_one(&self.pool).await?;
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
        let mut query =
            QueryBuilder::<Postgres>::new(format!("SELECT {ARTICLE_COLUMNS} FROM knowledge_base_articles WHERE TRUE"));
        push_article_filters(&mut query, filter);
        query
            .push(" ORDER BY title, id LIMIT ")
            .push_bind(i64::from(page.size))
            .push(" OFFSET ")
            .push_bind(page.offset());
        let rows: Vec<ArticleRow> = query.build_query_as().fetch_all(&self.pool).await?;
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM knowledge_base_articles WHERE TRUE");
        push_article_filters(&mut count, filter);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(Page { items: convert(rows)?, total })
    }

    async fn search_articles(
        &self,
        query: &SearchQuery,
        filter: &ArticleFilter,
        page: PageRequest<()>,
    ) -> StoreResult<Page<SearchHit>> {
        let (leading, last) = query.postgres_parts();
        let tsquery = |sql: &mut QueryBuilder<'_, Postgres>| {
            sql.push("websearch_to_tsquery('english', ")
                .push_bind(leading.clone())
                .push(") && to_tsquery('english', ")
                .push_bind(last.clone())
                .push(")");
        };
        // The full vector decides what matches, through its GIN index; each match is ranked on
        // the small rank_vector kept in the row (migration 0006). The total comes from the same
        // pass (a window count over the matches, taken before the page is cut), and the full row
        // and the headline (which re-parses the whole body) are read for the page's rows only.
        let mut sql = QueryBuilder::<Postgres>::new("WITH q AS (SELECT ");
        tsquery(&mut sql);
        sql.push(
            " AS query), matches AS (SELECT id, updated_at, ts_rank(rank_vector, q.query)::float8 AS rank \
               FROM knowledge_base_articles, q WHERE search_vector @@ q.query",
        );
        push_article_filters(&mut sql, filter);
        // OFFSET 0 keeps the rank computed in the scan: otherwise the window buffers whole rows.
        sql.push(
            " OFFSET 0), hits AS (SELECT id, updated_at, rank, COUNT(*) OVER () AS total FROM matches \
               ORDER BY rank DESC, updated_at DESC, id LIMIT ",
        )
        .push_bind(i64::from(page.size))
        .push(" OFFSET ")
        .push_bind(page.offset())
        .push(format!(
            ") SELECT {}, hits.rank, hits.total, ts_headline('english', a.content, q.query, ",
            article_columns_of_a()
        ))
        .push_bind(format!(
            "StartSel={},StopSel={},MaxWords=35,MinWords=15,MaxFragments=1",
            crate::domain::kb::MATCH_START,
            crate::domain::kb::MATCH_END
        ))
        .push(
            ") AS snippet FROM hits JOIN knowledge_base_articles a ON a.id = hits.id, q \
             ORDER BY hits.rank DESC, hits.updated_at DESC, hits.id",
        );

        let mut tx = self.pool.begin().await?;
        // The planner does not cost reading the out-of-line full vector: for a broad query it
        // picks a sequential scan that fetches every article's vector from TOAST (~40 ms for
        // 10,000 articles) over the GIN bitmap scan that needs no vector at all (~5 ms).
        sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut *tx).await?;
        let rows: Vec<RankedHitRow> = sql.build_query_as().fetch_all(&mut *tx).await?;
        let total = match rows.first() {
            Some(row) => row.total,
            None if page.offset() == 0 => 0,
            // Past the last page: count on its own.
            None => {
                let mut count = QueryBuilder::<Postgres>::new(
                    "SELECT COUNT(*) FROM knowledge_base_articles WHERE search_vector @@ (",
                );
                tsquery(&mut count);
                count.push(")");
                push_article_filters(&mut count, filter);
                count.build_query_scalar().fetch_one(&mut *tx).await?
            }
        };
        tx.commit().await?;
        let items = rows
            .into_iter()
            .map(|row| {
                let HitRow { article, rank, snippet } = row.hit;
                Ok(SearchHit { article: article.try_into()?, rank, snippet })
            })
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
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM knowledge_base_articles").fetch_one(&self.pool).await?)
    }

    async fn ticket_analytics(&self, range: &AnalyticsRange) -> StoreResult<TicketAnalytics> {
        let pool = &self.pool;
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
            (analytics::first_response_seconds(&analytics::POSTGRES), &mut result.first_response),
            (analytics::resolution_seconds(&analytics::POSTGRES), &mut result.resolution),
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
        let pool = &self.pool;
        let rows: Vec<(Uuid, String, i32, i64, i64, i64, Option<f64>, i64)> =
            sqlx::query_as(analytics::AGENT_COUNTS).bind(from).bind(to).fetch_all(pool).await?;
        let (mut first_response, mut resolution) = (std::collections::HashMap::new(), std::collections::HashMap::new());
        let mut medians = [&mut first_response, &mut resolution];
        for (durations, target) in [
            analytics::first_response_seconds(&analytics::POSTGRES),
            analytics::resolution_seconds(&analytics::POSTGRES),
        ]
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
        let push_filters = |query: &mut QueryBuilder<'_, Postgres>| {
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
        let mut query = QueryBuilder::<Postgres>::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE TRUE"));
        push_filters(&mut query);
        query
            .push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(page.size))
            .push(" OFFSET ")
            .push_bind(page.offset());
        let rows: Vec<AuditRow> = query.build_query_as().fetch_all(&self.pool).await?;
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM audit_log WHERE TRUE");
        push_filters(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
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
