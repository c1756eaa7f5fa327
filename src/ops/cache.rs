//! A short-lived cache for hot reads (analytics, knowledge-base search, staff ticket lists).
//! Entries belong to a namespace whose generation number is bumped by every write that could
//! change them, so a cached answer is never served after such a write. With Redis the entries and
//! generations are shared by all instances; when Redis fails, each instance caches on its own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Mutex as AsyncMutex;

/// How long an entry may be served (if nothing invalidates it first).
pub const TTL: Duration = Duration::from_secs(30);
const REDIS_TIMEOUT: Duration = Duration::from_millis(200);
const MAX_LOCAL_ENTRIES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// Anything derived from tickets: analytics, staff ticket lists.
    Tickets,
    /// Knowledge-base search results.
    Kb,
}

impl Namespace {
    fn name(self) -> &'static str {
        match self {
            Namespace::Tickets => "tickets",
            Namespace::Kb => "kb",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The generation a lookup saw; a value computed after it is stored under it.
#[derive(Debug, Clone, Copy)]
pub struct Generation(u64);

pub struct Cache {
    prefix: String,
    redis: Option<(redis::Client, AsyncMutex<Option<redis::aio::MultiplexedConnection>>)>,
    generations: [AtomicU64; 2],
    local: Mutex<HashMap<String, (Instant, String)>>,
}

impl Cache {
    pub fn new(redis_url: Option<&str>, prefix: &str) -> Self {
        Cache {
            prefix: prefix.to_string(),
            redis: redis_url.and_then(|url| redis::Client::open(url).ok()).map(|c| (c, AsyncMutex::new(None))),
            generations: [AtomicU64::new(0), AtomicU64::new(0)],
            local: Mutex::new(HashMap::new()),
        }
    }

    async fn connection(&self) -> Option<redis::aio::MultiplexedConnection> {
        let (client, slot) = self.redis.as_ref()?;
        let mut guard = slot.lock().await;
        if guard.is_none() {
            *guard = tokio::time::timeout(REDIS_TIMEOUT, client.get_multiplexed_async_connection()).await.ok()?.ok();
        }
        guard.clone()
    }

    async fn redis_failed(&self) {
        metrics::counter!("redis_errors_total").increment(1);
        if let Some((_, slot)) = &self.redis {
            *slot.lock().await = None;
        }
    }

    async fn redis_query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Option<T> {
        let mut conn = self.connection().await?;
        match tokio::time::timeout(REDIS_TIMEOUT, command.query_async::<T>(&mut conn)).await {
            Ok(Ok(value)) => Some(value),
            _ => {
                self.redis_failed().await;
                None
            }
        }
    }

    fn generation_key(&self, namespace: Namespace) -> String {
        format!("{}:cache-gen:{}", self.prefix, namespace.name())
    }

    async fn generation(&self, namespace: Namespace) -> (bool, u64) {
        if self.redis.is_some() {
            let key = self.generation_key(namespace);
            if let Some(generation) = self.redis_query::<Option<u64>>(redis::cmd("GET").arg(&key)).await {
                return (true, generation.unwrap_or(0));
            }
        }
        (false, self.generations[namespace.index()].load(Ordering::Relaxed))
    }

    fn entry_key(&self, shared: bool, namespace: Namespace, generation: u64, key: &str) -> String {
        let scope = if shared { "shared" } else { "local" };
        format!("{}:cache:{scope}:{}:{generation}:{key}", self.prefix, namespace.name())
    }

    /// A cached JSON text for `key`, and the generation to store a fresh one under.
    pub async fn get(&self, namespace: Namespace, key: &str) -> (Option<String>, Generation) {
        let (shared, generation) = self.generation(namespace).await;
        let entry = self.entry_key(shared, namespace, generation, key);
        let value = if shared {
            self.redis_query::<Option<String>>(redis::cmd("GET").arg(&entry)).await.flatten()
        } else {
            let local = self.local.lock().unwrap_or_else(|e| e.into_inner());
            local.get(&entry).filter(|(at, _)| at.elapsed() < TTL).map(|(_, v)| v.clone())
        };
        let tag = if shared { generation | 1 << 63 } else { generation };
        (value, Generation(tag))
    }

    /// Stores a value computed after `get` returned `generation`. If a write bumped the
    /// generation meanwhile, the value lands under the old one, where nobody reads it.
    pub async fn put(&self, namespace: Namespace, key: &str, generation: Generation, value: String) {
        let shared = generation.0 & 1 << 63 != 0;
        let entry = self.entry_key(shared, namespace, generation.0 & !(1 << 63), key);
        if shared {
            let command = redis::cmd("SET").arg(&entry).arg(value).arg("EX").arg(TTL.as_secs()).clone();
            let _: Option<()> = self.redis_query(&command).await;
        } else {
            let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
            if local.len() >= MAX_LOCAL_ENTRIES {
                local.retain(|_, (at, _)| at.elapsed() < TTL);
                if local.len() >= MAX_LOCAL_ENTRIES {
                    local.clear();
                }
            }
            local.insert(entry, (Instant::now(), value));
        }
    }

    /// The cached text for `key`, or the one `compute` makes, stored for the next caller (a write
    /// that lands while it computes keeps it from being served; see [`Cache::put`]).
    pub async fn get_or_compute<E, Fut>(
        &self,
        namespace: Namespace,
        key: &str,
        compute: impl FnOnce() -> Fut,
    ) -> Result<String, E>
    where
        Fut: std::future::Future<Output = Result<String, E>>,
    {
        let (hit, generation) = self.get(namespace, key).await;
        if let Some(text) = hit {
            return Ok(text);
        }
        let text = compute().await?;
        self.put(namespace, key, generation, text.clone()).await;
        Ok(text)
    }

    /// After a write: no entry of the namespace computed before it is served again.
    pub async fn invalidate(&self, namespace: Namespace) {
        self.generations[namespace.index()].fetch_add(1, Ordering::Relaxed);
        if self.redis.is_some() {
            let key = self.generation_key(namespace);
            let _: Option<u64> = self.redis_query(redis::cmd("INCR").arg(&key)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn invalidation_hides_older_entries() {
        let cache = Cache::new(None, "test");
        let (miss, generation) = cache.get(Namespace::Kb, "q=fees").await;
        assert!(miss.is_none());
        cache.put(Namespace::Kb, "q=fees", generation, "[1]".into()).await;
        assert_eq!(cache.get(Namespace::Kb, "q=fees").await.0.as_deref(), Some("[1]"));
        cache.invalidate(Namespace::Tickets).await;
        assert!(cache.get(Namespace::Kb, "q=fees").await.0.is_some(), "other namespaces unaffected");
        cache.invalidate(Namespace::Kb).await;
        assert!(cache.get(Namespace::Kb, "q=fees").await.0.is_none());
        // A value computed before an invalidation is never served after it.
        let (_, stale) = cache.get(Namespace::Kb, "q=x").await;
        cache.invalidate(Namespace::Kb).await;
        cache.put(Namespace::Kb, "q=x", stale, "old".into()).await;
        assert!(cache.get(Namespace::Kb, "q=x").await.0.is_none());
    }

    #[tokio::test]
    async fn get_or_compute_computes_once_and_never_keeps_errors() {
        let cache = Cache::new(None, "test");
        let failed: Result<String, &str> = cache.get_or_compute(Namespace::Kb, "k", || async { Err("down") }).await;
        assert_eq!(failed, Err("down"));
        let first: Result<String, &str> = cache.get_or_compute(Namespace::Kb, "k", || async { Ok("a".into()) }).await;
        assert_eq!(first.as_deref(), Ok("a"), "an error is not cached");
        let second: Result<String, &str> = cache.get_or_compute(Namespace::Kb, "k", || async { Ok("b".into()) }).await;
        assert_eq!(second.as_deref(), Ok("a"), "served from the cache");
        cache.invalidate(Namespace::Kb).await;
        let third: Result<String, &str> = cache.get_or_compute(Namespace::Kb, "k", || async { Ok("c".into()) }).await;
        assert_eq!(third.as_deref(), Ok("c"), "computed again after a write");
    }
}
