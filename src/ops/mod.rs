//! Operations: Prometheus metrics, log masking and rate limits.

pub mod masking;
pub mod metrics;
pub mod rate_limit;
