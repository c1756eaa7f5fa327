//! Operations: Prometheus metrics, log masking, rate limits and the cache of hot reads.

pub mod cache;
pub mod masking;
pub mod metrics;
pub mod rate_limit;
