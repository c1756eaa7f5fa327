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
    modifiers(&BearerAuth, &CommonProblems, &ArticleLinks),
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

/// Answers every route can give besides its own, added to each operation that does not list them
/// already, so the document matches what clients (and schemathesis in CI) actually receive:
/// 401 for a missing, expired or forged token (public routes too: a bad token is never ignored),
/// 429 from the rate limiter, 503 when the database is unavailable or too slow; 400 where there
/// are parameters or a body to get wrong, 404 where the path names a resource, and 413 / 415 where
/// a JSON body is read.
struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    crate::error::PROBLEM_JSON,
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            if path.starts_with("/actuator/") {
                continue;
            }
            let operations =
                [item.get.as_mut(), item.post.as_mut(), item.put.as_mut(), item.delete.as_mut(), item.patch.as_mut()];
            for operation in operations.into_iter().flatten() {
                let parameters = operation.parameters.as_deref().unwrap_or_default();
                let in_path = parameters.iter().any(|p| matches!(p.parameter_in, ParameterIn::Path));
                let has_body = operation.request_body.is_some();
                let mut common = vec![
                    ("401", "Missing, expired or invalid bearer token"),
                    ("429", "Too many requests; retry after the Retry-After header's seconds"),
                    ("503", "The database is unavailable or did not answer in time; retry shortly"),
                ];
                if has_body || !parameters.is_empty() {
                    common.push(("400", "Invalid parameter or body; `errors` names each field"));
                }
                if in_path {
                    common.push(("404", "No such resource, or not yours"));
                }
                if has_body {
                    common.push(("413", "The body exceeds MAX_BODY_BYTES"));
                    common.push(("415", "The body must be application/json"));
                }
                for (status, description) in common {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem(description).into());
                }
            }
        }
    }
}

/// Links from a created article to the operations that take it: the article routes name their
/// parameter `key` (an id or a slug), so without them neither a client generator nor
/// schemathesis's stateful runs can tell that the `id` of the 201 goes there.
struct ArticleLinks;

/// The operations under `/knowledge-base/articles/{key}` (operation ids are the handler names).
const ARTICLE_OPERATIONS: [&str; 7] = [
    "get_article",
    "update_article",
    "publish_article",
    "unpublish_article",
    "archive_article",
    "vote_article",
    "delete_article",
];

impl Modify for ArticleLinks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::extensions::Extensions;
        use utoipa::openapi::link::LinkBuilder;
        use utoipa::openapi::RefOr;

        let created = openapi
            .paths
            .paths
            .get_mut("/knowledge-base/articles")
            .and_then(|item| item.post.as_mut())
            .and_then(|operation| operation.responses.responses.get_mut("201"));
        let Some(RefOr::T(created)) = created else { return };
        for operation in ARTICLE_OPERATIONS {
            // utoipa 5.5 writes `Link::operation_id` as "operation_id"; OpenAPI's field is
            // "operationId", so it goes in through the link's (flattened) extension map.
            let mut operation_id = Extensions::default();
            operation_id.insert("operationId".to_string(), operation.into());
            let mut link = LinkBuilder::new()
                .parameter("key", "$response.body#/id")
                .description("The new article's id as `key`")
                .build();
            link.extensions = Some(operation_id);
            created.links.insert(operation.to_string(), link.into());
        }
    }
}
