//! The state of `servicegraph`: client and server spans waiting for their other half (keyed by
//! trace id and the client span's id, which is the server span's parent), and the edges'
//! series between flushes. No clock and no I/O: the caller passes the time.
//!
//! A request between two workloads of a mesh is a CLIENT span in the caller's proxy and a SERVER
//! span in the callee's whose parent is that CLIENT span: the filter writes its own span id as
//! the parent it propagates, so every call through two sidecars pairs up here.

use crate::connector::histogram::Hist;
use crate::connector::periodic::resource_metrics;
use crate::otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::otlp::proto::common::v1::{KeyValue, any_value::Value as AnyVal};
use crate::otlp::proto::metrics::v1::{
    Histogram, Metric, NumberDataPoint, Sum, metric, number_data_point,
};
use crate::otlp::views::{Attributes, SpanView, TracesView};
use crate::processor::actions::as_string;
use crate::telemetry::push::attribute as kv;
use std::collections::{HashMap, VecDeque};

/// The scope of every emitted metric, as the Collector names it.
pub const SCOPE_NAME: &str = "traces_service_graph";

/// What kind of call an edge is (`connection_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// A CLIENT/SERVER pair: `""`.
    Unknown,
    /// A PRODUCER/CONSUMER pair.
    Messaging,
    /// A CLIENT span naming a database (no server span to wait for).
    Database,
    /// A side that never came, named after the peer (or `user` for a root server span).
    Virtual,
}

impl Connection {
    fn as_str(self) -> &'static str {
        match self {
            Connection::Unknown => "",
            Connection::Messaging => "messaging_system",
            Connection::Database => "database",
            Connection::Virtual => "virtual_node",
        }
    }
}

/// The compiled configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Latency buckets, in seconds.
    pub bounds: Vec<f64>,
    /// Attributes (resource first, then span) copied as `client_NAME` and `server_NAME`.
    pub dimensions: Vec<String>,
    /// How long a half edge waits for its other half.
    pub ttl_nanos: u64,
    /// The most half edges waiting.
    pub max_items: usize,
    /// Attributes naming a database on a CLIENT span (the first present wins).
    pub database_name_attributes: Vec<String>,
    /// Attributes of a CLIENT span naming the peer of an edge whose server never came; empty:
    /// such edges are dropped.
    pub virtual_node_peer_attributes: Vec<String>,
    /// Adds `virtual_node` (`client`, `server` or empty) to every edge's attributes.
    pub virtual_node_extra_label: bool,
    /// Series not updated for this long are dropped (the Collector's 15 minutes).
    pub stale_nanos: u64,
    /// How often stale series are looked for.
    pub cache_loop_nanos: u64,
    /// Subtracted from the data points' time.
    pub timestamp_offset_nanos: u64,
}

type EdgeKey = ([u8; 16], [u8; 8]);

#[derive(Debug, Clone)]
struct Edge {
    key: EdgeKey,
    client: Option<String>,
    server: Option<String>,
    connection: Connection,
    failed: bool,
    client_seconds: f64,
    server_seconds: f64,
    /// Per configured dimension, the client side's value and the server side's.
    dims: Vec<[Option<String>; 2]>,
    /// The first virtual-node peer attribute of the CLIENT span.
    peer: Option<String>,
    virtual_label: &'static str,
    expires: u64,
}

#[derive(Debug, Clone)]
struct Series {
    attributes: Vec<KeyValue>,
    total: u64,
    failed: u64,
    server: Hist,
    client: Hist,
    updated: u64,
}

/// Self-observation: what did not make an edge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Half edges created.
    pub edges: u64,
    /// Half edges whose other half never came.
    pub expired: u64,
    /// Spans not stored because `max_items` half edges were waiting.
    pub dropped: u64,
}

/// The service graph between flushes.
#[derive(Debug)]
pub struct Graph {
    s: Settings,
    start: u64,
    pending: HashMap<EdgeKey, Edge>,
    /// Keys in creation order, so in expiry order (one TTL for all).
    order: VecDeque<(EdgeKey, u64)>,
    series: HashMap<Vec<u8>, Series>,
    last_clean: u64,
    counts: Counts,
    /// A series' key, rebuilt for every call recorded.
    key: Vec<u8>,
}

