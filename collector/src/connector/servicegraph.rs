//! `servicegraph`: the calls between services, from CLIENT and SERVER spans paired by trace and
//! span id, as the Collector's `servicegraphconnector` makes them — the metrics behind
//! Grafana's service graph and Tempo's service map: `traces_service_graph_request_total`,
//! `…_failed_total` and the `…_request_server` / `…_request_client` latency histograms (seconds)
//! per client, server and connection type.
//!
//! Both halves of a call must reach the same collector: behind several gateway replicas, route
//! by trace id first. Pairing and series live in [`graph`]; timers and flushes in
//! [`super::periodic`].

pub mod graph;
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
use crate::telemetry::Counter;
use graph::{Counts, Graph, Settings};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// The Collector's default latency buckets, in seconds.
pub const DEFAULT_BUCKETS_S: [f64; 16] = [
    0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.4, 2.0, 5.0, 10.0, 15.0,
];

/// `connectors: servicegraph:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceGraphConfig {
    /// Latency buckets, as durations (default 2ms … 15s).
    #[serde(default)]
    pub latency_histogram_buckets: Option<Vec<BucketBound>>,
    /// Exponential histograms: not supported.
    #[serde(default)]
    pub exponential_histogram_max_size: Option<i64>,
    /// Attributes copied as `client_NAME` / `server_NAME` (resource first, then span).
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// The half edges waiting for their other half.
    #[serde(default)]
    pub store: StoreConfig,
    /// How often stale series (15 minutes without a call) are dropped (default 1m).
    #[serde(default = "default_cache_loop", deserialize_with = "duration::de")]
    pub cache_loop: Duration,
    /// How often half edges past their TTL are expired (default 2s).
    #[serde(default = "default_expiration_loop", deserialize_with = "duration::de")]
    pub store_expiration_loop: Duration,
    /// CLIENT span attributes naming the peer of a call whose server span never came (default
    /// `peer.service`, `db.name`, `db.system`; empty: such calls are dropped).
    #[serde(default)]
    pub virtual_node_peer_attributes: Option<Vec<String>>,
    /// Add `virtual_node` (`client`, `server` or empty) to every edge.
    #[serde(default)]
    pub virtual_node_extra_label: bool,
    /// How often metrics are emitted (default 60s; 0: after every request).
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub metrics_flush_interval: Option<Duration>,
    /// Subtracted from the data points' time (default 0).
    #[serde(default, deserialize_with = "duration::de")]
    pub metrics_timestamp_offset: Duration,
    /// Attributes of a CLIENT span naming a database (default `db.name`).
    #[serde(default)]
    pub database_name_attributes: Vec<String>,
    /// Deprecated in the Collector: one database attribute.
    #[serde(default)]
    pub database_name_attribute: Option<String>,
    /// Deprecated in the Collector, unused.
    #[serde(default)]
    pub metrics_exporter: Option<String>,
}

/// `store:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// How long a half edge waits (default 2s).
    #[serde(default = "default_ttl", deserialize_with = "duration::de")]
    pub ttl: Duration,
    /// The most half edges waiting (default 1000); more spans are dropped.
    #[serde(default = "default_max_items")]
    pub max_items: i64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            ttl: default_ttl(),
            max_items: default_max_items(),
        }
    }
}

fn default_ttl() -> Duration {
    Duration::from_secs(2)
}
fn default_max_items() -> i64 {
    1000
}
fn default_cache_loop() -> Duration {
    Duration::from_secs(60)
}
fn default_expiration_loop() -> Duration {
    Duration::from_secs(2)
}

impl Validate for ServiceGraphConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        if self.exponential_histogram_max_size.is_some_and(|n| n != 0) {
            e.push(
                ConfigError::new(
                    "exponential histograms are not supported: use latency_histogram_buckets",
                )
                .field("exponential_histogram_max_size"),
            );
        }
        if let Some(b) = &self.latency_histogram_buckets {
            e.extend(check_bounds(b, "latency_histogram_buckets"));
        }
        if self.store.ttl.is_zero() {
            e.push(
                ConfigError::new("must be above 0 (how long a span waits for its other half)")
                    .field("store.ttl"),
            );
        }
        if self.store.max_items <= 0 {
            e.push(
                ConfigError::new(format!("must be positive, not {}", self.store.max_items))
                    .field("store.max_items"),
            );
        }
        for (d, field) in [
            (self.store_expiration_loop, "store_expiration_loop"),
            (self.cache_loop, "cache_loop"),
        ] {
            if d.is_zero() {
                e.push(ConfigError::new("must be above 0").field(field));
            }
        }
        e
    }

    fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.database_name_attribute.is_some() {
            w.push("database_name_attribute is deprecated; use database_name_attributes".into());
        }
        if self.metrics_exporter.is_some() {
            w.push(
                "metrics_exporter is deprecated and unused: the metrics go to the pipelines \
                 receiving from the connector"
                    .into(),
            );
        }
        w
    }
}

