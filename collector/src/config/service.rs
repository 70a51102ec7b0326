//! The `service:` section: pipelines, the extensions to run, and self-telemetry.

use crate::otlp::Signal;
use crate::telemetry::config::TelemetryConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// `service:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Extensions to start, by id (each must be defined under `extensions:`).
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Pipelines by id: `traces`, `traces/NAME`, `metrics[/NAME]`, `logs[/NAME]`.
    #[serde(default)]
    pub pipelines: BTreeMap<String, PipelineConfig>,
    /// The collector's own logs and metrics.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
}

/// One pipeline: data flows from its receivers through its processors, in order, to every
/// exporter.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Receivers feeding the pipeline (at least one).
    #[serde(default)]
    pub receivers: Vec<String>,
    /// Processors, applied in this order.
    #[serde(default)]
    pub processors: Vec<String>,
    /// Exporters that all get every batch (at least one).
    #[serde(default)]
    pub exporters: Vec<String>,
}

/// A pipeline id: its signal and optional name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipelineId {
    /// The signal its data is.
    pub signal: Signal,
    /// The part after `/`.
    pub name: Option<String>,
}

impl PipelineId {
    /// Parses `traces`, `metrics/NAME`, ...
    pub fn parse(s: &str) -> Result<Self, String> {
        let (sig, name) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let signal = match sig {
            "traces" => Signal::Traces,
            "metrics" => Signal::Metrics,
            "logs" => Signal::Logs,
            "profiles" => return Err("profiles pipelines are not supported".into()),
            other => {
                return Err(format!(
                    "unknown signal {other:?} in pipeline id {s:?} (expected traces, metrics or logs)"
                ));
            }
        };
        if name.is_some_and(|n| n.is_empty() || n.chars().any(char::is_whitespace)) {
            return Err(format!(
                "invalid pipeline id {s:?}: the name after `/` must be non-empty, without spaces"
            ));
        }
        Ok(Self {
            signal,
            name: name.map(String::from),
        })
    }
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::signal_name(self.signal))?;
        if let Some(n) = &self.name {
            write!(f, "/{n}")?;
        }
        Ok(())
    }
}
