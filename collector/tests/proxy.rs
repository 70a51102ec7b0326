//! Exporters behind an HTTP egress proxy, as in clusters whose only way out is one: the
//! `otlp_http` exporter's `proxy_url` (a CONNECT tunnel to an https:// backend, with the
//! proxy's credentials), `HTTP_PROXY` for a plain http:// backend (the request in absolute
//! form) and `HTTPS_PROXY` for the gRPC exporter (a tunnel, TLS or not, as grpc-go), all
//! through a real proxy to a real collector.

// Test code: failing loudly is the point (clippy.toml only exempts #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::certs::Certs;
use common::*;

/// The span ids in a file exporter's output, in order.
fn span_ids(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for line in text.lines() {
        let req: serde_json::Value = serde_json::from_str(line).unwrap();
        for rs in req["resourceSpans"].as_array().into_iter().flatten() {
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for s in ss["spans"].as_array().into_iter().flatten() {
                    ids.push(s["spanId"].as_str().unwrap().to_owned());
                }
            }
        }
    }
    ids.sort();
    ids
}

#[test]
fn exporters_reach_their_backend_through_an_http_proxy() {
    let d = TempDir::new();
    let certs = Certs::generate(&d.0);
    // The backend: OTLP/HTTP over TLS, OTLP/HTTP in plaintext and OTLP/gRPC, into a file.
    let backend = Collector::start_with(
        &format!(
            r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
        tls:
          cert_file: {cert}
          key_file: {key}
      grpc:
        endpoint: 127.0.0.1:0
  otlp/plain:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  file:
    path: {{dir}}/out.jsonl
service:
  pipelines:
    traces:
      receivers: [otlp, otlp/plain]
      exporters: [file]
{TEST_TELEMETRY}"#,
            cert = certs.server_cert.display(),
            key = certs.server_key.display(),
        ),
        &[],
        &[],
    );
    let tls_port = backend
        .addr("receivers::otlp/http")
        .rsplit_once(':')
        .unwrap()
        .1
        .to_owned();
    let grpc: std::net::SocketAddr = backend.addr("receivers::otlp/grpc").parse().unwrap();
    let plain: std::net::SocketAddr = backend.addr("receivers::otlp/plain/http").parse().unwrap();
    // The proxy knows the backend by names the collector cannot resolve itself.
    let proxy = common::proxy::start(&[("grpc.backend.test", grpc), ("plain.backend.test", plain)]);
    let p = proxy.addr;
    let agent = Collector::start_with(
        &format!(
            r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlp_http/tunnel:
    endpoint: https://localhost:{tls_port}
    proxy_url: http://agent:s3cr%40t@{p}
    tls:
      ca_file: {ca}
    retry_on_failure: {{enabled: false}}
  otlp_http/forward:
    endpoint: http://plain.backend.test:{plain_port}
    retry_on_failure: {{enabled: false}}
  otlp_grpc:
    endpoint: grpc.backend.test:{grpc_port}
    tls: {{insecure: true}}
    retry_on_failure: {{enabled: false}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_http/tunnel, otlp_http/forward, otlp_grpc]
{TEST_TELEMETRY}"#,
            ca = certs.ca.display(),
            plain_port = plain.port(),
            grpc_port = grpc.port(),
        ),
        &[],
        &[
            ("HTTP_PROXY", &format!("http://{p}")),
            ("HTTPS_PROXY", &format!("http://{p}")),
        ],
    );
    let (status, _, _) = http(
        "POST",
        &format!("{}/v1/traces", agent.http_url()),
        &[("content-type", "application/x-protobuf")],
        spans_request("egress", 1..3),
    )
    .unwrap();
    assert_eq!(status, 200);
    // Each exporter delivered both spans.
    let out = backend.dir.path("out.jsonl");
    let ids = eventually("six spans at the backend", || {
        let ids = span_ids(&std::fs::read_to_string(&out).ok()?);
        (ids.len() >= 6).then_some(ids)
    });
    assert_eq!(
        ids,
        [
            "0000000000000001",
            "0000000000000001",
            "0000000000000001",
            "0000000000000002",
            "0000000000000002",
            "0000000000000002"
        ]
    );
    let mut seen = proxy.seen.lock().unwrap().clone();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        vec![
            (
                format!("CONNECT grpc.backend.test:{} HTTP/1.1", grpc.port()),
                None
            ),
            (
                format!("CONNECT localhost:{tls_port} HTTP/1.1"),
                // agent:s3cr@t
                Some("Basic YWdlbnQ6czNjckB0".to_owned())
            ),
            (
                format!(
                    "POST http://plain.backend.test:{}/v1/traces HTTP/1.1",
                    plain.port()
                ),
                None
            ),
        ]
    );
    let logs = agent.log_text();
    assert!(
        !logs.contains("s3cr"),
        "the proxy's password is in the logs"
    );
}
