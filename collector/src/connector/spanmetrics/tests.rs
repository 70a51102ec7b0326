#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::aggregate::{Aggregator, SCOPE_NAME};
use super::*;
use crate::otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::otlp::proto::common::v1::{AnyValue, KeyValue, any_value};
use crate::otlp::proto::metrics::v1::{exemplar, metric, number_data_point};
use crate::otlp::proto::trace::v1::{Span, Status};
use crate::processor::testspans::{batch, config, event, group, i, s, span};
use proptest::prelude::*;

const T0: u64 = 1_800_000_000_000_000_000;
const SEC: u64 = 1_000_000_000;

fn aggregator(yaml: &str) -> Aggregator {
    let c: SpanMetricsConfig = config(yaml);
    assert_eq!(c.validate(), Vec::new(), "{yaml}");
    Aggregator::new(c.settings())
}

/// A span of `ms` milliseconds, kind and status as given.
fn timed(n: u8, name: &str, ms: f64, kind: i32, status: i32, attrs: Vec<KeyValue>) -> Span {
    let mut sp = span(n, name, attrs);
    sp.kind = kind;
    sp.end_time_unix_nano = sp.start_time_unix_nano + (ms * 1e6) as u64;
    if status != 0 {
        sp.status = Some(Status {
            code: status,
            ..Default::default()
        });
    }
    sp
}

fn value(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => format!("int:{i}"),
        Some(any_value::Value::BoolValue(b)) => format!("bool:{b}"),
        Some(any_value::Value::DoubleValue(d)) => format!("double:{d}"),
        other => format!("{other:?}"),
    }
}

