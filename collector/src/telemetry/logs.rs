//! Structured logs through `tracing`, at the level `service.telemetry.logs.level` asks for.

use super::config::{LogEncoding, LogLevel, LogsConfig};
use tracing_subscriber::EnvFilter;

fn directive(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

/// Installs the global subscriber. `RUST_LOG`, when set, overrides the configured level.
/// Returns false when one was already installed (tests).
pub fn init(cfg: &LogsConfig) -> bool {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // Dependencies stay at warn: their debug output is noise to operators.
        EnvFilter::new(format!("warn,meshtrace_collector={}", directive(cfg.level)))
    });
    let to_stdout = cfg.output_paths.iter().any(|p| p == "stdout");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let result = match (cfg.encoding, to_stdout) {
        (LogEncoding::Json, false) => builder.json().with_writer(std::io::stderr).try_init(),
        (LogEncoding::Json, true) => builder.json().with_writer(std::io::stdout).try_init(),
        (LogEncoding::Console, false) => builder.with_writer(std::io::stderr).try_init(),
        (LogEncoding::Console, true) => builder.with_writer(std::io::stdout).try_init(),
    };
    result.is_ok()
}
