//! `spanmetrics`: Request, Error and Duration metrics from the spans of a traces pipeline,
//! handed to metrics pipelines every `metrics_flush_interval`, as the Collector's
//! `spanmetricsconnector` makes them: `traces.span.metrics.calls` (a monotonic sum) and
//! `traces.span.metrics.duration` (an explicit-bucket histogram) per service, span name, span
//! kind, status code and the configured dimensions. In a mesh this is the RED dashboard of
//! every workload, from the spans the proxies already send.
//!
//! The spans are read on the request's bytes ([`aggregate`]); the traces pipeline's request is
//! never copied or decoded. What a flush fails to deliver is logged: cumulative totals go out
//! again at the next flush, a delta interval is lost (as in the Collector).

pub mod aggregate;
#[cfg(test)]
mod tests;

use super::histogram::{BucketBound, check_bounds};
use super::periodic::{self, Aggregate, Schedule};
use crate::component::{
    ComponentError, Connector, ConnectorConfig, Context, PipelineHeads, Validate,
};
use crate::config::{ConfigError, duration};
use crate::otlp::Signal;
use crate::otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use aggregate::{Aggregator, BUILT_IN, Dim, Settings, Temporality};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// The Collector's default buckets, in milliseconds.
pub const DEFAULT_BUCKETS_MS: [f64; 16] = [
    2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0,
    10_000.0, 15_000.0,
];
const DEFAULT_NAMESPACE: &str = "traces.span.metrics";

/// `connectors: spanmetrics:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanMetricsConfig {
    /// The duration histogram.
    #[serde(default)]
    pub histogram: HistogramConfig,
    /// Dimensions added to every metric: a span attribute, else a resource attribute, else
    /// the default; without a default an absent dimension is left out.
    #[serde(default)]
    pub dimensions: Vec<DimensionConfig>,
    /// Dimensions of the calls sum only.
    #[serde(default)]
    pub calls_dimensions: Vec<DimensionConfig>,
    /// Built-in dimensions left out (`service.name`, `span.name`, `span.kind`, `status.code`).
    #[serde(default)]
    pub exclude_dimensions: Vec<String>,
    /// Deprecated in the Collector; accepted and unused (series are kept until a flush).
    #[serde(default)]
    pub dimensions_cache_size: Option<i64>,
    /// The most resources kept between cumulative flushes (default 1000).
    #[serde(default = "default_cache")]
    pub resource_metrics_cache_size: i64,
    /// The resource attributes that tell resources apart (default: all).
    #[serde(default)]
    pub resource_metrics_key_attributes: Vec<String>,
    /// `AGGREGATION_TEMPORALITY_CUMULATIVE` (default) or `AGGREGATION_TEMPORALITY_DELTA`.
    #[serde(default = "default_temporality")]
    pub aggregation_temporality: String,
    /// How often the metrics are emitted (default 60s).
    #[serde(default = "default_flush", deserialize_with = "duration::de")]
    pub metrics_flush_interval: Duration,
    /// A resource with no span for this long stops being reported (default 0: never).
    #[serde(default, deserialize_with = "duration::de")]
    pub metrics_expiration: Duration,
    /// Delta series whose last flush time is remembered (default 1000).
    #[serde(default)]
    pub metric_timestamp_cache_size: Option<i64>,
    /// Prefix of the metric names (default `traces.span.metrics`; empty: none).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Trace and span ids of some spans on the data points.
    #[serde(default)]
    pub exemplars: ExemplarsConfig,
    /// The events sum: span events counted by their attributes.
    #[serde(default)]
    pub events: EventsConfig,
    /// Scope names whose spans get the scope's name and version as dimensions.
    #[serde(default)]
    pub include_instrumentation_scope: Vec<String>,
    /// The most series per metric and resource; more go to one series marked
    /// `otel.metric.overflow` (default 0: no limit).
    #[serde(default)]
    pub aggregation_cardinality_limit: i64,
}

fn default_cache() -> i64 {
    1000
}
fn default_temporality() -> String {
    "AGGREGATION_TEMPORALITY_CUMULATIVE".into()
}
fn default_flush() -> Duration {
    Duration::from_secs(60)
}
fn default_namespace() -> String {
    DEFAULT_NAMESPACE.into()
}

/// One dimension.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionConfig {
    /// The attribute's key.
    pub name: String,
    /// Its value when neither the span nor the resource has it.
    #[serde(default)]
    pub default: Option<String>,
}

