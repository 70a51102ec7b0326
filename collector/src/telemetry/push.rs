//! `service.telemetry.metrics.readers[].periodic` and `service.telemetry.logs.processors`: the
//! self-metrics pushed over OTLP every `interval`, as the Collector's SDK reader pushes them, for
//! backends that take OTLP and do not scrape; and the log lines, a batch at a time. The values are the `/metrics` page's, under the instrument names (no `_total`),
//! cumulative since start; the OTLP exporters' own senders carry them (TLS, headers,
//! compression, proxies), without their queues: a failed push is logged and the next one
//! carries the totals again.

use super::config::{LogShipping, OtlpPush, PeriodicReader, PushExporter};
use super::logs::LogQueue;
use super::{Series, Telemetry};
use crate::component::{ComponentError, Context};
use crate::config::Value;
use crate::exporter::helper::Sender;
use crate::otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::otlp::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use crate::otlp::proto::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use crate::otlp::proto::resource::v1::Resource;
use crate::otlp::{Batch, Limits, Signal};
use crate::pipeline::ConsumeError;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// `t` as OTLP's nanoseconds since the Unix epoch.
pub(crate) fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// An OTLP attribute.
pub(crate) fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    attribute(key, any_value::Value::StringValue(value.to_owned()))
}

/// The resource attribute a base label stands for (`service_name` → `service.name`).
fn resource_key(label: &str) -> String {
    label.replace('_', ".")
}

impl Telemetry {
    /// The collector as a resource: `service.name`, `service.instance.id`, `service.version`.
    pub fn otlp_resource(&self) -> Resource {
        Resource {
            attributes: self
                .base_labels
                .iter()
                .map(|(k, v)| kv(&resource_key(k), v))
                .collect(),
            ..Default::default()
        }
    }

