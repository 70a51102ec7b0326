//! `tail_sampling` in the real binary: traces with an error kept whole after `decision_wait`,
//! the others dropped, and waiting traces decided at shutdown instead of lost.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

fn config(wait: &str) -> String {
    with_processor(&format!(
        "  tail_sampling:
    decision_wait: {wait}
    policies:
      - name: errors
        type: status_code
        status_code: {{status_codes: [ERROR]}}
      - name: slow
        type: latency
        latency: {{threshold_ms: 500}}
"
    ))
}

/// A collector running `processors:` (one `tail_sampling`) between OTLP/HTTP and a file.
fn with_processor(processors: &str) -> String {
    format!(
        "receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
{processors}exporters:
  file:
    path: {{dir}}/kept.jsonl
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [tail_sampling]
      exporters: [file]
{TEST_TELEMETRY}"
    )
}

/// Span `id` of trace `trace`, lasting `ms`, failed or not.
fn span(trace: u8, id: u64, ms: u64, error: bool) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: id.to_be_bytes().to_vec(),
        name: format!("op-{id}"),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_000_000_000 + ms * 1_000_000,
        status: error.then(|| Status {
            code: 2,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn errors_and_slow_traces_are_kept_whole_and_the_rest_dropped() {
    let c = Collector::start(&config("300ms"));
    let base = c.http_url();
    // Trace 1 fails in its second request; trace 2 is slow; trace 3 is neither.
    let first = vec![
        span(1, 10, 5, false),
        span(2, 20, 900, false),
        span(3, 30, 5, false),
    ];
    assert_eq!(
        post_spans(&base, service_request("frontend", first)),
        Ok(200)
    );
    let second = vec![span(1, 11, 5, true), span(3, 31, 5, false)];
    assert_eq!(
        post_spans(&base, service_request("checkout", second)),
        Ok(200)
    );
    let kept = eventually("the kept traces", || {
        let ids = span_ids_in_file(&c.dir.path("kept.jsonl"));
        (ids.len() >= 3).then_some(ids)
    });
    let mut sorted = kept.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [10, 11, 20]);
    eventually("the decisions counted", || {
        (c.metric("otelcol_processor_tail_sampling_global_count_traces_sampled_total") >= 3.0)
            .then_some(())
    });
    let text = c.metrics_text().unwrap();
    let value = |needle: &[&str]| -> f64 {
        text.lines()
            .find(|l| needle.iter().all(|n| l.contains(n)))
            .and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
            .unwrap_or(-1.0)
    };
    assert_eq!(
        value(&["global_count_traces_sampled_total{", "sampled=\"true\""]),
        2.0
    );
    assert_eq!(
        value(&["global_count_traces_sampled_total{", "sampled=\"false\""]),
        1.0
    );
    assert_eq!(
        value(&[
            "count_traces_sampled_total{",
            "policy=\"slow\"",
            "sampled=\"true\""
        ]),
        1.0
    );
}

#[test]
fn waiting_traces_are_decided_at_shutdown() {
    let mut c = Collector::start(&config("1h"));
    let spans = vec![span(1, 1, 5, true), span(2, 2, 5, false)];
    assert_eq!(
        post_spans(&c.http_url(), service_request("a", spans)),
        Ok(200)
    );
    c.stop();
    assert_eq!(span_ids_in_file(&c.dir.path("kept.jsonl")), [1]);
}

/// A `composite` budget in the real binary: traces decided in the same second are kept while
/// the share of the sub-policy that matched them has room, and `validate` warns about a
/// sub-policy given no share.
#[test]
fn a_composite_budget_caps_what_each_sub_policy_keeps() {
    let composite = "  tail_sampling:
    decision_wait: 300ms
    policies:
      - name: budget
        type: composite
        composite:
          max_total_spans_per_second: 10
          composite_sub_policy:
            - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
            - {name: rest, type: always_sample}
          rate_allocation: [{policy: errors, percent: 50}, {policy: rest, percent: 50}]
";
    let c = Collector::start(&with_processor(composite));
    // Four failed and four fine traces of two spans each, in one request: 5 spans a second
    // for each sub-policy keep two of each.
    let spans = (1..=8u8)
        .flat_map(|t| {
            let id = u64::from(t) * 10;
            [span(t, id, 5, t <= 4), span(t, id + 1, 5, false)]
        })
        .collect();
    assert_eq!(
        post_spans(&c.http_url(), service_request("frontend", spans)),
        Ok(200)
    );
    let kept = eventually("the kept traces", || {
        let ids = span_ids_in_file(&c.dir.path("kept.jsonl"));
        (ids.len() >= 8).then_some(ids)
    });
    let traces: std::collections::BTreeSet<u64> = kept.iter().map(|id| id / 10).collect();
    assert_eq!(kept.len(), 8, "{kept:?}");
    assert_eq!(traces.iter().filter(|t| **t <= 4).count(), 2, "{traces:?}");
    assert_eq!(traces.iter().filter(|t| **t > 4).count(), 2, "{traces:?}");
    eventually("every decision", || {
        (c.metric("otelcol_processor_tail_sampling_global_count_traces_sampled_total") >= 8.0)
            .then_some(())
    });

    assert_eq!(
        validate(&composite.replace(", {policy: rest, percent: 50}", "")),
        (
            Some(0),
            "warning: processors::tail_sampling: policies[0].composite.rate_allocation: no share for sub-policy \"rest\": it keeps no trace (as in the Collector); give it a `percent`\n".to_owned()
        )
    );
}

/// Every policy type and option the Collector documents (but its newest four), in the flow
/// style of its README, passes `validate` without a warning.
#[test]
fn every_collector_policy_type_validates() {
    let processors = r#"  tail_sampling:
    decision_wait: 10s
    decision_wait_after_root_received: 2s
    num_traces: 100
    maximum_trace_size_bytes: 1048576
    drop_pending_traces_on_shutdown: false
    expected_new_traces_per_sec: 10
    decision_cache: {sampled_cache_size: 100_000, non_sampled_cache_size: 100_000}
    policies:
      [
        {name: p1, type: always_sample},
        {name: p2, type: latency, latency: {threshold_ms: 5000, upper_threshold_ms: 10000}},
        {name: p3, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50, max_value: 100}},
        {name: p4, type: probabilistic, probabilistic: {sampling_percentage: 10}},
        {name: p5, type: status_code, status_code: {status_codes: [ERROR, UNSET]}},
        {name: p6, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}},
        {name: p7, type: string_attribute, string_attribute: {key: key2, values: [value1, val*], enabled_regex_matching: true, cache_max_size: 10}},
        {name: p8, type: rate_limiting, rate_limiting: {spans_per_second: 35}},
        {name: p9, type: bytes_limiting, bytes_limiting: {bytes_per_second: 1048576, burst_capacity: 4194304}},
        {name: p10, type: span_count, span_count: {min_spans: 2, max_spans: 20}},
        {name: p11, type: trace_state, trace_state: {key: key3, values: [value1, value2]}},
        {name: p12, type: boolean_attribute, boolean_attribute: {key: key4, value: true}},
        {name: p13, type: ottl_condition, ottl_condition: {error_mode: ignore, span: ["attributes[\"k\"] == \"v\""], spanevent: ["name != \"e\""]}},
        {name: p14, type: and, and: {and_sub_policy: [{name: a1, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50}}, {name: a2, type: always_sample}]}},
        {name: p15, type: drop, drop: {drop_sub_policy: [{name: d1, type: string_attribute, string_attribute: {key: url.path, values: [\/health, \/metrics], enabled_regex_matching: true}}]}},
        {name: p17, type: trace_flags},
        {name: p18, type: not, not: {not_sub_policy: {name: n1, type: string_attribute, string_attribute: {key: http.route, values: [/health]}}}},
        {name: p19, type: drop, drop: {drop_sub_policy: [{name: probe, type: string_attribute, string_attribute: {key: http.route, values: [/live, /ready]}}, {name: fine, type: not, not: {not_sub_policy: {name: any-error, type: status_code, status_code: {status_codes: [ERROR]}}}}]}},
        {name: p16, type: composite, composite: {max_total_spans_per_second: 1000, policy_order: [c1, c2, c3], composite_sub_policy: [{name: c1, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50}}, {name: c2, type: string_attribute, string_attribute: {key: key2, values: [value1]}}, {name: c3, type: always_sample}], rate_allocation: [{policy: c1, percent: 50}, {policy: c2, percent: 25}, {policy: c3, percent: 25}]}},
      ]
"#;
    assert_eq!(validate(processors), (Some(0), String::new()));
}

/// `validate` of a collector running `processors`: its exit code and stderr.
fn validate(processors: &str) -> (Option<i32>, String) {
    let dir = TempDir::new();
    let path = dir.path("c.yaml");
    std::fs::write(
        &path,
        with_processor(processors).replace("{dir}", dir.0.to_str().unwrap()),
    )
    .unwrap();
    let out = std::process::Command::new(bin())
        .args(["validate", &format!("--config={}", path.display())])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
