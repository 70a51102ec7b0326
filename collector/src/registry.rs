//! The component registry: every component type the collector knows, with its config parser,
//! the signals it handles and, for old names, the deprecation note.
//!
//! To add a component: write its config struct (`deny_unknown_fields`, a doc comment on every
//! field, defaults in one place) implementing [`Validate`](crate::component::Validate) and
//! the kind's `*Config` trait, then add one [`Factory`] line below.

use crate::component::{
    ConnectorConfig, ExporterConfig, ExtensionConfig, ProcessorConfig, ReceiverConfig,
};
use crate::config::{ConfigError, Value};
use crate::otlp::Signal;
use serde::de::DeserializeOwned;

/// One component type.
pub struct Factory<C: ?Sized> {
    /// The type in config ids (`otlp_grpc`).
    pub type_name: &'static str,
    /// Signals it handles (for a connector, those of the pipelines it ends).
    pub signals: &'static [Signal],
    /// For a connector, the (signal it takes, signal it emits) pairs it joins; empty for the
    /// other kinds.
    pub joins: &'static [(Signal, Signal)],
    /// For a deprecated name: what to write instead.
    pub deprecated: Option<&'static str>,
    /// Parses (and defaults) its config from the tree.
    pub parse: fn(&Value) -> Result<Box<C>, ConfigError>,
}

/// Deserializes a typed config, naming the field path on error.
pub fn parse_typed<T: DeserializeOwned>(v: &Value) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        ConfigError::new(without_string_values(&e.inner().to_string())).field(e.path().to_string())
    })
}

/// serde's `invalid type: string "…", expected …` quotes the value, which may be a secret
/// that came in through `${env:…}` or `${file:…}`: the message keeps only its length.
fn without_string_values(message: &str) -> String {
    for prefix in ["invalid type: string \"", "invalid value: string \""] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((value, tail)) = rest.rsplit_once("\", expected ")
        {
            let kind = prefix.trim_end_matches(" string \"");
            return format!(
                "{kind} string ({} characters), expected {tail}",
                value.chars().count()
            );
        }
    }
    message.to_owned()
}

const ALL: &[Signal] = &[Signal::Traces, Signal::Metrics, Signal::Logs];
const TRACES: &[Signal] = &[Signal::Traces];
/// A pipeline of each signal to pipelines of the same.
const SAME_SIGNAL: &[(Signal, Signal)] = &[
    (Signal::Traces, Signal::Traces),
    (Signal::Metrics, Signal::Metrics),
    (Signal::Logs, Signal::Logs),
];

/// Every known component type.
pub struct Registry {
    /// `receivers:`
    pub receivers: Vec<Factory<dyn ReceiverConfig>>,
    /// `processors:`
    pub processors: Vec<Factory<dyn ProcessorConfig>>,
    /// `exporters:`
    pub exporters: Vec<Factory<dyn ExporterConfig>>,
    /// `extensions:`
    pub extensions: Vec<Factory<dyn ExtensionConfig>>,
    /// `connectors:`
    pub connectors: Vec<Factory<dyn ConnectorConfig>>,
}

macro_rules! factory {
    ($name:expr, $signals:expr, $dep:expr, $cfg:ty, $tr:ident) => {
        factory!($name, $signals, &[], $dep, $cfg, $tr)
    };
    ($name:expr, $signals:expr, $joins:expr, $dep:expr, $cfg:ty, $tr:ident) => {
        Factory {
            type_name: $name,
            signals: $signals,
            joins: $joins,
            deprecated: $dep,
            parse: |v| parse_typed::<$cfg>(v).map(|c| Box::new(c) as Box<dyn $tr>),
        }
    };
}

