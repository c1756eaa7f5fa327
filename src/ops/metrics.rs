//! Prometheus metrics (the `metrics` facade with the Prometheus exporter's recorder): HTTP
//! request histograms by route template, in-flight requests, WebSocket connections, STOMP frames,
//! fan-out latency, DB pool, Redis errors, tickets by status, and process RSS/CPU.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::app::AppState;

/// Latency buckets from 0.5 ms to 10 s: the targets are in milliseconds.
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once (several app instances in one test process share it).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(error) => {
                    tracing::warn!(%error, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// Records every request: count and duration by method, route template and status; in-flight.
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        // Unknown routes share one label, so scanners cannot blow up the series count.
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let in_flight = metrics::gauge!("http_requests_in_flight");
    in_flight.increment(1.0);
    let started = Instant::now();
    let response = next.run(request).await;
    in_flight.decrement(1.0);
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// Reads this process's resident memory (bytes) and CPU time (seconds) from /proc.
pub fn process_usage() -> Option<(u64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some((rss_kb * 1024, ticks / 100.0))
}

/// Live ticket counts per status, and when they were taken.
type TicketCounts = (Instant, Vec<(String, i64)>);

/// Tickets by status are counted at most every 15 s, however often Prometheus scrapes.
static TICKET_COUNTS: Mutex<Option<TicketCounts>> = Mutex::new(None);

async fn refresh_gauges(state: &AppState) {
    if let Some((rss, cpu)) = process_usage() {
        metrics::gauge!("process_resident_memory_bytes").set(rss as f64);
        // A gauge holding the running total: the metrics counter type only counts whole units.
        metrics::gauge!("process_cpu_seconds_total").set(cpu);
    }
    let (size, idle) = state.store.pool_usage();
    metrics::gauge!("db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("db_pool_connections", "state" => "active").set((size as usize).saturating_sub(idle) as f64);
    metrics::gauge!("websocket_connections").set(state.broker.connection_count() as f64);
    if let Some(remote) = state.broker.remote() {
        metrics::counter!("redis_errors_total").absolute(remote.errors.load(std::sync::atomic::Ordering::Relaxed));
    }
    let fresh = {
        let cached = TICKET_COUNTS.lock().unwrap_or_else(|e| e.into_inner());
        cached.as_ref().filter(|(at, _)| at.elapsed() < Duration::from_secs(15)).map(|(_, counts)| counts.clone())
    };
    let counts = match fresh {
        Some(counts) => counts,
        None => match state.store.count_tickets_by_status().await {
            Ok(counts) => {
                *TICKET_COUNTS.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), counts.clone()));
                counts
            }
            Err(error) => {
                tracing::warn!(%error, "cannot count tickets for metrics");
                Vec::new()
            }
        },
    };
    for (status, count) in counts {
        metrics::gauge!("tickets_by_status", "status" => status).set(count as f64);
    }
}

/// Prometheus text exposition.
pub async fn prometheus(State(state): State<AppState>) -> Response {
    let Some(handle) = install() else {
        return crate::error::AppError::Unavailable("metrics recorder unavailable".into()).into_response();
    };
    refresh_gauges(&state).await;
    let mut response = Response::new(Body::from(handle.render()));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}
