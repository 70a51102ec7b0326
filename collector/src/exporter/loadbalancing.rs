//! `loadbalancing`: sends every trace to one backend of several, by trace id (or every
//! service, resource or metric, by its name), so that a tier of gateways running `servicegraph`,
//! `spanmetrics` or a tail sampler sees whole traces. Configured as the OpenTelemetry
//! Collector's exporter of that name: `protocol.otlp` is an `otlp_grpc` exporter without its
//! `endpoint`, made once per backend; `resolver` names the backends (`static.hostnames`, or
//! `dns.hostname`, resolved again every `interval`: a headless Service's pods).
//!
//! A request is cut by item ([`partition_items`]: each part keeps its items' resources and
//! scopes, one copy per item) and each part goes to its backend's exporter, which has its own
//! queue and retries. The backends sit on the Collector's ring ([`Ring`]): both send a trace
//! to the same gateway. When the backends change, about 1/n of the keys move; backends that
//! left are shut down in the background, sending what their queues still hold.

mod ring;

use super::helper::{ExporterHelper, HelperSettings, Payload, QueueConfig, RetryConfig, Sender};
use super::otlp_grpc::OtlpGrpcConfig;
use crate::background::{Background, FirstCall};
use crate::component::{ComponentError, ComponentId, Context, Exporter, ExporterConfig, Validate};
use crate::config::{ConfigError, Value, duration};
use crate::otlp::batching::partition_items;
use crate::otlp::views::{Item, LogRecordView, MetricView, SpanView, group_resource};
use crate::otlp::{Batch, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer};
use crate::telemetry::{Counter, Gauge, Histogram};
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

pub use ring::Ring;

/// The port of backends named without one, as in the Collector.
const DEFAULT_PORT: u16 = 4317;
/// `dns.interval` and `dns.timeout` when not set, as in the Collector.
const DEFAULT_DNS_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_DNS_TIMEOUT: Duration = Duration::from_secs(1);
/// `otelcol_loadbalancer_backend_latency` buckets, in milliseconds.
const LATENCY_BUCKETS_MS: &[u64] = &[
    5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000,
];

/// `exporters: loadbalancing:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancingConfig {
    /// `otlp`: the exporter made for each backend.
    pub protocol: Protocol,
    /// Where the backends come from.
    pub resolver: ResolverConfig,
    /// `traceID` (the default for traces and logs), `service` (the default for metrics),
    /// `resource` or `metric`.
    #[serde(default)]
    pub routing_key: Option<String>,
    /// Refused: routing by attributes is not implemented.
    #[serde(default)]
    pub routing_attributes: Option<Value>,
    /// Per-request timeout of the exporter as a whole (default none: each backend's own).
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub timeout: Option<Duration>,
    /// Retries of the whole request, routed again on every attempt (default off).
    #[serde(default)]
    pub retry_on_failure: Option<RetryConfig>,
    /// A queue in front of the routing (default off: each backend has its own).
    #[serde(default)]
    pub sending_queue: Option<QueueConfig>,
}

/// `protocol`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    /// The `otlp_grpc` exporter settings every backend gets, its `endpoint` set to the
    /// backend's.
    #[serde(default)]
    pub otlp: Option<Value>,
}

/// `resolver`: one of `static` and `dns` (`dns` wins when both are set, as in the Collector).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolverConfig {
    /// A fixed list.
    #[serde(default, rename = "static")]
    pub static_: Option<StaticResolver>,
    /// A name resolved again and again.
    #[serde(default)]
    pub dns: Option<DnsResolver>,
    /// Refused: reading Kubernetes endpoints needs the API server.
    #[serde(default)]
    pub k8s: Option<Value>,
    /// Refused: AWS Cloud Map is not implemented.
    #[serde(default)]
    pub aws_cloud_map: Option<Value>,
}

/// `resolver.static`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticResolver {
    /// `host[:port]` of each backend (port 4317 when absent).
    #[serde(default)]
    pub hostnames: Vec<String>,
}

/// `resolver.dns`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsResolver {
    /// The name whose addresses are the backends (a headless Service).
    #[serde(default)]
    pub hostname: String,
    /// The backends' port (default 4317).
    #[serde(default)]
    pub port: Option<Value>,
    /// How often to resolve (default 5s).
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub interval: Option<Duration>,
    /// How long a resolution may take (default 1s).
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub timeout: Option<Duration>,
}

