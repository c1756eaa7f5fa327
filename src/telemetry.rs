//! Logging set-up: human-readable or JSON lines, filtered by LOG_LEVEL.

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

pub fn init(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log_level)
        .map_err(|e| anyhow::anyhow!("LOG_LEVEL {:?} is not a valid filter: {e}", config.log_level))?;
    // Every line passes through the masking writer: no e-mail, token or card number in clear.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(crate::ops::masking::Masking(std::io::stdout));
    let result = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        // Colour codes would split values and defeat masking.
        LogFormat::Pretty => builder.with_ansi(false).try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot initialise logging: {e}"))
}
