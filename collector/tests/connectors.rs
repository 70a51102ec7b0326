//! Connectors in the real binary: a `forward` connector fanning one receiving pipeline out to
//! differently processed ones, for traces and metrics, and pipelines joined by it flushing
//! upstream first on shutdown.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;

// The downstream pipelines sort and come first, so a service that flushed pipelines in
// config (or name) order would stop their batches before the upstream batch flushed into
// them.
const CONFIG: &str = r#"receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  batch/hold:
    timeout: 1h
    send_batch_size: 100000
  filter/noisy:
    error_mode: ignore
    traces:
      span:
        - resource.attributes["service.name"] == "noisy"
exporters:
  file/all:
    path: {dir}/all.jsonl
  file/kept:
    path: {dir}/kept.jsonl
  file/metrics:
    path: {dir}/metrics.jsonl
connectors:
  forward:
  forward/metrics:
service:
  pipelines:
    traces/1_all:
      receivers: [forward]
      exporters: [file/all]
    traces/2_kept:
      receivers: [forward]
      processors: [filter/noisy, batch/hold]
      exporters: [file/kept]
    traces/3_in:
      receivers: [otlp]
      processors: [batch/hold]
      exporters: [forward]
    metrics/1_out:
      receivers: [forward/metrics]
      exporters: [file/metrics]
    metrics/2_in:
      receivers: [otlp]
      exporters: [forward/metrics]
"#;