/// What decides a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutingKey {
    /// The span's or log record's trace id.
    TraceId,
    /// The resource's `service.name`.
    Service,
    /// The resource (its encoded attributes).
    Resource,
    /// The metric's name.
    Metric,
}

impl RoutingKey {
    fn parse(s: Option<&str>, signal: Option<Signal>) -> Result<RoutingKey, String> {
        let key = match s.map(str::trim) {
            None | Some("") => match signal {
                Some(Signal::Metrics) => RoutingKey::Service,
                _ => RoutingKey::TraceId,
            },
            Some("traceID") => RoutingKey::TraceId,
            Some("service") => RoutingKey::Service,
            Some("resource") => RoutingKey::Resource,
            Some("metric") => RoutingKey::Metric,
            Some(k @ ("streamID" | "attributes")) => {
                return Err(format!(
                    "routing_key {k:?} is not supported: use traceID, service, resource or metric"
                ));
            }
            Some(k) => {
                return Err(format!(
                    "unknown routing_key {k:?}: use traceID (the default), service, resource or metric"
                ));
            }
        };
        match (signal, key) {
            (Some(Signal::Metrics), RoutingKey::TraceId) => Err(
                "routing_key traceID does not apply to metrics: use service, resource or metric"
                    .into(),
            ),
            (Some(Signal::Traces | Signal::Logs), RoutingKey::Resource | RoutingKey::Metric) => {
                Err(format!(
                    "routing_key {:?} applies to metrics only: use traceID or service for {}",
                    s.unwrap_or_default(),
                    signal.map_or("", crate::signal_name)
                ))
            }
            _ => Ok(key),
        }
    }
}

/// Where the backends come from, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// These, sorted (ring name, endpoint).
    Static(Vec<(String, String)>),
    /// This name at this port, every `interval`.
    Dns {
        hostname: String,
        port: Option<u16>,
        interval: Duration,
        timeout: Duration,
    },
}

impl Source {
    fn label(&self) -> &'static str {
        match self {
            Source::Static(_) => "static",
            Source::Dns { .. } => "dns",
        }
    }
}

/// A backend's endpoint: its name with the default port when it has none (the ring keeps the
/// name as written, as the Collector's does).
fn with_port(name: &str) -> String {
    let has_port = match name.rsplit_once(':') {
        Some((host, port)) => {
            (!host.contains(':') || host.ends_with(']')) && port.parse::<u16>().is_ok()
        }
        None => false,
    };
    if has_port {
        name.to_owned()
    } else {
        format!("{name}:{DEFAULT_PORT}")
    }
}

impl LoadBalancingConfig {
    /// The `otlp_grpc` settings of the backend at `endpoint`.
    fn backend_config(&self, endpoint: &str) -> Result<OtlpGrpcConfig, ConfigError> {
        let otlp = self
            .protocol
            .otlp
            .as_ref()
            .map_or(&Value::Null, Value::resolved);
        let mut fields: Vec<(String, Value)> = match otlp {
            Value::Null => Vec::new(),
            Value::Map(m) => m.clone(),
            other => {
                return Err(ConfigError::new(format!(
                    "must be a map of otlp_grpc exporter settings, not {}",
                    other.kind()
                ))
                .field("protocol.otlp"));
            }
        };
        fields.retain(|(k, _)| k != "endpoint");
        fields.push(("endpoint".into(), Value::String(endpoint.to_owned())));
        crate::registry::parse_typed::<OtlpGrpcConfig>(&Value::Map(fields)).map_err(|e| {
            let field = e
                .field
                .map_or("protocol.otlp".to_owned(), |f| format!("protocol.otlp.{f}"));
            ConfigError::new(e.reason).field(field)
        })
    }

