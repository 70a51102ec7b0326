//! The `loadbalancing` exporter on recording backends: its config, where items go, the DNS
//! resolver's updates and the self-metrics.

use super::*;
use crate::component::Kind;
use crate::otlp::Limits;
use crate::otlp::proto::collector::logs::v1::ExportLogsServiceRequest;
use crate::otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::otlp::proto::common::v1::{AnyValue, KeyValue, any_value};
use crate::otlp::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::otlp::proto::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric,
};
use crate::otlp::proto::resource::v1::Resource;
use crate::otlp::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

fn ctx(id: &str) -> Context {
    Context {
        id: ComponentId::parse(id).unwrap(),
        kind: Kind::Exporter,
        telemetry: Arc::new(crate::telemetry::Telemetry::new("t", "i")),
        health: Arc::new(crate::extension::health_check::Health::default()),
        host: Default::default(),
        topology: Default::default(),
    }
}

/// The self-metrics without the collector's own labels.
fn render(ctx: &Context) -> String {
    let text = ctx.telemetry.render();
    regex::Regex::new(r#",?service_instance_id="i",service_name="t",service_version="[^"]*""#)
        .unwrap()
        .replace_all(&text, "")
        .replace("{}", "")
}

fn config(yaml: &str) -> LoadBalancingConfig {
    crate::processor::testspans::config(yaml)
}

/// A backend that records what it gets, and can be made to fail.
#[derive(Default)]
struct Fake {
    endpoint: String,
    got: Mutex<Vec<Batch>>,
    fail: AtomicBool,
    started: AtomicBool,
    stopped: AtomicBool,
}

impl Consumer for Fake {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            if self.fail.load(Ordering::SeqCst) {
                return Err(ConsumeError::retryable(format!(
                    "{} is down",
                    self.endpoint
                )));
            }
            self.got.lock().unwrap().push(batch);
            Ok(())
        })
    }
}

impl Exporter for Fake {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        self.started.store(true, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.stopped.store(true, Ordering::SeqCst);
        Box::pin(async {})
    }
}

/// Every backend made, by endpoint (the last one made for each).
type Fakes = Arc<Mutex<BTreeMap<String, Arc<Fake>>>>;

fn recording() -> (MakeExporter, Fakes) {
    let fakes: Fakes = Arc::default();
    let made = fakes.clone();
    let make: MakeExporter = Arc::new(move |ctx, _signal, otlp| {
        // The template reaches every backend, with the backend's endpoint.
        assert_eq!(otlp.compression, "none");
        assert_eq!(
            ctx.id.to_string(),
            format!("loadbalancing/{}", otlp.endpoint)
        );
        let f = Arc::new(Fake {
            endpoint: otlp.endpoint.clone(),
            ..Fake::default()
        });
        made.lock()
            .unwrap()
            .insert(otlp.endpoint.clone(), f.clone());
        Ok(f as Arc<dyn Exporter>)
    });
    (make, fakes)
}

/// DNS answers given in turn (the last one repeats).
struct Answers(Mutex<Vec<std::io::Result<Vec<IpAddr>>>>);

impl Dns for Answers {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        assert_eq!(host, "collector-headless");
        let mut a = self.0.lock().unwrap();
        let next = if a.len() > 1 {
            a.remove(0)
        } else {
            match a.first() {
                Some(Ok(ips)) => Ok(ips.clone()),
                _ => Err(std::io::Error::other("no such host")),
            }
        };
        Box::pin(async move { next })
    }
}

fn balancer(
    yaml: &str,
    signal: Signal,
    dns: Vec<std::io::Result<Vec<IpAddr>>>,
) -> (Arc<LoadBalancer>, Fakes, Context) {
    let c = config(yaml);
    let ctx = ctx("loadbalancing");
    let (make, fakes) = recording();
    let key = RoutingKey::parse(c.routing_key.as_deref(), Some(signal)).unwrap();
    let source = c.source().unwrap();
    let lb = Arc::new(LoadBalancer::new(
        &ctx,
        signal,
        c,
        key,
        source,
        Arc::new(Answers(Mutex::new(dns))),
        make,
    ));
    (lb, fakes, ctx)
}

/// The backends of [`STATIC`] as the ring places them: sorted, named as written.
const NAMES: [&str; 4] = [
    "backend-1:4317",
    "backend-2",
    "backend-3:4317",
    "backend-4:4317",
];

