//! The processors in the real binary. The seed pipeline (issue 5): OTLP in → `filter` with
//! the four conditions users run today → `attributes` upsert `cluster` → `batch` → `file`,
//! with a table of spans that must and must not reach the file; and the `memory_limiter`
//! refusing with the status codes clients retry on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use meshtrace_collector::otlp::Signal;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

const SEED: &str = r#"receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  filter:
    error_mode: ignore
    traces:
      span:
        - IsMatch(attributes["upstream_cluster"], "grafana/.*")
        - attributes["http.route"] == "/livez"
        - attributes["user_agent.original"] == "kube-probe//"
        - name == "OperationHandler.handle"
  attributes:
    actions:
      - key: cluster
        value: tap-sandbox
        action: upsert
  batch:
    send_batch_size: 10000
    timeout: 10s
exporters:
  file:
    path: {dir}/spans.jsonl
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [filter, attributes, batch]
      exporters: [file]
"#;

fn s(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn i(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

/// (span name, attributes, reaches the file).
fn table() -> Vec<(&'static str, Vec<KeyValue>, bool)> {
    vec![
        // Dropped: each of the four conditions.
        (
            "grafana dashboard",
            vec![
                s("upstream_cluster", "grafana/grafana_80"),
                s("http.url", "https://grafana.tapsandbox.com/api/health"),
            ],
            false,
        ),
        (
            "grafana websocket",
            vec![s("upstream_cluster", "grafana/grafana-live")],
            false,
        ),
        (
            "liveness probe",
            vec![
                s("http.route", "/livez"),
                s("user_agent.original", "kube-probe/1.29"),
            ],
            false,
        ),
        (
            "kube probe",
            vec![
                s("user_agent.original", "kube-probe//"),
                s("http.route", "/healthz"),
            ],
            false,
        ),
        (
            "OperationHandler.handle",
            vec![s("http.route", "/entries/{entryId}")],
            false,
        ),
        // Kept: near misses and ordinary traffic.
        (
            "grafana elsewhere",
            vec![s("upstream_cluster", "apps/grafana-docs")],
            true,
        ),
        (
            "readiness probe",
            vec![
                s("http.route", "/readyz"),
                s("user_agent.original", "kube-probe/1.29"),
            ],
            true,
        ),
        (
            "GET /entries/2",
            vec![
                s("http.route", "/entries/{entryId}"),
                s("upstream_cluster", "apps_blog-api-00002_80"),
                i("http.status_code", 200),
            ],
            true,
        ),
        ("operationhandler.handle", vec![], true),
        ("route as int", vec![i("http.route", 7)], true),
        // An existing cluster attribute is replaced in place.
        (
            "already tagged",
            vec![s("cluster", "other"), s("zone", "a")],
            true,
        ),
    ]
}

fn request(first: usize, rows: &[(&'static str, Vec<KeyValue>, bool)]) -> Vec<u8> {
    let spans = rows
        .iter()
        .enumerate()
        .map(|(n, (name, attrs, _))| Span {
            trace_id: vec![7; 16],
            span_id: ((first + n + 1) as u64).to_be_bytes().to_vec(),
            name: (*name).into(),
            kind: 2,
            start_time_unix_nano: 1_706_175_283_018_000_000,
            end_time_unix_nano: 1_706_175_283_056_000_000,
            attributes: attrs.clone(),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", "contour")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec()
}

/// The cluster tag as the attributes processor writes it: in place, or appended.
fn tagged(attrs: &[KeyValue]) -> Vec<KeyValue> {
    let mut out = attrs.to_vec();
    match out.iter_mut().find(|a| a.key == "cluster") {
        Some(a) => *a = s("cluster", "tap-sandbox"),
        None => out.push(s("cluster", "tap-sandbox")),
    }
    out
}

#[test]
fn seed_pipeline_keeps_and_tags_exactly_the_expected_spans() {
    let mut c = Collector::start(&format!("{SEED}{TEST_TELEMETRY}"));
    let rows = table();
    let url = format!("{}/v1/traces", c.http_url());
    // Two requests (the batch processor merges them), one of them gzip.
    let (a, b) = rows.split_at(6);
    for (first, part, gz) in [(0, a, false), (6, b, true)] {
        let body = request(first, part);
        let (body, enc) = if gz {
            (gzip(&body), "gzip")
        } else {
            (body, "identity")
        };
        let (status, _, resp) = http(
            "POST",
            &url,
            &[
                ("content-type", "application/x-protobuf"),
                ("content-encoding", enc),
            ],
            body,
        )
        .unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    }
    let metrics_url = format!("http://{}/metrics", c.addr("service::telemetry::metrics"));
    let (_, _, text) = http("GET", &metrics_url, &[], vec![]).unwrap();
    let text = String::from_utf8(text).unwrap();
    c.stop();

    let got: Vec<(String, Vec<KeyValue>)> = lines(&c.dir.path("spans.jsonl"))
        .iter()
        .flat_map(|l| {
            serde_json::from_str::<ExportTraceServiceRequest>(l)
                .unwrap()
                .resource_spans
        })
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans)
        .map(|sp| (sp.name, sp.attributes))
        .collect();
    let want: Vec<(String, Vec<KeyValue>)> = rows
        .iter()
        .filter(|(_, _, kept)| *kept)
        .map(|(name, attrs, _)| ((*name).to_owned(), tagged(attrs)))
        .collect();
    assert_eq!(got, want);
    assert_eq!(lines(&c.dir.path("spans.jsonl")).len(), 1, "one batch");

    let dropped = rows.iter().filter(|(_, _, kept)| !kept).count();
    let line = text
        .lines()
        .find(|l| l.starts_with("otelcol_processor_filter_spans_filtered_total{filter=\"filter\""))
        .unwrap_or_else(|| panic!("no filter metric in\n{text}"));
    assert!(line.ends_with(&format!(" {dropped}")), "{line}");
    for (processor, n) in [("filter", rows.len()), ("attributes", rows.len() - dropped)] {
        let prefix = format!(
            "otelcol_processor_incoming_items_total{{otel_signal=\"traces\",processor=\"{processor}\""
        );
        let l = text.lines().find(|l| l.starts_with(&prefix)).unwrap();
        assert!(l.ends_with(&format!(" {n}")), "{l}");
    }
}

#[test]
fn memory_limiter_above_its_limit_refuses_with_retryable_statuses() {
    // 1 MiB: the process is always above it, so every request is refused until it is not.
    let mut c = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\n      http:\n        endpoint: 127.0.0.1:0\nprocessors:\n  memory_limiter:\n    check_interval: 100ms\n    limit_mib: 1\nexporters:\n  file:\n    path: {{dir}}/spans.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [memory_limiter]\n      exporters: [file]\n{TEST_TELEMETRY}"
    ));
    let body = spans_request("svc", 0..3);
    let (status, headers, resp) = http(
        "POST",
        &format!("{}/v1/traces", c.http_url()),
        &[("content-type", "application/json")],
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"x"}]}]}]}"#.to_vec(),
    )
    .unwrap();
    assert_eq!(status, 503);
    assert!(String::from_utf8_lossy(&resp).contains("data refused due to high memory usage"));
    // check_interval (100ms) rounded up to whole seconds, at least 1.
    assert_eq!(
        headers.get("retry-after").map(|v| v.to_str().unwrap()),
        Some("1")
    );
    let e = grpc_export(&c.grpc_url(), Signal::Traces, body, false).unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable, "{e}");
    assert!(e.message().contains("high memory usage"));
    assert_eq!(
        meshtrace_collector::grpc_codec::retry_delay(&e),
        Some(std::time::Duration::from_secs(1)),
        "RetryInfo in {e:?}"
    );
    assert_eq!(
        e.metadata()
            .get("grpc-retry-pushback-ms")
            .map(|v| v.to_str().unwrap()),
        Some("1000")
    );
    c.stop();
    assert!(lines(&c.dir.path("spans.jsonl")).is_empty());

    // A generous limit lets data through.
    let mut c = Collector::start(&format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\nprocessors:\n  memory_limiter:\n    check_interval: 1s\n    limit_percentage: 90\n    spike_limit_percentage: 10\nexporters:\n  file:\n    path: {{dir}}/spans.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [memory_limiter]\n      exporters: [file]\n{TEST_TELEMETRY}"
    ));
    grpc_export(
        &c.grpc_url(),
        Signal::Traces,
        spans_request("svc", 0..3),
        false,
    )
    .unwrap();
    c.stop();
    assert_eq!(span_ids_in_file(&c.dir.path("spans.jsonl")), vec![0, 1, 2]);
}

