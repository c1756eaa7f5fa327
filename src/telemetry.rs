//! Logging set-up: human-readable or JSON lines, filtered by LOG_LEVEL.

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

pub fn init(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log_level)
        .map_err(|e| anyhow::anyhow!("LOG_LEVEL {:?} is not a valid filter: {e}", config.log_level))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let result = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot initialise logging: {e}"))
}