    fn source(&self) -> Result<Source, ConfigError> {
        let r = &self.resolver;
        if r.k8s.is_some() {
            return Err(ConfigError::new(
                "the k8s resolver is not supported (it needs the Kubernetes API): use `dns` with the \
                 backends' headless Service, e.g. hostname: collector-headless.observability.svc.cluster.local",
            )
            .field("resolver.k8s"));
        }
        if r.aws_cloud_map.is_some() {
            return Err(ConfigError::new(
                "the aws_cloud_map resolver is not supported: use `static` or `dns`",
            )
            .field("resolver.aws_cloud_map"));
        }
        if let Some(d) = &r.dns {
            if d.hostname.trim().is_empty() {
                return Err(ConfigError::new("must not be empty").field("resolver.dns.hostname"));
            }
            let port = match &d.port {
                None => None,
                Some(v) => match v.resolved() {
                    Value::Null => None,
                    v => Some(
                        v.scalar_text()
                            .and_then(|t| t.trim().parse::<u16>().ok())
                            .filter(|p| *p > 0)
                            .ok_or_else(|| {
                                ConfigError::new("must be a port number (1 to 65535)")
                                    .field("resolver.dns.port")
                            })?,
                    ),
                },
            };
            // Zero is the default, as in the Collector.
            let interval = d.interval.unwrap_or(DEFAULT_DNS_INTERVAL);
            let timeout = d.timeout.unwrap_or(DEFAULT_DNS_TIMEOUT);
            return Ok(Source::Dns {
                hostname: d.hostname.trim().to_owned(),
                port,
                interval: if interval.is_zero() {
                    DEFAULT_DNS_INTERVAL
                } else {
                    interval
                },
                timeout: if timeout.is_zero() {
                    DEFAULT_DNS_TIMEOUT
                } else {
                    timeout
                },
            });
        }
        let Some(s) = &r.static_ else {
            return Err(
                ConfigError::new("no resolver: set `static.hostnames` or `dns.hostname`")
                    .field("resolver"),
            );
        };
        let mut names: Vec<String> = s.hostnames.iter().map(|h| h.trim().to_owned()).collect();
        if names.is_empty() {
            return Err(ConfigError::new("must list at least one backend")
                .field("resolver.static.hostnames"));
        }
        if let Some(i) = names.iter().position(String::is_empty) {
            return Err(ConfigError::new("must not be empty")
                .field(format!("resolver.static.hostnames[{i}]")));
        }
        names.sort();
        names.dedup();
        Ok(Source::Static(
            names
                .into_iter()
                .map(|n| {
                    let ep = with_port(&n);
                    (n, ep)
                })
                .collect(),
        ))
    }

    fn settings(&self) -> HelperSettings {
        let mut s = HelperSettings::direct();
        s.timeout = self.timeout.unwrap_or(Duration::ZERO);
        if let Some(r) = &self.retry_on_failure {
            s.retry = r.clone();
        }
        if let Some(q) = &self.sending_queue {
            s.queue = q.clone();
        }
        s
    }

    /// Whether anything sits in front of the routing.
    fn wrapped(&self) -> bool {
        let s = self.settings();
        s.retry.enabled || s.queue.enabled || !s.timeout.is_zero()
    }
}

