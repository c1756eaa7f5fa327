//! Where refresh tokens (sessions) live: in Redis when it is configured (shared by every instance,
//! expiring by themselves), otherwise in the database. While Redis is unreachable, new sessions are
//! written to the database and lookups fall back to it, so sign-in and refresh keep working.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use uuid::Uuid;

use crate::store::{now, RefreshToken, Store, StoreError, StoreResult};

const REDIS_TIMEOUT: Duration = Duration::from_millis(300);

/// Marks the presented token used and stores its successor, atomically; returns the presented
/// token's fields as they were (empty when unknown). KEYS: old, new, family set.
/// ARGV: now, new id, user, family, expiry (unix s), ttl (s), new key.
const ROTATE: &str = r#"
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return fields end
local revoked = redis.call('HGET', KEYS[1], 'revoked')
local exp = tonumber(redis.call('HGET', KEYS[1], 'exp'))
if revoked == '0' and exp > tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'revoked', '1')
  redis.call('HSET', KEYS[2], 'id', ARGV[2], 'user', ARGV[3], 'family', ARGV[4], 'exp', ARGV[5], 'revoked', '0')
  redis.call('EXPIRE', KEYS[2], ARGV[6])
  redis.call('SADD', KEYS[3], ARGV[7])
  redis.call('EXPIRE', KEYS[3], ARGV[6])
end
return fields
"#;

/// Revokes every token of every family of a user. KEYS: the user's set of family keys.
const REVOKE_USER: &str = r#"
for _, family in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  for _, key in ipairs(redis.call('SMEMBERS', family)) do
    if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 'revoked', '1') end
  end
end
return 1
"#;

/// Revokes every token of a family. KEYS: family set.
const REVOKE_FAMILY: &str = r#"
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 'revoked', '1') end
end
return 1
"#;

pub struct Sessions {
    store: Arc<dyn Store>,
    redis: Option<(redis::Client, Mutex<Option<redis::aio::MultiplexedConnection>>)>,
    prefix: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    pub fn new(store: Arc<dyn Store>, redis_url: Option<&str>, prefix: &str) -> Self {
        let redis = redis_url.and_then(|url| redis::Client::open(url).ok()).map(|c| (c, Mutex::new(None)));
        Sessions { store, redis, prefix: prefix.to_string() }
    }

    fn token_key(&self, hash: &[u8]) -> String {
        format!("{}:rt:{}", self.prefix, hex(hash))
    }

    fn user_key(&self, user: Uuid) -> String {
        format!("{}:rtu:{}", self.prefix, user.simple())
    }

    fn family_key(&self, family: Uuid) -> String {
        format!("{}:rtf:{}", self.prefix, family.simple())
    }

    async fn connection(&self) -> Option<redis::aio::MultiplexedConnection> {
        let (client, slot) = self.redis.as_ref()?;
        let mut guard = slot.lock().await;
        if guard.is_none() {
            *guard = tokio::time::timeout(REDIS_TIMEOUT, client.get_multiplexed_async_connection()).await.ok()?.ok();
        }
        guard.clone()
    }

    async fn failed(&self) {
        metrics::counter!("redis_errors_total").increment(1);
        if let Some((_, slot)) = &self.redis {
            *slot.lock().await = None;
        }
    }

    /// Runs a Redis call; `None` (and the connection is reset) if Redis is unavailable.
    async fn redis<T, F, Fut>(&self, call: F) -> Option<T>
    where
        F: FnOnce(redis::aio::MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.connection().await?;
        match tokio::time::timeout(REDIS_TIMEOUT, call(conn)).await {
            Ok(Ok(value)) => Some(value),
            _ => {
                self.failed().await;
                None
            }
        }
    }

    fn ttl_secs(token: &RefreshToken) -> i64 {
        (token.expires_at - now()).num_seconds().max(1)
    }