const STATIC: &str = "
protocol:
  otlp:
    compression: none
    tls:
      insecure: true
resolver:
  static:
    hostnames: [backend-3:4317, backend-1:4317, backend-2, backend-4:4317]
";

fn string(key: &str, v: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![string("service.name", service)],
        ..Default::default()
    })
}

/// `traces` traces of two spans each, alternating between two services' resources; the span
/// id is `trace * 10 + n`.
fn traces(traces: u64) -> Batch {
    let mut groups: Vec<ResourceSpans> = ["frontend", "reviews"]
        .iter()
        .map(|s| ResourceSpans {
            resource: resource(s),
            scope_spans: vec![ScopeSpans::default()],
            ..Default::default()
        })
        .collect();
    for t in 0..traces {
        for n in 0..2 {
            let span = Span {
                trace_id: [&[0xab; 8][..], &(t * 7919).to_be_bytes()].concat(),
                span_id: (t * 10 + n).to_be_bytes().to_vec(),
                name: format!("op-{t}"),
                ..Default::default()
            };
            groups[usize::from(n == 1)].scope_spans[0].spans.push(span);
        }
    }
    let pb = ExportTraceServiceRequest {
        resource_spans: groups,
    }
    .encode_to_vec();
    Batch::new_validated(Signal::Traces, pb.into(), &Limits::default()).unwrap()
}

/// (service, trace id, span id) of every span a backend got.
fn spans(f: &Fake) -> Vec<(String, Vec<u8>, u64)> {
    let mut out = Vec::new();
    for b in f.got.lock().unwrap().iter() {
        let req = ExportTraceServiceRequest::decode(b.bytes().as_ref()).unwrap();
        for rs in req.resource_spans {
            let service = rs.resource.unwrap().attributes[0]
                .value
                .clone()
                .and_then(|v| match v.value {
                    Some(any_value::Value::StringValue(s)) => Some(s),
                    _ => None,
                })
                .unwrap();
            for s in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                let id = u64::from_be_bytes(s.span_id.try_into().unwrap());
                out.push((service.clone(), s.trace_id, id));
            }
        }
    }
    out
}