#[test]
fn forward_fans_out_to_every_receiving_pipeline_and_flushes_upstream_first() {
    let mut c = Collector::start(&format!("{CONFIG}{TEST_TELEMETRY}"));
    let base = c.http_url();
    assert_eq!(post_spans(&base, spans_request("app", 1..4)), Ok(200));
    assert_eq!(post_spans(&base, spans_request("noisy", 10..12)), Ok(200));
    let (status, _, body) = http(
        "POST",
        &format!("{base}/v1/metrics"),
        &[("content-type", "application/json")],
        example("metrics.json"),
    )
    .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // Metrics pass no batch: they reach the file while the spans are still held.
    let metrics = eventually("the metrics to be written", || {
        let l = lines(&c.dir.path("metrics.jsonl"));
        (!l.is_empty()).then_some(l)
    });
    assert_eq!(metrics.len(), 1);
    let sent: serde_json::Value = serde_json::from_slice(&example("metrics.json")).unwrap();
    let written: serde_json::Value = serde_json::from_str(&metrics[0]).unwrap();
    assert_eq!(
        written["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
            .as_array()
            .map(Vec::len),
        sent["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
            .as_array()
            .map(Vec::len)
    );
    for file in ["all.jsonl", "kept.jsonl"] {
        assert_eq!(
            lines(&c.dir.path(file)),
            Vec::<String>::new(),
            "{file}: held upstream"
        );
    }

    c.stop();
    let mut all = span_ids_in_file(&c.dir.path("all.jsonl"));
    all.sort_unstable();
    assert_eq!(all, [1, 2, 3, 10, 11]);
    let mut kept = span_ids_in_file(&c.dir.path("kept.jsonl"));
    kept.sort_unstable();
    assert_eq!(
        kept,
        [1, 2, 3],
        "the noisy service's spans are filtered out"
    );
    let log = c.log_text();
    assert!(!log.contains("lost"), "{log}");
}

#[test]
fn routing_sends_each_resource_to_its_tenant_pipeline() {
    let config = r#"receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  file/payments:
    path: {dir}/payments.jsonl
  file/default:
    path: {dir}/default.jsonl
connectors:
  routing:
    default_pipelines: [traces/default]
    table:
      - statement: route() where attributes["service.name"] == "ledger"
        pipelines: [traces/payments]
service:
  pipelines:
    traces/in:
      receivers: [otlp]
      exporters: [routing]
    traces/payments:
      receivers: [routing]
      exporters: [file/payments]
    traces/default:
      receivers: [routing]
      exporters: [file/default]
"#;
    let mut c = Collector::start(&format!("{config}{TEST_TELEMETRY}"));
    let base = c.http_url();
    // One request holding both tenants' resources, then one holding only the ledger's.
    let mut both = spans_request("ledger", 1..3);
    both.extend(spans_request("cart", 5..6));
    assert_eq!(post_spans(&base, both), Ok(200));
    assert_eq!(post_spans(&base, spans_request("ledger", 9..10)), Ok(200));
    c.stop();
    assert_eq!(span_ids_in_file(&c.dir.path("payments.jsonl")), [1, 2, 9]);
    assert_eq!(span_ids_in_file(&c.dir.path("default.jsonl")), [5]);
}

/// The data points of `metric` in an OTLP JSON metrics file, as (service, span name, value).
fn span_metric_points(path: &std::path::Path, metric: &str) -> Vec<(String, String, String)> {
    points_in(&lines(path), metric)
}

/// The data points of `metric` in OTLP JSON metrics requests, sorted.
fn points_in(requests: &[String], metric: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for line in requests {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for rm in v["resourceMetrics"].as_array().unwrap() {
            for m in rm["scopeMetrics"][0]["metrics"].as_array().unwrap() {
                if m["name"] != metric {
                    continue;
                }
                let points = m["sum"]["dataPoints"]
                    .as_array()
                    .or(m["histogram"]["dataPoints"].as_array())
                    .unwrap();
                for p in points {
                    let attr = |k: &str| {
                        p["attributes"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|a| a["key"] == k)
                            .map(|a| a["value"]["stringValue"].as_str().unwrap().to_owned())
                            .unwrap_or_default()
                    };
                    let value = p["asInt"]
                        .as_str()
                        .or(p["count"].as_str())
                        .unwrap_or("?")
                        .to_owned();
                    out.push((attr("service.name"), attr("span.name"), value));
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn spanmetrics_emits_calls_and_durations_to_the_metrics_pipeline() {
    let config = r#"receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  file/metrics:
    path: {dir}/metrics.jsonl
connectors:
  spanmetrics:
    metrics_flush_interval: 100ms
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [spanmetrics]
    metrics:
      receivers: [spanmetrics]
      exporters: [file/metrics]
"#;
    let mut c = Collector::start(&format!("{config}{TEST_TELEMETRY}"));
    let base = c.http_url();
    assert_eq!(post_spans(&base, spans_request("cart", 1..3)), Ok(200));
    assert_eq!(post_spans(&base, spans_request("cart", 1..2)), Ok(200));
    let path = c.dir.path("metrics.jsonl");
    let point = |op: &str, v: &str| ("cart".to_owned(), op.to_owned(), v.to_owned());
    let want = [point("op-1", "2"), point("op-2", "1")];
    // Cumulative: every flush repeats the totals, so the latest one holds both requests.
    let last = eventually("a flush with both requests", || {
        let l = lines(&path);
        let last = l.last()?.clone();
        (points_in(std::slice::from_ref(&last), "traces.span.metrics.calls") == want)
            .then_some(last)
    });
    assert_eq!(
        points_in(&[last], "traces.span.metrics.duration"),
        want,
        "one histogram observation per span"
    );
    c.stop();
}

#[test]
fn spanmetrics_flushes_at_shutdown_after_the_traces_pipeline_and_before_the_metrics_one() {
    // Nothing would reach the file before shutdown: the spans wait in a batch, the metrics
    // for an hour. Stopping in order hands the batch to the connector, the connector's
    // metrics to the metrics pipeline, and that pipeline's batch to the exporter.
    let config = r#"receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  batch/hold:
    timeout: 1h
    send_batch_size: 100000
exporters:
  file/metrics:
    path: {dir}/metrics.jsonl
connectors:
  spanmetrics:
    metrics_flush_interval: 1h
    aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA
    histogram: {disable: true}
service:
  pipelines:
    metrics:
      receivers: [spanmetrics]
      processors: [batch/hold]
      exporters: [file/metrics]
    traces:
      receivers: [otlp]
      processors: [batch/hold]
      exporters: [spanmetrics]
"#;
    let mut c = Collector::start(&format!("{config}{TEST_TELEMETRY}"));
    let base = c.http_url();
    assert_eq!(post_spans(&base, spans_request("ledger", 1..4)), Ok(200));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let path = c.dir.path("metrics.jsonl");
    assert_eq!(lines(&path), Vec::<String>::new());
    c.stop();
    let calls = span_metric_points(&path, "traces.span.metrics.calls");
    let one = |op: &str| ("ledger".to_owned(), op.to_owned(), "1".to_owned());
    assert_eq!(calls, [one("op-1"), one("op-2"), one("op-3")]);
    assert!(span_metric_points(&path, "traces.span.metrics.duration").is_empty());
    let log = c.log_text();
    assert!(!log.contains("lost"), "{log}");
}

/// One span of `service`: trace `trace`, id `id`, parent `parent` (0: none), `kind`.
fn edge_span(service: &str, trace: u8, id: u8, parent: u8, kind: i32) -> Vec<u8> {
    use opentelemetry_proto::tonic::trace::v1::Span;
    let span = Span {
        trace_id: vec![trace; 16],
        span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
        parent_span_id: if parent == 0 {
            Vec::new()
        } else {
            vec![0, 0, 0, 0, 0, 0, 0, parent]
        },
        name: "GET /reviews".into(),
        kind,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_020_000_000,
        ..Default::default()
    };
    service_request(service, vec![span])
}

#[test]
fn servicegraph_pairs_client_and_server_spans_from_separate_requests() {
    let config = r#"receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  file/graph:
    path: {dir}/graph.jsonl
connectors:
  servicegraph:
    metrics_flush_interval: 1h
    store: {ttl: 100ms}
    store_expiration_loop: 50ms
    virtual_node_peer_attributes: []
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [servicegraph]
    metrics:
      receivers: [servicegraph]
      exporters: [file/graph]
"#;
    let mut c = Collector::start(&format!("{config}{TEST_TELEMETRY}"));
    let base = c.http_url();
    // As two sidecars export them: the callee's SERVER span, then the caller's CLIENT span
    // (its parent), each in its own request; and a CLIENT span whose server never reports.
    assert_eq!(post_spans(&base, edge_span("reviews", 1, 3, 2, 2)), Ok(200));
    assert_eq!(
        post_spans(&base, edge_span("productpage", 1, 2, 1, 3)),
        Ok(200)
    );
    assert_eq!(
        post_spans(&base, edge_span("productpage", 2, 2, 1, 3)),
        Ok(200)
    );
    // Two halves stored (the first completed by its pair), the unpaired one expired.
    let series =
        |name: &str| format!("otelcol_connector_servicegraph_{name}{{connector=\"servicegraph\"");
    eventually("the unpaired half to expire", || {
        (c.metric(&series("expired_edges_total")) == 1.0).then_some(())
    });
    assert_eq!(c.metric(&series("total_edges_total")), 2.0);
    assert_eq!(c.metric(&series("dropped_spans_total")), 0.0);
    c.stop();
    let lines = lines(&c.dir.path("graph.jsonl"));
    assert_eq!(lines.len(), 1, "one flush, at shutdown: {lines:?}");
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    let metrics = &v["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
    assert_eq!(metrics[0]["name"], "traces_service_graph_request_total");
    let points = metrics[0]["sum"]["dataPoints"].as_array().unwrap();
    assert_eq!(
        points.len(),
        1,
        "the unpaired CLIENT span waits: {points:?}"
    );
    let attr = |k: &str| {
        points[0]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == k)
            .map(|a| a["value"].clone())
            .unwrap()
    };
    assert_eq!(attr("client")["stringValue"], "productpage");
    assert_eq!(attr("server")["stringValue"], "reviews");
    assert_eq!(points[0]["asInt"], "1");
    assert_eq!(metrics[1]["name"], "traces_service_graph_request_server");
    assert_eq!(metrics[1]["histogram"]["dataPoints"][0]["sum"], 0.02);
}
