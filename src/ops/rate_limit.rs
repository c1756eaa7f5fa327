//! Per-client rate limits (429 with Retry-After): a fixed one-minute window per client address
//! and per signed-in user. With Redis the counters are shared by every instance (INCR + EXPIRE);
//! when Redis fails, each instance counts on its own rather than failing requests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Mutex as AsyncMutex;

use crate::app::AppState;
use crate::error::AppError;

const WINDOW_SECS: u64 = 60;

pub struct RateLimiter {
    per_ip: u32,
    per_user: u32,
    prefix: String,
    redis: Option<(redis::Client, AsyncMutex<Option<redis::aio::MultiplexedConnection>>)>,
    local: Mutex<(u64, HashMap<String, u32>)>,
}

fn current_window() -> (u64, u64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    (now / WINDOW_SECS, WINDOW_SECS - now % WINDOW_SECS)
}

impl RateLimiter {
    /// Limits per minute; 0 disables that limit.
    pub fn new(per_ip: u32, per_user: u32, redis_url: Option<&str>, prefix: &str) -> Self {
        let redis = redis_url.and_then(|url| redis::Client::open(url).ok()).map(|c| (c, AsyncMutex::new(None)));
        RateLimiter { per_ip, per_user, prefix: prefix.to_string(), redis, local: Mutex::new((0, HashMap::new())) }
    }

    fn count_locally(&self, key: &str, window: u64) -> u32 {
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        if local.0 != window {
            // A new minute: forget the last one (this also bounds memory).
            *local = (window, HashMap::new());
        }
        let count = local.1.entry(key.to_string()).or_insert(0);
        *count += 1;
        *count
    }

    async fn count_in_redis(&self, key: &str, window: u64) -> Option<u32> {
        let (client, connection) = self.redis.as_ref()?;
        let mut guard = connection.lock().await;
        if guard.is_none() {
            *guard = tokio::time::timeout(Duration::from_millis(200), client.get_multiplexed_async_connection())
                .await
                .ok()
                .and_then(Result::ok);
        }
        let mut conn = guard.clone()?;
        drop(guard);
        let redis_key = format!("{}:rl:{key}:{window}", self.prefix);
        let counted = tokio::time::timeout(
            Duration::from_millis(200),
            redis::pipe()
                .atomic()
                .incr(&redis_key, 1)
                .expire(&redis_key, WINDOW_SECS as i64 + 5)
                .ignore()
                .query_async::<(u32,)>(&mut conn),
        )
        .await;
        match counted {
            Ok(Ok((count,))) => Some(count),
            _ => {
                metrics::counter!("redis_errors_total").increment(1);
                *connection.lock().await = None;
                None
            }
        }
    }

    /// Counts one request for `key`; `Err(retry_after_secs)` when over `limit`.
    async fn check(&self, key: &str, limit: u32) -> Result<(), u64> {
        if limit == 0 {
            return Ok(());
        }
        let (window, remaining) = current_window();
        let count = match self.count_in_redis(key, window).await {
            Some(count) => count,
            None => self.count_locally(key, window),
        };
        if count > limit {
            Err(remaining.max(1))
        } else {
            Ok(())
        }
    }
}

/// Middleware for the API: limits by client address, and by user when a valid token is sent.
pub async fn enforce(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let limiter = &state.rate_limiter;
    if let Err(retry_after_secs) = limiter.check(&format!("ip:{}", peer.ip()), limiter.per_ip).await {
        return AppError::TooManyRequests { retry_after_secs }.into_response();
    }
    let user = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| state.tokens.verify(token.trim()).ok());
    if let Some(identity) = user {
        if let Err(retry_after_secs) = limiter.check(&format!("user:{}", identity.user_id), limiter.per_user).await {
            return AppError::TooManyRequests { retry_after_secs }.into_response();
        }
    }
    next.run(request).await
}
