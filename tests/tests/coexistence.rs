//! The filter next to Envoy's native OpenTelemetry tracer, in the real Envoy, with the HTTP
//! connection manager configured the way istiod generates it for each Telemetry setting:
//!
//! - native tracing on (a Telemetry with a provider) and the filter in `tracer` mode: what
//!   happens, recorded as observed — the incoherent combination the manifests never ship;
//! - `enricher` mode: native tracing on, the filter hands attributes to the native span
//!   through request headers read by `custom_tags` (Istio `customTags: {header: …}`);
//! - `tracer` mode as shipped (`disableSpanReporting: true`: istiod writes no `tracing` block)
//!   is `filter_spans.rs`, which runs the shipped demo config that has no `tracing` block.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use meshtrace_e2e::client;
use meshtrace_e2e::collector::Collector;
use meshtrace_e2e::echo::{EchoServer, Received};
use meshtrace_e2e::envoy::Envoy;
use meshtrace_e2e::traces::{FlatSpan, render};
use meshtrace_e2e::wasm::filter_wasm;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const WAIT: Duration = Duration::from_secs(60);

/// A sidecar-like inbound listener with istiod's HCM `tracing` block for an OpenTelemetry
/// provider (gRPC to the collector, 100 % sampling, `custom_tags` from request headers) and
/// the meshtrace filter first in the chain with `plugin_config`.
fn bootstrap(plugin_config: &str, upstream: u16, collector: &Collector) -> String {
    let wasm = filter_wasm().unwrap_or_else(|e| panic!("{e}"));
    let wasm = wasm.display();
    let plugin_config = plugin_config.replace('\'', "''");
    format!(
        r#"
node:
  id: sidecar~127.0.0.1~productpage-v1-x.bookinfo~bookinfo.svc.cluster.local
  cluster: productpage.bookinfo
  metadata: {{NAMESPACE: bookinfo, WORKLOAD_NAME: productpage-v1, LABELS: {{app: productpage}}}}
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
static_resources:
  listeners:
  - name: inbound
    traffic_direction: INBOUND
    address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: inbound
          tracing:
            random_sampling: {{value: 100}}
            custom_tags:
            - tag: http.route
              request_header: {{name: x-meshtrace-route, default_value: ""}}
            - tag: meshtrace.workload
              request_header: {{name: x-meshtrace-workload, default_value: ""}}
            provider:
              name: envoy.tracers.opentelemetry
              typed_config:
                "@type": type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig
                grpc_service:
                  # istiod sets the authority: the default (the cluster name) has '|', which
                  # HTTP/2 servers refuse.
                  envoy_grpc:
                    cluster_name: "outbound|4317||meshtrace-collector.observability.svc.cluster.local"
                    authority: meshtrace-collector.observability.svc.cluster.local
                  timeout: 5s
                service_name: productpage.bookinfo
          route_config:
            virtual_hosts:
            - name: app
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                route: {{cluster: "inbound|8080||"}}
          http_filters:
          - name: meshtrace
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: meshtrace
                root_id: meshtrace
                failure_policy: FAIL_OPEN
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: '{plugin_config}'
                vm_config:
                  vm_id: meshtrace
                  runtime: envoy.wasm.runtime.v8
                  code: {{local: {{filename: {wasm}}}}}
          - name: envoy.filters.http.router
            typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
  clusters:
  - name: "inbound|8080||"
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: "inbound|8080||"
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream}}}}}}}}}]}}]
  - name: "outbound|4317||meshtrace-collector.observability.svc.cluster.local"
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{http2_protocol_options: {{}}}}
    load_assignment:
      cluster_name: "outbound|4317||meshtrace-collector.observability.svc.cluster.local"
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {grpc}}}}}}}}}]}}]
  - name: "outbound|4318||meshtrace-collector.observability.svc.cluster.local"
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: "outbound|4318||meshtrace-collector.observability.svc.cluster.local"
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {http}}}}}}}}}]}}]
"#,
        grpc = collector.grpc_port(),
        http = collector.http_port(),
    )
}

struct Setup {
    collector: Collector,
    envoy: Envoy,
    port: u16,
    _upstream: EchoServer,
}

fn setup(plugin_config: &str) -> Setup {
    let collector = Collector::start(0).unwrap_or_else(|e| panic!("{e}"));
    let upstream = EchoServer::start(0).unwrap();
    let envoy = Envoy::start(&bootstrap(plugin_config, upstream.port(), &collector))
        .unwrap_or_else(|e| panic!("{e}"));
    let port = envoy.listener_port("inbound").unwrap();
    Setup {
        collector,
        envoy,
        port,
        _upstream: upstream,
    }
}

