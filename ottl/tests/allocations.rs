//! Evaluating the common condition shapes allocates nothing: counted with a per-thread
//! counting allocator around the evaluation (after one warm-up call, which lets the regex
//! engine create its per-thread cache).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use meshtrace_ottl::memory::EventView;
use meshtrace_ottl::{ConditionSet, ErrorMode, Span, SpanCondition, SpanEventCondition};

fn allocations_during(f: impl Fn()) -> usize {
    f();
    let before = counting_alloc::allocations();
    for _ in 0..10 {
        f();
    }
    counting_alloc::allocations() - before
}

#[test]
fn common_conditions_do_not_allocate() {
    let spans = [
        common::grafana_ingress(),
        common::kube_probe(),
        common::failed_client(),
    ];
    for src in [
        r#"IsMatch(attributes["upstream_cluster"], "grafana/.*")"#,
        r#"attributes["http.route"] == "/livez""#,
        r#"attributes["user_agent.original"] == "kube-probe//""#,
        r#"name == "OperationHandler.handle""#,
        r#"span.name != "x" and not (kind == SPAN_KIND_CLIENT or status.code == STATUS_CODE_ERROR)"#,
        r#"resource.attributes["service.name"] == "checkout""#,
        r#"attributes["k8s"]["labels"]["app"] == "grafana""#,
        r#"attributes["response_size"] > 400 and attributes["sample.ratio"] < 0.5"#,
        r#"attributes["missing"] == nil"#,
        r#"instrumentation_scope.name == "envoy" and IsString(attributes["http.method"])"#,
        r#"HasPrefix(name, "POST") or IsRootSpan()"#,
        r#"IsMatch(resource.attributes["host.name"], "^pod-")"#,
        r#"trace_state["congo"] == "t61rcWkgMzE""#,
        r#"ContainsValue(["GET", "HEAD"], attributes["http.method"])"#,
        "end_time_unix_nano - start_time_unix_nano > 1000000000",
    ] {
        let cond = SpanCondition::parse(src).unwrap();
        for span in &spans {
            let n = allocations_during(|| {
                let _ = cond.eval(span);
            });
            assert_eq!(n, 0, "{src} allocated {n} times on span {:?}", span.name);
        }
    }
    let seed = ConditionSet::<Span>::parse(
        &[
            r#"IsMatch(attributes["upstream_cluster"], "grafana/.*")"#,
            r#"attributes["http.route"] == "/livez""#,
            r#"attributes["user_agent.original"] == "kube-probe//""#,
            r#"name == "OperationHandler.handle""#,
        ],
        ErrorMode::Ignore,
    )
    .unwrap();
    for span in &spans {
        assert_eq!(
            allocations_during(|| drop(seed.matches(span, |_, _| {}))),
            0
        );
    }
    let event = SpanEventCondition::parse(
        r#"name == "upstream_rq_retry" and span.attributes["http.method"] == "GET""#,
    )
    .unwrap();
    let view = EventView {
        span: &spans[0],
        event: &spans[0].events[0],
    };
    assert_eq!(allocations_during(|| drop(event.eval(&view))), 0);
}

/// The counter does see allocations, so the test above can fail.
#[test]
fn the_counter_sees_allocations() {
    let cond = SpanCondition::parse(r#"Concat([name, "x"], "") != """#).unwrap();
    let span = common::kube_probe();
    assert!(allocations_during(|| drop(cond.eval(&span))) > 0);
}