/// `histogram:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistogramConfig {
    /// No duration histogram at all.
    #[serde(default)]
    pub disable: bool,
    /// `ms` (default) or `s`.
    #[serde(default)]
    pub unit: Option<String>,
    /// Explicit buckets.
    #[serde(default)]
    pub explicit: Option<ExplicitConfig>,
    /// Exponential buckets: not supported (refused by name).
    #[serde(default)]
    pub exponential: Option<crate::config::Value>,
    /// Dimensions of the histogram only.
    #[serde(default)]
    pub dimensions: Vec<DimensionConfig>,
}

/// `histogram.explicit:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplicitConfig {
    /// The buckets' upper bounds, as durations (`2ms`, `1s`), increasing.
    #[serde(default)]
    pub buckets: Option<Vec<BucketBound>>,
}

/// `exemplars:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExemplarsConfig {
    /// Attach the trace and span ids of spans to the data points they fell into.
    #[serde(default)]
    pub enabled: bool,
    /// The most exemplars per data point and flush (default 5).
    #[serde(default)]
    pub max_per_data_point: Option<i64>,
}

/// `events:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// Emit `{namespace}.events`.
    #[serde(default)]
    pub enabled: bool,
    /// Event attributes that become dimensions (required when enabled).
    #[serde(default)]
    pub dimensions: Vec<DimensionConfig>,
}

const DELTA: &str = "AGGREGATION_TEMPORALITY_DELTA";
const CUMULATIVE: &str = "AGGREGATION_TEMPORALITY_CUMULATIVE";

fn check_dimensions(
    list: &[DimensionConfig],
    field: &str,
    taken: &mut Vec<String>,
    e: &mut Vec<ConfigError>,
) {
    for (i, d) in list.iter().enumerate() {
        if taken.contains(&d.name) {
            e.push(
                ConfigError::new(format!("duplicate dimension name {}", d.name))
                    .field(format!("{field}.{i}.name")),
            );
        } else {
            taken.push(d.name.clone());
        }
    }
}

impl Validate for SpanMetricsConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        let built_in = || BUILT_IN.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let mut taken = built_in();
        check_dimensions(&self.dimensions, "dimensions", &mut taken, &mut e);
        for (list, field) in [
            (&self.calls_dimensions, "calls_dimensions"),
            (&self.histogram.dimensions, "histogram.dimensions"),
        ] {
            check_dimensions(list, field, &mut taken.clone(), &mut e);
        }
        if self.events.enabled {
            if self.events.dimensions.is_empty() {
                e.push(
                    ConfigError::new("no dimensions configured for events")
                        .field("events.dimensions"),
                );
            }
            check_dimensions(
                &self.events.dimensions,
                "events.dimensions",
                &mut built_in(),
                &mut e,
            );
        }
        for (i, name) in self.exclude_dimensions.iter().enumerate() {
            if !BUILT_IN.contains(&name.as_str()) {
                e.push(
                    ConfigError::new(format!(
                        "{name:?} is not a built-in dimension (one of {})",
                        BUILT_IN.join(", ")
                    ))
                    .field(format!("exclude_dimensions.{i}")),
                );
            }
        }
        if self.histogram.exponential.is_some() {
            let reason = if self.histogram.explicit.is_some() {
                "use either `explicit` or `exponential` buckets histogram"
            } else {
                "exponential histograms are not supported: use `explicit` buckets"
            };
            e.push(ConfigError::new(reason).field("histogram.exponential"));
        }
        if let Some(u) = &self.histogram.unit
            && u != "ms"
            && u != "s"
        {
            e.push(
                ConfigError::new(format!("unknown unit {u:?} (expected \"ms\" or \"s\")"))
                    .field("histogram.unit"),
            );
        }
        if let Some(b) = self
            .histogram
            .explicit
            .as_ref()
            .and_then(|x| x.buckets.as_ref())
        {
            e.extend(check_bounds(b, "histogram.explicit.buckets"));
        }
        if self.aggregation_temporality != DELTA && self.aggregation_temporality != CUMULATIVE {
            // The Collector reads any other value as cumulative; a typo of "DELTA" would
            // silently change what every dashboard computes.
            e.push(
                ConfigError::new(format!(
                    "unknown temporality {:?} (expected {CUMULATIVE} or {DELTA})",
                    self.aggregation_temporality
                ))
                .field("aggregation_temporality"),
            );
        }
        if self.metrics_flush_interval.is_zero() {
            e.push(
                ConfigError::new("must be above 0 (it is how often metrics are emitted)")
                    .field("metrics_flush_interval"),
            );
        }
        if self.resource_metrics_cache_size <= 0 {
            e.push(
                ConfigError::new(format!(
                    "invalid cache size: {}, the maximum number of the items in the cache should be positive",
                    self.resource_metrics_cache_size
                ))
                .field("resource_metrics_cache_size"),
            );
        }
        if self.aggregation_temporality == DELTA && self.timestamp_cap() <= 0 {
            e.push(
                ConfigError::new(format!(
                    "invalid delta timestamp cache size: {}, the maximum number of the items in the cache should be positive",
                    self.timestamp_cap()
                ))
                .field("metric_timestamp_cache_size"),
            );
        }
        if self.aggregation_cardinality_limit < 0 {
            e.push(
                ConfigError::new(format!(
                    "invalid aggregation_cardinality_limit: {}, the limit should be positive",
                    self.aggregation_cardinality_limit
                ))
                .field("aggregation_cardinality_limit"),
            );
        }
        if let Some(n) = self.exemplars.max_per_data_point
            && n <= 0
        {
            e.push(
                ConfigError::new(format!("must be positive, not {n}"))
                    .field("exemplars.max_per_data_point"),
            );
        }
        e
    }

    fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.dimensions_cache_size.is_some() {
            w.push(
                "dimensions_cache_size is deprecated in the Collector and unused here; \
                 aggregation_cardinality_limit bounds the series"
                    .to_owned(),
            );
        }
        w
    }
}