#[tokio::test]
async fn each_trace_goes_whole_to_the_backend_the_ring_names() {
    let (lb, fakes, ctx) = balancer(STATIC, Signal::Traces, vec![]);
    lb.start().await.unwrap();
    let endpoints = [
        "backend-1:4317",
        "backend-2:4317",
        "backend-3:4317",
        "backend-4:4317",
    ];
    // Backends are made with the default port, and placed on the ring by name as written.
    assert_eq!(
        fakes.lock().unwrap().keys().cloned().collect::<Vec<_>>(),
        endpoints
    );
    assert!(
        fakes
            .lock()
            .unwrap()
            .values()
            .all(|f| f.started.load(Ordering::SeqCst))
    );
    let ring = Ring::new(&NAMES);
    lb.consume(traces(40)).await.unwrap();
    let mut seen = BTreeSet::new();
    for (i, ep) in endpoints.iter().enumerate() {
        let got = spans(&fakes.lock().unwrap()[*ep]);
        assert!(!got.is_empty(), "{ep} got nothing of 40 traces");
        for (service, trace, id) in got {
            assert_eq!(ring.backend(&trace), Some(i), "span {id} at {ep}");
            // Each span keeps its resource.
            let want = if id % 10 == 0 { "frontend" } else { "reviews" };
            assert_eq!(service, want, "span {id}");
            assert!(seen.insert(id), "span {id} sent twice");
        }
    }
    assert_eq!(seen.len(), 80);
    let text = render(&ctx);
    for line in [
        "otelcol_loadbalancer_num_backends{resolver=\"static\"} 4",
        "otelcol_loadbalancer_num_resolutions_total{resolver=\"static\",success=\"true\"} 1",
        "otelcol_loadbalancer_num_backend_updates_total{resolver=\"static\"} 1",
        "otelcol_loadbalancer_backend_outcome_total{endpoint=\"backend-1:4317\",success=\"true\"} 1",
        "otelcol_loadbalancer_backend_latency_count{endpoint=\"backend-4:4317\"} 1",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    lb.shutdown().await;
    assert!(
        fakes
            .lock()
            .unwrap()
            .values()
            .all(|f| f.stopped.load(Ordering::SeqCst))
    );
}

#[tokio::test]
async fn service_routing_keeps_a_services_spans_together() {
    let yaml = format!("{STATIC}routing_key: service\n");
    let (lb, fakes, _) = balancer(&yaml, Signal::Traces, vec![]);
    lb.start().await.unwrap();
    lb.consume(traces(10)).await.unwrap();
    let ring = Ring::new(&NAMES);
    let fakes = fakes.lock().unwrap();
    for service in ["frontend", "reviews"] {
        let at = ring.backend(service.as_bytes()).unwrap();
        for (i, f) in fakes.values().enumerate() {
            let n = spans(f).iter().filter(|(s, _, _)| s == service).count();
            assert_eq!(
                n,
                if i == at { 10 } else { 0 },
                "{service} at {}",
                f.endpoint
            );
        }
    }
}

#[tokio::test]
async fn a_failing_backend_fails_the_request_retryably_and_the_others_get_their_part() {
    let (lb, fakes, ctx) = balancer(STATIC, Signal::Traces, vec![]);
    lb.start().await.unwrap();
    fakes.lock().unwrap()["backend-2:4317"]
        .fail
        .store(true, Ordering::SeqCst);
    let err = lb.consume(traces(40)).await.unwrap_err();
    assert_eq!(err, ConsumeError::retryable("backend-2:4317 is down"));
    let delivered: usize = fakes.lock().unwrap().values().map(|f| spans(f).len()).sum();
    assert!(delivered > 0 && delivered < 80, "{delivered}");
    let text = render(&ctx);
    assert!(
        text.contains(
            "otelcol_loadbalancer_backend_outcome_total{endpoint=\"backend-2:4317\",success=\"false\"} 1"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn without_backends_a_request_is_refused_retryably() {
    let yaml = "
protocol:
  otlp:
    compression: none
resolver:
  dns:
    hostname: collector-headless
";
    let (lb, _, ctx) = balancer(yaml, Signal::Traces, vec![Err(std::io::Error::other("nx"))]);
    lb.start().await.unwrap();
    let err = lb.consume(traces(1)).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.to_string(), "exporters::loadbalancing: no backends yet");
    let text = render(&ctx);
    assert!(
        text.contains(
            "otelcol_loadbalancer_num_resolutions_total{resolver=\"dns\",success=\"false\"} 1"
        ),
        "{text}"
    );
    // An empty request needs no backend.
    assert_eq!(lb.consume(Batch::empty(Signal::Traces)).await, Ok(()));
    lb.shutdown().await;
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test(start_paused = true)]
async fn dns_updates_add_and_retire_backends_and_a_failed_lookup_keeps_them() {
    let yaml = "
protocol:
  otlp:
    compression: none
resolver:
  dns:
    hostname: collector-headless
    port: 4318
    interval: 10s
";
    let answers = vec![
        Ok(vec![ip("10.0.0.2"), ip("10.0.0.1")]),
        Ok(vec![ip("10.0.0.1"), ip("10.0.0.2")]),
        Ok(vec![ip("10.0.0.3"), ip("10.0.0.2"), ip("fd00::1")]),
        Err(std::io::Error::other("SERVFAIL")),
    ];
    let (lb, fakes, ctx) = balancer(yaml, Signal::Traces, answers);
    lb.start().await.unwrap();
    let names = |lb: &LoadBalancer| -> Vec<String> {
        lb.table().backends.iter().map(|b| b.name.clone()).collect()
    };
    assert_eq!(names(&lb), ["10.0.0.1:4318", "10.0.0.2:4318"]);
    let first = fakes.lock().unwrap()["10.0.0.1:4318"].clone();
    let kept = fakes.lock().unwrap()["10.0.0.2:4318"].clone();

    // The same addresses in another order: no update.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(names(&lb), ["10.0.0.1:4318", "10.0.0.2:4318"]);

    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        names(&lb),
        ["10.0.0.2:4318", "10.0.0.3:4318", "[fd00::1]:4318"]
    );
    // The backend that stayed is the same exporter; the one that left is shut down.
    assert!(Arc::ptr_eq(&fakes.lock().unwrap()["10.0.0.2:4318"], &kept));
    tokio::task::yield_now().await;
    assert!(first.stopped.load(Ordering::SeqCst));
    assert!(!kept.stopped.load(Ordering::SeqCst));

    // A failed lookup keeps the backends there were.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(names(&lb).len(), 3);
    lb.consume(traces(30)).await.unwrap();
    assert!(first.got.lock().unwrap().is_empty());

    let text = render(&ctx);
    for line in [
        "otelcol_loadbalancer_num_resolutions_total{resolver=\"dns\",success=\"true\"} 3",
        "otelcol_loadbalancer_num_resolutions_total{resolver=\"dns\",success=\"false\"} 1",
        "otelcol_loadbalancer_num_backend_updates_total{resolver=\"dns\"} 2",
        "otelcol_loadbalancer_num_backends{resolver=\"dns\"} 3",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    lb.shutdown().await;
    assert!(kept.stopped.load(Ordering::SeqCst));
}

fn logs(ids: &[Option<u8>]) -> Batch {
    let records = ids
        .iter()
        .enumerate()
        .map(|(i, t)| LogRecord {
            trace_id: t.map_or(Vec::new(), |t| vec![t; 16]),
            time_unix_nano: i as u64,
            ..Default::default()
        })
        .collect();
    let pb = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("app"),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    Batch::new_validated(Signal::Logs, pb.into(), &Limits::default()).unwrap()
}

fn log_times(f: &Fake) -> Vec<u64> {
    f.got
        .lock()
        .unwrap()
        .iter()
        .flat_map(|b| {
            ExportLogsServiceRequest::decode(b.bytes().as_ref())
                .unwrap()
                .resource_logs
        })
        .flat_map(|r| r.scope_logs)
        .flat_map(|s| s.log_records)
        .map(|l| l.time_unix_nano)
        .collect()
}

#[tokio::test]
async fn log_records_follow_their_trace_and_the_others_are_spread() {
    let (lb, fakes, _) = balancer(STATIC, Signal::Logs, vec![]);
    lb.start().await.unwrap();
    // Records 0-3 share a trace; 4-11 have none.
    let ids: Vec<Option<u8>> = (0..12).map(|i| (i < 4).then_some(9)).collect();
    lb.consume(logs(&ids)).await.unwrap();
    let ring = Ring::new(&NAMES);
    let traced = ring.backend(&[9; 16]).unwrap();
    let fakes = fakes.lock().unwrap();
    let got: Vec<Vec<u64>> = fakes.values().map(|f| log_times(f)).collect();
    assert_eq!(got.iter().map(Vec::len).sum::<usize>(), 12);
    assert!(got[traced].starts_with(&[0, 1, 2, 3]), "{got:?}");
    // Eight records without a trace, four backends in turn: two each.
    for (i, g) in got.iter().enumerate() {
        let untraced = g.iter().filter(|&&t| t >= 4).count();
        assert_eq!(untraced, 2, "backend {i}: {got:?}");
    }
}

fn gauges(names: &[&str]) -> Batch {
    let metrics = names
        .iter()
        .map(|n| Metric {
            name: (*n).into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: (0..3)
                    .map(|t| NumberDataPoint {
                        time_unix_nano: t,
                        ..Default::default()
                    })
                    .collect(),
            })),
            ..Default::default()
        })
        .collect();
    let pb = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource("app"),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    Batch::new_validated(Signal::Metrics, pb.into(), &Limits::default()).unwrap()
}

