//! Health, info and the API documentation.

use reqwest::Method;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(health_reports_the_database, openapi_documents_every_endpoint);

async fn health_reports_the_database(app: TestApp) {
    let live = app.request(Method::GET, "/api/health", None, None).await;
    assert_eq!(live.status, 200);
    assert_eq!(live.body["status"], "UP");
    let health = app.request(Method::GET, "/actuator/health", None, None).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "UP");
    assert_eq!(health.body["components"]["db"]["status"], "UP");
    let expected = match app.backend {
        crate::helpers::Backend::Sqlite => "SQLite",
        crate::helpers::Backend::Postgres => "PostgreSQL",
    };
    assert_eq!(health.body["components"]["db"]["details"]["database"], expected);
    let info = app.request(Method::GET, "/actuator/info", None, None).await;
    assert_eq!(info.body["app"]["name"], "alphintra-support");
    assert!(health.headers.contains_key("x-request-id"));
}

async fn openapi_documents_every_endpoint(app: TestApp) {
    let doc = app.request(Method::GET, "/v3/api-docs", None, None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc.body["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/tickets", &["get", "post"][..]),
        ("/tickets/{id}", &["get", "put", "delete"][..]),
        ("/tickets/{id}/communications", &["get", "post"][..]),
        ("/tickets/{id}/assign", &["post"][..]),
        ("/agents", &["get", "post"][..]),
        ("/agents/{id}", &["get"][..]),
        ("/auth/register", &["post"][..]),
        ("/auth/login", &["post"][..]),
        ("/auth/refresh", &["post"][..]),
        ("/auth/logout", &["post"][..]),
        ("/auth/me", &["get"][..]),
        ("/actuator/health", &["get"][..]),
    ] {
        for method in methods {
            assert!(paths.get(path).and_then(|p| p.get(*method)).is_some(), "{method} {path} is documented");
        }
    }
    assert!(doc.body["components"]["schemas"]["Problem"].is_object());
    // Enums are documented with the values on the wire, not the Rust variant names.
    let schemas = &doc.body["components"]["schemas"];
    assert_eq!(schemas["Priority"]["enum"], serde_json::json!(["LOW", "MEDIUM", "HIGH", "URGENT"]));
    assert_eq!(schemas["Category"]["enum"][2], "DEPOSIT_WITHDRAWAL");
    // Every operation lists the problems any route can answer with.
    let get_ticket = &paths["/tickets/{id}"]["get"]["responses"];
    for status in ["401", "404", "429", "503"] {
        assert!(get_ticket.get(status).is_some(), "GET /tickets/{{id}} documents {status}");
    }
    let create = &paths["/tickets"]["post"]["responses"];
    for status in ["400", "413", "415"] {
        assert!(create.get(status).is_some(), "POST /tickets documents {status}");
    }
    assert_eq!(create["415"]["content"]["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem");

    // A created article links to every operation that takes its id (as `key`), and each link
    // names an operation that exists.
    let operation_ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    let links = paths["/knowledge-base/articles"]["post"]["responses"]["201"]["links"].as_object().unwrap();
    assert_eq!(links.len(), 7, "{links:?}");
    for link in links.values() {
        assert!(operation_ids.contains(&link["operationId"].as_str().unwrap()), "{link}");
        assert_eq!(link["parameters"]["key"], "$response.body#/id");
    }
    for (path, method) in
        [("/knowledge-base/articles/{key}", "delete"), ("/knowledge-base/articles/{key}/vote", "post")]
    {
        let id = paths[path][method]["operationId"].as_str().unwrap();
        assert!(links.values().any(|link| link["operationId"] == id), "{method} {path} is linked");
    }

    // Interactive docs are served from the binary: no CDN.
    let redirect = app.client.get(app.url("/swagger-ui.html")).send().await.unwrap();
    assert_eq!(redirect.status(), 200, "redirect followed to the UI");
    let html = redirect.text().await.unwrap();
    assert!(html.contains("swagger"), "Swagger UI page");
    assert!(!html.contains("https://"), "no external assets");
}