impl Validate for LoadBalancingConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        if let Err(r) = RoutingKey::parse(self.routing_key.as_deref(), None) {
            e.push(ConfigError::new(r).field("routing_key"));
        }
        if self.routing_attributes.is_some() {
            e.push(
                ConfigError::new(
                    "routing by attributes is not supported: use routing_key traceID, service, resource or metric",
                )
                .field("routing_attributes"),
            );
        }
        let source = self.source();
        if let Err(err) = &source {
            e.push(err.clone());
        }
        // The template's own fields, on a neutral endpoint: the real ones are the resolver's.
        match self.backend_config("localhost:4317") {
            Ok(otlp) => e.extend(
                otlp.validate()
                    .into_iter()
                    .filter(|err| err.field.as_deref() != Some("endpoint"))
                    .map(|err| {
                        let field = err.field.unwrap_or_default();
                        ConfigError::new(err.reason).field(format!("protocol.otlp.{field}"))
                    }),
            ),
            Err(err) => e.push(err),
        }
        if let Ok(Source::Static(backends)) = &source {
            for (name, ep) in backends {
                let refused = self.backend_config(ep).ok().and_then(|otlp| {
                    otlp.validate()
                        .into_iter()
                        .find(|err| err.field.as_deref() == Some("endpoint"))
                });
                if let Some(err) = refused {
                    e.push(
                        ConfigError::new(format!("{name:?}: {}", err.reason))
                            .field("resolver.static.hostnames"),
                    );
                }
            }
        }
        e.extend(self.settings().validate());
        e
    }

    fn referenced_extensions(&self) -> Vec<(String, String)> {
        let mut refs: Vec<(String, String)> = self
            .backend_config("localhost:4317")
            .map(|o| {
                o.referenced_extensions()
                    .into_iter()
                    .map(|(f, ext)| (format!("protocol.otlp.{f}"), ext))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(s) = self.sending_queue.as_ref().and_then(|q| q.storage.clone()) {
            refs.push(("sending_queue.storage".into(), s));
        }
        refs
    }

    fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self
            .protocol
            .otlp
            .as_ref()
            .is_some_and(|o| o.resolved().get("endpoint").is_some())
        {
            w.push(
                "protocol.otlp.endpoint is not used: each backend's endpoint comes from the resolver"
                    .into(),
            );
        }
        if self.resolver.dns.is_some() && self.resolver.static_.is_some() {
            w.push("resolver: both `static` and `dns` are set; `dns` is used".into());
        }
        if let Ok(o) = self.backend_config("localhost:4317") {
            w.extend(
                o.warnings()
                    .into_iter()
                    .map(|m| format!("protocol.otlp.{m}")),
            );
            // A queue on disk belongs to one backend: when DNS no longer names it (a pod
            // replaced), what it holds waits for an address that will not come back.
            if self.resolver.dns.is_some()
                && o.sending_queue.enabled
                && o.sending_queue.storage.is_some()
            {
                w.push(
                    "protocol.otlp.sending_queue.storage: a backend's queue on disk is stranded when DNS stops naming it (a replaced pod); put the persistent queue in front of the routing instead (`sending_queue` and `retry_on_failure` at the top level, `protocol.otlp.sending_queue.enabled: false`)".into(),
                );
            }
        }
        w.extend(self.settings().warnings());
        w
    }
}

impl ExporterConfig for LoadBalancingConfig {
    fn build(&self, ctx: &Context, signal: Signal) -> Result<Arc<dyn Exporter>, ComponentError> {
        let key = RoutingKey::parse(self.routing_key.as_deref(), Some(signal))
            .map_err(|e| ctx.error(e))?;
        let source = self.source().map_err(|e| ctx.config_errors(&[e]))?;
        let lb = Arc::new(LoadBalancer::new(
            ctx,
            signal,
            self.clone(),
            key,
            source,
            Arc::new(SystemDns),
            Arc::new(|ctx, signal, otlp| otlp.build(ctx, signal)),
        ));
        if self.wrapped() {
            let helper =
                ExporterHelper::new(ctx, signal, Arc::new(Routed(lb.clone())), self.settings());
            Ok(Arc::new(Queued { lb, helper }))
        } else {
            Ok(Arc::new(lb))
        }
    }
}

/// Makes a backend's exporter from its settings (the `otlp_grpc` exporter; tests record).
pub type MakeExporter = Arc<
    dyn Fn(&Context, Signal, &OtlpGrpcConfig) -> Result<Arc<dyn Exporter>, ComponentError>
        + Send
        + Sync,
>;

/// Resolves `dns.hostname`.
pub trait Dns: Send + Sync + 'static {
    /// The addresses of `host`.
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<std::net::IpAddr>>>;
}

/// The system resolver (`getaddrinfo`).
struct SystemDns;