#[tokio::test]
async fn metrics_go_by_name_with_every_point() {
    let yaml = format!("{STATIC}routing_key: metric\n");
    let (lb, fakes, _) = balancer(&yaml, Signal::Metrics, vec![]);
    lb.start().await.unwrap();
    let names = ["http.server.duration", "calls", "rpc.client.duration", "up"];
    lb.consume(gauges(&names)).await.unwrap();
    let ring = Ring::new(&NAMES);
    let fakes = fakes.lock().unwrap();
    for (i, f) in fakes.values().enumerate() {
        let got: Vec<(String, usize)> = f
            .got
            .lock()
            .unwrap()
            .iter()
            .flat_map(|b| {
                ExportMetricsServiceRequest::decode(b.bytes().as_ref())
                    .unwrap()
                    .resource_metrics
            })
            .flat_map(|r| r.scope_metrics)
            .flat_map(|s| s.metrics)
            .map(|m| {
                let points = match m.data {
                    Some(metric::Data::Gauge(g)) => g.data_points.len(),
                    _ => 0,
                };
                (m.name, points)
            })
            .collect();
        let want: Vec<(String, usize)> = names
            .iter()
            .filter(|n| ring.backend(n.as_bytes()) == Some(i))
            .map(|n| ((*n).to_owned(), 3))
            .collect();
        assert_eq!(got, want, "{}", f.endpoint);
    }
}