    /// Every self-metric as one OTLP request, at `now`: counters as cumulative monotonic sums
    /// (their Prometheus `_total` left off, as the instruments are named), gauges as gauges,
    /// histograms with their bucket bounds; the service labels as resource attributes.
    pub fn otlp_snapshot(&self, now: SystemTime) -> ExportMetricsServiceRequest {
        let start = unix_nanos(self.started_wall);
        let time = unix_nanos(now);
        let point = |attributes: Vec<KeyValue>, v: number_data_point::Value| NumberDataPoint {
            attributes,
            start_time_unix_nano: start,
            time_unix_nano: time,
            value: Some(v),
            ..Default::default()
        };
        let sum = |points| {
            metric::Data::Sum(Sum {
                data_points: points,
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })
        };
        let proc = self.process();
        let mut metrics = vec![
            Metric {
                name: "otelcol_process_cpu_seconds".into(),
                description: "Total CPU user and system time in seconds".into(),
                unit: "s".into(),
                data: Some(sum(vec![point(
                    Vec::new(),
                    number_data_point::Value::AsDouble(proc.cpu_seconds),
                )])),
                ..Default::default()
            },
            Metric {
                name: "otelcol_process_memory_rss".into(),
                description: "Total physical memory (resident set size)".into(),
                unit: "By".into(),
                data: Some(metric::Data::Gauge(Gauge {
                    data_points: vec![point(
                        Vec::new(),
                        number_data_point::Value::AsInt(proc.rss_bytes as i64),
                    )],
                })),
                ..Default::default()
            },
            Metric {
                name: "otelcol_process_uptime".into(),
                description: "Uptime of the process".into(),
                unit: "s".into(),
                data: Some(sum(vec![point(
                    Vec::new(),
                    number_data_point::Value::AsDouble(proc.uptime_seconds),
                )])),
                ..Default::default()
            },
        ];
        let families = self
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (name, family) in families.iter() {
            let attrs = |labels: &[(&'static str, String)]| -> Vec<KeyValue> {
                labels.iter().map(|(k, v)| kv(k, v)).collect()
            };
            let data = match family.kind {
                "counter" => sum(family
                    .series
                    .iter()
                    .filter_map(|(l, s)| match s {
                        Series::Counter(c) => Some(point(
                            attrs(l),
                            number_data_point::Value::AsInt(
                                i64::try_from(c.get()).unwrap_or(i64::MAX),
                            ),
                        )),
                        _ => None,
                    })
                    .collect()),
                "gauge" => metric::Data::Gauge(Gauge {
                    data_points: family
                        .series
                        .iter()
                        .filter_map(|(l, s)| match s {
                            Series::Gauge(g) => {
                                Some(point(attrs(l), number_data_point::Value::AsInt(g.get())))
                            }
                            _ => None,
                        })
                        .collect(),
                }),
                _ => metric::Data::Histogram(Histogram {
                    data_points: family
                        .series
                        .iter()
                        .filter_map(|(l, s)| match s {
                            Series::Histogram(h) => Some(HistogramDataPoint {
                                attributes: attrs(l),
                                start_time_unix_nano: start,
                                time_unix_nano: time,
                                count: h.count(),
                                sum: Some(h.sum.load(Ordering::Relaxed) as f64),
                                bucket_counts: h
                                    .counts
                                    .iter()
                                    .map(|c| c.load(Ordering::Relaxed))
                                    .collect(),
                                explicit_bounds: h.bounds.iter().map(|&b| b as f64).collect(),
                                ..Default::default()
                            }),
                            _ => None,
                        })
                        .collect(),
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                }),
            };
            let name = match family.kind {
                "counter" => name.strip_suffix("_total").unwrap_or(name),
                _ => name,
            };
            metrics.push(Metric {
                name: name.to_owned(),
                description: family.help.to_owned(),
                data: Some(data),
                ..Default::default()
            });
        }
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(self.otlp_resource()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(scope()),
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }
}

/// The most the last push (metrics) and the last sends (logs) may take at shutdown: a backend
/// that is down must not hold the collector's exit (Kubernetes kills it 30 s after SIGTERM, and
/// the pipelines may have used most of that).
const AT_SHUTDOWN: Duration = Duration::from_secs(5);

/// Where one reader's metrics go.
enum Destination {
    Otlp(Arc<dyn Sender>),
    Console,
}

/// One periodic reader, built and not yet started.
pub struct Pusher {
    destination: Destination,
    interval: Duration,
    timeout: Duration,
    label: String,
}

/// The exporter config an `otlp:` push section stands for, as YAML the OTLP exporters read.
fn exporter_config(o: &OtlpPush, signal: Signal) -> Result<(bool, Value), String> {
    let s = |v: &str| Value::String(v.to_owned());
    let grpc = o.protocol == "grpc";
    let uri: http::Uri = o
        .endpoint
        .parse()
        .map_err(|e| format!("endpoint {:?}: {e}", o.endpoint))?;
    let mut map = Vec::new();
    if grpc {
        map.push(("endpoint".into(), s(o.endpoint.trim_end_matches('/'))));
    } else if uri.path().is_empty() || (uri.path() == "/" && !o.endpoint.ends_with('/')) {
        // No path: the signal's path is added, as the SDK adds it.
        map.push(("endpoint".into(), s(&o.endpoint)));
    } else {
        let key = format!("{}_endpoint", crate::signal_name(signal));
        map.push((key, s(&o.endpoint)));
    }
    if o.protocol == "http/json" {
        map.push(("encoding".into(), s("json")));
    }
    map.push((
        "compression".into(),
        s(match o.compression.as_deref() {
            Some("gzip") => "gzip",
            _ => "none",
        }),
    ));
    map.push(("timeout".into(), s(&format!("{}ms", o.timeout))));
    map.push((
        "headers".into(),
        Value::Map(
            o.all_headers()?
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ),
    ));
    let mut tls = Vec::new();
    if grpc {
        let plaintext = o.insecure == Some(true) || uri.scheme_str() == Some("http");
        tls.push(("insecure".into(), Value::Bool(plaintext)));
    }
    for (key, v) in [
        ("ca_file", &o.certificate),
        ("cert_file", &o.client_certificate),
        ("key_file", &o.client_key),
    ] {
        if let Some(path) = v {
            tls.push((key.into(), s(path)));
        }
    }
    map.push(("tls".into(), Value::Map(tls)));
    Ok((grpc, Value::Map(map)))
}

/// Where `exporter` sends `signal`: its OTLP sender, built with `ctx`, or the console. The
/// error starts with `at`.
fn destination(
    exporter: &PushExporter,
    signal: Signal,
    at: &str,
    ctx: &Context,
) -> Result<Destination, String> {
    let Some(o) = &exporter.otlp else {
        return Ok(Destination::Console);
    };
    let (grpc, value) = exporter_config(o, signal).map_err(|e| format!("{at}: {e}"))?;
    let built: Result<Arc<dyn Sender>, ComponentError> = if grpc {
        crate::registry::parse_typed::<crate::exporter::otlp_grpc::OtlpGrpcConfig>(&value)
            .map_err(|e| ctx.error(e.to_string()))
            .and_then(|c| c.push_sender(ctx, signal))
    } else {
        crate::registry::parse_typed::<crate::exporter::otlp_http::OtlpHttpConfig>(&value)
            .map_err(|e| ctx.error(e.to_string()))
            .and_then(|c| c.push_sender(ctx, signal))
    };
    built
        .map(Destination::Otlp)
        .map_err(|e| format!("{at}: {}", e.reason))
}

impl Destination {
    /// Sends `batch` once, within `timeout`.
    async fn send(&self, batch: Batch, timeout: Duration) -> Result<(), String> {
        match self {
            Destination::Console => crate::otlp::json::from_protobuf(batch.signal(), batch.bytes())
                .map(|json| {
                    use std::io::Write as _;
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&json);
                    let _ = out.write_all(b"\n");
                })
                .map_err(|e| e.to_string()),
            Destination::Otlp(sender) => {
                // Retryable failures (429, 503, a connection refused during a backend's
                // restart) are tried again, as the SDK's exporters do, within `timeout`.
                let attempts = async {
                    let payload = sender.encode(batch)?;
                    let mut wait = Duration::from_millis(500);
                    loop {
                        match sender.send(payload.clone()).await {
                            Err(ConsumeError::Retryable { retry_after, .. }) => {
                                tokio::time::sleep(retry_after.unwrap_or(wait).max(wait)).await;
                                wait = (wait * 2).min(Duration::from_secs(5));
                            }
                            done => return done,
                        }
                    }
                };
                match tokio::time::timeout(timeout, attempts).await {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(_) => Err(format!("not delivered within {timeout:?}")),
                }
            }
        }
    }
}

impl Pusher {
    /// The reader `index` of `service.telemetry.metrics.readers`, its sender built with `ctx`
    /// (authenticators are not offered here). The error starts with `readers::INDEX`.
    pub fn build(cfg: &PeriodicReader, index: usize, ctx: &Context) -> Result<Self, String> {
        let at = format!("readers::{index}");
        let destination = destination(&cfg.exporter, Signal::Metrics, &at, ctx)?;
        Ok(Self {
            destination,
            interval: Duration::from_millis(cfg.interval),
            timeout: Duration::from_millis(cfg.timeout),
            label: format!("service::telemetry::metrics::{at}"),
        })
    }

