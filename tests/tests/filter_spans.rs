//! Spans from the filter in the real Envoy (v8), through the real collector:
//!
//! client → Envoy inbound listener (filter) → app → Envoy outbound listener (filter) → upstream,
//! the filter exporting OTLP/HTTP to the collector (`otlp` HTTP receiver → `file` exporter).
//! Envoy runs the shipped `envoy/filter-demo.yaml` (node metadata as Istio sets it, no native
//! tracing — what Istio generates with `disableSpanReporting: true`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use meshtrace_e2e::client;
use meshtrace_e2e::echo::Received;
use meshtrace_e2e::envoy::Envoy;
use meshtrace_e2e::mesh::Mesh;
use meshtrace_e2e::traces::{FlatSpan, render};

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const WAIT: Duration = Duration::from_secs(60);

fn start(plugin_config: Option<&str>) -> Mesh {
    Mesh::start(plugin_config).unwrap_or_else(|e| panic!("{e}"))
}

fn get(mesh: &Mesh, path: &str, headers: &[(&str, &str)]) -> client::Response {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    client::send(mesh.inbound, "GET", path, "productpage:9080", &headers)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Waits until Envoy's `wasmcustom.meshtrace.*` counters satisfy `done`.
fn wait_stats(
    envoy: &Envoy,
    done: impl Fn(&BTreeMap<String, u64>) -> bool,
) -> BTreeMap<String, u64> {
    let deadline = Instant::now() + WAIT;
    loop {
        let stats = envoy.stats("wasmcustom.meshtrace").unwrap();
        if done(&stats) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "counters never reached the expected values: {stats:?}\nEnvoy log:\n{}",
            envoy.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stat(stats: &BTreeMap<String, u64>, name: &str) -> u64 {
    stats
        .get(&format!("wasmcustom.meshtrace.{name}"))
        .copied()
        .unwrap_or(0)
}

fn by_kind<'a>(spans: &[&'a FlatSpan], kind: &str) -> &'a FlatSpan {
    let found: Vec<&&FlatSpan> = spans.iter().filter(|s| s.kind() == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} span expected:\n{spans:#?}");
    found[0]
}

#[test]
fn two_hops_make_one_trace() {
    let mut mesh = start(None);

    // A caller that is already traced, a failing upstream, and two kinds of noise.
    let ok = get(
        &mesh,
        "/reviews/7?token=secret",
        &[
            (
                "traceparent",
                &format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"),
            ),
            ("tracestate", "congo=t61rcWkgMzE"),
            ("user-agent", "e2e/1.0"),
        ],
    );
    assert_eq!(ok.status, 200);
    let failing = get(&mesh, "/status/503", &[]);
    assert_eq!(failing.status, 503);
    let probe = get(&mesh, "/healthz", &[("user-agent", "kube-probe/1.32")]);
    assert_eq!(probe.status, 200);
    // Dropped by path on both hops (the app forwards it).
    let readyz = get(&mesh, "/readyz", &[]);
    assert_eq!(readyz.status, 200);

    let spans = mesh
        .collector
        .wait_for(WAIT, |s| s.len() >= 4)
        .unwrap_or_else(|e| panic!("{e}"));
    let tree = render(&spans);
    assert_eq!(
        spans.len(),
        4,
        "exactly two spans per traced request:\n{tree}"
    );
    for s in &spans {
        let path = s.attr("url.path").unwrap();
        assert!(
            path != "/healthz" && path != "/readyz",
            "noise was not dropped:\n{tree}"
        );
    }

    // --- The caller's trace, continued across both hops.
    let traced: Vec<&FlatSpan> = spans
        .iter()
        .filter(|s| s.trace_id() == CALLER_TRACE)
        .collect();
    assert_eq!(traced.len(), 2, "{tree}");
    let server = by_kind(&traced, "SERVER");
    let client_span = by_kind(&traced, "CLIENT");
    assert_eq!(
        server.parent_id(),
        CALLER_SPAN,
        "the caller is the parent:\n{tree}"
    );
    assert_eq!(client_span.parent_id(), server.span_id(), "{tree}");
    assert_eq!(server.span.trace_state, "congo=t61rcWkgMzE");
    assert_eq!(client_span.span.trace_state, "congo=t61rcWkgMzE");
    // The upstream got the outbound proxy's span as its parent: nothing else rewrote it.
    let received = Received::from_body(&ok.body).unwrap();
    assert_eq!(
        received.one("traceparent").unwrap(),
        Some(format!("00-{CALLER_TRACE}-{}-01", client_span.span_id()).as_str())
    );
    assert_eq!(
        received.one("tracestate").unwrap(),
        Some("congo=t61rcWkgMzE")
    );
    // Timing: the client hop lies within the server hop.
    let (s, c) = (&server.span, &client_span.span);
    assert!(s.start_time_unix_nano <= c.start_time_unix_nano, "{tree}");
    assert!(c.end_time_unix_nano <= s.end_time_unix_nano, "{tree}");
    assert!(c.start_time_unix_nano < c.end_time_unix_nano);
    // Names by the HTTP conventions (route template from the config), flags sampled + remote.
    assert_eq!(server.span.name, "GET /reviews/{id}");
    assert_eq!(client_span.span.name, "GET /reviews/{id}");
    assert_eq!(server.span.flags, 0x301);
    assert_eq!((server.status(), client_span.status()), ("UNSET", "UNSET"));

    let a = server.attributes();
    let want_server = [
        ("http.request.method", "GET"),
        ("url.scheme", "http"),
        ("url.path", "/reviews/7"),
        ("server.address", "productpage"),
        ("server.port", "9080"),
        ("http.route", "/reviews/{id}"),
        ("http.response.status_code", "200"),
        ("user_agent.original", "e2e/1.0"),
        ("network.protocol.version", "1.1"),
        ("client.address", "127.0.0.1"),
        ("network.peer.address", "127.0.0.1"),
        ("upstream_cluster", "inbound|8080||"),
    ];
    for (k, v) in want_server {
        assert_eq!(a.get(k).map(String::as_str), Some(v), "server {k}: {a:#?}");
    }
    assert!(
        !a.contains_key("url.query"),
        "queries are off by default: {a:#?}"
    );
    // The body the client got, by its content-length as Envoy sent it downstream.
    assert_eq!(a["http.response.body.size"], ok.body.len().to_string());
    assert_eq!(
        a["upstream_address"],
        format!("127.0.0.1:{}", mesh.app.port())
    );
    let b = client_span.attributes();
    let want_client = [
        ("http.request.method", "GET"),
        (
            "url.full",
            "http://reviews.bookinfo.svc.cluster.local:9080/reviews/7",
        ),
        ("server.address", "reviews.bookinfo.svc.cluster.local"),
        ("server.port", "9080"),
        ("http.response.status_code", "200"),
        ("network.peer.address", "127.0.0.1"),
        (
            "upstream_cluster",
            "outbound|8081||reviews.bookinfo.svc.cluster.local",
        ),
    ];
    for (k, v) in want_client {
        assert_eq!(b.get(k).map(String::as_str), Some(v), "client {k}: {b:#?}");
    }
    // The app relays the upstream's body unchanged.
    assert_eq!(b["http.response.body.size"], ok.body.len().to_string());
    assert_eq!(
        b["network.peer.port"],
        mesh.upstream.port().to_string(),
        "the client span's peer is the upstream host"
    );
    // Envoy generated x-request-id at the inbound proxy; the app forwarded it.
    assert_eq!(a["guid:x-request-id"], b["guid:x-request-id"]);
    assert_eq!(a["guid:x-request-id"].len(), 36);

    // --- The failing request: a new trace, both hops ERROR.
    let failed: Vec<&FlatSpan> = spans
        .iter()
        .filter(|s| s.trace_id() != CALLER_TRACE)
        .collect();
    assert_eq!(failed.len(), 2, "{tree}");
    let server = by_kind(&failed, "SERVER");
    let client_span = by_kind(&failed, "CLIENT");
    assert!(
        server.span.parent_span_id.is_empty(),
        "a new trace has a root"
    );
    assert_eq!(client_span.parent_id(), server.span_id());
    for s in [server, client_span] {
        assert_eq!(s.status(), "ERROR", "{tree}");
        assert_eq!(s.attr("http.response.status_code").as_deref(), Some("503"));
        assert_eq!(s.attr("error.type").as_deref(), Some("503"));
        assert_eq!(s.span.name, "GET /status/{code}");
        // The upstream's own 503: the code says it all, no description.
        assert_eq!(s.span.status.as_ref().unwrap().message, "");
    }

    // --- The resource: the node metadata of the bootstrap, as Istio sets it.
    let want_resource = [
        ("service.name", "productpage.bookinfo"),
        ("service.namespace", "bookinfo"),
        ("service.version", "v1"),
        ("k8s.pod.name", "productpage-v1-6b7f6db7b6-x2x9q"),
        ("k8s.namespace.name", "bookinfo"),
        ("k8s.node.name", "demo-node"),
        ("k8s.deployment.name", "productpage-v1"),
        ("istio.canonical_service", "productpage"),
        ("istio.canonical_revision", "v1"),
        ("istio.workload_name", "productpage-v1"),
        ("istio.mesh_id", "cluster.local"),
        ("istio.cluster_id", "Kubernetes"),
        ("telemetry.sdk.name", "meshtrace"),
    ];
    for s in &spans {
        for (k, v) in want_resource {
            assert_eq!(
                s.resource.get(k).map(String::as_str),
                Some(v),
                "resource {k}"
            );
        }
        assert_eq!(s.scope, "meshtrace-filter");
    }

    // --- Envoy's /stats: every span exported, the noise counted as filtered (the probe at
    // the inbound proxy; /readyz at both), nothing dropped or failed, the buffer empty.
    let stats = wait_stats(&mesh.envoy, |s| stat(s, "spans_exported") >= 4);
    assert_eq!(stat(&stats, "spans_exported"), 4, "{stats:?}");
    assert_eq!(stat(&stats, "spans_filtered"), 3, "{stats:?}");
    assert_eq!(stat(&stats, "spans_dropped"), 0, "{stats:?}");
    assert_eq!(stat(&stats, "spans_failed"), 0, "{stats:?}");
    assert_eq!(stat(&stats, "export_failures"), 0, "{stats:?}");
    assert_eq!(stat(&stats, "buffered_spans"), 0, "{stats:?}");
    assert!(stat(&stats, "export_requests") >= 1, "{stats:?}");

    // --- The access log prints the trace id the filter set (item 5), on both listeners.
    let deadline = Instant::now() + WAIT;
    loop {
        let log = mesh.envoy.log();
        let lines = log
            .lines()
            .filter(|l| {
                l.contains("\"GET /reviews/7?token=secret\"")
                    && l.contains(&format!("trace_id={CALLER_TRACE}"))
            })
            .count();
        if lines == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "access log lines with the trace id:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = mesh.envoy.log();
    assert!(!log.contains("panicked"));
    // The stream properties above came from one CEL evaluation per span (`stream.rs`), not
    // from the one-by-one fallback: no evaluation failed, for any span.
    assert!(
        log.contains("stream properties: one CEL evaluation per span"),
        "{log}"
    );
    assert!(
        !log.contains("expression failed") && !log.contains("one by one"),
        "the expression failed:\n{log}"
    );
}

/// With `span.kind` set, the one CEL evaluation reads only what that kind's spans need (no
/// direction; no downstream peer for client spans), and the spans still carry every stream
/// attribute of their kind, on both hops.
#[test]
fn a_configured_kind_evaluates_only_what_its_spans_need() {
    for (kind, properties) in [("server", 5), ("client", 4)] {
        let mut mesh = start(Some(&format!(
            r#"{{"span": {{"kind": "{kind}"}},
               "export": {{"cluster": "outbound|4318||meshtrace-collector.observability.svc.cluster.local", "flush_interval_ms": 100}}}}"#
        )));
        let r = get(&mesh, "/reviews/1", &[]);
        assert_eq!(r.status, 200, "{kind}");
        let spans = mesh
            .collector
            .wait_for(WAIT, |s| s.len() >= 2)
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(spans.len(), 2, "{kind}: {}", render(&spans));
        // (the hop's cluster, its upstream's port)
        for (cluster, upstream) in [
            ("inbound|8080||", mesh.app.port()),
            (
                "outbound|8081||reviews.bookinfo.svc.cluster.local",
                mesh.upstream.port(),
            ),
        ] {
            let span = spans
                .iter()
                .find(|s| s.attr("upstream_cluster").as_deref() == Some(cluster))
                .unwrap_or_else(|| panic!("{kind}: no span for {cluster}: {}", render(&spans)));
            let a = span.attributes();
            assert_eq!(span.kind(), kind.to_uppercase(), "{kind} {cluster}");
            assert_eq!(a["network.protocol.version"], "1.1", "{kind} {cluster}");
            assert_eq!(
                a["upstream_address"],
                format!("127.0.0.1:{upstream}"),
                "{kind} {cluster}"
            );
            assert_eq!(a["network.peer.address"], "127.0.0.1", "{kind} {cluster}");
            match kind {
                "server" => assert_eq!(
                    a.get("client.address").map(String::as_str),
                    Some("127.0.0.1"),
                    "{kind} {cluster}: {a:#?}"
                ),
                _ => {
                    assert_eq!(a.get("client.address"), None, "{kind} {cluster}: {a:#?}");
                    assert_eq!(a["network.peer.port"], upstream.to_string(), "{kind}");
                }
            }
        }
        let log = mesh.envoy.log();
        assert!(
            log.contains(&format!(
                "stream properties: one CEL evaluation per span ({properties} properties)"
            )),
            "{kind}: {log}"
        );
        assert!(
            !log.contains("expression failed") && !log.contains("one by one"),
            "{kind}: the expression failed:\n{log}"
        );
    }
}

