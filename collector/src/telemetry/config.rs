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
    /// The log lines also sent over OTLP, as the Collector's SDK log processors send them.
    #[serde(default)]
    pub processors: Vec<LogProcessorConfig>,
}

/// `logs.processors[]`: one of `batch` or `simple`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogProcessorConfig {
    /// Lines sent in batches, every `schedule_delay` or when a batch is full.
    #[serde(default)]
    pub batch: Option<BatchLogProcessor>,
    /// Each line sent on its own, as it is written.
    #[serde(default)]
    pub simple: Option<SimpleLogProcessor>,
}

/// `batch:` (times in ms, as the SDK configuration schema has them).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchLogProcessor {
    /// Longest wait before a batch goes, in ms (default 1000).
    #[serde(default = "one_second_ms")]
    pub schedule_delay: u64,
    /// Longest one export may take, in ms (default 30000).
    #[serde(default = "thirty_seconds_ms")]
    pub export_timeout: u64,
    /// Lines held at most; more are dropped (default 2048).
    #[serde(default = "queue_2048")]
    pub max_queue_size: usize,
    /// Lines in one request at most (default 512).
    #[serde(default = "batch_512")]
    pub max_export_batch_size: usize,
    /// Where the lines go.
    pub exporter: PushExporter,
}

/// `simple:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimpleLogProcessor {
    /// Where the lines go.
    pub exporter: PushExporter,
}

fn one_second_ms() -> u64 {
    1000
}
fn queue_2048() -> usize {
    2048
}
fn batch_512() -> usize {
    512
}

/// How one log processor sends: what the processor section amounts to.
#[derive(Debug, Clone)]
pub struct LogShipping {
    /// Longest wait before a batch goes.
    pub delay: Duration,
    /// Longest one export may take.
    pub timeout: Duration,
    /// Lines held at most.
    pub queue: usize,
    /// Lines per request at most.
    pub batch: usize,
    /// Where they go.
    pub exporter: PushExporter,
}

impl LogProcessorConfig {
    /// The shipping this section asks for (`None` when it names neither kind).
    pub fn shipping(&self) -> Option<LogShipping> {
        match (&self.batch, &self.simple) {
            (Some(b), None) => Some(LogShipping {
                delay: Duration::from_millis(b.schedule_delay),
                timeout: Duration::from_millis(b.export_timeout),
                queue: b.max_queue_size,
                batch: b.max_export_batch_size,
                exporter: b.exporter.clone(),
            }),
            // As it is written: no wait, one line per request, the SDK's export timeout.
            (None, Some(s)) => Some(LogShipping {
                delay: Duration::ZERO,
                timeout: Duration::from_millis(thirty_seconds_ms()),
                queue: queue_2048(),
                batch: 1,
                exporter: s.exporter.clone(),
            }),
            _ => None,
        }
    }
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
            processors: Vec::new(),
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
    /// A push reader: the self-metrics sent every `interval` over OTLP.
    #[serde(default)]
    pub periodic: Option<PeriodicReader>,
}

/// `periodic:`, in the OpenTelemetry SDK configuration schema the Collector reads (times in
/// milliseconds).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodicReader {
    /// Between two exports, in ms (default 60000).
    #[serde(default = "sixty_seconds_ms")]
    pub interval: u64,
    /// Longest one export may take, in ms (default 30000).
    #[serde(default = "thirty_seconds_ms")]
    pub timeout: u64,
    /// Where the metrics go.
    pub exporter: PushExporter,
}

fn sixty_seconds_ms() -> u64 {
    60_000
}
fn thirty_seconds_ms() -> u64 {
    30_000
}
fn ten_seconds_ms() -> u64 {
    10_000
}

/// `periodic.exporter:`: one of `otlp` or `console`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushExporter {
    /// OTLP over gRPC or HTTP.
    #[serde(default)]
    pub otlp: Option<OtlpPush>,
    /// OTLP JSON lines on stdout (`console: {}`).
    #[serde(default)]
    pub console: Option<Value>,
}