    /// Pushes every `interval` until stopped, then once more (the totals at shutdown).
    pub fn start(self, telemetry: Arc<Telemetry>) -> PushHandle {
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(self.interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is now: the first push waits a whole interval, as the SDK's.
            ticks.tick().await;
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    () = stopped.cancelled() => break,
                }
                // A push retrying against a backend that is down gives way to shutdown, whose
                // own push follows.
                tokio::select! {
                    () = self.push(&telemetry, self.timeout) => {}
                    () = stopped.cancelled() => break,
                }
            }
            self.push(&telemetry, self.timeout.min(AT_SHUTDOWN)).await;
        });
        PushHandle { stop, task }
    }

    async fn push(&self, telemetry: &Telemetry, timeout: Duration) {
        use prost::Message as _;
        let request = telemetry.otlp_snapshot(SystemTime::now());
        let batch = match Batch::new_validated(
            Signal::Metrics,
            request.encode_to_vec().into(),
            &Limits::default(),
        ) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(component = %self.label, error = %e, "Failed to build the internal metrics");
                return;
            }
        };
        let result = self.destination.send(batch, timeout).await;
        if let Err(e) = result {
            tracing::warn!(component = %self.label, error = %e, "Failed to export the internal metrics; the next push carries the totals");
        }
    }
}