/// A gRPC call that fails with HTTP 200 (a trailers-only answer, `grpc-status: 14`): both
/// hops carry the RPC attributes and fail by gRPC's status, which Envoy hands the filter.
#[test]
fn a_failed_grpc_call_fails_its_spans() {
    let mut mesh = start(None);
    let headers: Vec<(&str, &[u8])> = vec![("content-type", b"application/grpc")];
    let r = client::send(
        mesh.inbound,
        "POST",
        "/grpc-status/14",
        "productpage:9080",
        &headers,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200);
    let spans = mesh
        .collector
        .wait_for(WAIT, |s| s.len() >= 2)
        .unwrap_or_else(|e| panic!("{e}"));
    for kind in ["SERVER", "CLIENT"] {
        let s = spans.iter().find(|s| s.kind() == kind).unwrap();
        let a = s.attributes();
        assert_eq!(s.status(), "ERROR", "{kind}: {a:#?}");
        assert_eq!(s.span.status.as_ref().unwrap().message, "echo%20says%20so");
        assert_eq!(a["rpc.system"], "grpc", "{kind}");
        assert_eq!(a["rpc.grpc.status_code"], "14", "{kind}");
        assert_eq!(a["error.type"], "UNAVAILABLE", "{kind}");
        assert_eq!(a["http.response.status_code"], "200", "{kind}");
    }
}

