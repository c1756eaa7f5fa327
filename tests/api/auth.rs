//! Sign-up, sign-in, refresh rotation, sign-out, throttling and token verification.

use jsonwebtoken::{EncodingKey, Header};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, JWT_SECRET};
use crate::on_both_backends;

on_both_backends!(
    customer_registers_signs_in_and_sees_themselves,
    refresh_rotates_and_reuse_revokes_the_family,
    logout_revokes_the_refresh_token,
    registration_validates_every_field,
    duplicate_email_is_a_conflict,
    repeated_login_failures_are_throttled,
    forged_expired_and_unsigned_tokens_are_rejected,
    bootstrap_admin_can_sign_in,
);

async fn customer_registers_signs_in_and_sees_themselves(app: TestApp) {
    let customer = app.customer().await;
    let me = app.get("/auth/me", &customer.token).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["role"], "CUSTOMER");
    assert_eq!(me.body["email"], customer.email.as_str());
    assert!(me.body["agent"].is_null());
    assert!(me.body.get("passwordHash").is_none());

    // E-mail is case-insensitive at sign-in.
    let again = app.login(&customer.email.to_uppercase(), "customer-pass-1").await;
    assert_eq!(again.id, customer.id);

    let wrong = app
        .request(Method::POST, "/auth/login", None, Some(json!({ "email": customer.email, "password": "nope-nope" })))
        .await;
    wrong.problem(401);
    let unknown = app
        .request(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": "ghost@example.com", "password": "nope-nope" })),
        )
        .await;
    assert_eq!(unknown.body["detail"], wrong.body["detail"], "unknown e-mail and wrong password look the same");
}

async fn refresh_rotates_and_reuse_revokes_the_family(app: TestApp) {
    let customer = app.customer().await;
    let first =
        app.request(Method::POST, "/auth/refresh", None, Some(json!({ "refreshToken": customer.refresh_token }))).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let rotated = first.body["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(rotated, customer.refresh_token);
    assert_eq!(app.get("/auth/me", first.body["accessToken"].as_str().unwrap()).await.status, 200);

    // The retired token comes back: treated as theft, so the whole chain dies.
    let replay =
        app.request(Method::POST, "/auth/refresh", None, Some(json!({ "refreshToken": customer.refresh_token }))).await;
    replay.problem(401);
    let after_replay = app.request(Method::POST, "/auth/refresh", None, Some(json!({ "refreshToken": rotated }))).await;
    after_replay.problem(401);

    let garbage = app.request(Method::POST, "/auth/refresh", None, Some(json!({ "refreshToken": "garbage" }))).await;
    garbage.problem(401);
}

async fn logout_revokes_the_refresh_token(app: TestApp) {
    let customer = app.customer().await;
    let out =
        app.request(Method::POST, "/auth/logout", None, Some(json!({ "refreshToken": customer.refresh_token }))).await;
    assert_eq!(out.status, 204);
    let refresh =
        app.request(Method::POST, "/auth/refresh", None, Some(json!({ "refreshToken": customer.refresh_token }))).await;
    refresh.problem(401);
    // Another sign-in of the same user is a different family and still works.
    let other = app.login(&customer.email, "customer-pass-1").await;
    let ok =
        app.request(Method::POST, "/auth/refresh", None, Some(json!({ "refreshToken": other.refresh_token }))).await;
    assert_eq!(ok.status, 200);
}

async fn registration_validates_every_field(app: TestApp) {
    let reply = app
        .request(
            Method::POST,
            "/auth/register",
            None,
            Some(json!({ "email": "not-an-email", "password": "short", "fullName": "   " })),
        )
        .await;
    reply.problem(400);
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["email", "fullName", "password"]);

    let missing = app.request(Method::POST, "/auth/register", None, Some(json!({ "email": "a@example.com" }))).await;
    missing.problem(400);
    assert_eq!(missing.error_fields(), vec!["password"]);
}

async fn duplicate_email_is_a_conflict(app: TestApp) {
    let customer = app.customer().await;
    let reply = app
        .request(
            Method::POST,
            "/auth/register",
            None,
            Some(json!({ "email": customer.email.to_uppercase(), "password": "another-pass", "fullName": "Copy Cat" })),
        )
        .await;
    reply.problem(409);
}

async fn repeated_login_failures_are_throttled(app: TestApp) {
    let customer = app.customer().await;
    for _ in 0..5 {
        let reply = app
            .request(
                Method::POST,
                "/auth/login",
                None,
                Some(json!({ "email": customer.email, "password": "wrong-pass" })),
            )
            .await;
        reply.problem(401);
    }
    // Even the right password is refused while throttled.
    let reply = app
        .request(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": customer.email, "password": "customer-pass-1" })),
        )
        .await;
    reply.problem(429);
    let retry_after: u64 = reply.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after > 0 && retry_after <= 900);
}

fn sign(claims: serde_json::Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(secret)).unwrap()
}

async fn forged_expired_and_unsigned_tokens_are_rejected(app: TestApp) {
    let customer = app.customer().await;
    let now = chrono::Utc::now().timestamp();
    let sub = customer.id.to_string();
    let valid = sign(
        json!({ "sub": sub, "role": "CUSTOMER", "iss": "alphintra-support", "exp": now + 60 }),
        JWT_SECRET.as_bytes(),
    );
    assert_eq!(app.get("/auth/me", &valid).await.status, 200, "a correctly signed token works");

    let expired = sign(
        json!({ "sub": sub, "role": "CUSTOMER", "iss": "alphintra-support", "exp": now - 120 }),
        JWT_SECRET.as_bytes(),
    );
    let reply = app.get("/auth/me", &expired).await;
    reply.problem(401);
    assert!(reply.body["detail"].as_str().unwrap().contains("expired"));

    let wrong_key = sign(
        json!({ "sub": sub, "role": "ADMIN", "iss": "alphintra-support", "exp": now + 60 }),
        b"another-secret-of-thirty-two-bytes!!",
    );
    app.get("/tickets", &wrong_key).await.problem(401);

    // Promote oneself by editing the payload and dropping the signature (alg: none).
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload =
        b64.encode(json!({ "sub": sub, "role": "ADMIN", "iss": "alphintra-support", "exp": now + 60 }).to_string());
    app.get("/agents", &format!("{header}.{payload}.")).await.problem(401);

    app.request(Method::GET, "/auth/me", None, None).await.problem(401);
    app.get("/auth/me", "not.a.jwt").await.problem(401);
}

async fn bootstrap_admin_can_sign_in(app: TestApp) {
    let admin = app.admin().await;
    let me = app.get("/auth/me", &admin.token).await;
    assert_eq!(me.body["role"], "ADMIN");
    assert_eq!(app.audit_count("user.bootstrap_admin", &admin.id.to_string()).await, 1);
}
