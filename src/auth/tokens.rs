//! Access tokens (JWT: HS256 issued here, RS256 from Alphintra's auth service accepted) and
//! opaque refresh tokens, which are stored server-side only as SHA-256 hashes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::user::Role;

const ISSUER: &str = "alphintra-support";

/// Claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub role: Option<String>,
    /// Role list as issued by some identity providers (e.g. `["ROLE_AGENT"]`).
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
}

/// Who a verified token speaks for.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user_id: Uuid,
    pub role: Role,
    pub email: Option<String>,
    pub name: Option<String>,
    /// True for RS256 tokens from the external auth service (the user may not exist here yet).
    pub external: bool,
}

/// Signs and verifies access tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    external: Option<DecodingKey>,
    ttl_secs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
}

impl TokenKeys {
    /// `secret` signs HS256 tokens; `rsa_public_pem`, if given, verifies RS256 tokens.
    pub fn new(secret: &[u8], rsa_public_pem: Option<&[u8]>, ttl_secs: u64) -> anyhow::Result<Self> {
        let external = rsa_public_pem
            .map(DecodingKey::from_rsa_pem)
            .transpose()
            .map_err(|e| anyhow::anyhow!("JWT_PUBLIC_KEY_FILE is not an RSA public key in PEM form: {e}"))?;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            external,
            ttl_secs,
        })
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// Issues an HS256 access token for a user.
    pub fn issue(&self, user_id: Uuid, role: Role, email: &str, name: &str) -> anyhow::Result<String> {
        #[derive(Serialize)]
        struct Issued<'a> {
            sub: String,
            role: &'a str,
            email: &'a str,
            name: &'a str,
            iss: &'a str,
            iat: i64,
            exp: i64,
        }
        let now = chrono::Utc::now().timestamp();
        let claims = Issued {
            sub: user_id.to_string(),
            role: role.as_str(),
            email,
            name,
            iss: ISSUER,
            iat: now,
            exp: now + i64::try_from(self.ttl_secs)?,
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// Verifies a token's signature, algorithm and expiry and returns who it speaks for.
    /// Only HS256 (ours) and RS256 (external, when configured) are accepted; never `none`.
    pub fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let (key, mut validation, external) = match header.alg {
            Algorithm::HS256 => (&self.decoding, Validation::new(Algorithm::HS256), false),
            Algorithm::RS256 => match &self.external {
                Some(key) => (key, Validation::new(Algorithm::RS256), true),
                None => return Err(TokenError::Invalid),
            },
            _ => return Err(TokenError::Invalid),
        };
        if !external {
            validation.set_issuer(&[ISSUER]);
        }
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })?;
        let claims = data.claims;
        let user_id = Uuid::parse_str(&claims.sub).map_err(|_| TokenError::Invalid)?;
        let role = role_from_claims(&claims).ok_or(TokenError::Invalid)?;
        Ok(Identity { user_id, role, email: claims.email, name: claims.name, external })
    }
}

/// Reads `role` ("AGENT") or `roles` (["ROLE_AGENT"]); the most privileged known role wins.
/// A token without any role is treated as a customer's.
fn role_from_claims(claims: &Claims) -> Option<Role> {
    let mut names: Vec<&str> = claims.role.iter().map(String::as_str).collect();
    if let Some(roles) = &claims.roles {
        names.extend(roles.iter().map(String::as_str));
    }
    if names.is_empty() {
        return Some(Role::Customer);
    }
    let parsed: Vec<Role> = names
        .iter()
        .filter_map(|name| {
            let name = name.strip_prefix("ROLE_").unwrap_or(name).to_ascii_uppercase();
            match name.as_str() {
                "USER" => Some(Role::Customer),
                other => other.parse().ok(),
            }
        })
        .collect();
    [Role::Admin, Role::Supervisor, Role::Agent, Role::Customer].into_iter().find(|role| parsed.contains(role))
}

/// A new opaque refresh token (256 random bits) and the hash under which it is stored.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let token = URL_SAFE_NO_PAD.encode(super::password::rand_bytes::<32>());
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&[7u8; 32], None, 60).unwrap()
    }

    #[test]
    fn issued_token_verifies() {
        let id = Uuid::new_v4();
        let token = keys().issue(id, Role::Agent, "a@example.com", "Ann").unwrap();
        let identity = keys().verify(&token).unwrap();
        assert_eq!(identity.user_id, id);
        assert_eq!(identity.role, Role::Agent);
        assert!(!identity.external);
    }

    #[test]
    fn wrong_secret_and_alg_none_are_rejected() {
        let token = keys().issue(Uuid::new_v4(), Role::Admin, "a@example.com", "Ann").unwrap();
        let other = TokenKeys::new(&[8u8; 32], None, 60).unwrap();
        assert!(other.verify(&token).is_err());

        let payload = token.split('.').nth(1).unwrap();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(keys().verify(&format!("{none_header}.{payload}.")).is_err());
    }

    #[test]
    fn roles_claim_maps_to_the_highest_role() {
        let claims = |role: Option<&str>, roles: Option<Vec<&str>>| Claims {
            sub: String::new(),
            role: role.map(String::from),
            roles: roles.map(|r| r.into_iter().map(String::from).collect()),
            email: None,
            name: None,
            exp: 0,
            iat: 0,
        };
        assert_eq!(role_from_claims(&claims(None, None)), Some(Role::Customer));
        assert_eq!(role_from_claims(&claims(None, Some(vec!["ROLE_USER", "ROLE_AGENT"]))), Some(Role::Agent));
        assert_eq!(role_from_claims(&claims(Some("ADMIN"), None)), Some(Role::Admin));
        assert_eq!(role_from_claims(&claims(Some("PIRATE"), None)), None);
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, hash_a) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(hash_refresh_token(&a), hash_a);
        assert_eq!(a.len(), 43);
    }
}