#[test]
fn header_allow_lists_tags_and_envoy_style_names() {
    let mesh = start(Some(
        r#"{"span": {"name": "envoy", "url_query": true,
            "request_headers": ["x-tenant", "x-feature-*"], "response_headers": ["content-type"],
            "tags": {"team": "payments"}},
           "export": {"cluster": "outbound|4318||meshtrace-collector.observability.svc.cluster.local", "flush_interval_ms": 100}}"#,
    ));
    let mut mesh = mesh;
    let r = get(
        &mesh,
        "/search?q=1",
        &[
            ("x-tenant", "acme"),
            ("x-feature-flag", "on"),
            ("x-feature-token", "must-not-appear"),
            ("authorization", "Bearer must-not-appear"),
        ],
    );
    assert_eq!(r.status, 200);
    let spans = mesh
        .collector
        .wait_for(WAIT, |s| s.len() >= 2)
        .unwrap_or_else(|e| panic!("{e}"));
    let server = spans.iter().find(|s| s.kind() == "SERVER").unwrap();
    assert_eq!(server.span.name, "productpage:9080/search");
    let a = server.attributes();
    assert_eq!(a["url.query"], "q=1");
    assert_eq!(a["http.request.header.x-tenant"], "acme");
    assert_eq!(a["http.request.header.x-feature-flag"], "on");
    assert_eq!(a["http.response.header.content-type"], "application/json");
    assert_eq!(a["team"], "payments");
    let all = format!("{spans:?}");
    assert!(
        !all.contains("must-not-appear"),
        "a credential leaked: {a:#?}"
    );
    // The app does not forward x-tenant: the client span has none.
    let client_span = spans.iter().find(|s| s.kind() == "CLIENT").unwrap();
    assert_eq!(client_span.attr("http.request.header.x-tenant"), None);
    assert_eq!(
        client_span.span.name,
        "reviews.bookinfo.svc.cluster.local:9080/search"
    );
}

