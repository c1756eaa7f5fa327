//! Entry point: parse and validate configuration, set up logging, run the service.

use std::process::ExitCode;

use clap::Parser;

use alphintra_support::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    if let Err(message) = config.validate() {
        eprintln!("error: {message}\n\nRun with --help to see every setting.");
        return ExitCode::from(2);
    }
    if let Err(error) = alphintra_support::telemetry::init(&config) {
        eprintln!("error: {error:#}");
        return ExitCode::from(2);
    }
    match alphintra_support::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("fatal: {error:#}");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