fn attrs(list: &[KeyValue]) -> String {
    list.iter()
        .map(|kv| format!("{}={}", kv.key, value(&kv.value)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Times as seconds after [`T0`], for readable expectations.
fn at(t: u64) -> String {
    if t >= T0 {
        format!("T+{}", (t - T0) / SEC)
    } else {
        t.to_string()
    }
}

/// One line per resource and per data point: what a dashboard would read.
fn render(req: &Option<ExportMetricsServiceRequest>) -> Vec<String> {
    let mut out = Vec::new();
    let Some(req) = req else { return out };
    for rm in &req.resource_metrics {
        out.push(format!(
            "resource {}",
            attrs(&rm.resource.as_ref().unwrap().attributes)
        ));
        for sm in &rm.scope_metrics {
            assert_eq!(sm.scope.as_ref().unwrap().name, SCOPE_NAME);
            for m in &sm.metrics {
                match m.data.as_ref().unwrap() {
                    metric::Data::Sum(sum) => {
                        assert!(sum.is_monotonic);
                        for p in &sum.data_points {
                            let Some(number_data_point::Value::AsInt(v)) = p.value else {
                                panic!("{p:?}")
                            };
                            let ex = p.exemplars.len();
                            out.push(format!(
                                "  {} t{} {{{}}} = {v} [{}..{}]{}",
                                m.name,
                                sum.aggregation_temporality,
                                attrs(&p.attributes),
                                at(p.start_time_unix_nano),
                                at(p.time_unix_nano),
                                if ex > 0 {
                                    format!(" exemplars={ex}")
                                } else {
                                    String::new()
                                }
                            ));
                        }
                    }
                    metric::Data::Histogram(h) => {
                        for p in &h.data_points {
                            let ex = match p.exemplars.len() {
                                0 => String::new(),
                                n => format!(" exemplars={n}"),
                            };
                            out.push(format!(
                                "  {} ({}) t{} {{{}}} count={} sum={} min={} max={} buckets={:?} [{}..{}]{ex}",
                                m.name,
                                m.unit,
                                h.aggregation_temporality,
                                attrs(&p.attributes),
                                p.count,
                                p.sum.unwrap(),
                                p.min.unwrap(),
                                p.max.unwrap(),
                                p.bucket_counts,
                                at(p.start_time_unix_nano),
                                at(p.time_unix_nano),
                            ));
                        }
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
    }
    out
}

fn add(a: &mut Aggregator, groups: Vec<crate::otlp::proto::trace::v1::ResourceSpans>, t: u64) {
    assert_eq!(a.add(batch(groups).bytes(), t), 0);
}

const SMALL_BUCKETS: &str = "histogram: {explicit: {buckets: [2ms, 10ms, 100ms]}}\n";

#[test]
fn calls_and_durations_per_service_span_kind_and_status() {
    let mut a = aggregator(SMALL_BUCKETS);
    add(
        &mut a,
        vec![
            group(
                vec![
                    s("service.name", "reviews"),
                    s("k8s.namespace.name", "shop"),
                ],
                "envoy",
                vec![
                    timed(1, "GET /reviews", 2.0, 2, 0, vec![]),
                    timed(2, "GET /reviews", 7.5, 2, 0, vec![]),
                    timed(3, "GET /reviews", 250.0, 2, 2, vec![]),
                    timed(4, "SELECT", 1.0, 3, 1, vec![]),
                ],
            ),
            group(
                vec![s("service.name", "ratings")],
                "envoy",
                vec![timed(5, "GET /ratings", 10.0, 2, 0, vec![])],
            ),
        ],
        T0,
    );
    // A boundary value falls in the bucket it bounds (upper bounds are inclusive). Series are
    // in the order of their keys (length-prefixed values), the same at every flush.
    assert_eq!(
        render(&a.flush(T0 + 60 * SEC)),
        [
            "resource service.name=ratings",
            "  traces.span.metrics.calls t2 {service.name=ratings span.name=GET /ratings span.kind=SPAN_KIND_SERVER status.code=STATUS_CODE_UNSET} = 1 [T+0..T+60]",
            "  traces.span.metrics.duration (ms) t2 {service.name=ratings span.name=GET /ratings span.kind=SPAN_KIND_SERVER status.code=STATUS_CODE_UNSET} count=1 sum=10 min=10 max=10 buckets=[0, 1, 0, 0] [T+0..T+60]",
            "resource service.name=reviews k8s.namespace.name=shop",
            "  traces.span.metrics.calls t2 {service.name=reviews span.name=SELECT span.kind=SPAN_KIND_CLIENT status.code=STATUS_CODE_OK} = 1 [T+0..T+60]",
            "  traces.span.metrics.calls t2 {service.name=reviews span.name=GET /reviews span.kind=SPAN_KIND_SERVER status.code=STATUS_CODE_ERROR} = 1 [T+0..T+60]",
            "  traces.span.metrics.calls t2 {service.name=reviews span.name=GET /reviews span.kind=SPAN_KIND_SERVER status.code=STATUS_CODE_UNSET} = 2 [T+0..T+60]",
            "  traces.span.metrics.duration (ms) t2 {service.name=reviews span.name=SELECT span.kind=SPAN_KIND_CLIENT status.code=STATUS_CODE_OK} count=1 sum=1 min=1 max=1 buckets=[1, 0, 0, 0] [T+0..T+60]",
            "  traces.span.metrics.duration (ms) t2 {service.name=reviews span.name=GET /reviews span.kind=SPAN_KIND_SERVER status.code=STATUS_CODE_ERROR} count=1 sum=250 min=250 max=250 buckets=[0, 0, 0, 1] [T+0..T+60]",
            "  traces.span.metrics.duration (ms) t2 {service.name=reviews span.name=GET /reviews span.kind=SPAN_KIND_SERVER status.code=STATUS_CODE_UNSET} count=2 sum=9.5 min=2 max=7.5 buckets=[1, 1, 0, 0] [T+0..T+60]",
        ]
    );
}

#[test]
fn cumulative_keeps_totals_and_starts_delta_reports_each_interval() {
    let traffic = |a: &mut Aggregator, t: u64, n: u8| {
        let spans = (0..n).map(|k| timed(k, "op", 5.0, 2, 0, vec![])).collect();
        add(a, vec![group(vec![s("service.name", "a")], "s", spans)], t);
    };
    let calls = |lines: Vec<String>| -> Vec<String> {
        lines
            .into_iter()
            .filter(|l| l.contains(".calls"))
            .map(|l| l.split("} = ").nth(1).unwrap().to_owned())
            .collect()
    };

    let mut cumulative = aggregator("{}");
    traffic(&mut cumulative, T0 + SEC, 2);
    assert_eq!(
        calls(render(&cumulative.flush(T0 + 60 * SEC))),
        ["2 [T+1..T+60]"]
    );
    // Nothing new: a cumulative series is reported again, unchanged.
    assert_eq!(
        calls(render(&cumulative.flush(T0 + 120 * SEC))),
        ["2 [T+1..T+120]"]
    );
    traffic(&mut cumulative, T0 + 130 * SEC, 3);
    assert_eq!(
        calls(render(&cumulative.flush(T0 + 180 * SEC))),
        ["5 [T+1..T+180]"]
    );

    let mut delta = aggregator("aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA");
    traffic(&mut delta, T0 + SEC, 2);
    let first = render(&delta.flush(T0 + 60 * SEC));
    assert!(first[1].contains(" t1 "), "{first:?}");
    assert_eq!(calls(first), ["2 [T+1..T+60]"]);
    // An interval without spans reports nothing; the next point starts where the series'
    // last one ended, so readers see one uninterrupted series.
    assert_eq!(delta.flush(T0 + 120 * SEC), None);
    traffic(&mut delta, T0 + 130 * SEC, 3);
    assert_eq!(
        calls(render(&delta.flush(T0 + 180 * SEC))),
        ["3 [T+60..T+180]"]
    );
    assert_eq!(delta.resources(), 0);
}

#[test]
fn dimensions_come_from_the_span_then_the_resource_then_the_default() {
    let mut a = aggregator(
        r#"
dimensions:
  - name: http.request.method
    default: GET
  - name: http.response.status_code
  - name: k8s.namespace.name
histogram: {disable: true}
"#,
    );
    add(
        &mut a,
        vec![group(
            vec![s("service.name", "a"), s("k8s.namespace.name", "shop")],
            "s",
            vec![
                timed(
                    1,
                    "op",
                    1.0,
                    2,
                    0,
                    vec![
                        s("http.request.method", "POST"),
                        i("http.response.status_code", 201),
                    ],
                ),
                // No method: the default; the span's namespace wins over the resource's.
                timed(
                    2,
                    "op",
                    1.0,
                    2,
                    0,
                    vec![s("k8s.namespace.name", "override")],
                ),
                // A string "201" is not the int 201.
                timed(
                    3,
                    "op",
                    1.0,
                    2,
                    0,
                    vec![
                        s("http.request.method", "POST"),
                        s("http.response.status_code", "201"),
                    ],
                ),
                timed(
                    4,
                    "op",
                    1.0,
                    2,
                    0,
                    vec![
                        s("http.request.method", "POST"),
                        i("http.response.status_code", 201),
                    ],
                ),
            ],
        )],
        T0,
    );
    let lines = render(&a.flush(T0 + SEC));
    let fixed =
        "service.name=a span.name=op span.kind=SPAN_KIND_SERVER status.code=STATUS_CODE_UNSET";
    assert_eq!(
        lines,
        [
            "resource service.name=a k8s.namespace.name=shop".to_owned(),
            format!(
                "  traces.span.metrics.calls t2 {{{fixed} http.request.method=GET k8s.namespace.name=override}} = 1 [T+0..T+1]"
            ),
            format!(
                "  traces.span.metrics.calls t2 {{{fixed} http.request.method=POST http.response.status_code=int:201 k8s.namespace.name=shop}} = 2 [T+0..T+1]"
            ),
            format!(
                "  traces.span.metrics.calls t2 {{{fixed} http.request.method=POST http.response.status_code=201 k8s.namespace.name=shop}} = 1 [T+0..T+1]"
            ),
        ]
    );
}

#[test]
fn calls_and_the_histogram_can_have_dimensions_of_their_own() {
    let mut a = aggregator(
        r#"
calls_dimensions: [{name: http.response.status_code}]
histogram:
  explicit: {buckets: [10ms]}
  dimensions: [{name: http.route}]
exemplars: {enabled: true}
"#,
    );
    add(
        &mut a,
        vec![group(
            vec![s("service.name", "a")],
            "s",
            vec![
                timed(
                    1,
                    "op",
                    1.0,
                    2,
                    0,
                    vec![i("http.response.status_code", 200), s("http.route", "/a")],
                ),
                timed(
                    2,
                    "op",
                    20.0,
                    2,
                    0,
                    vec![i("http.response.status_code", 500), s("http.route", "/a")],
                ),
                timed(
                    3,
                    "op",
                    5.0,
                    2,
                    0,
                    vec![i("http.response.status_code", 200), s("http.route", "/b")],
                ),
            ],
        )],
        T0,
    );
    let fixed =
        "service.name=a span.name=op span.kind=SPAN_KIND_SERVER status.code=STATUS_CODE_UNSET";
    assert_eq!(
        render(&a.flush(T0 + SEC)),
        [
            "resource service.name=a".to_owned(),
            format!(
                "  traces.span.metrics.calls t2 {{{fixed} http.response.status_code=int:200}} = 2 [T+0..T+1] exemplars=2"
            ),
            format!(
                "  traces.span.metrics.calls t2 {{{fixed} http.response.status_code=int:500}} = 1 [T+0..T+1] exemplars=1"
            ),
            format!(
                "  traces.span.metrics.duration (ms) t2 {{{fixed} http.route=/a}} count=2 sum=21 min=1 max=20 buckets=[1, 1] [T+0..T+1] exemplars=2"
            ),
            format!(
                "  traces.span.metrics.duration (ms) t2 {{{fixed} http.route=/b}} count=1 sum=5 min=5 max=5 buckets=[1, 0] [T+0..T+1] exemplars=1"
            ),
        ]
    );
}

#[test]
fn a_histogram_sharing_its_calls_series_shares_its_exemplars() {
    let mut a = aggregator(
        "exemplars: {enabled: true, max_per_data_point: 1}\nhistogram: {explicit: {buckets: [10ms]}}",
    );
    add(
        &mut a,
        vec![group(
            vec![s("service.name", "a")],
            "s",
            vec![
                timed(1, "op", 1.0, 2, 0, vec![]),
                timed(2, "op", 2.0, 2, 0, vec![]),
            ],
        )],
        T0,
    );
    let lines = render(&a.flush(T0 + SEC));
    assert!(
        lines[1].ends_with("= 2 [T+0..T+1] exemplars=1"),
        "{lines:?}"
    );
    assert!(
        lines[2].ends_with("buckets=[2, 0] [T+0..T+1] exemplars=1"),
        "{lines:?}"
    );
}

#[test]
fn namespace_unit_exclusions_and_scope_dimensions() {
    let mut a = aggregator(
        r#"
namespace: ""
exclude_dimensions: [status.code, span.kind]
include_instrumentation_scope: [envoy]
histogram: {unit: s}
"#,
    );
    add(
        &mut a,
        vec![
            group(
                vec![s("service.name", "a")],
                "envoy",
                vec![timed(1, "op", 1500.0, 2, 2, vec![])],
            ),
            group(
                vec![s("service.name", "a")],
                "other",
                vec![timed(2, "op", 3.0, 3, 0, vec![])],
            ),
        ],
        T0,
    );
    assert_eq!(
        render(&a.flush(T0 + SEC)),
        [
            "resource service.name=a",
            "  calls t2 {service.name=a span.name=op} = 1 [T+0..T+1]",
            "  calls t2 {service.name=a span.name=op span.instrumentation.scope.name=envoy span.instrumentation.scope.version=1.0.0} = 1 [T+0..T+1]",
            // The default buckets, in seconds.
            "  duration (s) t2 {service.name=a span.name=op} count=1 sum=0.003 min=0.003 max=0.003 buckets=[0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] [T+0..T+1]",
            "  duration (s) t2 {service.name=a span.name=op span.instrumentation.scope.name=envoy span.instrumentation.scope.version=1.0.0} count=1 sum=1.5 min=1.5 max=1.5 buckets=[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0] [T+0..T+1]",
        ]
    );
}

#[test]
fn resources_are_told_apart_by_the_key_attributes_and_skipped_without_a_service() {
    let mut a =
        aggregator("resource_metrics_key_attributes: [service.name]\nhistogram: {disable: true}");
    let pod = |pid: i64| vec![s("service.name", "a"), i("process.pid", pid)];
    add(
        &mut a,
        vec![group(pod(1), "s", vec![timed(1, "op", 1.0, 2, 0, vec![])])],
        T0,
    );
    add(
        &mut a,
        vec![group(pod(2), "s", vec![timed(2, "op", 1.0, 2, 0, vec![])])],
        T0,
    );
    // Attribute order does not make a different resource either.
    let mut a2 = aggregator("histogram: {disable: true}");
    add(
        &mut a2,
        vec![group(
            vec![s("service.name", "a"), s("x", "1")],
            "s",
            vec![timed(1, "op", 1.0, 2, 0, vec![])],
        )],
        T0,
    );
    add(
        &mut a2,
        vec![group(
            vec![s("x", "1"), s("service.name", "a")],
            "s",
            vec![timed(2, "op", 1.0, 2, 0, vec![])],
        )],
        T0,
    );
    for (agg, resource) in [
        (&mut a, "service.name=a process.pid=int:1"),
        (&mut a2, "service.name=a x=1"),
    ] {
        let lines = render(&agg.flush(T0 + SEC));
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0], format!("resource {resource}"));
        assert!(lines[1].ends_with("} = 2 [T+0..T+1]"), "{lines:?}");
    }

    let mut b = aggregator("{}");
    let skipped = b.add(
        batch(vec![group(
            vec![s("host.name", "h")],
            "s",
            vec![
                timed(1, "op", 1.0, 2, 0, vec![]),
                timed(2, "op", 1.0, 2, 0, vec![]),
            ],
        )])
        .bytes(),
        T0,
    );
    assert_eq!(skipped, 2);
    assert_eq!(b.flush(T0 + SEC), None);
}

#[test]
fn the_cardinality_limit_sends_new_series_to_one_overflow_series() {
    let mut a = aggregator("aggregation_cardinality_limit: 2\nhistogram: {disable: true}");
    let spans = (0..5u8)
        .map(|k| timed(k, &format!("op{}", k.min(3)), 1.0, 2, 0, vec![]))
        .collect();
    add(
        &mut a,
        vec![group(vec![s("service.name", "a")], "s", spans)],
        T0,
    );
    let lines = render(&a.flush(T0 + SEC));
    assert_eq!(
        lines[1..],
        [
            "  traces.span.metrics.calls t2 {service.name=a span.name=op0 span.kind=SPAN_KIND_SERVER status.code=STATUS_CODE_UNSET} = 1 [T+0..T+1]",
            "  traces.span.metrics.calls t2 {service.name=a span.name=op1 span.kind=SPAN_KIND_SERVER status.code=STATUS_CODE_UNSET} = 1 [T+0..T+1]",
            "  traces.span.metrics.calls t2 {otel.metric.overflow=bool:true} = 3 [T+0..T+1]",
        ]
    );
}

#[test]
fn expired_and_least_recent_resources_are_dropped_after_a_flush() {
    let one = |a: &mut Aggregator, service: &str, t: u64| {
        add(
            a,
            vec![group(
                vec![s("service.name", service)],
                "s",
                vec![timed(1, "op", 1.0, 2, 0, vec![])],
            )],
            t,
        );
    };
    let services = |a: &mut Aggregator, t: u64| -> Vec<String> {
        render(&a.flush(t))
            .into_iter()
            .filter(|l| l.starts_with("resource"))
            .collect()
    };
    let mut a = aggregator("metrics_expiration: 90s");
    one(&mut a, "old", T0);
    one(&mut a, "new", T0 + 60 * SEC);
    let both = ["resource service.name=new", "resource service.name=old"];
    assert_eq!(services(&mut a, T0 + 60 * SEC), both);
    // As in the Collector, a resource is reported one last time at the flush that finds it
    // expired.
    assert_eq!(services(&mut a, T0 + 120 * SEC), both);
    assert_eq!(
        services(&mut a, T0 + 130 * SEC),
        ["resource service.name=new"]
    );

    let mut b = aggregator("resource_metrics_cache_size: 2");
    for (k, name) in ["a", "b", "c"].iter().enumerate() {
        one(&mut b, name, T0 + k as u64);
    }
    one(&mut b, "a", T0 + 5);
    assert_eq!(services(&mut b, T0 + SEC).len(), 3);
    assert_eq!(
        services(&mut b, T0 + 2 * SEC),
        ["resource service.name=a", "resource service.name=c"]
    );
}

#[test]
fn events_and_exemplars() {
    let mut a = aggregator(
        r#"
histogram: {disable: true}
exemplars: {enabled: true, max_per_data_point: 2}
events:
  enabled: true
  dimensions: [{name: exception.type}]
"#,
    );
    let mut failing = timed(1, "op", 1.0, 2, 2, vec![]);
    failing.events = vec![
        event("exception", vec![s("exception.type", "Timeout")]),
        event("exception", vec![s("exception.type", "Timeout")]),
        event("retry", vec![]),
    ];
    let mut spans = vec![failing];
    spans.extend((2..5).map(|k| timed(k, "op", 1.0, 2, 2, vec![])));
    add(
        &mut a,
        vec![group(vec![s("service.name", "a")], "s", spans)],
        T0,
    );
    let fixed =
        "service.name=a span.name=op span.kind=SPAN_KIND_SERVER status.code=STATUS_CODE_ERROR";
    let req = a.flush(T0 + SEC);
    assert_eq!(
        render(&req),
        [
            "resource service.name=a".to_owned(),
            format!("  traces.span.metrics.calls t2 {{{fixed}}} = 4 [T+0..T+1] exemplars=2"),
            format!("  traces.span.metrics.events t2 {{{fixed}}} = 1 [T+0..T+1] exemplars=1"),
            format!(
                "  traces.span.metrics.events t2 {{{fixed} exception.type=Timeout}} = 2 [T+0..T+1] exemplars=2"
            ),
        ]
    );
    let calls = match req.unwrap().resource_metrics[0].scope_metrics[0].metrics[0]
        .data
        .clone()
    {
        Some(metric::Data::Sum(s)) => s.data_points[0].clone(),
        other => panic!("{other:?}"),
    };
    let e = &calls.exemplars[0];
    assert_eq!(
        (e.trace_id.as_slice(), e.span_id.as_slice()),
        (&[0x5b; 16][..], &[0, 0, 0, 0, 0, 0, 0, 1][..])
    );
    assert_eq!(
        (e.time_unix_nano, e.value),
        (T0 + SEC, Some(exemplar::Value::AsDouble(1.0)))
    );
    // Exemplars belong to one interval.
    let again = render(&a.flush(T0 + 2 * SEC));
    assert!(again.iter().all(|l| !l.contains("exemplars")), "{again:?}");
}

#[test]
fn configs_are_refused_naming_the_field() {
    let cases: &[(&str, &[&str])] = &[
        ("{}", &[]),
        (
            "dimensions: [{name: service.name}, {name: a}, {name: a}]",
            &[
                "field `dimensions.0.name`: duplicate dimension name service.name",
                "field `dimensions.2.name`: duplicate dimension name a",
            ],
        ),
        (
            "calls_dimensions: [{name: status.code}]",
            &["field `calls_dimensions.0.name`: duplicate dimension name status.code"],
        ),
        (
            "events: {enabled: true}",
            &["field `events.dimensions`: no dimensions configured for events"],
        ),
        (
            "exclude_dimensions: [http.method]",
            &[
                "field `exclude_dimensions.0`: \"http.method\" is not a built-in dimension (one of service.name, span.name, span.kind, status.code)",
            ],
        ),
        (
            "histogram: {exponential: {max_size: 160}}",
            &[
                "field `histogram.exponential`: exponential histograms are not supported: use `explicit` buckets",
            ],
        ),
        (
            "histogram: {exponential: {}, explicit: {}}",
            &[
                "field `histogram.exponential`: use either `explicit` or `exponential` buckets histogram",
            ],
        ),
        (
            "histogram: {unit: us}",
            &["field `histogram.unit`: unknown unit \"us\" (expected \"ms\" or \"s\")"],
        ),
        (
            "histogram: {explicit: {buckets: [10ms, 5ms, 1s]}}",
            &["field `histogram.explicit.buckets.1`: buckets must increase: 5ms is not above 10ms"],
        ),
        (
            "aggregation_temporality: DELTA",
            &[
                "field `aggregation_temporality`: unknown temporality \"DELTA\" (expected AGGREGATION_TEMPORALITY_CUMULATIVE or AGGREGATION_TEMPORALITY_DELTA)",
            ],
        ),
        (
            "metrics_flush_interval: 0s",
            &[
                "field `metrics_flush_interval`: must be above 0 (it is how often metrics are emitted)",
            ],
        ),
        (
            "resource_metrics_cache_size: 0",
            &[
                "field `resource_metrics_cache_size`: invalid cache size: 0, the maximum number of the items in the cache should be positive",
            ],
        ),
        (
            "aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA\nmetric_timestamp_cache_size: 0",
            &[
                "field `metric_timestamp_cache_size`: invalid delta timestamp cache size: 0, the maximum number of the items in the cache should be positive",
            ],
        ),
        (
            "aggregation_cardinality_limit: -1",
            &[
                "field `aggregation_cardinality_limit`: invalid aggregation_cardinality_limit: -1, the limit should be positive",
            ],
        ),
        (
            "exemplars: {enabled: true, max_per_data_point: 0}",
            &["field `exemplars.max_per_data_point`: must be positive, not 0"],
        ),
    ];
    for (yaml, want) in cases {
        let c: SpanMetricsConfig = config(yaml);
        let got: Vec<String> = c.validate().iter().map(ToString::to_string).collect();
        assert_eq!(got, *want, "{yaml}");
    }
    let v = crate::config::value::from_yaml("histogram: {explicit: {bucket: [1ms]}}").unwrap();
    let e = crate::registry::parse_typed::<SpanMetricsConfig>(&v).unwrap_err();
    assert!(e.to_string().contains("histogram.explicit"), "{e}");
    assert!(e.to_string().contains("unknown field `bucket`"), "{e}");
}

proptest! {
    /// Whatever the spans, every span of a resource with a service is one call and one
    /// histogram observation, and bucket counts add up to the count.
    #[test]
    fn every_span_is_counted_once(
        spans in proptest::collection::vec((0u8..4, 0i32..6, 0i32..3, 0u64..20_000_000_000, proptest::option::of(0i64..3)), 0..40),
        services in proptest::collection::vec(proptest::option::of(0u8..3), 1..4),
        limit in 0usize..4,
        own_dims in proptest::bool::ANY,
    ) {
        // The calls and histogram series are one (the same dimensions) or apart.
        let dims = if own_dims {
            "calls_dimensions: [{name: code}]\nhistogram: {dimensions: [{name: k}], explicit: {buckets: [1ms, 1s, 10s]}}"
        } else {
            "dimensions: [{name: code}]\nhistogram: {explicit: {buckets: [1ms, 1s, 10s]}}"
        };
        let mut a = aggregator(&format!("aggregation_cardinality_limit: {limit}\n{dims}"));
        let mut groups = Vec::new();
        let mut counted = 0u64;
        for (g, service) in services.iter().enumerate() {
            let list: Vec<Span> = spans.iter().enumerate().filter(|(k, _)| k % services.len() == g).map(|(k, (name, kind, status, nanos, code))| {
                let mut sp = timed(k as u8, &format!("op{name}"), 0.0, *kind, *status, code.map(|c| vec![i("code", c)]).unwrap_or_default());
                sp.end_time_unix_nano = sp.start_time_unix_nano + nanos;
                sp
            }).collect();
            let resource = match service {
                Some(n) => { counted += list.len() as u64; vec![s("service.name", &format!("svc{n}"))] }
                None => vec![s("host.name", "h")],
            };
            groups.push(group(resource, "s", list));
        }
        a.add(batch(groups).bytes(), T0);
        let req = a.flush(T0 + SEC).unwrap_or_default();
        let (mut calls, mut observed) = (0u64, 0u64);
        for m in req.resource_metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics) {
            match m.data.as_ref().unwrap() {
                metric::Data::Sum(s) => {
                    if limit > 0 { prop_assert!(s.data_points.len() <= limit + 1); }
                    for p in &s.data_points {
                        let Some(number_data_point::Value::AsInt(v)) = p.value else { panic!() };
                        calls += v as u64;
                    }
                }
                metric::Data::Histogram(h) => for p in &h.data_points {
                    prop_assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
                    prop_assert_eq!(p.bucket_counts.len(), 4);
                    observed += p.count;
                },
                other => panic!("{other:?}"),
            }
        }
        prop_assert_eq!(calls, counted);
        prop_assert_eq!(observed, counted);
    }
}