    pub async fn insert(&self, token: RefreshToken, hash: &[u8]) -> StoreResult<()> {
        let (key, family, user) =
            (self.token_key(hash), self.family_key(token.family_id), self.user_key(token.user_id));
        let ttl = Self::ttl_secs(&token);
        let stored = self
            .redis(|mut conn| async move {
                redis::pipe()
                    .atomic()
                    .hset_multiple(
                        &key,
                        &[
                            ("id", token.id.to_string()),
                            ("user", token.user_id.to_string()),
                            ("family", token.family_id.to_string()),
                            ("exp", token.expires_at.timestamp().to_string()),
                            ("revoked", "0".to_string()),
                        ],
                    )
                    .ignore()
                    .expire(&key, ttl)
                    .ignore()
                    .sadd(&family, &key)
                    .ignore()
                    .expire(&family, ttl)
                    .ignore()
                    .sadd(&user, &family)
                    .ignore()
                    .expire(&user, ttl)
                    .ignore()
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
        match stored {
            Some(()) => Ok(()),
            None => self.store.insert_refresh_token(token, hash).await,
        }
    }

    fn parse(fields: &std::collections::HashMap<String, String>) -> Option<RefreshToken> {
        let uuid = |name: &str| fields.get(name).and_then(|v| Uuid::parse_str(v).ok());
        let exp: i64 = fields.get("exp")?.parse().ok()?;
        Some(RefreshToken {
            id: uuid("id")?,
            user_id: uuid("user")?,
            family_id: uuid("family")?,
            expires_at: chrono::DateTime::from_timestamp(exp, 0)?,
            revoked: fields.get("revoked").map(String::as_str) != Some("0"),
        })
    }

    /// The token with this hash (Redis first, then the database).
    pub async fn by_hash(&self, hash: &[u8]) -> StoreResult<RefreshToken> {
        let key = self.token_key(hash);
        let found = self
            .redis(|mut conn| async move {
                redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async::<std::collections::HashMap<String, String>>(&mut conn)
                    .await
            })
            .await;
        if let Some(token) = found.as_ref().and_then(Self::parse) {
            return Ok(token);
        }
        self.store.refresh_token_by_hash(hash).await
    }

    /// See [`Store::rotate_refresh_token`]; the successor lives where the presented token lived.
    pub async fn rotate(
        &self,
        hash: &[u8],
        successor: RefreshToken,
        successor_hash: &[u8],
    ) -> StoreResult<RefreshToken> {
        let keys = (self.token_key(hash), self.token_key(successor_hash), self.family_key(successor.family_id));
        let ttl = Self::ttl_secs(&successor);
        let new_key = keys.1.clone();
        let rotated = self
            .redis(|mut conn| async move {
                redis::Script::new(ROTATE)
                    .key(&keys.0)
                    .key(&keys.1)
                    .key(&keys.2)
                    .arg(now().timestamp())
                    .arg(successor.id.to_string())
                    .arg(successor.user_id.to_string())
                    .arg(successor.family_id.to_string())
                    .arg(successor.expires_at.timestamp())
                    .arg(ttl)
                    .arg(&new_key)
                    .invoke_async::<Vec<String>>(&mut conn)
                    .await
            })
            .await;
        if let Some(flat) = rotated {
            let fields: std::collections::HashMap<String, String> =
                flat.chunks(2).filter_map(|pair| Some((pair.first()?.clone(), pair.get(1)?.clone()))).collect();
            if let Some(token) = Self::parse(&fields) {
                return Ok(token);
            }
        }
        // Not in Redis (or Redis is down): a session kept in the database.
        self.store.rotate_refresh_token(hash, successor, successor_hash).await
    }

    /// Revokes every session of a user kept in Redis (the database's are deleted with the user's
    /// data by the caller, e.g. GDPR erasure).
    pub async fn revoke_user(&self, user: Uuid) {
        let key = self.user_key(user);
        let _ =
            self.redis(|mut conn| async move {
                redis::Script::new(REVOKE_USER).key(&key).invoke_async::<i64>(&mut conn).await
            })
            .await;
    }

    /// Revokes a whole family, wherever its tokens are.
    pub async fn revoke_family(&self, family: Uuid) -> StoreResult<()> {
        let key = self.family_key(family);
        let _ = self
            .redis(|mut conn| async move {
                redis::Script::new(REVOKE_FAMILY).key(&key).invoke_async::<i64>(&mut conn).await
            })
            .await;
        match self.store.revoke_refresh_family(family).await {
            Ok(()) | Err(StoreError::NotFound) => Ok(()),
            Err(other) => Err(other),
        }
    }
}
