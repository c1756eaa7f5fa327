//! RS256 access tokens from Alphintra's own auth service are accepted when its public key is
//! configured; the user is created here on first sight.

use std::process::Command;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Backend, TestApp};

/// Generates an RSA key pair with the openssl command line tool into `dir`.
fn rsa_key_pair(dir: &std::path::Path) -> Option<(Vec<u8>, std::path::PathBuf)> {
    let private = dir.join("private.pem");
    let public = dir.join("public.pem");
    let generated = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&private)
        .output()
        .ok()?;
    if !generated.status.success() {
        return None;
    }
    let exported =
        Command::new("openssl").args(["rsa", "-pubout", "-in"]).arg(&private).arg("-out").arg(&public).output().ok()?;
    exported.status.success().then(|| (std::fs::read(&private).ok(), public)).and_then(|(p, q)| Some((p?, q)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_tokens_from_the_main_auth_service_are_accepted() {
    let dir = std::env::temp_dir().join(format!("alphintra-rsa-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let Some((private_pem, public_path)) = rsa_key_pair(&dir) else {
        assert!(std::env::var("REQUIRE_ALL_BACKENDS").is_err(), "openssl is required to generate an RSA key");
        eprintln!("SKIPPED: rs256 test: the openssl command is not available");
        return;
    };
    let Some(app) =
        TestApp::spawn_with(Backend::Sqlite, "rs256", |config| config.jwt_public_key_file = Some(public_path.clone()))
            .await
    else {
        return;
    };
    let key = EncodingKey::from_rsa_pem(&private_pem).unwrap();
    let user_id = Uuid::new_v4();
    let exp = chrono::Utc::now().timestamp() + 300;
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &json!({ "sub": user_id, "roles": ["ROLE_USER"], "email": "trader@example.net", "name": "Tess Trader", "exp": exp }),
        &key,
    )
    .unwrap();

    let me = app.get("/auth/me", &token).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["id"], user_id.to_string());
    assert_eq!(me.body["role"], "CUSTOMER");
    assert_eq!(me.body["email"], "trader@example.net");
    let ticket = app.post("/tickets", &token, json!({ "subject": "From the main app", "description": "hello" })).await;
    assert_eq!(ticket.status, 201, "{}", ticket.body);

    // Signed with a different RSA key: refused.
    let other_dir = dir.join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let (other_private, _) = rsa_key_pair(&other_dir).unwrap();
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &json!({ "sub": user_id, "roles": ["ROLE_ADMIN"], "exp": exp }),
        &EncodingKey::from_rsa_pem(&other_private).unwrap(),
    )
    .unwrap();
    app.get("/auth/me", &forged).await.problem(401);
    let _ = std::fs::remove_dir_all(&dir);
}
