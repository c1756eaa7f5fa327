//! Demo data for a first look: agents, customers and tickets in every status with conversations,
//! loaded by `--demo` into an empty database. Every demo account's password is [`DEMO_PASSWORD`].

use chrono::Duration;
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

use crate::auth::password;
use crate::domain::agent::{AgentLevel, AgentStatus};
use crate::domain::ticket::{Category, CommunicationType, Priority, SenderType, TicketStatus};
use crate::domain::user::Role;
use crate::store::{now, NewAgent, NewAudit, NewCommunication, NewTicket, NewUser, Store, TicketChange};

pub const DEMO_PASSWORD: &str = "alphintra-demo";
pub const DEMO_ADMIN_EMAIL: &str = "admin@alphintra.example";

const DATA: &str = include_str!("demo_data.json");
const ARTICLES: &str = include_str!("kb_articles.json");

#[derive(Deserialize)]
struct DemoArticle {
    slug: String,
    title: String,
    summary: String,
    category: Category,
    tags: Vec<String>,
    status: crate::domain::kb::ArticleStatus,
    content: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DemoData {
    agents: Vec<DemoAgent>,
    customers: Vec<DemoCustomer>,
    tickets: Vec<DemoTicket>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DemoAgent {
    full_name: String,
    email: String,
    role: Role,
    level: AgentLevel,
    skills: Vec<Category>,
    languages: Vec<String>,
    status: AgentStatus,
    max_concurrent_tickets: i32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DemoCustomer {
    full_name: String,
    email: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DemoTicket {
    customer: String,
    assignee: Option<String>,
    subject: String,
    description: String,
    status: TicketStatus,
    priority: Priority,
    category: Category,
    tags: Vec<String>,
    age_hours: f64,
    escalation_level: i32,
    satisfaction_rating: Option<i32>,
    messages: Vec<DemoMessage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DemoMessage {
    from: String,
    after_minutes: i64,
    content: String,
}

/// The demo knowledge base (61 articles for a trading platform) as store records with fresh ids;
/// the bench tool builds its 10,000-article corpus from them.
pub fn knowledge_base() -> anyhow::Result<Vec<crate::store::Article>> {
    let articles: Vec<DemoArticle> = serde_json::from_str(ARTICLES)?;
    Ok(articles
        .into_iter()
        .map(|demo| {
            let at = now();
            let published = demo.status == crate::domain::kb::ArticleStatus::Published;
            crate::store::Article {
                id: Uuid::new_v4(),
                slug: demo.slug,
                title: demo.title,
                summary: demo.summary,
                content: demo.content,
                category: demo.category,
                tags: demo.tags,
                status: demo.status,
                view_count: 0,
                helpful_count: 0,
                not_helpful_count: 0,
                author_id: None,
                created_at: at,
                updated_at: at,
                published_at: published.then_some(at),
            }
        })
        .collect())
}

fn seed_audit(entity_type: &str, entity_id: Uuid) -> NewAudit {
    NewAudit {
        actor_id: None,
        action: "demo.seeded".into(),
        entity_type: entity_type.into(),
        entity_id: entity_id.to_string(),
        before: None,
        after: None,
    }
}

/// Loads the demo data unless the database already has users.
pub async fn seed_if_empty(store: &dyn Store) -> anyhow::Result<()> {
    if store.count_users().await? > 0 {
        tracing::info!("demo data not loaded: the database is not empty");
        return Ok(());
    }
    let data: DemoData = serde_json::from_str(DATA)?;
    // One hash for every demo account: Argon2 is slow on purpose.
    let hash = password::hash(DEMO_PASSWORD.to_string()).await?;

    let admin = NewUser {
        id: Uuid::new_v4(),
        email: DEMO_ADMIN_EMAIL.into(),
        full_name: "Alex Admin".into(),
        role: Role::Admin,
        password_hash: hash.clone(),
    };
    store.create_user(admin, Some(seed_audit("user", Uuid::nil()))).await?;

    // e-mail -> (user id, agent id)
    let mut agents: HashMap<String, (Uuid, Uuid)> = HashMap::new();
    for demo in data.agents {
        let user = NewUser {
            id: Uuid::new_v4(),
            email: demo.email.clone(),
            full_name: demo.full_name,
            role: demo.role,
            password_hash: hash.clone(),
        };
        let agent = NewAgent {
            id: Uuid::new_v4(),
            level: demo.level,
            skills: demo.skills,
            languages: demo.languages,
            status: demo.status,
            max_concurrent_tickets: demo.max_concurrent_tickets,
        };
        agents.insert(demo.email, (user.id, agent.id));
        let audit = seed_audit("agent", agent.id);
        store.create_agent(user, agent, audit).await?;
    }
    let mut customers: HashMap<String, Uuid> = HashMap::new();
    for demo in data.customers {
        let user = NewUser {
            id: Uuid::new_v4(),
            email: demo.email.clone(),
            full_name: demo.full_name,
            role: Role::Customer,
            password_hash: hash.clone(),
        };
        customers.insert(demo.email, user.id);
        store.create_user(user, None).await?;
    }

    let seeded_at = now();
    // Oldest first, so ticket numbers follow creation time.
    let mut tickets = data.tickets;
    tickets.sort_by(|a, b| b.age_hours.total_cmp(&a.age_hours));
    for demo in tickets {
        let customer_id = *customers
            .get(&demo.customer)
            .ok_or_else(|| anyhow::anyhow!("demo ticket names unknown customer {}", demo.customer))?;
        let assignee = demo.assignee.as_ref().and_then(|email| agents.get(email)).copied();
        let created_at = seeded_at - Duration::minutes((demo.age_hours * 60.0) as i64);
        let mut messages = Vec::new();
        let mut first_response_at = None;
        for message in demo.messages.iter().filter(|m| m.content != demo.description) {
            let at = created_at + Duration::minutes(message.after_minutes);
            let (sender_id, sender_type, kind) = match message.from.as_str() {
                "customer" => (Some(customer_id), SenderType::Customer, CommunicationType::Message),
                "agent" => {
                    first_response_at = first_response_at.or(Some(at));
                    (assignee.map(|a| a.0), SenderType::Agent, CommunicationType::Message)
                }
                "note" => (assignee.map(|a| a.0), SenderType::Agent, CommunicationType::InternalNote),
                _ => (None, SenderType::System, CommunicationType::StatusChange),
            };
            messages.push(NewCommunication {
                id: Uuid::new_v4(),
                sender_id,
                sender_type,
                kind,
                content: message.content.clone(),
                created_at: at,
            });
        }
        let last_activity = messages.last().map_or(created_at, |m| m.created_at);
        let ticket = NewTicket {
            id: Uuid::new_v4(),
            subject: demo.subject,
            description: demo.description,
            status: demo.status,
            priority: demo.priority,
            category: demo.category,
            tags: demo.tags,
            customer_id,
            assigned_agent_id: assignee.map(|a| a.1),
            created_at,
            sla_due_at: demo.priority.sla_due(created_at),
        };
        let (ticket, _) = store.create_ticket(ticket, messages, None).await?;
        let (escalation_level, rating) = (demo.escalation_level, demo.satisfaction_rating);
        let resolved = matches!(demo.status, TicketStatus::Resolved | TicketStatus::Closed);
        store
            .change_ticket(
                ticket.id,
                Box::new(move |current| {
                    let mut ticket = current.clone();
                    ticket.updated_at = last_activity;
                    ticket.first_response_at = first_response_at;
                    ticket.resolved_at = resolved.then_some(last_activity);
                    ticket.escalation_level = escalation_level;
                    ticket.satisfaction_rating = rating;
                    Ok(TicketChange { ticket, append: Vec::new(), audit: None })
                }),
            )
            .await?;
    }
    for article in knowledge_base()? {
        let audit = seed_audit("kb_article", article.id);
        store.create_article(article, audit).await?;
    }
    tracing::info!("demo data loaded (accounts and password: see README, admin: {DEMO_ADMIN_EMAIL})");
    Ok(())
}