#[test]
fn export_failures_are_counted_and_never_fail_a_request() {
    // The collector cluster points at a port where nothing listens; a second plugin config
    // names a cluster Envoy does not have.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for (cluster, what) in [
        (
            "outbound|4318||meshtrace-collector.observability.svc.cluster.local",
            "connection refused",
        ),
        ("no-such-cluster", "unknown cluster"),
    ] {
        let config = format!(
            r#"{{"export": {{"cluster": "{cluster}", "flush_interval_ms": 100, "timeout_ms": 2000}}}}"#
        );
        let mesh = Mesh::start_with_collector_port(Some(&config), closed)
            .unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..5 {
            assert_eq!(get(&mesh, "/reviews/1", &[]).status, 200, "{what}");
        }
        let stats = wait_stats(&mesh.envoy, |s| stat(s, "spans_failed") >= 10);
        assert_eq!(stat(&stats, "spans_failed"), 10, "{what}: {stats:?}");
        assert_eq!(stat(&stats, "spans_exported"), 0, "{what}: {stats:?}");
        assert!(stat(&stats, "export_failures") >= 1, "{what}: {stats:?}");
        let log = mesh.envoy.log();
        assert!(
            log.contains("span export"),
            "{what}: the failure is logged:\n{log}"
        );
        assert!(!log.contains("panicked"), "{what}:\n{log}");
    }
}