/// `periodic.exporter.otlp:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpPush {
    /// `http/protobuf` (the default), `http/json` or `grpc`.
    #[serde(default = "http_protobuf")]
    pub protocol: String,
    /// A URL: for HTTP, without a path `/v1/metrics` is added; for gRPC, `http://` means
    /// without TLS.
    pub endpoint: String,
    /// `- name: api-key\n  value: ...`.
    #[serde(default)]
    pub headers: Vec<NameValue>,
    /// `api-key=abc,tenant=x`.
    #[serde(default)]
    pub headers_list: Option<String>,
    /// `gzip` or `none` (the default).
    #[serde(default)]
    pub compression: Option<String>,
    /// Longest one request may take, in ms (default 10000).
    #[serde(default = "ten_seconds_ms")]
    pub timeout: u64,
    /// gRPC without TLS.
    #[serde(default)]
    pub insecure: Option<bool>,
    /// The CA to verify the backend with (PEM file).
    #[serde(default)]
    pub certificate: Option<String>,
    /// Client key for mutual TLS (PEM file).
    #[serde(default)]
    pub client_key: Option<String>,
    /// Client certificate for mutual TLS (PEM file).
    #[serde(default)]
    pub client_certificate: Option<String>,
    /// `cumulative` only (the default): these are counters since start.
    #[serde(default)]
    pub temporality_preference: Option<String>,
    /// `explicit_bucket_histogram` only (the default).
    #[serde(default)]
    pub default_histogram_aggregation: Option<String>,
}

fn http_protobuf() -> String {
    "http/protobuf".into()
}

/// `{name, value}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameValue {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: crate::config::Secret,
}

impl PushExporter {
    /// Problems, as (field under the exporter, from its `.`, or empty; reason).
    fn problems(&self) -> Vec<(String, String)> {
        match (&self.otlp, &self.console) {
            (Some(o), None) => o
                .problems()
                .into_iter()
                .map(|(f, reason)| (format!(".otlp.{f}"), reason))
                .collect(),
            (None, Some(_)) => Vec::new(),
            _ => vec![(
                String::new(),
                "needs one exporter: `otlp` or `console`".into(),
            )],
        }
    }
}

impl OtlpPush {
    /// Every header, `headers` after `headers_list` (the later wins).
    pub fn all_headers(&self) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        if let Some(list) = self
            .headers_list
            .as_deref()
            .filter(|l| !l.trim().is_empty())
        {
            for pair in list.split(',') {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("{pair:?} is not name=value"))?;
                out.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        for h in &self.headers {
            out.push((h.name.clone(), h.value.expose().to_owned()));
        }
        Ok(out)
    }

