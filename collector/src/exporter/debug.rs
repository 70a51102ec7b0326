//! `debug` (and the deprecated `logging`): writes what passes through, for troubleshooting.
//! `basic` logs counts, `normal` one line per span/record, `detailed` the whole request as
//! OTLP JSON.

use super::helper::{ExporterHelper, HelperSettings, Payload, Sender};
use crate::component::{ComponentError, Context, Exporter, ExporterConfig, Validate};
use crate::otlp::proto::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use crate::otlp::{Batch, Signal, json};
use crate::pipeline::{BoxFuture, ConsumeError};
use crate::telemetry::logs::Thinning;
use serde::Deserialize;
use std::io::Write;
use std::sync::Arc;

/// How much the debug exporter writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// Counts per request (the default).
    #[default]
    Basic,
    /// One line per span, data point or log record.
    Normal,
    /// The whole request, as OTLP JSON.
    Detailed,
}

/// In any case, as the Collector reads it (`Detailed`).
impl<'de> Deserialize<'de> for Verbosity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        match name.to_ascii_lowercase().as_str() {
            "basic" => Ok(Verbosity::Basic),
            "normal" => Ok(Verbosity::Normal),
            "detailed" => Ok(Verbosity::Detailed),
            _ => Err(serde::de::Error::unknown_variant(
                &name,
                &["basic", "normal", "detailed"],
            )),
        }
    }
}

/// `exporters: debug:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebugConfig {
    /// `basic` (default), `normal` or `detailed`.
    #[serde(default)]
    pub verbosity: Verbosity,
    /// Requests written in full each second before thinning (default 2).
    #[serde(default)]
    pub sampling_initial: Option<u32>,
    /// After `sampling_initial`, every n-th request of the second is written (default 1:
    /// all; 0: none).
    #[serde(default)]
    pub sampling_thereafter: Option<u32>,
    /// Through the collector's log (true, default) or straight to stdout (false, where
    /// nothing is sampled).
    #[serde(default = "yes")]
    pub use_internal_logger: bool,
}

fn yes() -> bool {
    true
}

impl Validate for DebugConfig {}

impl ExporterConfig for DebugConfig {
    fn build(&self, ctx: &Context, signal: Signal) -> Result<Arc<dyn Exporter>, ComponentError> {
        let sender = Arc::new(DebugSender {
            verbosity: self.verbosity,
            stdout: !self.use_internal_logger,
            label: ctx.label(),
            thinning: self.use_internal_logger.then(|| {
                Thinning::new(
                    self.sampling_initial.map_or(2, u64::from),
                    self.sampling_thereafter.map_or(1, u64::from),
                )
            }),
        });
        Ok(ExporterHelper::new(
            ctx,
            signal,
            sender,
            HelperSettings::direct(),
        ))
    }
}

/// The old `logging` exporter's level names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// → `detailed`.
    Debug,
    /// → `normal`.
    Info,
    /// → `basic`.
    Warn,
    /// → `basic`.
    Error,
}

/// `exporters: logging:` — deprecated; runs as `debug`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// Deprecated: `debug` → verbosity `detailed`, `info` → `normal`, else `basic`.
    #[serde(default)]
    pub loglevel: Option<LogLevel>,
    /// Takes precedence over `loglevel`.
    #[serde(default)]
    pub verbosity: Option<Verbosity>,
    /// As `debug`'s.
    #[serde(default)]
    pub sampling_initial: Option<u32>,
    /// As `debug`'s.
    #[serde(default)]
    pub sampling_thereafter: Option<u32>,
}

impl LoggingConfig {
    /// The equivalent `debug` config.
    pub fn as_debug(&self) -> DebugConfig {
        let verbosity = self.verbosity.unwrap_or(match self.loglevel {
            Some(LogLevel::Debug) => Verbosity::Detailed,
            Some(LogLevel::Info) => Verbosity::Normal,
            Some(LogLevel::Warn | LogLevel::Error) | None => Verbosity::Basic,
        });
        DebugConfig {
            verbosity,
            sampling_initial: self.sampling_initial,
            sampling_thereafter: self.sampling_thereafter,
            use_internal_logger: true,
        }
    }
}

impl Validate for LoggingConfig {
    fn warnings(&self) -> Vec<String> {
        match self.loglevel {
            Some(_) => vec![format!(
                "`loglevel` is deprecated; use the `debug` exporter with `verbosity: {}`",
                match self.as_debug().verbosity {
                    Verbosity::Basic => "basic",
                    Verbosity::Normal => "normal",
                    Verbosity::Detailed => "detailed",
                }
            )],
            None => Vec::new(),
        }
    }
}