impl Dns for SystemDns {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<std::net::IpAddr>>> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// One backend: its exporter and its counters.
struct Backend {
    /// Its name on the ring (as resolved: `10.0.0.1`, `backend-1:4317`).
    name: String,
    exporter: Arc<dyn Exporter>,
    ok: Arc<Counter>,
    failed: Arc<Counter>,
    latency: Arc<Histogram>,
}

/// The backends in use and their ring.
#[derive(Default)]
struct Table {
    backends: Vec<Arc<Backend>>,
    ring: Ring,
}

struct Metrics {
    resolutions_ok: Arc<Counter>,
    resolutions_failed: Arc<Counter>,
    backends: Arc<Gauge>,
    updates: Arc<Counter>,
}

/// The exporter: routes each request's items to the backends' exporters.
pub struct LoadBalancer {
    ctx: Context,
    signal: Signal,
    config: LoadBalancingConfig,
    key: RoutingKey,
    source: Source,
    dns: Arc<dyn Dns>,
    make: MakeExporter,
    table: RwLock<Arc<Table>>,
    /// Serializes changes of the backends (the resolver's and shutdown's).
    changing: tokio::sync::Mutex<()>,
    metrics: Metrics,
    /// The DNS resolver's loop.
    resolver: Background,
    /// For log records without a trace id, which go to any backend.
    spread: AtomicU64,
}

impl LoadBalancer {
    fn new(
        ctx: &Context,
        signal: Signal,
        config: LoadBalancingConfig,
        key: RoutingKey,
        source: Source,
        dns: Arc<dyn Dns>,
        make: MakeExporter,
    ) -> LoadBalancer {
        let t = &ctx.telemetry;
        let resolver = source.label();
        let metrics = Metrics {
            resolutions_ok: t.counter(
                "otelcol_loadbalancer_num_resolutions_total",
                "Number of times the resolver has triggered new resolutions.",
                &[("resolver", resolver), ("success", "true")],
            ),
            resolutions_failed: t.counter(
                "otelcol_loadbalancer_num_resolutions_total",
                "Number of times the resolver has triggered new resolutions.",
                &[("resolver", resolver), ("success", "false")],
            ),
            backends: t.gauge(
                "otelcol_loadbalancer_num_backends",
                "Current number of backends in use.",
                &[("resolver", resolver)],
            ),
            updates: t.counter(
                "otelcol_loadbalancer_num_backend_updates_total",
                "Number of times the list of backends was updated.",
                &[("resolver", resolver)],
            ),
        };
        LoadBalancer {
            ctx: ctx.clone(),
            signal,
            config,
            key,
            source,
            dns,
            make,
            table: RwLock::new(Arc::new(Table::default())),
            changing: tokio::sync::Mutex::new(()),
            metrics,
            resolver: Background::default(),
            spread: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
        }
    }

