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