impl ExporterConfig for LoggingConfig {
    fn build(&self, ctx: &Context, signal: Signal) -> Result<Arc<dyn Exporter>, ComponentError> {
        self.as_debug().build(ctx, signal)
    }
}

struct DebugSender {
    verbosity: Verbosity,
    stdout: bool,
    label: String,
    /// Per request, as the Collector samples its debug exporter's logger; a request left out
    /// writes nothing (its summary and its spans alike).
    thinning: Option<Thinning>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The lines `normal` verbosity writes.
fn normal_lines(batch: &Batch) -> Vec<String> {
    use prost::Message;
    let bytes = batch.bytes().as_ref();
    match batch.signal() {
        Signal::Traces => ExportTraceServiceRequest::decode(bytes)
            .map(|r| {
                r.resource_spans
                    .iter()
                    .flat_map(|rs| &rs.scope_spans)
                    .flat_map(|ss| &ss.spans)
                    .map(|s| format!("{} {} {}", hex(&s.trace_id), hex(&s.span_id), s.name))
                    .collect()
            })
            .unwrap_or_default(),
        Signal::Metrics => ExportMetricsServiceRequest::decode(bytes)
            .map(|r| {
                r.resource_metrics
                    .iter()
                    .flat_map(|rm| &rm.scope_metrics)
                    .flat_map(|sm| &sm.metrics)
                    .map(|m| m.name.clone())
                    .collect()
            })
            .unwrap_or_default(),
        Signal::Logs => ExportLogsServiceRequest::decode(bytes)
            .map(|r| {
                r.resource_logs
                    .iter()
                    .flat_map(|rl| &rl.scope_logs)
                    .flat_map(|sl| &sl.log_records)
                    .map(|l| {
                        format!(
                            "{} {:?}",
                            l.severity_text,
                            l.body.as_ref().and_then(|b| b.value.as_ref())
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

impl DebugSender {
    fn write(&self, line: &str) {
        if self.stdout {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        } else {
            tracing::info!(component = %self.label, "{line}");
        }
    }
}

impl Sender for DebugSender {
    fn send(&self, payload: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let batch = payload.into_batch()?;
            if self.thinning.as_ref().is_some_and(|t| !t.admit()) {
                return Ok(());
            }
            let word = crate::telemetry::item_word(batch.signal());
            self.write(&format!(
                "{}: {} {word}",
                crate::signal_name(batch.signal()),
                batch.items()
            ));
            match self.verbosity {
                Verbosity::Basic => {}
                Verbosity::Normal => normal_lines(&batch).iter().for_each(|l| self.write(l)),
                Verbosity::Detailed => match json::from_protobuf(batch.signal(), batch.bytes()) {
                    Ok(j) => self.write(&String::from_utf8_lossy(&j)),
                    Err(e) => return Err(ConsumeError::permanent(e.to_string())),
                },
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logging_loglevel_maps_to_verbosity() {
        let p = |y: &str| -> LoggingConfig {
            crate::registry::parse_typed(&crate::config::value::from_yaml(y).unwrap()).unwrap()
        };
        assert_eq!(
            p("loglevel: debug").as_debug().verbosity,
            Verbosity::Detailed
        );
        assert_eq!(p("loglevel: info").as_debug().verbosity, Verbosity::Normal);
        assert_eq!(p("loglevel: warn").as_debug().verbosity, Verbosity::Basic);
        assert_eq!(p("{}").as_debug().verbosity, Verbosity::Basic);
        assert_eq!(
            p("loglevel: debug\nverbosity: basic").as_debug().verbosity,
            Verbosity::Basic
        );
        assert_eq!(p("loglevel: debug").warnings().len(), 1);
    }

    #[test]
    fn verbosity_is_read_in_any_case() {
        let p = |y: &str| {
            crate::registry::parse_typed::<DebugConfig>(
                &crate::config::value::from_yaml(y).unwrap(),
            )
            .map(|c| c.verbosity)
            .map_err(|e| e.to_string())
        };
        assert_eq!(p("verbosity: Detailed"), Ok(Verbosity::Detailed));
        assert_eq!(p("verbosity: NORMAL"), Ok(Verbosity::Normal));
        assert_eq!(p("verbosity: basic"), Ok(Verbosity::Basic));
        let e = p("verbosity: loud").unwrap_err();
        assert!(
            e.contains("unknown variant `loud`, expected one of `basic`, `normal`, `detailed`"),
            "{e}"
        );
    }
}