#[test]
fn a_full_buffer_drops_and_counts_without_delaying_requests() {
    // A collector that accepts connections and never answers: every export stays in flight
    // until its timeout, so the per-VM buffer fills up.
    let black_hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = black_hole.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for conn in black_hole.incoming().take(64) {
            match conn {
                Ok(c) => conns.push(c),
                Err(_) => break,
            }
        }
    });
    let config = r#"{"export": {"cluster": "outbound|4318||meshtrace-collector.observability.svc.cluster.local",
        "batch_size": 1, "max_buffered_spans": 1, "flush_interval_ms": 50, "timeout_ms": 300000}}"#;
    let mesh =
        Mesh::start_with_collector_port(Some(config), port).unwrap_or_else(|e| panic!("{e}"));
    let requests = 20;
    for _ in 0..requests {
        assert_eq!(get(&mesh, "/reviews/1", &[]).status, 200);
    }
    // Per worker VM (2 workers): 4 exports in flight + 1 span buffered, the rest dropped.
    let spans = 2 * requests;
    let stats = wait_stats(&mesh.envoy, |s| {
        stat(s, "spans_dropped") >= spans - 2 * (4 + 1)
    });
    assert!(stat(&stats, "buffered_spans") <= 2, "bounded: {stats:?}");
    assert_eq!(stat(&stats, "spans_exported"), 0);
    drop(mesh);
    drop(held);
}