impl SpanMetricsConfig {
    fn timestamp_cap(&self) -> i64 {
        self.metric_timestamp_cache_size.unwrap_or(1000)
    }

    /// The aggregation settings this config compiles to.
    pub fn settings(&self) -> Settings {
        let name = |n: &str| {
            if self.namespace.is_empty() {
                n.to_owned()
            } else {
                format!("{}.{n}", self.namespace)
            }
        };
        let dims = |l: &[DimensionConfig]| -> Vec<Dim> {
            l.iter()
                .map(|d| Dim::new(&d.name, d.default.as_deref()))
                .collect()
        };
        let seconds = self.histogram.unit.as_deref() == Some("s");
        let (unit, divider) = if seconds { ("s", 1e9) } else { ("ms", 1e6) };
        let bounds = (!self.histogram.disable).then(|| {
            match self
                .histogram
                .explicit
                .as_ref()
                .and_then(|x| x.buckets.as_ref())
            {
                Some(b) => b.iter().map(|d| d.0.as_nanos() as f64 / divider).collect(),
                None => DEFAULT_BUCKETS_MS
                    .iter()
                    .map(|ms| if seconds { ms / 1000.0 } else { *ms })
                    .collect(),
            }
        });
        let positive = |n: i64| usize::try_from(n).unwrap_or(0);
        Settings {
            calls_name: name("calls"),
            duration_name: name("duration"),
            events_name: name("events"),
            unit,
            divider,
            bounds,
            dims: dims(&self.dimensions),
            calls_dims: dims(&self.calls_dimensions),
            histogram_dims: dims(&self.histogram.dimensions),
            event_dims: self.events.enabled.then(|| dims(&self.events.dimensions)),
            exclude: BUILT_IN.map(|b| self.exclude_dimensions.iter().any(|x| x == b)),
            include_scopes: self.include_instrumentation_scope.clone(),
            resource_key: self.resource_metrics_key_attributes.clone(),
            temporality: if self.aggregation_temporality == DELTA {
                Temporality::Delta
            } else {
                Temporality::Cumulative
            },
            expiration_nanos: (!self.metrics_expiration.is_zero())
                .then(|| u64::try_from(self.metrics_expiration.as_nanos()).unwrap_or(u64::MAX)),
            resource_cap: positive(self.resource_metrics_cache_size).max(1),
            cardinality_limit: positive(self.aggregation_cardinality_limit),
            exemplars: self
                .exemplars
                .enabled
                .then(|| positive(self.exemplars.max_per_data_point.unwrap_or(5))),
            timestamp_cap: positive(self.timestamp_cap()).max(1),
        }
    }
}

impl ConnectorConfig for SpanMetricsConfig {
    fn build(
        &self,
        ctx: &Context,
        _from: Signal,
        _to: Signal,
        pipelines: PipelineHeads,
    ) -> Result<Arc<dyn Connector>, ComponentError> {
        let schedule = Schedule {
            flush: self.metrics_flush_interval,
            maintain: None,
        };
        periodic::build(ctx, &self.validate(), schedule, pipelines, || {
            Aggregator::new(self.settings())
        })
    }
}

impl Aggregate for Aggregator {
    fn add(&mut self, request: &[u8], now: u64) -> Option<(usize, &'static str)> {
        let skipped = Aggregator::add(self, request, now);
        (skipped > 0).then_some((skipped, "their resource has no service.name"))
    }

    fn flush(&mut self, now: u64) -> Option<ExportMetricsServiceRequest> {
        Aggregator::flush(self, now)
    }
}
