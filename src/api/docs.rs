//! The OpenAPI 3.1 document, generated from the handlers' annotations, and the offline Swagger UI.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{agents, analytics, auth, communications, gdpr, health, kb, tickets};

#[derive(OpenApi)]
#[openapi(
    info(title = "Alphintra Support API", description = "Tickets, conversations, agents and auth for the Alphintra help desk. \
        Errors are RFC 9457 problem documents (application/problem+json)."),
    servers((url = "/api/customer-support")),
    paths(
        auth::register, auth::login, auth::refresh, auth::logout, auth::me,
        tickets::list_tickets, tickets::create_ticket, tickets::get_ticket, tickets::update_ticket,
        tickets::delete_ticket, tickets::assign_ticket, tickets::rate_ticket,
        communications::list_communications, communications::post_communication,
        agents::list_agents, agents::create_agent, agents::get_agent, agents::set_agent_status,
        kb::search, kb::list_articles, kb::get_article, kb::create_article, kb::update_article,
        kb::delete_article, kb::publish_article, kb::unpublish_article, kb::archive_article, kb::vote_article,
        analytics::ticket_analytics, analytics::agent_analytics,
        gdpr::export_customer, gdpr::erase_customer, gdpr::list_audit,
        health::actuator_health, health::info,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "tickets", description = "Support tickets"),
        (name = "communications", description = "Ticket conversations"),
        (name = "agents", description = "Support agents"),
        (name = "knowledge-base", description = "Articles and search"),
        (name = "analytics", description = "Ticket and agent figures"),
        (name = "gdpr", description = "Data export, erasure and the audit log"),
        (name = "health", description = "Health and info"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}