impl Registry {
    /// The components built into this binary.
    pub fn builtin() -> Self {
        use crate::exporter::{debug, file, loadbalancing, otlp_grpc, otlp_http};
        use crate::extension::health_check;
        use crate::processor::{
            attributes, batch, filter, memory_limiter, probabilistic_sampler, resource,
            tail_sampling, transform,
        };
        use crate::receiver::{otlp, zipkin};
        Self {
            receivers: vec![
                factory!("otlp", ALL, None, otlp::OtlpReceiverConfig, ReceiverConfig),
                factory!("zipkin", TRACES, None, zipkin::ZipkinConfig, ReceiverConfig),
            ],
            processors: vec![
                factory!("batch", ALL, None, batch::BatchConfig, ProcessorConfig),
                factory!("filter", ALL, None, filter::FilterConfig, ProcessorConfig),
                factory!(
                    "attributes",
                    TRACES,
                    None,
                    attributes::AttributesConfig,
                    ProcessorConfig
                ),
                factory!(
                    "resource",
                    ALL,
                    None,
                    resource::ResourceConfig,
                    ProcessorConfig
                ),
                factory!(
                    "transform",
                    ALL,
                    None,
                    transform::TransformConfig,
                    ProcessorConfig
                ),
                factory!(
                    "probabilistic_sampler",
                    TRACES,
                    None,
                    probabilistic_sampler::SamplerConfig,
                    ProcessorConfig
                ),
                factory!(
                    "tail_sampling",
                    TRACES,
                    None,
                    tail_sampling::TailSamplingConfig,
                    ProcessorConfig
                ),
                factory!(
                    "memory_limiter",
                    ALL,
                    None,
                    memory_limiter::MemoryLimiterConfig,
                    ProcessorConfig
                ),
            ],
            exporters: vec![
                factory!(
                    "otlp_grpc",
                    ALL,
                    None,
                    otlp_grpc::OtlpGrpcConfig,
                    ExporterConfig
                ),
                factory!(
                    "otlp",
                    ALL,
                    Some("otlp_grpc"),
                    otlp_grpc::OtlpGrpcConfig,
                    ExporterConfig
                ),
                factory!(
                    "otlp_http",
                    ALL,
                    None,
                    otlp_http::OtlpHttpConfig,
                    ExporterConfig
                ),
                factory!(
                    "otlphttp",
                    ALL,
                    Some("otlp_http"),
                    otlp_http::OtlpHttpConfig,
                    ExporterConfig
                ),
                factory!("debug", ALL, None, debug::DebugConfig, ExporterConfig),
                factory!(
                    "logging",
                    ALL,
                    Some("debug"),
                    debug::LoggingConfig,
                    ExporterConfig
                ),
                factory!("file", ALL, None, file::FileConfig, ExporterConfig),
                factory!(
                    "loadbalancing",
                    ALL,
                    None,
                    loadbalancing::LoadBalancingConfig,
                    ExporterConfig
                ),
            ],
            extensions: vec![
                factory!(
                    "health_check",
                    &[],
                    None,
                    health_check::HealthCheckConfig,
                    ExtensionConfig
                ),
                factory!(
                    "pprof",
                    &[],
                    None,
                    crate::extension::pprof::PprofConfig,
                    ExtensionConfig
                ),
                factory!(
                    "zpages",
                    &[],
                    None,
                    crate::extension::zpages::ZPagesConfig,
                    ExtensionConfig
                ),
                // Issue 6: persistent queues and authenticators.
                factory!(
                    "file_storage",
                    &[],
                    None,
                    crate::extension::file_storage::FileStorageConfig,
                    ExtensionConfig
                ),
                factory!(
                    "bearertokenauth",
                    &[],
                    None,
                    crate::extension::auth::bearer::BearerTokenAuthConfig,
                    ExtensionConfig
                ),
                factory!(
                    "basicauth",
                    &[],
                    None,
                    crate::extension::auth::basic::BasicAuthConfig,
                    ExtensionConfig
                ),
            ],
            connectors: vec![
                factory!(
                    "forward",
                    ALL,
                    SAME_SIGNAL,
                    None,
                    crate::connector::forward::ForwardConfig,
                    ConnectorConfig
                ),
                factory!(
                    "routing",
                    ALL,
                    SAME_SIGNAL,
                    None,
                    crate::connector::routing::RoutingConfig,
                    ConnectorConfig
                ),
                factory!(
                    "servicegraph",
                    TRACES,
                    &[(Signal::Traces, Signal::Metrics)],
                    None,
                    crate::connector::servicegraph::ServiceGraphConfig,
                    ConnectorConfig
                ),
                factory!(
                    "spanmetrics",
                    TRACES,
                    &[(Signal::Traces, Signal::Metrics)],
                    None,
                    crate::connector::spanmetrics::SpanMetricsConfig,
                    ConnectorConfig
                ),
            ],
        }
    }

    /// The `components` listing.
    pub fn describe(&self) -> String {
        fn section<C: ?Sized>(out: &mut String, title: &str, fs: &[Factory<C>]) {
            out.push_str(title);
            out.push_str(":\n");
            for f in fs {
                let signals: Vec<String> = if f.joins.iter().all(|(a, b)| a == b) {
                    f.signals
                        .iter()
                        .map(|s| crate::signal_name(*s).to_owned())
                        .collect()
                } else {
                    f.joins
                        .iter()
                        .map(|(a, b)| {
                            format!("{} to {}", crate::signal_name(*a), crate::signal_name(*b))
                        })
                        .collect()
                };
                out.push_str("  - ");
                out.push_str(f.type_name);
                if !signals.is_empty() {
                    out.push_str(&format!(" [{}]", signals.join(", ")));
                }
                if let Some(d) = f.deprecated {
                    out.push_str(&format!(" (deprecated name of {d})"));
                }
                out.push('\n');
            }
        }
        let mut out = String::new();
        section(&mut out, "receivers", &self.receivers);
        section(&mut out, "processors", &self.processors);
        section(&mut out, "exporters", &self.exporters);
        section(&mut out, "extensions", &self.extensions);
        section(&mut out, "connectors", &self.connectors);
        out
    }
}

/// Finds the factory for `type_name`.
pub fn find<'a, C: ?Sized>(fs: &'a [Factory<C>], type_name: &str) -> Option<&'a Factory<C>> {
    fs.iter().find(|f| f.type_name == type_name)
}

/// The names in `fs`, for "supported: ..." messages.
pub fn names<C: ?Sized>(fs: &[Factory<C>]) -> String {
    fs.iter()
        .filter(|f| f.deprecated.is_none())
        .map(|f| f.type_name)
        .collect::<Vec<_>>()
        .join(", ")
}