/// The shipped file as users run it (`func-e run -c envoy/filter-demo.yaml`): only the
/// `.wasm` path differs (the tests may build it elsewhere); Envoy's validate mode loads the
/// filter and its configuration without binding the fixed ports.
#[test]
fn the_shipped_envoy_config_validates_as_users_run_it() {
    use meshtrace_e2e::envoy::{DEMO_CONFIG, DemoConfig, envoy_binary};
    use meshtrace_e2e::wasm::filter_wasm;
    let wasm = filter_wasm().unwrap_or_else(|e| panic!("{e}"));
    let template = DemoConfig::template().unwrap();
    let config = template.replace(
        "filename: target/wasm32-wasip1/wasm-release/meshtrace_filter.wasm",
        &format!("filename: {}", wasm.display()),
    );
    let dir = meshtrace_e2e::process::TempDir::new("validate").unwrap();
    let path = dir.path().join("filter-demo.yaml");
    std::fs::write(&path, config).unwrap();
    let out = std::process::Command::new(envoy_binary().unwrap())
        .args(["--mode", "validate", "--disable-hot-restart", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{DEMO_CONFIG} does not validate:\n{log}"
    );
    assert!(log.contains("OK"), "{log}");
    assert!(
        log.contains("configured: mode=tracer"),
        "the filter loaded its config:\n{log}"
    );
}

/// `(metric name, attributes, value)` of every sum data point in an OTLP JSON metrics request.
fn sum_points(metrics: &serde_json::Value) -> Vec<(String, BTreeMap<String, String>, String)> {
    let mut out = Vec::new();
    for rm in metrics["resourceMetrics"].as_array().into_iter().flatten() {
        for sm in rm["scopeMetrics"].as_array().into_iter().flatten() {
            for m in sm["metrics"].as_array().into_iter().flatten() {
                for p in m["sum"]["dataPoints"].as_array().into_iter().flatten() {
                    let attrs = p["attributes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| {
                            let v = &a["value"];
                            let text = v["stringValue"]
                                .as_str()
                                .map(str::to_owned)
                                .or_else(|| v["boolValue"].as_bool().map(|b| b.to_string()))
                                .or_else(|| v["intValue"].as_str().map(str::to_owned))
                                .unwrap_or_default();
                            (a["key"].as_str().unwrap_or_default().to_owned(), text)
                        })
                        .collect();
                    let value = p["asInt"].as_str().unwrap_or_default().to_owned();
                    out.push((
                        m["name"].as_str().unwrap_or_default().to_owned(),
                        attrs,
                        value,
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn the_sidecars_spans_make_red_metrics_and_a_service_graph() {
    let mesh = start(None);
    // Untraced callers: the proxy starts each trace (its SERVER span is a root) and calls
    // reviews, which has no sidecar here (its CLIENT span never meets a SERVER span).
    for path in ["/reviews/1", "/reviews/2", "/status/503"] {
        get(&mesh, path, &[]);
    }
    let deadline = Instant::now() + WAIT;
    let points = loop {
        let points = mesh
            .collector
            .latest_metrics()
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|m| sum_points(&m))
            .unwrap_or_default();
        let edges: u64 = points
            .iter()
            .filter(|(n, _, _)| n == "traces_service_graph_request_total")
            .map(|(_, _, v)| v.parse::<u64>().unwrap_or(0))
            .sum();
        if edges >= 6 {
            break points;
        }
        assert!(
            Instant::now() < deadline,
            "no service graph of 6 calls in {WAIT:?}: {points:#?}\n{}",
            mesh.collector.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let spans = mesh.collector.spans().unwrap_or_else(|e| panic!("{e}"));
    let service = spans[0].resource["service.name"].clone();
    let get_attr = |a: &BTreeMap<String, String>, k: &str| a.get(k).cloned().unwrap_or_default();

    // The service graph: user -> the app (a root SERVER span's caller), the app -> reviews
    // (named by the CLIENT span's server.address), one failed call.
    let mut edges: Vec<(String, String, String, String, String)> = points
        .iter()
        .filter(|(n, _, _)| n == "traces_service_graph_request_total")
        .map(|(_, a, v)| {
            (
                get_attr(a, "client"),
                get_attr(a, "server"),
                get_attr(a, "connection_type"),
                get_attr(a, "failed"),
                v.clone(),
            )
        })
        .collect();
    edges.sort();
    let e = |c: &str, s: &str, failed: bool, n: &str| {
        (
            c.to_owned(),
            s.to_owned(),
            "virtual_node".to_owned(),
            failed.to_string(),
            n.to_owned(),
        )
    };
    let reviews = "reviews.bookinfo.svc.cluster.local";
    let mut want = vec![
        e(&service, reviews, false, "2"),
        e(&service, reviews, true, "1"),
        e("user", &service, false, "2"),
        e("user", &service, true, "1"),
    ];
    want.sort();
    assert_eq!(edges, want);

    // RED metrics: the inbound SERVER spans per status code.
    let mut calls: Vec<(String, String, String)> = points
        .iter()
        .filter(|(n, a, _)| {
            n == "traces.span.metrics.calls"
                && a.get("span.kind").map(String::as_str) == Some("SPAN_KIND_SERVER")
        })
        .map(|(_, a, v)| {
            (
                get_attr(a, "service.name"),
                get_attr(a, "http.response.status_code"),
                v.clone(),
            )
        })
        .collect();
    calls.sort();
    assert_eq!(
        calls,
        [
            (service.clone(), "200".to_owned(), "2".to_owned()),
            (service.clone(), "503".to_owned(), "1".to_owned()),
        ]
    );

    // Tail sampling on the same spans keeps the one failed trace, whole: its SERVER span and
    // the CLIENT span of the call that failed, and nothing of the two that succeeded. Its
    // `decision_wait` is an hour: each trace is decided 300 ms after its root arrived (the
    // SERVER span of the sidecar the request entered, which has no parent), so this also
    // shows that the filter's root spans are the roots the Collector's rule finds.
    let failed: Vec<&FlatSpan> = spans
        .iter()
        .filter(|s| s.span.status.as_ref().is_some_and(|st| st.code == 2))
        .collect();
    assert!(!failed.is_empty(), "no failed span among {spans:#?}");
    let failed_trace = failed[0].span.trace_id.clone();
    let mut want: Vec<Vec<u8>> = spans
        .iter()
        .filter(|s| s.span.trace_id == failed_trace)
        .map(|s| s.span.span_id.clone())
        .collect();
    want.sort();
    assert_eq!(want.len(), 2, "the failed trace: {spans:#?}");
    let deadline = Instant::now() + WAIT;
    let kept = loop {
        let kept = mesh
            .collector
            .kept_spans()
            .unwrap_or_else(|e| panic!("{e}"));
        if kept.len() >= want.len() {
            break kept;
        }
        assert!(
            Instant::now() < deadline,
            "tail sampling kept {} spans in {WAIT:?}\n{}",
            kept.len(),
            mesh.collector.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut got: Vec<Vec<u8>> = kept.iter().map(|s| s.span.span_id.clone()).collect();
    got.sort();
    assert_eq!(got, want);
}