/// The `transform` processor in the real binary: the official OTLP example in over OTLP/HTTP
/// JSON, statements of every context, the transformed span in the file; and a statement that
/// fails under `error_mode: propagate` refuses the request with a 400 and writes nothing.
#[test]
fn transform_edits_every_context_and_refuses_on_propagated_errors() {
    let config = r#"receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  transform:
    trace_statements:
      - context: resource
        statements:
          - set(attributes["k8s.cluster.name"], "east")
      - context: scope
        statements:
          - set(version, "2.0.0")
          - delete_key(attributes, "my.scope.attribute")
      - context: span
        conditions: ['kind == SPAN_KIND_SERVER']
        statements:
          - set(attributes["service"], resource.attributes["service.name"])
          - replace_pattern(name, "I'm a (\\w+) span", "$1 span")
          - set(status.code, STATUS_CODE_ERROR) where attributes["my.span.attr"] == "some value"
          - set(attributes["trace"], trace_id.string)
  transform/strict:
    trace_statements:
      - 'set(span.attributes["n"], Substring(span.name, 100, 1))'
exporters:
  file:
    path: {dir}/spans.jsonl
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [transform]
      exporters: [file]
"#;
    // The official example over OTLP/HTTP JSON: the status and the response body.
    let post = |c: &Collector| {
        let url = format!("{}/v1/traces", c.http_url());
        let (status, _, resp) = http(
            "POST",
            &url,
            &[("content-type", "application/json")],
            example("trace.json"),
        )
        .unwrap();
        (status, String::from_utf8_lossy(&resp).into_owned())
    };
    let mut c = Collector::start(&format!("{config}{TEST_TELEMETRY}"));
    let (status, resp) = post(&c);
    assert_eq!(status, 200, "{resp}");
    c.stop();
    let line = lines(&c.dir.path("spans.jsonl")).remove(0);
    let req: ExportTraceServiceRequest = serde_json::from_str(&line).unwrap();
    let rs = &req.resource_spans[0];
    assert_eq!(
        rs.resource.as_ref().unwrap().attributes,
        vec![
            s("service.name", "my.service"),
            s("k8s.cluster.name", "east")
        ]
    );
    let scope = rs.scope_spans[0].scope.as_ref().unwrap();
    assert_eq!(
        (scope.version.as_str(), scope.attributes.len()),
        ("2.0.0", 0)
    );
    let sp = &rs.scope_spans[0].spans[0];
    assert_eq!(sp.name, "server span");
    assert_eq!(sp.status.as_ref().map(|s| s.code), Some(2));
    assert_eq!(
        sp.attributes,
        vec![
            s("my.span.attr", "some value"),
            s("service", "my.service"),
            s("trace", "5b8efff798038103d269b633813fc60c"),
        ]
    );

    let strict = config.replace("processors: [transform]", "processors: [transform/strict]");
    let mut c = Collector::start(&format!("{strict}{TEST_TELEMETRY}"));
    let (status, resp) = post(&c);
    c.stop();
    assert_eq!(status, 400, "{resp}");
    assert!(resp.contains("failed to execute statement"), "{resp}");
    assert!(
        !c.dir.path("spans.jsonl").exists() || lines(&c.dir.path("spans.jsonl")).is_empty(),
        "nothing of a refused request is written"
    );
}
