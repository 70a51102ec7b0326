//! `service.telemetry`: the collector's own logs and metrics, in the Collector's config shape.

use crate::config::{ConfigError, Value, duration};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// `service.telemetry`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// The collector's own logs.
    #[serde(default)]
    pub logs: LogsConfig,
    /// The collector's own metrics, served in Prometheus text format.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Resource attributes; `service.name` and `service.instance.id` become metric labels.
    #[serde(default)]
    pub resource: BTreeMap<String, Option<String>>,
}

/// Log level names as the Collector (zap) accepts them, in either case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum LogLevel {
    /// Everything, including per-batch details.
    #[serde(alias = "DEBUG")]
    #[serde(rename = "debug")]
    Debug,
    /// Start-up, shutdown and notable events (the default).
    #[default]
    #[serde(alias = "INFO")]
    #[serde(rename = "info")]
    Info,
    /// Problems that do not stop the collector.
    #[serde(alias = "WARN")]
    #[serde(rename = "warn")]
    Warn,
    /// Failures only.
    #[serde(alias = "ERROR")]
    #[serde(rename = "error")]
    Error,
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogEncoding {
    /// Human-readable lines (the default).
    #[default]
    Console,
    /// One JSON object per line.
    Json,
}

/// `service.telemetry.logs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    /// Minimum level: `debug`, `info` (default), `warn`, `error`.
    #[serde(default)]
    pub level: LogLevel,
    /// `console` (default) or `json`.
    #[serde(default)]
    pub encoding: LogEncoding,
    /// Accepted for compatibility; no effect.
    #[serde(default)]
    pub development: bool,
    /// Accepted for compatibility; no effect (log lines carry the module, not the file).
    #[serde(default)]
    pub disable_caller: bool,
    /// Accepted for compatibility; no effect.
    #[serde(default)]
    pub disable_stacktrace: bool,
    /// Repeated messages thinned out, as the Collector's zap sampler does; on by default.
    /// `sampling: null` turns it off, as `enabled: false` does.
    #[serde(default = "default_sampling")]
    pub sampling: Option<SamplingConfig>,
    /// Where logs go: `stderr` (the default), `stdout`, or files (a path or a `file://` URL,
    /// appended to); several at once get every line.
    #[serde(default)]
    pub output_paths: Vec<String>,
    /// Where the Collector's logger reports its own failures; checked like `output_paths`.
    /// Accepted for compatibility: this logger has no failures to report there (a line that
    /// cannot be written to one output still goes to the others).
    #[serde(default)]
    pub error_output_paths: Vec<String>,
    /// Fields added to every log line (`{service: gateway}`), as zap's initial fields.
    #[serde(default)]
    pub initial_fields: BTreeMap<String, Value>,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            level: LogLevel::default(),
            encoding: LogEncoding::default(),
            development: false,
            disable_caller: false,
            disable_stacktrace: false,
            sampling: default_sampling(),
            output_paths: Vec::new(),
            error_output_paths: Vec::new(),
            initial_fields: BTreeMap::new(),
        }
    }
}

fn default_sampling() -> Option<SamplingConfig> {
    Some(SamplingConfig::default())
}

/// `service.telemetry.logs.sampling`: per message and level, within each `tick`, the first
/// `initial` lines are written, then every `thereafter`-th (none when it is 0). The Collector's
/// defaults: on, 10 s, 10, 100.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingConfig {
    /// `false` writes every line.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The window the counts start again in.
    #[serde(default = "ten_seconds", deserialize_with = "duration::de")]
    pub tick: Duration,
    /// Lines of one message written in each window before thinning.
    #[serde(default = "ten")]
    pub initial: u64,
    /// After `initial`, every `thereafter`-th line of the message is written.
    #[serde(default = "hundred")]
    pub thereafter: u64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            tick: ten_seconds(),
            initial: ten(),
            thereafter: hundred(),
        }
    }
}

fn yes() -> bool {
    true
}
fn ten_seconds() -> Duration {
    Duration::from_secs(10)
}
fn ten() -> u64 {
    10
}
fn hundred() -> u64 {
    100
}

impl LogsConfig {
    /// The sampling in force: `None` when off.
    pub fn active_sampling(&self) -> Option<&SamplingConfig> {
        self.sampling.as_ref().filter(|s| s.enabled)
    }
}

/// How detailed self-metrics are; `none` turns them off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsLevel {
    /// No self-metrics and no metrics endpoint.
    None,
    /// Accepted; the same metrics as `normal`.
    Basic,
    /// The default.
    #[default]
    Normal,
    /// Accepted; the same metrics as `normal`.
    Detailed,
}

/// `service.telemetry.metrics`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `none`, `basic`, `normal` (default) or `detailed`.
    #[serde(default)]
    pub level: MetricsLevel,
    /// The older form: `host:port` to serve `/metrics` on (default `0.0.0.0:8888`).
    #[serde(default)]
    pub address: Option<String>,
    /// The newer form: `- pull: {exporter: {prometheus: {host, port}}}`.
    #[serde(default)]
    pub readers: Vec<ReaderConfig>,
}

/// One metric reader.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderConfig {
    /// A pull (scrape) reader.
    #[serde(default)]
    pub pull: Option<PullReader>,
    /// Push readers (OTLP) are not supported: refused with a message.
    #[serde(default)]
    pub periodic: Option<Value>,
}

/// `pull:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullReader {
    /// `exporter:`.
    pub exporter: PullExporter,
}

/// `pull.exporter:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullExporter {
    /// The Prometheus endpoint.
    pub prometheus: PrometheusReader,
}

