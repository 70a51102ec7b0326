//! The collector's own logs through `tracing`, as `service.telemetry.logs` configures them:
//! level, encoding, outputs, initial fields and sampling.

mod output;
mod sampler;
mod ship;

pub use output::Output;
pub use sampler::Thinning;
pub use ship::LogQueue;

use super::config::{LogEncoding, LogLevel, LogShipping, LogsConfig};
use crate::config::ConfigError;
use output::{Outputs, WithFields};
use sampler::Sampler;
use std::sync::Arc;
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

/// What `logs.processors` asked for: each processor's shipping and the queue the log lines wait
/// in, for the senders the service starts. Empty when there are none, or when the subscriber
/// was installed already (tests).
#[derive(Debug, Default)]
pub struct LogExport(pub Vec<(LogShipping, Arc<LogQueue>)>);

/// Installs the global subscriber. `RUST_LOG`, when set, overrides the configured level. An
/// error when an output cannot be opened, naming it.
pub fn init(cfg: &LogsConfig) -> Result<LogExport, ConfigError> {
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
    let export: Vec<(LogShipping, Arc<LogQueue>)> = cfg
        .processors
        .iter()
        .filter_map(|p| p.shipping())
        .map(|s| {
            let queue = Arc::new(LogQueue::new(s.queue, s.batch));
            (s, queue)
        })
        .collect();
    let shipper = (!export.is_empty()).then(|| {
        ship::Shipper::new(
            export.iter().map(|(_, q)| q.clone()).collect(),
            &cfg.initial_fields,
        )
    });
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(cfg.active_sampling().map(Sampler::new))
        .with(format)
        .with(shipper)
        .try_init()
        .is_ok();
    Ok(if installed {
        LogExport(export)
    } else {
        LogExport::default()
    })
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