/// The first of `names` in the first of `lists` that has it, as the Collector's `AsString`
/// prints it.
fn first(names: &[String], lists: &[Attributes<'_>]) -> Option<String> {
    lists
        .iter()
        .find_map(|l| names.iter().find_map(|n| l.get(n)))
        .map(as_string)
}

fn part(key: &mut Vec<u8>, bytes: &[u8]) {
    key.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    key.extend_from_slice(bytes);
}

fn seconds(span: &SpanView<'_>) -> f64 {
    let (start, end) = (span.start_time_unix_nano(), span.end_time_unix_nano());
    end.saturating_sub(start) as f64 / 1e9
}

impl Graph {
    /// An empty graph whose cumulative series start at `start`.
    pub fn new(settings: Settings, start: u64) -> Graph {
        Graph {
            s: settings,
            start,
            pending: HashMap::new(),
            order: VecDeque::new(),
            series: HashMap::new(),
            last_clean: start,
            counts: Counts::default(),
            key: Vec::new(),
        }
    }

    /// What did not make an edge so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Half edges waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Pairs the CLIENT, SERVER, PRODUCER and CONSUMER spans of an encoded, validated
    /// `ExportTraceServiceRequest` seen at `now`. Spans of a resource without `service.name`
    /// are skipped (as in the Collector); returns how many.
    pub fn add(&mut self, request: &[u8], now: u64) -> usize {
        let mut skipped = 0;
        for rs in TracesView::new(request).resource_spans() {
            let rattrs = rs.resource().attributes();
            let Some(service) = rattrs.get("service.name").and_then(|v| v.as_str()) else {
                skipped += rs.scopes().map(|s| s.items().count()).sum::<usize>();
                continue;
            };
            for scope in rs.scopes() {
                for span in scope.items() {
                    self.add_span(service, rattrs, &span, now);
                }
            }
        }
        skipped
    }

    fn add_span(&mut self, service: &str, rattrs: Attributes<'_>, span: &SpanView<'_>, now: u64) {
        let (client_side, connection) = match span.kind() {
            3 => (true, Connection::Unknown),
            4 => (true, Connection::Messaging),
            2 => (false, Connection::Unknown),
            5 => (false, Connection::Messaging),
            _ => return,
        };
        let key = if client_side {
            (span.trace_id(), span.span_id())
        } else {
            (span.trace_id(), span.parent_span_id())
        };
        let sattrs = span.attributes();
        let lists = [rattrs, sattrs];
        let side = usize::from(!client_side);
        let dims: Vec<Option<String>> = self
            .s
            .dimensions
            .iter()
            .map(|d| first(std::slice::from_ref(d), &lists))
            .collect();
        let database = client_side
            .then(|| first(&self.s.database_name_attributes, &lists))
            .flatten();
        let peer = client_side
            .then(|| first(&self.s.virtual_node_peer_attributes, &[sattrs]))
            .flatten();
        let latency = seconds(span);
        let failed = span.status_code() == 2;
        let update = |e: &mut Edge| {
            e.connection = connection;
            e.failed |= failed;
            e.dims.resize(dims.len(), [None, None]);
            for (slot, v) in e.dims.iter_mut().zip(dims) {
                if let (Some(v), Some(cell)) = (v, slot.get_mut(side)) {
                    *cell = Some(v);
                }
            }
            if client_side {
                e.client = Some(service.to_owned());
                e.client_seconds = latency;
                if peer.is_some() {
                    e.peer = peer;
                }
                // A database call has no server span: its client span is the whole edge.
                if let Some(db) = database {
                    e.connection = Connection::Database;
                    e.server = Some(db);
                    e.server_seconds = latency;
                }
            } else {
                e.server = Some(service.to_owned());
                e.server_seconds = latency;
            }
        };
        if let Some(e) = self.pending.get_mut(&key) {
            update(e);
            if e.client.is_some()
                && e.server.is_some()
                && let Some(e) = self.pending.remove(&key)
            {
                self.record(&e, now);
            }
            return;
        }
        let mut e = Edge {
            key,
            client: None,
            server: None,
            connection,
            failed: false,
            client_seconds: 0.0,
            server_seconds: 0.0,
            dims: Vec::new(),
            peer: None,
            virtual_label: "",
            expires: now.saturating_add(self.s.ttl_nanos),
        };
        update(&mut e);
        if e.client.is_some() && e.server.is_some() {
            self.counts.edges += 1;
            self.record(&e, now);
            return;
        }
        if self.pending.len() >= self.s.max_items {
            self.counts.dropped += 1;
            return;
        }
        self.counts.edges += 1;
        self.order.push_back((key, e.expires));
        self.pending.insert(key, e);
    }

    fn record(&mut self, e: &Edge, now: u64) {
        let client = e.client.as_deref().unwrap_or("");
        let server = e.server.as_deref().unwrap_or("");
        let key = &mut self.key;
        key.clear();
        for p in [client, server, e.connection.as_str(), e.virtual_label] {
            part(key, p.as_bytes());
        }
        key.push(u8::from(e.failed));
        // Dimensions in config order, the client's before the server's.
        let found = || {
            self.s
                .dimensions
                .iter()
                .zip(&e.dims)
                .flat_map(|(d, sides)| {
                    ["client", "server"]
                        .into_iter()
                        .zip(sides)
                        .filter_map(move |(side, v)| Some((side, d, v.as_deref()?)))
                })
        };
        for (side, d, v) in found() {
            key.push(u8::from(side == "server"));
            part(key, d.as_bytes());
            part(key, v.as_bytes());
        }
        if !self.series.contains_key(key.as_slice()) {
            let mut attributes = vec![
                kv("client", AnyVal::StringValue(client.to_owned())),
                kv("server", AnyVal::StringValue(server.to_owned())),
                kv(
                    "connection_type",
                    AnyVal::StringValue(e.connection.as_str().to_owned()),
                ),
                kv("failed", AnyVal::BoolValue(e.failed)),
            ];
            attributes.extend(
                found().map(|(side, d, v)| {
                    kv(&format!("{side}_{d}"), AnyVal::StringValue(v.to_owned()))
                }),
            );
            if self.s.virtual_node_extra_label {
                attributes.push(kv(
                    "virtual_node",
                    AnyVal::StringValue(e.virtual_label.to_owned()),
                ));
            }
            self.series.insert(
                key.clone(),
                Series {
                    attributes,
                    total: 0,
                    failed: 0,
                    server: Hist::default(),
                    client: Hist::default(),
                    updated: now,
                },
            );
        }
        let s = &self.s;
        let Some(series) = self.series.get_mut(self.key.as_slice()) else {
            return;
        };
        series.total += 1;
        series.failed += u64::from(e.failed);
        series.server.observe(&s.bounds, e.server_seconds);
        series.client.observe(&s.bounds, e.client_seconds);
        series.updated = now;
    }

    /// Expires half edges past their TTL (recording virtual-node edges for them) and, every
    /// cache loop, drops series not updated for the stale time.
    pub fn maintain(&mut self, now: u64) {
        while let Some(&(key, expires)) = self.order.front() {
            if expires > now {
                break;
            }
            self.order.pop_front();
            // The key may have paired and come again since (a retried span): that edge has
            // its own, later entry.
            if self.pending.get(&key).is_none_or(|e| e.expires > now) {
                continue;
            }
            let Some(mut e) = self.pending.remove(&key) else {
                continue;
            };
            self.counts.expired += 1;
            if self.s.virtual_node_peer_attributes.is_empty() {
                continue;
            }
            e.connection = Connection::Virtual;
            if e.client.is_none() && e.key.1 == [0; 8] {
                // A root server span: its caller is outside the traces.
                e.client = Some("user".to_owned());
                e.virtual_label = if self.s.virtual_node_extra_label {
                    "client"
                } else {
                    ""
                };
                self.record(&e, now);
            }
            if e.server.is_none() {
                e.server = Some(e.peer.clone().unwrap_or_else(|| "unknown".to_owned()));
                e.virtual_label = if self.s.virtual_node_extra_label {
                    "server"
                } else {
                    ""
                };
                self.record(&e, now);
            }
        }
        if now.saturating_sub(self.last_clean) >= self.s.cache_loop_nanos {
            self.last_clean = now;
            let stale = self.s.stale_nanos;
            self.series
                .retain(|_, s| now.saturating_sub(s.updated) < stale);
        }
    }

    /// The cumulative metrics of every edge seen, stamped `now` (less the offset); `None` when
    /// no edge has been seen.
    pub fn flush(&mut self, now: u64) -> Option<ExportMetricsServiceRequest> {
        if self.series.is_empty() {
            return None;
        }
        let time = now.saturating_sub(self.s.timestamp_offset_nanos);
        let mut keys: Vec<&Vec<u8>> = self.series.keys().collect();
        keys.sort();
        let all: Vec<&Series> = keys.iter().filter_map(|k| self.series.get(*k)).collect();
        let sum = |name: &str, value: &dyn Fn(&Series) -> u64, only_nonzero: bool| Metric {
            name: name.to_owned(),
            data: Some(metric::Data::Sum(Sum {
                data_points: all
                    .iter()
                    .filter(|s| !only_nonzero || value(s) > 0)
                    .map(|s| NumberDataPoint {
                        attributes: s.attributes.clone(),
                        start_time_unix_nano: self.start,
                        time_unix_nano: time,
                        value: Some(number_data_point::Value::AsInt(
                            i64::try_from(value(s)).unwrap_or(i64::MAX),
                        )),
                        ..Default::default()
                    })
                    .collect(),
                aggregation_temporality: 2,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let histogram = |name: &str, h: &dyn Fn(&Series) -> &Hist| Metric {
            name: name.to_owned(),
            unit: "s".to_owned(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: all
                    .iter()
                    .map(|s| {
                        let mut p = h(s).point(&self.s.bounds, self.start, time);
                        p.attributes = s.attributes.clone();
                        p
                    })
                    .collect(),
                aggregation_temporality: 2,
            })),
            ..Default::default()
        };
        let mut metrics = vec![sum(
            "traces_service_graph_request_total",
            &|s| s.total,
            false,
        )];
        if all.iter().any(|s| s.failed > 0) {
            metrics.push(sum(
                "traces_service_graph_request_failed_total",
                &|s| s.failed,
                true,
            ));
        }
        metrics.push(histogram("traces_service_graph_request_server", &|s| {
            &s.server
        }));
        metrics.push(histogram("traces_service_graph_request_client", &|s| {
            &s.client
        }));
        Some(ExportMetricsServiceRequest {
            resource_metrics: vec![resource_metrics(Vec::new(), SCOPE_NAME, metrics)],
        })
    }
}
