//! Argon2id password hashing, run off the async runtime because it is deliberately slow.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Hashes a password with Argon2id (the crate's default parameters: 19 MiB, 2 passes).
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
    })
    .await?
}

/// Checks a password against a stored hash; a malformed stored hash never matches.
pub async fn verify(password: String, stored_hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored_hash)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A valid hash of a random password, verified against when the account does not exist,
/// so a failed login takes the same time whether or not the e-mail is registered.
pub async fn decoy_hash() -> String {
    let random: [u8; 16] = rand_bytes();
    hash(hex(&random)).await.unwrap_or_default()
}

pub(crate) fn rand_bytes<const N: usize>() -> [u8; N] {
    use argon2::password_hash::rand_core::RngCore;
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hash_verifies_only_the_right_password() {
        let hash = super::hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(super::verify("correct horse".into(), hash.clone()).await);
        assert!(!super::verify("wrong horse".into(), hash).await);
        assert!(!super::verify("x".into(), "not a hash".into()).await);
    }
}
