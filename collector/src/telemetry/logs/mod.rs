//! The collector's own logs through `tracing`, as `service.telemetry.logs` configures them:
//! level, encoding, outputs, initial fields and sampling.

mod output;
mod sampler;

pub use output::Output;
pub use sampler::Thinning;

use super::config::{LogEncoding, LogLevel, LogsConfig};
use crate::config::ConfigError;
use output::{Outputs, WithFields};
use sampler::Sampler;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

fn directive(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

/// Installs the global subscriber. `RUST_LOG`, when set, overrides the configured level.
/// Returns false when one was already installed (tests); an error when an output cannot be
/// opened, naming it.
pub fn init(cfg: &LogsConfig) -> Result<bool, ConfigError> {
    let outputs = Outputs::open(&cfg.output_paths).map_err(|(i, reason)| {
        ConfigError::new(reason)
            .component("service::telemetry")
            .field(format!("logs.output_paths.{i}"))
    })?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // Dependencies stay at warn: their debug output is noise to operators.
        EnvFilter::new(format!("warn,meshtrace_collector={}", directive(cfg.level)))
    });
    // Escape codes are noise in `kubectl logs` and in files: colors only on a terminal, and
    // not there either when NO_COLOR says so.
    let ansi =
        outputs.is_one_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let format = match cfg.encoding {
        LogEncoding::Json => fmt::layer()
            .json()
            .event_format(WithFields::new(
                fmt::format().json(),
                &cfg.initial_fields,
                true,
            ))
            .with_writer(outputs)
            .boxed(),
        LogEncoding::Console => fmt::layer()
            .with_ansi(ansi)
            .event_format(WithFields::new(
                fmt::format().with_ansi(ansi),
                &cfg.initial_fields,
                false,
            ))
            .with_writer(outputs)
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(cfg.active_sampling().map(Sampler::new))
        .with(format)
        .try_init()
        .is_ok();
    Ok(installed)
}

#[cfg(test)]
mod testing {
    use std::io;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    /// Captured log output.
    #[derive(Clone, Default)]
    pub struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Lines {
        pub fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }
}