#[tokio::test]
async fn top_level_retries_route_again() {
    let yaml = format!("{STATIC}retry_on_failure:\n  enabled: true\n  initial_interval: 10ms\n");
    let c = config(&yaml);
    assert!(c.wrapped());
    let (make, fakes) = recording();
    let ctx = ctx("loadbalancing");
    let lb = Arc::new(LoadBalancer::new(
        &ctx,
        Signal::Traces,
        c.clone(),
        RoutingKey::TraceId,
        c.source().unwrap(),
        Arc::new(SystemDns),
        make,
    ));
    let helper = ExporterHelper::new(
        &ctx,
        Signal::Traces,
        Arc::new(Routed(lb.clone())),
        c.settings(),
    );
    let q = Queued { lb, helper };
    q.start().await.unwrap();
    let down = fakes.lock().unwrap()["backend-2:4317"].clone();
    down.fail.store(true, Ordering::SeqCst);
    let send = tokio::spawn(async move {
        let r = q.consume(traces(40)).await;
        (q, r)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    down.fail.store(false, Ordering::SeqCst);
    let (q, r) = send.await.unwrap();
    assert_eq!(r, Ok(()));
    // Every span arrived; the backends that took their part on a failed attempt got it again
    // (at least once, as with any retried fan-out).
    let ids: BTreeSet<u64> = fakes
        .lock()
        .unwrap()
        .values()
        .flat_map(|f| spans(f))
        .map(|(_, _, id)| id)
        .collect();
    assert_eq!(ids.len(), 80);
    assert!(!spans(&down).is_empty());
    q.shutdown().await;
}

#[test]
fn configs_are_checked_field_by_field() {
    let check = crate::processor::testspans::validation_messages::<LoadBalancingConfig>;
    let table: &[(&str, &[&str])] = &[
        (STATIC, &[]),
        (
            "protocol: {otlp: {timeout: 1s}}\nresolver: {dns: {hostname: gw-headless, port: '4317', interval: 30s}}\nrouting_key: traceID",
            &[],
        ),
        ("protocol: {}\nresolver: {dns: {hostname: gw}}", &[]),
        (
            "protocol: {otlp: {}}\nresolver: {}",
            &["resolver: no resolver: set `static.hostnames` or `dns.hostname`"],
        ),
        (
            "protocol: {otlp: {}}\nresolver: {k8s: {service: lb-svc.kube-public}}",
            &[
                "resolver.k8s: the k8s resolver is not supported (it needs the Kubernetes API): use `dns` with the backends' headless Service, e.g. hostname: collector-headless.observability.svc.cluster.local",
            ],
        ),
        (
            "protocol: {otlp: {}}\nresolver: {static: {hostnames: []}}",
            &["resolver.static.hostnames: must list at least one backend"],
        ),
        (
            "protocol: {otlp: {}}\nresolver: {dns: {hostname: gw, port: http}}",
            &["resolver.dns.port: must be a port number (1 to 65535)"],
        ),
        (
            "protocol: {otlp: {}}\nresolver: {dns: {hostname: ''}}",
            &["resolver.dns.hostname: must not be empty"],
        ),
        (
            "protocol: {otlp: {}}\nresolver: {dns: {hostname: gw}}\nrouting_key: streamID",
            &[
                "routing_key: routing_key \"streamID\" is not supported: use traceID, service, resource or metric",
            ],
        ),
        (
            "protocol: {otlp: {}}\nresolver: {dns: {hostname: gw}}\nrouting_key: traceid",
            &[
                "routing_key: unknown routing_key \"traceid\": use traceID (the default), service, resource or metric",
            ],
        ),
        (
            "protocol: {otlp: {compresion: gzip}}\nresolver: {dns: {hostname: gw}}",
            &[
                "protocol.otlp.compresion: unknown field `compresion`, expected one of `endpoint`, `headers`, `compression`, `compression_params`, `tls`, `timeout`, `retry_on_failure`, `sending_queue`, `keepalive`, `balancer_name`, `read_buffer_size`, `write_buffer_size`, `wait_for_ready`, `authority`, `auth`, `profiles`",
            ],
        ),
        (
            "protocol: {otlp: {compression: lz4}}\nresolver: {dns: {hostname: gw}}",
            &[
                "protocol.otlp.compression: unsupported compression \"lz4\" (supported: gzip, zstd, none)",
            ],
        ),
        (
            "protocol: {otlp: {}}\nresolver: {static: {hostnames: ['gw-1:4317', 'ftp://gw-2']}}",
            &[
                "resolver.static.hostnames: \"ftp://gw-2\": unsupported scheme in endpoint \"ftp://gw-2:4317\" (use host:port, dns:///host:port, http:// or https://)",
            ],
        ),
    ];
    for (yaml, want) in table {
        assert_eq!(check(yaml), *want, "{yaml}");
    }
}

#[test]
fn routing_keys_fit_their_signal() {
    let table = [
        (None, Signal::Traces, Ok(RoutingKey::TraceId)),
        (None, Signal::Logs, Ok(RoutingKey::TraceId)),
        (None, Signal::Metrics, Ok(RoutingKey::Service)),
        (Some("service"), Signal::Logs, Ok(RoutingKey::Service)),
        (Some("resource"), Signal::Metrics, Ok(RoutingKey::Resource)),
        (Some("metric"), Signal::Metrics, Ok(RoutingKey::Metric)),
        (
            Some("traceID"),
            Signal::Metrics,
            Err("routing_key traceID does not apply to metrics: use service, resource or metric"),
        ),
        (
            Some("metric"),
            Signal::Traces,
            Err(
                "routing_key \"metric\" applies to metrics only: use traceID or service for traces",
            ),
        ),
    ];
    for (key, signal, want) in table {
        assert_eq!(
            RoutingKey::parse(key, Some(signal)),
            want.map_err(str::to_owned),
            "{key:?} {signal:?}"
        );
    }
}

#[test]
fn a_name_gets_the_default_port_only_when_it_has_none() {
    for (name, want) in [
        ("gw", "gw:4317"),
        ("gw:55690", "gw:55690"),
        ("10.0.0.1", "10.0.0.1:4317"),
        ("[fd00::1]:4318", "[fd00::1]:4318"),
        ("[fd00::1]", "[fd00::1]:4317"),
        ("gw:http", "gw:http:4317"),
    ] {
        assert_eq!(with_port(name), want, "{name}");
    }
}

#[test]
fn a_routing_key_that_does_not_fit_the_pipeline_fails_the_build() {
    let c = config(&format!("{STATIC}routing_key: traceID\n"));
    let err = c
        .build(&ctx("loadbalancing"), Signal::Metrics)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "exporters::loadbalancing: routing_key traceID does not apply to metrics: use service, resource or metric"
        )
    );
    assert!(c.build(&ctx("loadbalancing"), Signal::Logs).is_ok());
}