    fn table(&self) -> Arc<Table> {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The backend of `endpoint`, built and started.
    async fn make_backend(&self, name: &str, endpoint: &str) -> Result<Arc<Backend>, String> {
        let otlp = self
            .config
            .backend_config(endpoint)
            .map_err(|e| e.to_string())?;
        let mut ctx = self.ctx.clone();
        ctx.id = ComponentId::parse(&format!("{}/{endpoint}", self.ctx.id))?;
        let exporter = (self.make)(&ctx, self.signal, &otlp).map_err(|e| e.reason)?;
        exporter.start().await.map_err(|e| e.reason)?;
        let t = &self.ctx.telemetry;
        let outcome = |success| {
            t.counter(
                "otelcol_loadbalancer_backend_outcome_total",
                "Number of successes and failures for each endpoint.",
                &[("endpoint", endpoint), ("success", success)],
            )
        };
        Ok(Arc::new(Backend {
            name: name.to_owned(),
            exporter,
            ok: outcome("true"),
            failed: outcome("false"),
            latency: t.histogram(
                "otelcol_loadbalancer_backend_latency",
                "Response latency in ms for the backends.",
                &[("endpoint", endpoint)],
                LATENCY_BUCKETS_MS,
            ),
        }))
    }

    /// Makes `resolved` (sorted, distinct (name, endpoint) pairs) the backends in use: new
    /// ones are built and started, kept ones stay as they are, and the ones that left are
    /// shut down in the background, sending what their queues hold.
    async fn update(&self, resolved: &[(String, String)]) -> Result<(), ComponentError> {
        let _changing = self.changing.lock().await;
        let current = self.table();
        let names: Vec<&str> = current.backends.iter().map(|b| b.name.as_str()).collect();
        if names == resolved.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>() {
            return Ok(());
        }
        let mut backends = Vec::with_capacity(resolved.len());
        for (name, endpoint) in resolved {
            match current.backends.iter().find(|b| &b.name == name) {
                Some(b) => backends.push(b.clone()),
                None => match self.make_backend(name, endpoint).await {
                    Ok(b) => backends.push(b),
                    Err(e) if matches!(self.source, Source::Static(_)) => {
                        return Err(self.ctx.error(format!("backend {endpoint}: {e}")));
                    }
                    Err(e) => {
                        tracing::error!(component = %self.ctx.label(), backend = %endpoint, "cannot make the backend's exporter: {e}");
                    }
                },
            }
        }
        let ring = Ring::new(&backends.iter().map(|b| b.name.as_str()).collect::<Vec<_>>());
        let gone: Vec<Arc<Backend>> = current
            .backends
            .iter()
            .filter(|b| !backends.iter().any(|n| n.name == b.name))
            .cloned()
            .collect();
        self.metrics
            .backends
            .set(i64::try_from(backends.len()).unwrap_or(i64::MAX));
        self.metrics.updates.add(1);
        tracing::info!(
            component = %self.ctx.label(),
            backends = %backends.iter().map(|b| b.name.as_str()).collect::<Vec<_>>().join(","),
            "backends updated"
        );
        *self.table.write().unwrap_or_else(PoisonError::into_inner) =
            Arc::new(Table { backends, ring });
        for b in gone {
            // Requests routed before the swap may still be handing it data: its queue drains
            // what it got, and a request that finds it closed fails retryably.
            tokio::spawn(async move { b.exporter.shutdown().await });
        }
        Ok(())
    }

    /// One DNS resolution: the backends it names, sorted, or why there are none.
    async fn resolve(&self) -> Result<Vec<(String, String)>, String> {
        let Source::Dns {
            hostname,
            port,
            timeout,
            ..
        } = &self.source
        else {
            return Err("not a DNS resolver".into());
        };
        let ips = tokio::time::timeout(*timeout, self.dns.lookup(hostname.clone()))
            .await
            .map_err(|_| {
                format!(
                    "resolving {hostname} timed out after {}",
                    duration::format(*timeout)
                )
            })?
            .map_err(|e| format!("resolving {hostname}: {e}"))?;
        let mut names: Vec<String> = ips
            .iter()
            .map(|ip| {
                let host = match ip {
                    std::net::IpAddr::V4(v4) => v4.to_string(),
                    std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                };
                match port {
                    Some(p) => format!("{host}:{p}"),
                    None => host,
                }
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names
            .into_iter()
            .map(|n| {
                let ep = with_port(&n);
                (n, ep)
            })
            .collect())
    }

    /// Resolves once, records the outcome and applies it.
    async fn refresh(&self) {
        match self.resolve().await {
            Ok(resolved) => {
                self.metrics.resolutions_ok.add(1);
                if let Err(e) = self.update(&resolved).await {
                    tracing::error!(component = %self.ctx.label(), "{e}");
                }
            }
            Err(e) => {
                self.metrics.resolutions_failed.add(1);
                tracing::warn!(component = %self.ctx.label(), "{e}; keeping the backends there were");
            }
        }
    }

    /// The backend of one item; `holders` are its resource group down to its parent.
    fn route(&self, ring: &Ring, n: usize, holders: &[&[u8]], item: &[u8]) -> Option<usize> {
        match (self.key, self.signal) {
            (RoutingKey::TraceId, Signal::Logs) => {
                let id = LogRecordView::parse(item).trace_id();
                if id == [0; 16] {
                    // No trace to keep together: any backend, in turn.
                    let turn = self.spread.fetch_add(1, Ordering::Relaxed);
                    return usize::try_from(turn % n as u64).ok();
                }
                ring.backend(&id)
            }
            (RoutingKey::TraceId, _) => ring.backend(&SpanView::parse(item).trace_id()),
            (RoutingKey::Service, _) => {
                let (resource, _) = group_resource(holders.first().copied().unwrap_or(&[]));
                let service = resource
                    .attributes()
                    .get("service.name")
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                ring.backend(service.as_bytes())
            }
            (RoutingKey::Resource, _) => {
                let (resource, _) = group_resource(holders.first().copied().unwrap_or(&[]));
                ring.backend(resource.raw())
            }
            (RoutingKey::Metric, _) => {
                let metric = MetricView::parse(holders.get(2).copied().unwrap_or(&[]));
                ring.backend(metric.name().as_bytes())
            }
        }
    }

    /// Sends each backend its part of `batch`.
    async fn send(&self, batch: Batch) -> Result<(), ConsumeError> {
        if batch.is_empty() {
            return Ok(());
        }
        let table = self.table();
        let n = table.backends.len();
        if n == 0 {
            return Err(ConsumeError::unavailable_for(
                format!("{}: no backends yet", self.ctx.label()),
                Duration::from_secs(1),
            ));
        }
        // A key read from a container (the resource group, the metric) is looked up once per
        // container, not per item.
        let holder = match self.key {
            RoutingKey::Service | RoutingKey::Resource => Some(0),
            RoutingKey::Metric => Some(2),
            RoutingKey::TraceId => None,
        };
        let mut last: Option<((usize, usize), Option<usize>)> = None;
        let parts = partition_items(&batch, n, |holders, item| {
            let at = holder
                .and_then(|h| holders.get(h))
                .map(|c| (c.as_ptr() as usize, c.len()));
            if let (Some(at), Some((seen, b))) = (at, last)
                && at == seen
            {
                return b;
            }
            let b = self.route(&table.ring, n, holders, item);
            if let Some(at) = at {
                last = Some((at, b));
            }
            b
        });
        // The backends' exporters take their parts side by side, polled here: each is a
        // queue push, or a send when a backend has no queue.
        let started = Instant::now();
        let mut sends: Vec<(&Backend, BoxFuture<'_, Result<(), ConsumeError>>)> = table
            .backends
            .iter()
            .zip(parts)
            .filter(|(_, part)| !part.is_empty())
            .map(|(backend, part)| (backend.as_ref(), backend.exporter.consume(part)))
            .collect();
        let (mut retryable, mut permanent) = (None, None);
        std::future::poll_fn(|cx| {
            sends.retain_mut(|(backend, send)| {
                let std::task::Poll::Ready(r) = send.as_mut().poll(cx) else {
                    return true;
                };
                let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                backend.latency.observe(ms);
                match r {
                    Ok(()) => backend.ok.add(1),
                    Err(e) => {
                        backend.failed.add(1);
                        if e.is_retryable() {
                            retryable = retryable.take().or(Some(e));
                        } else {
                            permanent = permanent.take().or(Some(e));
                        }
                    }
                }
                false
            });
            if sends.is_empty() {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await;
        match (retryable, permanent) {
            (Some(e), _) | (None, Some(e)) => Err(e),
            (None, None) => Ok(()),
        }
    }

    async fn start_resolver(self: &Arc<Self>) -> Result<(), ComponentError> {
        match &self.source {
            Source::Static(backends) => {
                self.metrics.resolutions_ok.add(1);
                self.update(backends).await
            }
            Source::Dns { interval, .. } => {
                self.refresh().await;
                let (me, every) = (Arc::downgrade(self), *interval);
                // Resolved once above, while starting.
                self.resolver.every(every, FirstCall::AfterPeriod, move || {
                    let me = me.clone();
                    async move {
                        let Some(lb) = me.upgrade() else { return false };
                        lb.refresh().await;
                        true
                    }
                });
                Ok(())
            }
        }
    }

    async fn stop(&self) {
        self.resolver.stop().await;
        let _changing = self.changing.lock().await;
        let table = self.table();
        let mut stops = tokio::task::JoinSet::new();
        for b in &table.backends {
            let b = b.clone();
            stops.spawn(async move { b.exporter.shutdown().await });
        }
        while stops.join_next().await.is_some() {}
    }
}

/// Starting needs the `Arc` (the DNS task holds a weak reference): the exporter handed to
/// the pipeline is the `Arc<LoadBalancer>` itself, or the helper's queue around it.
impl Exporter for Arc<LoadBalancer> {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(self.start_resolver())
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.stop())
    }
}

impl Consumer for Arc<LoadBalancer> {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(self.send(batch))
    }
}

/// The routing as one attempt of the exporter helper (top-level `retry_on_failure`,
/// `sending_queue`, `timeout`): each attempt routes again, on the backends of its time.
struct Routed(Arc<LoadBalancer>);

impl Sender for Routed {
    fn send(&self, payload: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move { self.0.send(payload.into_batch()?).await })
    }
}

/// The load balancer behind the helper's queue and retries.
struct Queued {
    lb: Arc<LoadBalancer>,
    helper: Arc<ExporterHelper>,
}

impl Consumer for Queued {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        self.helper.consume(batch)
    }
}

impl Exporter for Queued {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            self.lb.start_resolver().await?;
            self.helper.start().await
        })
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // The queue drains through the backends first, then they drain theirs.
            self.helper.shutdown().await;
            self.lb.stop().await;
        })
    }
}

#[cfg(test)]
mod tests;