/// `pull.exporter.prometheus:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusReader {
    /// Interface to listen on (default: all, `0.0.0.0`).
    #[serde(default)]
    pub host: Option<String>,
    /// Port (default 8888).
    #[serde(default)]
    pub port: Option<u16>,
    /// Accepted; metric names never carry unit suffixes beyond the Collector's own.
    #[serde(default)]
    pub without_units: Option<bool>,
    /// Accepted; counters keep their `_total` suffix.
    #[serde(default)]
    pub without_type_suffix: Option<bool>,
    /// Accepted; no scope info is written.
    #[serde(default)]
    pub without_scope_info: Option<bool>,
}

/// The default metrics address: loopback, as the Collector's since v0.111 and as every
/// listener here (Kubernetes manifests set `host: 0.0.0.0` for Prometheus, and a loopback
/// endpoint inside Kubernetes is warned about).
pub const DEFAULT_METRICS_ADDRESS: &str = "localhost:8888";

impl TelemetryConfig {
    /// Where to serve `/metrics` (empty when metrics are off).
    pub fn metrics_addresses(&self) -> Vec<String> {
        if self.metrics.level == MetricsLevel::None {
            return Vec::new();
        }
        let from_readers: Vec<String> = self
            .metrics
            .readers
            .iter()
            .filter_map(|r| r.pull.as_ref())
            .map(|p| {
                let host = p
                    .exporter
                    .prometheus
                    .host
                    .clone()
                    .unwrap_or_else(|| "0.0.0.0".into());
                let port = p.exporter.prometheus.port.unwrap_or(8888);
                if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                }
            })
            .collect();
        if !from_readers.is_empty() {
            return from_readers;
        }
        vec![
            self.metrics
                .address
                .clone()
                .unwrap_or_else(|| DEFAULT_METRICS_ADDRESS.to_owned()),
        ]
    }

    /// Problems with the telemetry section.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (i, r) in self.metrics.readers.iter().enumerate() {
            if r.periodic.is_some() {
                errors.push(
                    ConfigError::new("periodic (push) metric readers are not supported; use `pull: {exporter: {prometheus: {host, port}}}`")
                        .field(format!("metrics.readers.{i}.periodic")),
                );
            } else if r.pull.is_none() {
                errors.push(
                    ConfigError::new("a reader needs `pull:`")
                        .field(format!("metrics.readers.{i}")),
                );
            }
        }
        for (field, paths) in [
            ("output_paths", &self.logs.output_paths),
            ("error_output_paths", &self.logs.error_output_paths),
        ] {
            for (i, p) in paths.iter().enumerate() {
                if let Err(reason) = super::logs::Output::parse(p) {
                    errors.push(ConfigError::new(reason).field(format!("logs.{field}.{i}")));
                }
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> TelemetryConfig {
        let v: Value = crate::config::value::from_yaml(y).unwrap();
        TelemetryConfig::deserialize(&v).unwrap()
    }

    #[test]
    fn metrics_address_forms() {
        assert_eq!(parse("{}").metrics_addresses(), vec!["localhost:8888"]);
        assert_eq!(
            parse("metrics: {address: '127.0.0.1:9999'}").metrics_addresses(),
            vec!["127.0.0.1:9999"]
        );
        let readers = "metrics:\n  readers:\n    - pull:\n        exporter:\n          prometheus:\n            host: 127.0.0.1\n            port: 9090\n";
        assert_eq!(parse(readers).metrics_addresses(), vec!["127.0.0.1:9090"]);
        assert!(
            parse("metrics: {level: none}")
                .metrics_addresses()
                .is_empty()
        );
        assert_eq!(parse("logs: {level: DEBUG}").logs.level, LogLevel::Debug);
    }

    #[test]
    fn log_sampling_as_the_collector_reads_it() {
        let on = |tick: u64, initial: u64, thereafter: u64| {
            Some(SamplingConfig {
                enabled: true,
                tick: Duration::from_secs(tick),
                initial,
                thereafter,
            })
        };
        let cases = [
            ("{}", on(10, 10, 100)),
            ("logs: {level: debug}", on(10, 10, 100)),
            ("logs: {sampling: {initial: 5}}", on(10, 5, 100)),
            ("logs: {sampling: {tick: 1m, thereafter: 0}}", on(60, 10, 0)),
            (
                "logs: {sampling: {enabled: true, tick: 2s, initial: 1, thereafter: 1}}",
                on(2, 1, 1),
            ),
            ("logs: {sampling: {enabled: false}}", None),
            ("logs: {sampling: null}", None),
        ];
        for (yaml, want) in cases {
            assert_eq!(parse(yaml).logs.active_sampling(), want.as_ref(), "{yaml}");
        }
        let v = crate::config::value::from_yaml("logs: {sampling: {tick: soon}}").unwrap();
        let err = TelemetryConfig::deserialize(&v).unwrap_err().to_string();
        assert!(err.contains("soon"), "{err}");
        let v = crate::config::value::from_yaml("logs: {sampling: {every: 5}}").unwrap();
        let err = TelemetryConfig::deserialize(&v).unwrap_err().to_string();
        assert!(err.contains("unknown field `every`"), "{err}");
    }

    #[test]
    fn log_outputs_are_checked_in_both_lists() {
        let t = parse(
            "logs:\n  output_paths: [stderr, /var/log/otelcol.log, 'http://x']\n  error_output_paths: [stdout, '']\n  initial_fields: {service: gw}\n",
        );
        let errors: Vec<String> = t.validate().iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "field `logs.output_paths.2`: log outputs of scheme \"http\" are not supported (use stderr, stdout, a file path or file:///path)",
                "field `logs.error_output_paths.1`: an empty log output (use stderr, stdout or a file path)",
            ]
        );
        assert_eq!(
            t.logs.initial_fields.get("service"),
            Some(&Value::String("gw".into()))
        );
    }
}