#[test]
fn a_per_backend_disk_queue_behind_dns_is_warned_about() {
    let warn = |yaml: &str| config(yaml).warnings();
    let dns = "protocol:\n  otlp:\n    sending_queue: {storage: file_storage}\nresolver: {dns: {hostname: gw}}\n";
    assert_eq!(
        warn(dns),
        [
            "protocol.otlp.sending_queue.storage: a backend's queue on disk is stranded when DNS stops naming it (a replaced pod); put the persistent queue in front of the routing instead (`sending_queue` and `retry_on_failure` at the top level, `protocol.otlp.sending_queue.enabled: false`)"
        ]
    );
    // Static backends come back under the same name; the recommended shape warns of nothing.
    let fixed = "protocol:\n  otlp:\n    sending_queue: {storage: file_storage}\nresolver: {static: {hostnames: [gw-0]}}\n";
    assert_eq!(warn(fixed), Vec::<String>::new());
    let front = "protocol:\n  otlp:\n    sending_queue: {enabled: false}\nresolver: {dns: {hostname: gw}}\nsending_queue: {storage: file_storage}\nretry_on_failure: {enabled: true}\n";
    assert_eq!(warn(front), Vec::<String>::new());
    assert_eq!(
        config(front).referenced_extensions(),
        [(
            "sending_queue.storage".to_owned(),
            "file_storage".to_owned()
        )]
    );
}
