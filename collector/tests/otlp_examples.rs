//! The official OTLP examples (`../shared/otlp-examples`) go in over HTTP (JSON, protobuf,
//! gzip) and over gRPC (through a second collector), and come out of the `file` exporter
//! intact: the decoded data is compared, not the bytes.

// Test code: failing loudly is the point (clippy.toml only exempts #[test] functions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use meshtrace_collector::otlp::Signal;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;
use std::path::Path;

const FILE_PIPELINES: &str = r#"
exporters:
  file/traces:
    path: {dir}/traces.jsonl
  file/metrics:
    path: {dir}/metrics.jsonl
  file/logs:
    path: {dir}/logs.jsonl
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file/traces]
    metrics:
      receivers: [otlp]
      exporters: [file/metrics]
    logs:
      receivers: [otlp]
      exporters: [file/logs]
"#;

fn spans(p: &Path) -> Vec<ResourceSpans> {
    lines(p)
        .iter()
        .flat_map(|l| {
            serde_json::from_str::<ExportTraceServiceRequest>(l)
                .unwrap()
                .resource_spans
        })
        .collect()
}
fn metrics(p: &Path) -> Vec<ResourceMetrics> {
    lines(p)
        .iter()
        .flat_map(|l| {
            serde_json::from_str::<ExportMetricsServiceRequest>(l)
                .unwrap()
                .resource_metrics
        })
        .collect()
}
fn logs(p: &Path) -> Vec<ResourceLogs> {
    lines(p)
        .iter()
        .flat_map(|l| {
            serde_json::from_str::<ExportLogsServiceRequest>(l)
                .unwrap()
                .resource_logs
        })
        .collect()
}

fn expected_spans() -> Vec<ResourceSpans> {
    let from_json: ExportTraceServiceRequest =
        serde_json::from_slice(&example("trace.json")).unwrap();
    let from_pb = ExportTraceServiceRequest::decode(example("trace.pb").as_slice()).unwrap();
    assert_eq!(from_json, from_pb, "the reference files disagree");
    from_pb.resource_spans
}
fn expected_metrics() -> Vec<ResourceMetrics> {
    ExportMetricsServiceRequest::decode(example("metrics.pb").as_slice())
        .unwrap()
        .resource_metrics
}
fn expected_logs() -> Vec<ResourceLogs> {
    let mut l = ExportLogsServiceRequest::decode(example("logs.pb").as_slice())
        .unwrap()
        .resource_logs;
    l.extend(
        ExportLogsServiceRequest::decode(example("events.pb").as_slice())
            .unwrap()
            .resource_logs,
    );
    l
}

fn post(url: &str, ctype: &str, gz: bool, body: Vec<u8>) {
    let mut h = vec![("content-type", ctype)];
    let body = if gz {
        h.push(("content-encoding", "gzip"));
        gzip(&body)
    } else {
        body
    };
    let (status, headers, resp) = http("POST", url, &h, body).unwrap();
    assert_eq!(status, 200, "{url}: {}", String::from_utf8_lossy(&resp));
    assert_eq!(headers["content-type"], ctype);
}

fn repeat<T: Clone>(v: Vec<T>, n: usize) -> Vec<T> {
    (0..n).flat_map(|_| v.clone()).collect()
}

#[test]
fn examples_over_http_arrive_intact_in_the_file() {
    let config = format!(
        "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\n{FILE_PIPELINES}{TEST_TELEMETRY}"
    );
    let mut c = Collector::start(&config);
    let base = c.http_url();
    for (path, names) in [
        ("/v1/traces", vec!["trace"]),
        ("/v1/metrics", vec!["metrics"]),
        ("/v1/logs", vec!["logs", "events"]),
    ] {
        for name in names {
            let url = format!("{base}{path}");
            post(
                &url,
                "application/json",
                false,
                example(&format!("{name}.json")),
            );
            post(
                &url,
                "application/x-protobuf",
                false,
                example(&format!("{name}.pb")),
            );
            post(
                &url,
                "application/x-protobuf",
                true,
                example(&format!("{name}.pb")),
            );
            post(
                &url,
                "application/json",
                true,
                example(&format!("{name}.json")),
            );
        }
    }
    c.stop();
    assert_eq!(
        spans(&c.dir.path("traces.jsonl")),
        repeat(expected_spans(), 4)
    );
    assert_eq!(
        metrics(&c.dir.path("metrics.jsonl")),
        repeat(expected_metrics(), 4)
    );
    let got = logs(&c.dir.path("logs.jsonl"));
    let (logs_only, events_only) = {
        let l = ExportLogsServiceRequest::decode(example("logs.pb").as_slice())
            .unwrap()
            .resource_logs;
        let e = ExportLogsServiceRequest::decode(example("events.pb").as_slice())
            .unwrap()
            .resource_logs;
        (l, e)
    };
    let mut want = repeat(logs_only, 4);
    want.extend(repeat(events_only, 4));
    assert_eq!(got, want);
    assert_eq!(expected_logs().len() * 4, got.len());
}

#[test]
fn examples_over_grpc_pass_through_a_second_collector_intact() {
    let backend = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\n{FILE_PIPELINES}{TEST_TELEMETRY}"
    ));
    let front_cfg = format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  batch:
exporters:
  otlp:
    endpoint: {}
    tls:
      insecure: true
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
{TEST_TELEMETRY}"#,
        backend.addr("receivers::otlp/grpc")
    );
    let mut front = Collector::start(&front_cfg);
    let url = front.grpc_url();
    grpc_export(&url, Signal::Traces, example("trace.pb"), false).unwrap();
    grpc_export(&url, Signal::Traces, example("trace.pb"), true).unwrap();
    grpc_export(&url, Signal::Metrics, example("metrics.pb"), false).unwrap();
    grpc_export(&url, Signal::Logs, example("logs.pb"), true).unwrap();
    grpc_export(&url, Signal::Logs, example("events.pb"), false).unwrap();
    // A clean stop flushes the batch processor and drains the exporter queue.
    front.stop();
    let mut backend = backend;
    eventually("the backend to write everything", || {
        (spans(&backend.dir.path("traces.jsonl")).len() == 2
            && logs(&backend.dir.path("logs.jsonl")).len() == expected_logs().len())
        .then_some(())
    });
    backend.stop();
    assert_eq!(
        spans(&backend.dir.path("traces.jsonl")),
        repeat(expected_spans(), 2)
    );
    assert_eq!(
        metrics(&backend.dir.path("metrics.jsonl")),
        expected_metrics()
    );
    let mut got = logs(&backend.dir.path("logs.jsonl"));
    let mut want = expected_logs();
    // The batch processor may merge the two logs requests: compare as multisets.
    let key = |r: &ResourceLogs| format!("{r:?}");
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want);
}