    /// Problems, as (field under `otlp`, reason).
    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !matches!(
            self.protocol.as_str(),
            "http/protobuf" | "http/json" | "grpc"
        ) {
            out.push((
                "protocol",
                format!(
                    "unknown protocol {:?} (use http/protobuf, http/json or grpc)",
                    self.protocol
                ),
            ));
        }
        match self.endpoint.parse::<http::Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => {}
            _ => out.push((
                "endpoint",
                format!(
                    "{:?} is not a URL (http://host:port or https://host:port)",
                    self.endpoint
                ),
            )),
        }
        if let Err(e) = self.all_headers() {
            out.push(("headers_list", e));
        }
        if !matches!(
            self.compression.as_deref(),
            None | Some("gzip" | "none" | "")
        ) {
            out.push((
                "compression",
                format!(
                    "{:?}: use gzip or none",
                    self.compression.as_deref().unwrap_or("")
                ),
            ));
        }
        if self.timeout == 0 {
            out.push(("timeout", "must be more than 0 ms".into()));
        }
        if !matches!(
            self.temporality_preference.as_deref(),
            None | Some("cumulative")
        ) {
            out.push((
                "temporality_preference",
                "only cumulative: these metrics are totals since the collector started".into(),
            ));
        }
        if !matches!(
            self.default_histogram_aggregation.as_deref(),
            None | Some("explicit_bucket_histogram")
        ) {
            out.push((
                "default_histogram_aggregation",
                "only explicit_bucket_histogram (the Collector's buckets)".into(),
            ));
        }
        out
    }
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
        // Readers replace the default endpoint: a config that only pushes serves nothing.
        match (&self.metrics.address, self.metrics.readers.is_empty()) {
            (Some(a), _) => from_readers.into_iter().chain([a.clone()]).collect(),
            (None, false) => from_readers,
            (None, true) => vec![DEFAULT_METRICS_ADDRESS.to_owned()],
        }
    }

    /// The push readers with their index in `readers`, when self-metrics are on.
    pub fn periodic_readers(&self) -> Vec<(usize, &PeriodicReader)> {
        if self.metrics.level == MetricsLevel::None {
            return Vec::new();
        }
        self.metrics
            .readers
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((i, r.periodic.as_ref()?)))
            .collect()
    }

    /// Problems with the telemetry section.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (i, r) in self.metrics.readers.iter().enumerate() {
            let at = |f: &str| format!("metrics.readers.{i}{f}");
            match (&r.pull, &r.periodic) {
                (None, None) => errors
                    .push(ConfigError::new("a reader needs `pull:` or `periodic:`").field(at(""))),
                (Some(_), Some(_)) => errors.push(
                    ConfigError::new("a reader is either `pull:` or `periodic:`, not both")
                        .field(at("")),
                ),
                (_, Some(p)) => {
                    if p.interval == 0 {
                        errors.push(
                            ConfigError::new("must be more than 0 ms")
                                .field(at(".periodic.interval")),
                        );
                    }
                    if p.timeout == 0 {
                        errors.push(
                            ConfigError::new("must be more than 0 ms")
                                .field(at(".periodic.timeout")),
                        );
                    }
                    errors.extend(p.exporter.problems().into_iter().map(|(f, reason)| {
                        ConfigError::new(reason).field(at(&format!(".periodic.exporter{f}")))
                    }));
                }
                (Some(_), None) => {}
            }
        }
        for (i, p) in self.logs.processors.iter().enumerate() {
            let at = |f: &str| format!("logs.processors.{i}{f}");
            let (kind, exporter) = match (&p.batch, &p.simple) {
                (Some(b), None) => {
                    for (field, v) in [
                        ("schedule_delay", b.schedule_delay),
                        ("export_timeout", b.export_timeout),
                    ] {
                        if v == 0 {
                            errors.push(
                                ConfigError::new("must be more than 0 ms")
                                    .field(at(&format!(".batch.{field}"))),
                            );
                        }
                    }
                    if b.max_export_batch_size == 0 || b.max_export_batch_size > b.max_queue_size {
                        errors.push(
                            ConfigError::new(format!(
                                "must be from 1 to max_queue_size ({})",
                                b.max_queue_size
                            ))
                            .field(at(".batch.max_export_batch_size")),
                        );
                    }
                    ("batch", &b.exporter)
                }
                (None, Some(s)) => ("simple", &s.exporter),
                _ => {
                    errors.push(
                        ConfigError::new("a log processor is one of `batch:` or `simple:`")
                            .field(at("")),
                    );
                    continue;
                }
            };
            errors.extend(exporter.problems().into_iter().map(|(f, reason)| {
                ConfigError::new(reason).field(at(&format!(".{kind}.exporter{f}")))
            }));
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

    #[test]
    fn push_readers_as_the_collector_reads_them() {
        let t = parse(
            "metrics:\n  readers:\n    - pull: {exporter: {prometheus: {host: 127.0.0.1, port: 9090}}}\n    - periodic:\n        interval: 5000\n        exporter:\n          otlp: {protocol: grpc, endpoint: 'http://gw:4317'}\n    - periodic: {exporter: {console: {}}}\n",
        );
        assert!(t.validate().is_empty(), "{:?}", t.validate());
        let push = t.periodic_readers();
        assert_eq!(push.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 2]);
        assert_eq!((push[0].1.interval, push[0].1.timeout), (5000, 30_000));
        assert_eq!(push[1].1.interval, 60_000);
        // Readers replace the default endpoint; `address` adds to them.
        assert_eq!(t.metrics_addresses(), ["127.0.0.1:9090"]);
        let only_push = parse("metrics:\n  readers:\n    - periodic: {exporter: {console: {}}}\n");
        assert!(only_push.metrics_addresses().is_empty());
        let with_address = parse(
            "metrics:\n  address: 127.0.0.1:0\n  readers:\n    - periodic: {exporter: {console: {}}}\n",
        );
        assert_eq!(with_address.metrics_addresses(), ["127.0.0.1:0"]);
        assert!(
            parse(
                "metrics:\n  level: none\n  readers:\n    - periodic: {exporter: {console: {}}}\n"
            )
            .periodic_readers()
            .is_empty()
        );
    }

    #[test]
    fn push_reader_problems_name_their_field() {
        let t = parse(
            "metrics:\n  readers:\n    - {}\n    - periodic: {interval: 0, exporter: {}}\n    - periodic:\n        exporter:\n          otlp: {protocol: thrift, endpoint: 'backend:4318', compression: zstd, headers_list: oops, timeout: 0, temporality_preference: delta, default_histogram_aggregation: base2_exponential_bucket_histogram}\n",
        );
        let errors: Vec<String> = t.validate().iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "field `metrics.readers.0`: a reader needs `pull:` or `periodic:`",
                "field `metrics.readers.1.periodic.interval`: must be more than 0 ms",
                "field `metrics.readers.1.periodic.exporter`: needs one exporter: `otlp` or `console`",
                "field `metrics.readers.2.periodic.exporter.otlp.protocol`: unknown protocol \"thrift\" (use http/protobuf, http/json or grpc)",
                "field `metrics.readers.2.periodic.exporter.otlp.endpoint`: \"backend:4318\" is not a URL (http://host:port or https://host:port)",
                "field `metrics.readers.2.periodic.exporter.otlp.headers_list`: \"oops\" is not name=value",
                "field `metrics.readers.2.periodic.exporter.otlp.compression`: \"zstd\": use gzip or none",
                "field `metrics.readers.2.periodic.exporter.otlp.timeout`: must be more than 0 ms",
                "field `metrics.readers.2.periodic.exporter.otlp.temporality_preference`: only cumulative: these metrics are totals since the collector started",
                "field `metrics.readers.2.periodic.exporter.otlp.default_histogram_aggregation`: only explicit_bucket_histogram (the Collector's buckets)",
            ]
        );
    }

    #[test]
    fn log_processors_as_the_collector_reads_them() {
        let t = parse(
            "logs:\n  processors:\n    - batch:\n        exporter:\n          otlp: {protocol: http/protobuf, endpoint: 'https://backend:4318'}\n    - batch:\n        schedule_delay: 200\n        max_queue_size: 10\n        max_export_batch_size: 5\n        exporter: {console: {}}\n    - simple: {exporter: {console: {}}}\n",
        );
        assert!(t.validate().is_empty(), "{:?}", t.validate());
        let shipping: Vec<(Duration, Duration, usize, usize)> = t
            .logs
            .processors
            .iter()
            .map(|p| p.shipping().unwrap())
            .map(|s| (s.delay, s.timeout, s.queue, s.batch))
            .collect();
        let ms = Duration::from_millis;
        assert_eq!(
            shipping,
            [
                (ms(1000), ms(30_000), 2048, 512),
                (ms(200), ms(30_000), 10, 5),
                (Duration::ZERO, ms(30_000), 2048, 1),
            ]
        );
        let bad = parse(
            "logs:\n  processors:\n    - {}\n    - batch: {schedule_delay: 0, max_queue_size: 4, max_export_batch_size: 5, exporter: {}}\n    - simple: {exporter: {otlp: {endpoint: 'backend:4317', protocol: grpc}}}\n",
        );
        let errors: Vec<String> = bad.validate().iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "field `logs.processors.0`: a log processor is one of `batch:` or `simple:`",
                "field `logs.processors.1.batch.schedule_delay`: must be more than 0 ms",
                "field `logs.processors.1.batch.max_export_batch_size`: must be from 1 to max_queue_size (4)",
                "field `logs.processors.1.batch.exporter`: needs one exporter: `otlp` or `console`",
                "field `logs.processors.2.simple.exporter.otlp.endpoint`: \"backend:4317\" is not a URL (http://host:port or https://host:port)",
            ]
        );
    }
}
