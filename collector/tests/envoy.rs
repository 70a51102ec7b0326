//! Envoy's own OpenTelemetry tracer — the path Istio uses — exporting over gRPC from the
//! pinned real Envoy (`.venv/bin/envoy`, or `ENVOY_BIN`) delivers its spans to the
//! collector's `file` exporter.

// Test code: failing loudly is the point (clippy.toml only exempts #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

fn envoy_bin() -> PathBuf {
    let p =
        std::env::var_os("ENVOY_BIN").map_or_else(|| root().join(".venv/bin/envoy"), PathBuf::from);
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup.sh",
        p.display()
    );
    p
}

struct Envoy(Child);

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bootstrap(collector_grpc: &str) -> String {
    let (host, port) = collector_grpc.rsplit_once(':').unwrap();
    format!(
        r#"
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
static_resources:
  listeners:
  - name: ingress
    address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          generate_request_id: true
          tracing:
            provider:
              name: envoy.tracers.opentelemetry
              typed_config:
                "@type": type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig
                grpc_service:
                  envoy_grpc: {{cluster_name: otel_collector}}
                  timeout: 5s
                service_name: envoy-under-test
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                direct_response: {{status: 200, body: {{inline_string: "ok"}}}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
  clusters:
  - name: otel_collector
    type: STATIC
    connect_timeout: 2s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{http2_protocol_options: {{}}}}
    load_assignment:
      cluster_name: otel_collector
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: {host}, port_value: {port}}}}}}}
"#
    )
}

#[test]
fn envoy_native_tracer_spans_reach_the_file_exporter() {
    let bin = envoy_bin();
    let mut c = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\nexporters:\n  file:\n    path: {{dir}}/spans.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file]\n{TEST_TELEMETRY}"
    ));
    let dir = TempDir::new();
    std::fs::write(
        dir.path("envoy.yaml"),
        bootstrap(&c.addr("receivers::otlp/grpc")),
    )
    .unwrap();
    let admin_file = dir.path("admin.txt");
    let _envoy = Envoy(
        Command::new(&bin)
            .arg("-c")
            .arg(dir.path("envoy.yaml"))
            .args([
                "--disable-hot-restart",
                "--concurrency",
                "1",
                "-l",
                "warning",
                "--admin-address-path",
            ])
            .arg(&admin_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let admin = eventually("the Envoy admin address", || {
        std::fs::read_to_string(&admin_file)
            .ok()
            .filter(|s| !s.trim().is_empty())
    });
    let listener = eventually("the Envoy listener", || {
        let (_, _, body) = http(
            "GET",
            &format!("http://{}/listeners?format=json", admin.trim()),
            &[],
            vec![],
        )
        .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
        let sa = &v["listener_statuses"][0]["local_address"]["socket_address"];
        Some(format!(
            "{}:{}",
            sa["address"].as_str()?,
            sa["port_value"].as_u64()?
        ))
    });
    const REQUESTS: usize = 12;
    for i in 0..REQUESTS {
        let (status, _, _) =
            http("GET", &format!("http://{listener}/orders/{i}"), &[], vec![]).unwrap();
        assert_eq!(status, 200);
    }
    let path = c.dir.path("spans.jsonl");
    let spans = eventually("Envoy's spans in the file", || {
        let spans: Vec<_> = lines(&path)
            .iter()
            .flat_map(|l| {
                serde_json::from_str::<ExportTraceServiceRequest>(l)
                    .unwrap()
                    .resource_spans
            })
            .collect();
        (spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum::<usize>()
            >= REQUESTS)
            .then_some(spans)
    });
    c.stop();
    let mut urls = Vec::new();
    for rs in &spans {
        let service = rs
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
            .and_then(|a| a.value.as_ref()?.value.clone());
        assert_eq!(service, Some(V::StringValue("envoy-under-test".into())));
        for s in rs.scope_spans.iter().flat_map(|s| &s.spans) {
            assert_eq!((s.trace_id.len(), s.span_id.len()), (16, 8));
            assert_eq!(s.name, "ingress");
            if let Some(V::StringValue(u)) = s
                .attributes
                .iter()
                .find(|a| a.key == "http.url")
                .and_then(|a| a.value.as_ref()?.value.clone())
            {
                urls.push(u);
            }
        }
    }
    urls.sort();
    let mut want: Vec<String> = (0..REQUESTS)
        .map(|i| format!("http://{listener}/orders/{i}"))
        .collect();
    want.sort();
    assert_eq!(urls, want, "one span per request, carrying its URL");
}