impl ServiceGraphConfig {
    /// The pairing settings this config compiles to.
    pub fn settings(&self) -> Settings {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let mut database = self.database_name_attributes.clone();
        if database.is_empty() {
            database = vec![
                self.database_name_attribute
                    .clone()
                    .unwrap_or_else(|| "db.name".into()),
            ];
        }
        Settings {
            bounds: match &self.latency_histogram_buckets {
                Some(b) => b.iter().map(|d| d.0.as_secs_f64()).collect(),
                None => DEFAULT_BUCKETS_S.to_vec(),
            },
            dimensions: self.dimensions.clone(),
            ttl_nanos: nanos(self.store.ttl),
            max_items: usize::try_from(self.store.max_items).unwrap_or(1).max(1),
            database_name_attributes: database,
            virtual_node_peer_attributes: self.virtual_node_peer_attributes.clone().unwrap_or_else(
                || vec!["peer.service".into(), "db.name".into(), "db.system".into()],
            ),
            virtual_node_extra_label: self.virtual_node_extra_label,
            stale_nanos: 15 * 60 * 1_000_000_000,
            cache_loop_nanos: nanos(self.cache_loop),
            timestamp_offset_nanos: nanos(self.metrics_timestamp_offset),
        }
    }
}

impl ConnectorConfig for ServiceGraphConfig {
    fn build(
        &self,
        ctx: &Context,
        _from: Signal,
        _to: Signal,
        pipelines: PipelineHeads,
    ) -> Result<Arc<dyn Connector>, ComponentError> {
        let schedule = Schedule {
            flush: self
                .metrics_flush_interval
                .unwrap_or(Duration::from_secs(60)),
            maintain: Some(self.store_expiration_loop),
        };
        let id = ctx.id.to_string();
        let labels: &[(&'static str, &str)] = &[("connector", &id)];
        let t = &ctx.telemetry;
        let metrics = SelfMetrics {
            edges: t.counter(
                "otelcol_connector_servicegraph_total_edges_total",
                "Total number of unique edges",
                labels,
            ),
            expired: t.counter(
                "otelcol_connector_servicegraph_expired_edges_total",
                "Number of edges that expired before finding its matching span",
                labels,
            ),
            dropped: t.counter(
                "otelcol_connector_servicegraph_dropped_spans_total",
                "Number of spans dropped when trying to add edges",
                labels,
            ),
        };
        periodic::build(ctx, &self.validate(), schedule, pipelines, || Running {
            graph: Graph::new(self.settings(), periodic::now_nanos()),
            metrics,
            reported: Counts::default(),
        })
    }
}

/// The Collector's self-metrics of the connector, with its names.
struct SelfMetrics {
    edges: Arc<Counter>,
    expired: Arc<Counter>,
    dropped: Arc<Counter>,
}

/// The graph and what of its counts the self-metrics have been given.
struct Running {
    graph: Graph,
    metrics: SelfMetrics,
    reported: Counts,
}

impl Running {
    fn report(&mut self) {
        let now = self.graph.counts();
        let was = std::mem::replace(&mut self.reported, now);
        self.metrics.edges.add(now.edges - was.edges);
        self.metrics.expired.add(now.expired - was.expired);
        self.metrics.dropped.add(now.dropped - was.dropped);
        if now.dropped > was.dropped {
            tracing::warn!(
                spans = now.dropped - was.dropped,
                "servicegraph: store.max_items half edges are waiting; spans dropped"
            );
        }
    }
}

impl Aggregate for Running {
    fn add(&mut self, request: &[u8], now: u64) -> Option<(usize, &'static str)> {
        let skipped = self.graph.add(request, now);
        self.report();
        (skipped > 0).then_some((skipped, "their resource has no service.name"))
    }

    fn flush(&mut self, now: u64) -> Option<ExportMetricsServiceRequest> {
        self.graph.flush(now)
    }

    fn maintain(&mut self, now: u64) {
        self.graph.maintain(now);
        self.report();
    }
}