fn call(port: u16) -> Received {
    let tp = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    let r = client::send(
        port,
        "GET",
        "/reviews/7",
        "productpage:9080",
        &[("traceparent", tp.as_bytes())],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    Received::from_body(&r.body).unwrap()
}

fn parent_id(traceparent: &str) -> &str {
    traceparent.split('-').nth(2).unwrap()
}

/// What happens with both tracers on one proxy (Istio: a Telemetry with a provider, plus the
/// filter in tracer mode). Observed in Envoy 1.40:
/// - Envoy's tracer extracts the caller's context before any filter runs, and its router
///   writes its own `traceparent` after the filter: the upstream's parent is Envoy's span,
///   never the filter's;
/// - both report a span for the same hop, both children of the caller: the hop is counted
///   twice and the filter's span has no children — an orphan sibling in every trace.
#[test]
fn native_tracer_and_filter_as_tracer_count_every_hop_twice() {
    let mut s = setup(
        r#"{"mode": "tracer", "export": {"cluster": "outbound|4318||meshtrace-collector.observability.svc.cluster.local", "flush_interval_ms": 100}}"#,
    );
    let received = call(s.port);
    let spans = s
        .collector
        .wait_for(WAIT, |spans| spans.len() >= 2)
        .unwrap_or_else(|e| {
            panic!(
                "{e}\n{:?}\n{:?}\n{}",
                s.envoy.stats("tracing").unwrap(),
                s.envoy
                    .stats("4317")
                    .unwrap()
                    .into_iter()
                    .filter(|(k, v)| *v > 0 && k.contains("rq"))
                    .collect::<Vec<_>>(),
                s.collector.log()
            )
        });
    let tree = render(&spans);
    let filter: Vec<&FlatSpan> = spans
        .iter()
        .filter(|s| s.scope == "meshtrace-filter")
        .collect();
    let native: Vec<&FlatSpan> = spans
        .iter()
        .filter(|s| s.scope != "meshtrace-filter")
        .collect();
    assert_eq!(
        (filter.len(), native.len()),
        (1, 1),
        "one span from each tracer:\n{tree}"
    );
    let (f, n) = (filter[0], native[0]);
    // Same trace, same parent (the caller): two spans for one hop.
    assert_eq!(
        (f.trace_id(), n.trace_id()),
        (CALLER_TRACE.into(), CALLER_TRACE.into())
    );
    assert_eq!(
        (f.parent_id(), n.parent_id()),
        (CALLER_SPAN.into(), CALLER_SPAN.into())
    );
    assert_eq!((f.kind(), n.kind()), ("SERVER", "SERVER"), "{tree}");
    // The upstream continues Envoy's span; the filter's rewrite was overwritten.
    let tp = received.one("traceparent").unwrap().unwrap();
    assert_eq!(parent_id(tp), n.span_id(), "{tp}\n{tree}");
    assert_ne!(parent_id(tp), f.span_id());
    assert!(!s.envoy.log().contains("panicked"));
    s.envoy.ensure_running().unwrap();
}

/// Enricher mode (manifests `modes/enricher`): Envoy's tracer makes the only span and owns the
/// context; the filter rewrites nothing, exports nothing, and its route and workload reach
/// the native span through the request headers `custom_tags` read.
#[test]
fn enricher_mode_hands_attributes_to_the_native_span() {
    let mut s = setup(r#"{"mode": "enricher", "span": {"routes": ["/reviews/{id}"]}}"#);
    let received = call(s.port);
    s.collector
        .wait_for(WAIT, |spans| !spans.is_empty())
        .unwrap_or_else(|e| panic!("{e}"));
    // Give a stray filter export the time to arrive, should there be one.
    std::thread::sleep(Duration::from_millis(1500));
    let spans = s.collector.spans().unwrap();
    let tree = render(&spans);
    assert_eq!(spans.len(), 1, "one span per hop, from Envoy:\n{tree}");
    let n = &spans[0];
    assert_ne!(n.scope, "meshtrace-filter");
    assert_eq!(n.trace_id(), CALLER_TRACE);
    assert_eq!(n.parent_id(), CALLER_SPAN);
    assert_eq!(
        n.attr("http.route").as_deref(),
        Some("/reviews/{id}"),
        "{n:#?}"
    );
    assert_eq!(
        n.attr("meshtrace.workload").as_deref(),
        Some("productpage-v1")
    );
    // The upstream's parent is the native span: one coherent trace.
    let tp = received.one("traceparent").unwrap().unwrap();
    assert_eq!(parent_id(tp), n.span_id(), "{tp}");
    assert_eq!(
        received.one("x-meshtrace-route").unwrap(),
        Some("/reviews/{id}")
    );
    let stats = s.envoy.stats("wasmcustom.meshtrace").unwrap();
    assert_eq!(
        stats.get("wasmcustom.meshtrace.spans_exported"),
        None,
        "{stats:?}"
    );
    s.envoy.ensure_running().unwrap();
}
