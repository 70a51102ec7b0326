//! Evaluation cost per span of the seed's filter conditions on spans shaped like what an
//! Istio sidecar's Envoy OpenTelemetry tracer reports (15 attributes), plus compile cost.
//!
//! Run: `cargo bench -p meshtrace-ottl --bench eval`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use meshtrace_ottl::memory::{SpanData, attrs};
use meshtrace_ottl::{ConditionSet, ErrorMode, Span, SpanCondition};

const SEED: &[&str] = &[
    r#"IsMatch(attributes["upstream_cluster"], "grafana/.*")"#,
    r#"attributes["http.route"] == "/livez""#,
    r#"attributes["user_agent.original"] == "kube-probe//""#,
    r#"name == "OperationHandler.handle""#,
];

/// The seed user's whole list (Contour/TAP): 9 conditions.
const SEED_FULL: &[&str] = &[
    r#"IsMatch(attributes["upstream_cluster"], "grafana/.*")"#,
    r#"IsMatch(attributes["upstream_cluster"], "tap-gui/.*")"#,
    r#"IsMatch(attributes["upstream_cluster"], "appsso/.*")"#,
    r#"IsMatch(attributes["http.url"], "https://grafana.*")"#,
    r#"attributes["http.route"] == "/livez""#,
    r#"attributes["http.route"] == "/readyz""#,
    r#"attributes["user_agent.original"] == "kube-probe//""#,
    r#"attributes["user_agent"] == "Knative-Ingress-Probe""#,
    r#"name == "OperationHandler.handle""#,
];

/// An outbound sidecar span: 15 attributes, none matching the seed's conditions.
fn sidecar_span(upstream: &str, route: &str) -> SpanData {
    let attributes = attrs([
        (
            "node_id",
            "sidecar~10.244.1.17~reviews-v2-7c8d9f.bookinfo~bookinfo.svc.cluster.local",
        ),
        ("zone", "us-central1-a"),
        ("guid:x-request-id", "2c9cc4c5-e2c7-90f6-8680-8eeab7fbdaf2"),
        (
            "http.url",
            "http://ratings.bookinfo.svc.cluster.local:9080/ratings/0",
        ),
        ("http.method", "GET"),
        ("downstream_cluster", "-"),
        (
            "user_agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
        ),
        ("http.protocol", "HTTP/1.1"),
        ("peer.address", "10.244.1.17"),
        ("http.status_code", "200"),
        ("response_flags", "-"),
        ("component", "proxy"),
        ("upstream_cluster", upstream),
        ("istio.canonical_service", "reviews"),
        ("http.route", route),
    ]);
    assert_eq!(attributes.len(), 15);
    SpanData {
        name: "ratings.bookinfo.svc.cluster.local:9080/*".into(),
        kind: 3,
        start_time_unix_nano: 1_706_175_283_018_000_000,
        end_time_unix_nano: 1_706_175_283_020_000_000,
        attributes,
        resource_attributes: attrs([("service.name", "reviews.bookinfo")]),
        scope_name: "envoy".into(),
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let miss = sidecar_span(
        "outbound|9080||ratings.bookinfo.svc.cluster.local",
        "/ratings/{id}",
    );
    let hit = sidecar_span("grafana/grafana_80", "/livez");

    let mut group = c.benchmark_group("ottl_eval_per_span");
    for (i, src) in SEED.iter().enumerate() {
        let cond = SpanCondition::parse(src).unwrap();
        let label = [
            "is_match_upstream_cluster",
            "http_route_eq",
            "user_agent_eq",
            "name_eq",
        ][i];
        group.bench_function(format!("{label}/no_match"), |b| {
            b.iter(|| cond.eval(black_box(&miss)).unwrap())
        });
        group.bench_function(format!("{label}/match"), |b| {
            b.iter(|| cond.eval(black_box(&hit)).unwrap())
        });
    }
    // Reference points: a constant, and an int field with no attribute lookup.
    for (label, src) in [
        ("baseline_true", "true"),
        ("kind_eq_enum", "kind == SPAN_KIND_CLIENT"),
    ] {
        let cond = SpanCondition::parse(src).unwrap();
        group.bench_function(label, |b| b.iter(|| cond.eval(black_box(&miss)).unwrap()));
    }
    let four = ConditionSet::<Span>::parse(SEED, ErrorMode::Ignore).unwrap();
    group.bench_function("seed_4_conditions/no_match", |b| {
        b.iter(|| four.matches(black_box(&miss), |_, _| {}).unwrap())
    });
    let nine = ConditionSet::<Span>::parse(SEED_FULL, ErrorMode::Ignore).unwrap();
    group.bench_function("seed_9_conditions/no_match", |b| {
        b.iter(|| nine.matches(black_box(&miss), |_, _| {}).unwrap())
    });
    group.finish();

    let mut compile = c.benchmark_group("ottl_compile");
    compile.bench_function("seed_9_conditions", |b| {
        b.iter(|| ConditionSet::<Span>::parse(black_box(SEED_FULL), ErrorMode::Ignore).unwrap())
    });
    compile.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
