//! Self-telemetry: metrics under the OpenTelemetry Collector's names (so existing dashboards
//! and alerts keep working), served as Prometheus text, and structured logs through `tracing`.
//!
//! Metrics are plain atomics handed to components when they are built: the hot path adds to
//! an `AtomicU64` it already holds, with no lookup, lock or allocation.

pub mod config;
pub mod logs;
pub mod process;
pub mod push;
pub mod server;
pub mod tracez;

use crate::otlp::Signal;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Sets it.
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    /// Adds `d` (may be negative).
    pub fn add(&self, d: i64) {
        self.0.fetch_add(d, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A histogram with fixed bucket bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [u64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
    /// Records one observation.
    pub fn observe(&self, v: u64) {
        let i = self.bounds.partition_point(|&b| b < v);
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.sum.fetch_add(v, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// The batch processor's `batch_send_size` buckets, as the Collector defines them.
pub const BATCH_SIZE_BUCKETS: &[u64] = &[
    10, 25, 50, 75, 100, 250, 500, 750, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000,
    10000, 20000, 30000, 50000, 100000,
];

#[derive(Debug, Clone)]
enum Series {
    Counter(Arc<Counter>),
    Gauge(Arc<Gauge>),
    Histogram(Arc<Histogram>),
}

#[derive(Debug)]
struct Family {
    help: &'static str,
    kind: &'static str,
    series: Vec<(Vec<(&'static str, String)>, Series)>,
}

/// The registry of self-metrics.
#[derive(Debug)]
pub struct Telemetry {
    families: Mutex<BTreeMap<String, Family>>,
    /// Labels on every series (`service_name`, `service_instance_id`, `service_version`).
    base_labels: Vec<(&'static str, String)>,
    started: Instant,
    started_wall: std::time::SystemTime,
    /// Operation summaries for the `zpages` extension (off unless one is configured).
    pub tracez: tracez::Tracez,
}

/// The word the Collector uses for a signal's items in metric names.
pub fn item_word(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "spans",
        Signal::Metrics => "metric_points",
        Signal::Logs => "log_records",
    }
}

impl Telemetry {
    /// A registry whose series all carry the service labels.
    pub fn new(service_name: &str, instance_id: &str) -> Self {
        Self {
            families: Mutex::new(BTreeMap::new()),
            base_labels: vec![
                ("service_instance_id", instance_id.to_owned()),
                ("service_name", service_name.to_owned()),
                ("service_version", env!("CARGO_PKG_VERSION").to_owned()),
            ],
            started: Instant::now(),
            started_wall: std::time::SystemTime::now(),
            tracez: tracez::Tracez::default(),
        }
    }

    /// When the collector started (wall clock).
    pub fn started_at(&self) -> std::time::SystemTime {
        self.started_wall
    }

    /// CPU seconds, resident memory and uptime of this process, now.
    pub fn process(&self) -> process::ProcessSample {
        process::sample(self.started)
    }

    /// The current value of every series carrying the label `key="value"` (a component's
    /// own metrics: `("exporter", "otlp/tempo")`), as (name, its other labels, value);
    /// a histogram gives its count.
    pub fn series_of(&self, key: &str, value: &str) -> Vec<(String, String, i64)> {
        let fams = self
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        for (name, fam) in fams.iter() {
            for (l, s) in &fam.series {
                if !l.iter().any(|(k, v)| *k == key && v == value) {
                    continue;
                }
                let others: Vec<String> = l
                    .iter()
                    .filter(|(k, _)| *k != key)
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let v = match s {
                    Series::Counter(c) => i64::try_from(c.get()).unwrap_or(i64::MAX),
                    Series::Gauge(g) => g.get(),
                    Series::Histogram(h) => i64::try_from(h.count()).unwrap_or(i64::MAX),
                };
                out.push((name.clone(), others.join(","), v));
            }
        }
        out
    }

    fn register(
        &self,
        name: &str,
        help: &'static str,
        kind: &'static str,
        labels: &[(&'static str, &str)],
        make: impl FnOnce() -> Series,
    ) -> Series {
        let labels: Vec<(&'static str, String)> =
            labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let mut fams = self
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let fam = fams.entry(name.to_owned()).or_insert_with(|| Family {
            help,
            kind,
            series: Vec::new(),
        });
        if let Some((_, s)) = fam.series.iter().find(|(l, _)| *l == labels) {
            return s.clone();
        }
        let s = make();
        fam.series.push((labels, s.clone()));
        s
    }

    /// The counter `name{labels}` (the same one when asked twice).
    pub fn counter(
        &self,
        name: &str,
        help: &'static str,
        labels: &[(&'static str, &str)],
    ) -> Arc<Counter> {
        match self.register(name, help, "counter", labels, || {
            Series::Counter(Arc::default())
        }) {
            Series::Counter(c) => c,
            _ => Arc::default(),
        }
    }

    /// The gauge `name{labels}`.
    pub fn gauge(
        &self,
        name: &str,
        help: &'static str,
        labels: &[(&'static str, &str)],
    ) -> Arc<Gauge> {
        match self.register(
            name,
            help,
            "gauge",
            labels,
            || Series::Gauge(Arc::default()),
        ) {
            Series::Gauge(g) => g,
            _ => Arc::default(),
        }
    }

    /// The histogram `name{labels}` with `bounds`.
    pub fn histogram(
        &self,
        name: &str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        bounds: &'static [u64],
    ) -> Arc<Histogram> {
        match self.register(name, help, "histogram", labels, || {
            Series::Histogram(Arc::new(Histogram::new(bounds)))
        }) {
            Series::Histogram(h) => h,
            _ => Arc::new(Histogram::new(bounds)),
        }
    }

    /// Everything, in the Prometheus text exposition format (0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        let base = &self.base_labels;
        let proc = process::sample(self.started);
        let process_metrics: [(&str, &str, &str, f64); 3] = [
            (
                "otelcol_process_cpu_seconds_total",
                "Total CPU user and system time in seconds",
                "counter",
                proc.cpu_seconds,
            ),
            (
                "otelcol_process_memory_rss",
                "Total physical memory (resident set size) [bytes]",
                "gauge",
                proc.rss_bytes,
            ),
            (
                "otelcol_process_uptime_total",
                "Uptime of the process [seconds]",
                "counter",
                proc.uptime_seconds,
            ),
        ];
        for (name, help, kind, v) in process_metrics {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            let _ = writeln!(out, "{name}{} {v}", labels(base, &[], None));
        }
        let fams = self
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (name, fam) in fams.iter() {
            let _ = writeln!(
                out,
                "# HELP {name} {}\n# TYPE {name} {}",
                fam.help, fam.kind
            );
            for (l, s) in &fam.series {
                match s {
                    Series::Counter(c) => {
                        let _ = writeln!(out, "{name}{} {}", labels(base, l, None), c.get());
                    }
                    Series::Gauge(g) => {
                        let _ = writeln!(out, "{name}{} {}", labels(base, l, None), g.get());
                    }
                    Series::Histogram(h) => {
                        let mut cum = 0;
                        for (i, b) in h.bounds.iter().enumerate() {
                            cum += h.counts.get(i).map_or(0, |c| c.load(Ordering::Relaxed));
                            let le = b.to_string();
                            let _ =
                                writeln!(out, "{name}_bucket{} {cum}", labels(base, l, Some(&le)));
                        }
                        let total = h.count.load(Ordering::Relaxed);
                        let _ = writeln!(
                            out,
                            "{name}_bucket{} {total}",
                            labels(base, l, Some("+Inf"))
                        );
                        let _ = writeln!(
                            out,
                            "{name}_sum{} {}",
                            labels(base, l, None),
                            h.sum.load(Ordering::Relaxed)
                        );
                        let _ = writeln!(out, "{name}_count{} {total}", labels(base, l, None));
                    }
                }
            }
        }
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(
    base: &[(&'static str, String)],
    own: &[(&'static str, String)],
    le: Option<&str>,
) -> String {
    let mut all: Vec<(&str, &str)> = own
        .iter()
        .chain(base.iter())
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::from("{");
    for (i, (k, v)) in all.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{k}=\"{}\"", escape(v));
    }
    if let Some(le) = le {
        if !all.is_empty() {
            out.push(',');
        }
        let _ = write!(out, "le=\"{le}\"");
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let t = Telemetry::new("meshtrace-collector", "id-1");
        let c = t.counter(
            "otelcol_receiver_accepted_spans_total",
            "Spans accepted",
            &[("receiver", "otlp"), ("transport", "grpc")],
        );
        c.add(3);
        // Asking again gives the same counter.
        t.counter(
            "otelcol_receiver_accepted_spans_total",
            "Spans accepted",
            &[("receiver", "otlp"), ("transport", "grpc")],
        )
        .add(2);
        let h = t.histogram(
            "otelcol_processor_batch_batch_send_size",
            "Items per batch",
            &[("processor", "batch")],
            BATCH_SIZE_BUCKETS,
        );
        h.observe(10);
        h.observe(11);
        h.observe(200_000);
        let text = t.render();
        assert!(text.contains("# TYPE otelcol_receiver_accepted_spans_total counter\n"));
        assert!(text.contains(
            "otelcol_receiver_accepted_spans_total{receiver=\"otlp\",service_instance_id=\"id-1\",service_name=\"meshtrace-collector\",service_version=\""
        ));
        assert!(text.contains("transport=\"grpc\"} 5\n"), "{text}");
        assert!(
            text.contains("otelcol_processor_batch_batch_send_size_bucket{processor=\"batch\",")
        );
        assert!(text.contains(",le=\"10\"} 1\n"));
        assert!(text.contains(",le=\"25\"} 2\n"));
        assert!(text.contains(",le=\"100000\"} 2\n"));
        assert!(text.contains(",le=\"+Inf\"} 3\n"));
        assert!(text.contains("_sum{processor=\"batch\","));
        assert!(text.contains("otelcol_process_memory_rss{"));
    }
}
