//! Evaluates one of the seed's filter lists N times on a 15-attribute sidecar span, for
//! measuring CPU time per evaluation on a busy machine where wall-clock benchmarks are noisy:
//!
//! ```sh
//! cargo build --release -p meshtrace-ottl --example eval_loop
//! perf stat -e task-clock target/release/examples/eval_loop seed4 5000000
//! ```
//!
//! Subtract the run with N = 1 and divide by N. Lists: `true`, `kind`, `name`, `route`, `ua`,
//! `ismatch`, `seed4`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use meshtrace_ottl::memory::{SpanData, attrs};
use meshtrace_ottl::{ConditionSet, ErrorMode, Span};

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "seed4".into());
    let n: u64 = args
        .next()
        .map_or(1_000_000, |s| s.parse().expect("iterations"));
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
        (
            "upstream_cluster",
            "outbound|9080||ratings.bookinfo.svc.cluster.local",
        ),
        ("istio.canonical_service", "reviews"),
        ("http.route", "/ratings/{id}"),
    ]);
    let span = SpanData {
        name: "ratings.bookinfo.svc.cluster.local:9080/*".into(),
        kind: 3,
        attributes,
        ..Default::default()
    };
    let conditions: &[&str] = match which.as_str() {
        "true" => &["true"],
        "kind" => &["kind == SPAN_KIND_CLIENT"],
        "name" => &[r#"name == "OperationHandler.handle""#],
        "route" => &[r#"attributes["http.route"] == "/livez""#],
        "ua" => &[r#"attributes["user_agent.original"] == "kube-probe//""#],
        "ismatch" => &[r#"IsMatch(attributes["upstream_cluster"], "grafana/.*")"#],
        _ => &[
            r#"IsMatch(attributes["upstream_cluster"], "grafana/.*")"#,
            r#"attributes["http.route"] == "/livez""#,
            r#"attributes["user_agent.original"] == "kube-probe//""#,
            r#"name == "OperationHandler.handle""#,
        ],
    };
    let set = ConditionSet::<Span>::parse(conditions, ErrorMode::Ignore).unwrap();
    let mut matched = 0u64;
    for _ in 0..n {
        if set.matches(black_box(&span), |_, _| {}).unwrap() {
            matched += 1;
        }
    }
    println!("{matched} of {n} matched");
}