/// One `logs.processors` entry: sends what its queue holds, a batch at a time.
pub struct LogSender {
    destination: Destination,
    shipping: LogShipping,
    queue: Arc<LogQueue>,
    label: String,
}

impl LogSender {
    /// The processor `index` of `service.telemetry.logs.processors`, draining `queue`. The
    /// error starts with `processors::INDEX`.
    pub fn build(
        shipping: LogShipping,
        queue: Arc<LogQueue>,
        index: usize,
        ctx: &Context,
    ) -> Result<Self, String> {
        let at = format!("processors::{index}");
        Ok(Self {
            destination: destination(&shipping.exporter, Signal::Logs, &at, ctx)?,
            shipping,
            queue,
            label: format!("service::telemetry::logs::{at}"),
        })
    }

    /// Sends a batch when one is full or `delay` has passed, until stopped; then what is left.
    pub fn start(self, telemetry: Arc<Telemetry>) -> PushHandle {
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            // A send retrying against a backend that is down gives way to shutdown (its lines
            // are lost, as they would be at its timeout).
            let running = async {
                loop {
                    // Lines written before the service started are waiting already.
                    while self.queue.has_full_batch() {
                        self.send_one(&telemetry, self.shipping.timeout).await;
                    }
                    // `simple` (no delay) sends on each line's wake-up alone: a timer of zero
                    // would spin.
                    let delay = async {
                        if self.shipping.delay.is_zero() {
                            std::future::pending::<()>().await;
                        }
                        tokio::time::sleep(self.shipping.delay).await;
                    };
                    tokio::select! {
                        () = delay => {
                            self.send_one(&telemetry, self.shipping.timeout).await;
                        }
                        () = self.queue.full.notified() => {}
                    }
                }
            };
            tokio::select! {
                () = running => {}
                () = stopped.cancelled() => {}
            }
            let budget = self.shipping.timeout.min(AT_SHUTDOWN);
            let rest = async { while self.send_one(&telemetry, budget).await {} };
            if tokio::time::timeout(AT_SHUTDOWN, rest).await.is_err() {
                tracing::warn!(component = %self.label, "Log lines left unsent at shutdown: the backend did not take them in time");
            }
        });
        PushHandle { stop, task }
    }

    /// Sends one batch; false when there was none.
    async fn send_one(&self, telemetry: &Telemetry, timeout: Duration) -> bool {
        use crate::otlp::proto::collector::logs::v1::ExportLogsServiceRequest;
        use crate::otlp::proto::logs::v1::{ResourceLogs, ScopeLogs};
        use prost::Message as _;
        let dropped = self.queue.take_dropped();
        if dropped > 0 {
            tracing::warn!(component = %self.label, dropped, "Log lines dropped: the queue was full (max_queue_size)");
        }
        let records = self.queue.take_batch();
        if records.is_empty() {
            return false;
        }
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(telemetry.otlp_resource()),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope()),
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let sent = match Batch::new_validated(
            Signal::Logs,
            request.encode_to_vec().into(),
            &Limits::default(),
        ) {
            Ok(batch) => self.destination.send(batch, timeout).await,
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = sent {
            tracing::warn!(component = %self.label, error = %e, "Failed to export the internal logs; these lines are dropped");
        }
        true
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "meshtrace-collector".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    }
}

/// A running reader or log processor.
pub struct PushHandle {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl PushHandle {
    /// Stops the reader after one last push.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests;
