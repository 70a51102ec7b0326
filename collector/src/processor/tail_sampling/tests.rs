//! `tail_sampling`: each policy's verdict on hand-built traces, the Collector's precedence of
//! verdicts, the config's errors, and the running processor on tokio's paused clock (traces
//! held until their decision, released whole, late spans, eviction, shutdown).

use super::policy::{Verdict, decide, fnv1a64, threshold};
use super::*;
use crate::otlp::Limits;
use crate::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::otlp::proto::common::v1::{AnyValue, KeyValue, any_value};
use crate::otlp::proto::resource::v1::Resource;
use crate::otlp::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use crate::processor::testspans::{config, ctx};
use crate::testutil::Recorder;
use prost::Message;
use std::time::Instant as StdInstant;

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

const T0: u64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;

/// A span of trace `trace` (its last byte), numbered `n`, from `start` ms to `end` ms.
fn span(trace: u8, n: u64, start: u64, end: u64, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: [&[0x5b; 15][..], &[trace]].concat(),
        span_id: n.to_be_bytes().to_vec(),
        name: format!("op-{n}"),
        start_time_unix_nano: T0 + start * MS,
        end_time_unix_nano: T0 + end * MS,
        attributes: attrs,
        ..Default::default()
    }
}

/// One request: `spans` under a resource with `service.name`.
fn request(service: &str, spans: Vec<Span>) -> Batch {
    let pb = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s(service))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    Batch::new_validated(Signal::Traces, pb.into(), &Limits::default()).unwrap()
}

fn rule(yaml: &str) -> Rule {
    let p: PolicyConfig = config(yaml);
    p.compile("policies[0]", policy::Level::Top).unwrap()
}

fn verdict(yaml: &str, parts: &[Batch]) -> Verdict {
    let spans = parts.iter().map(Batch::items).sum();
    let id = [&[0x5b; 15][..], &[1]].concat().try_into().unwrap();
    let trace = Trace::new(id, parts, spans, StdInstant::now());
    rule(yaml).evaluate(&trace).unwrap()
}

/// A checkout trace in two requests: a 120 ms SERVER span with route and status code, and a
/// CLIENT span that failed with an exception event, tracestate `ot=th:8`.
fn checkout() -> Vec<Batch> {
    let mut server = span(
        1,
        1,
        0,
        120,
        vec![
            kv("http.route", s("/api/checkout")),
            kv("http.response.status_code", any_value::Value::IntValue(503)),
            kv("retried", any_value::Value::BoolValue(true)),
        ],
    );
    server.kind = span::SpanKind::Server as i32;
    let mut client = span(1, 2, 10, 40, vec![kv("peer.service", s("payments"))]);
    client.status = Some(Status {
        code: 2,
        ..Default::default()
    });
    client.trace_state = "vendor=x,ot=th:8".into();
    client.events = vec![span::Event {
        name: "exception".into(),
        ..Default::default()
    }];
    vec![
        request("frontend", vec![server]),
        request("checkout", vec![client]),
    ]
}

#[test]
fn each_policy_gives_the_collectors_verdict() {
    use Verdict::*;
    let t = checkout();
    let table: &[(&str, Verdict)] = &[
        ("name: a\ntype: always_sample", Sampled),
        (
            "name: a\ntype: latency\nlatency: {threshold_ms: 100}",
            Sampled,
        ),
        (
            "name: a\ntype: latency\nlatency: {threshold_ms: 121}",
            NotSampled,
        ),
        // Widened span by span: 0-120 ms is reached at once, past the upper bound of 100.
        (
            "name: a\ntype: latency\nlatency: {threshold_ms: 10, upper_threshold_ms: 100}",
            NotSampled,
        ),
        (
            "name: a\ntype: latency\nlatency: {threshold_ms: 100, upper_threshold_ms: 200}",
            Sampled,
        ),
        (
            "name: a\ntype: status_code\nstatus_code: {status_codes: [ERROR]}",
            Sampled,
        ),
        (
            "name: a\ntype: status_code\nstatus_code: {status_codes: [OK]}",
            NotSampled,
        ),
        (
            "name: a\ntype: status_code\nstatus_code: {status_codes: [OK, UNSET]}",
            Sampled,
        ),
        (
            "name: a\ntype: string_attribute\nstring_attribute: {key: http.route, values: [/api/checkout]}",
            Sampled,
        ),
        (
            "name: a\ntype: string_attribute\nstring_attribute: {key: http.route, values: [/api/cart]}",
            NotSampled,
        ),
        (
            "name: a\ntype: string_attribute\nstring_attribute: {key: http.route, values: ['/api/.*'], enabled_regex_matching: true}",
            Sampled,
        ),
        (
            "name: a\ntype: string_attribute\nstring_attribute: {key: http.route, values: ['^/api$'], enabled_regex_matching: true}",
            NotSampled,
        ),
        // Resource attributes count too.
        (
            "name: a\ntype: string_attribute\nstring_attribute: {key: service.name, values: [checkout]}",
            Sampled,
        ),
        (
            "name: a\ntype: string_attribute\nstring_attribute: {key: http.route, values: [/api/checkout], invert_match: true}",
            InvertNotSampled,
        ),
        (
            "name: a\ntype: string_attribute\nstring_attribute: {key: http.route, values: [/healthz], invert_match: true}",
            InvertSampled,
        ),
        (
            "name: a\ntype: numeric_attribute\nnumeric_attribute: {key: http.response.status_code, min_value: 500, max_value: 599}",
            Sampled,
        ),
        (
            "name: a\ntype: numeric_attribute\nnumeric_attribute: {key: http.response.status_code, min_value: 400, max_value: 499}",
            NotSampled,
        ),
        (
            "name: a\ntype: numeric_attribute\nnumeric_attribute: {key: http.response.status_code, min_value: 500}",
            Sampled,
        ),
        // A string value reads as 0, as pdata's Int() reads it.
        (
            "name: a\ntype: numeric_attribute\nnumeric_attribute: {key: http.route, max_value: 0}",
            Sampled,
        ),
        (
            "name: a\ntype: numeric_attribute\nnumeric_attribute: {key: http.response.status_code, min_value: 500, invert_match: true}",
            InvertNotSampled,
        ),
        (
            "name: a\ntype: boolean_attribute\nboolean_attribute: {key: retried, value: true}",
            Sampled,
        ),
        (
            "name: a\ntype: boolean_attribute\nboolean_attribute: {key: retried, value: false}",
            NotSampled,
        ),
        (
            "name: a\ntype: boolean_attribute\nboolean_attribute: {key: retried, value: true, invert_match: true}",
            InvertNotSampled,
        ),
        (
            "name: a\ntype: span_count\nspan_count: {min_spans: 2}",
            Sampled,
        ),
        (
            "name: a\ntype: span_count\nspan_count: {min_spans: 3}",
            NotSampled,
        ),
        (
            "name: a\ntype: span_count\nspan_count: {min_spans: 1, max_spans: 1}",
            NotSampled,
        ),
        (
            "name: a\ntype: trace_state\ntrace_state: {key: ot, values: ['th:8']}",
            Sampled,
        ),
        (
            "name: a\ntype: trace_state\ntrace_state: {key: ot, values: ['th:c']}",
            NotSampled,
        ),
        (
            "name: a\ntype: ottl_condition\nottl_condition: {span: ['attributes[\"peer.service\"] == \"payments\"']}",
            Sampled,
        ),
        (
            "name: a\ntype: ottl_condition\nottl_condition: {span: ['kind == SPAN_KIND_CONSUMER']}",
            NotSampled,
        ),
        (
            "name: a\ntype: ottl_condition\nottl_condition: {spanevent: ['name == \"exception\"']}",
            Sampled,
        ),
        (
            "name: a\ntype: and\nand: {and_sub_policy: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}, {name: r, type: string_attribute, string_attribute: {key: http.route, values: [/api/checkout]}}]}",
            Sampled,
        ),
        (
            "name: a\ntype: and\nand: {and_sub_policy: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}, {name: r, type: string_attribute, string_attribute: {key: http.route, values: [/api/cart]}}]}",
            NotSampled,
        ),
        (
            "name: a\ntype: drop\ndrop: {drop_sub_policy: [{name: r, type: string_attribute, string_attribute: {key: http.route, values: [/api/checkout]}}]}",
            Dropped,
        ),
        (
            "name: a\ntype: drop\ndrop: {drop_sub_policy: [{name: r, type: string_attribute, string_attribute: {key: http.route, values: [/healthz]}}]}",
            NotSampled,
        ),
        // `not` swaps yes and no; an inverted verdict passes through.
        (
            "name: a\ntype: not\nnot: {not_sub_policy: {name: e, type: status_code, status_code: {status_codes: [ERROR]}}}",
            NotSampled,
        ),
        (
            "name: a\ntype: not\nnot: {not_sub_policy: {name: r, type: string_attribute, string_attribute: {key: http.route, values: [/api/cart]}}}",
            Sampled,
        ),
        (
            "name: a\ntype: not\nnot: {not_sub_policy: {name: r, type: string_attribute, string_attribute: {key: http.route, values: [/healthz], invert_match: true}}}",
            InvertSampled,
        ),
        // Drop the checkout route unless it failed: it failed, so it stays.
        (
            "name: a\ntype: drop\ndrop: {drop_sub_policy: [{name: r, type: string_attribute, string_attribute: {key: http.route, values: [/api/checkout]}}, {name: ok, type: not, not: {not_sub_policy: {name: e, type: status_code, status_code: {status_codes: [ERROR]}}}}]}",
            NotSampled,
        ),
        (
            "name: a\ntype: drop\ndrop: {drop_sub_policy: [{name: r, type: string_attribute, string_attribute: {key: http.route, values: [/api/checkout]}}, {name: ok, type: not, not: {not_sub_policy: {name: e, type: status_code, status_code: {status_codes: [OK]}}}}]}",
            Dropped,
        ),
        // No span carries the sampled flag.
        ("name: a\ntype: trace_flags", NotSampled),
        // The first sub-policy that keeps it decides, within its share.
        (
            "name: a\ntype: composite\ncomposite: {max_total_spans_per_second: 100, composite_sub_policy: [{name: x, type: span_count, span_count: {min_spans: 5}}, {name: e, type: status_code, status_code: {status_codes: [ERROR]}}], rate_allocation: [{policy: e, percent: 10}]}",
            Sampled,
        ),
        (
            "name: a\ntype: composite\ncomposite: {max_total_spans_per_second: 100, composite_sub_policy: [{name: x, type: span_count, span_count: {min_spans: 5}}, {name: o, type: status_code, status_code: {status_codes: [OK]}}], rate_allocation: [{policy: x, percent: 50}, {policy: o, percent: 50}]}",
            NotSampled,
        ),
        // An inverted yes counts as a yes; an inverted no passes to the next sub-policy.
        (
            "name: a\ntype: composite\ncomposite: {max_total_spans_per_second: 100, composite_sub_policy: [{name: i, type: string_attribute, string_attribute: {key: http.route, values: [/healthz], invert_match: true}}], rate_allocation: [{policy: i, percent: 100}]}",
            Sampled,
        ),
        (
            "name: a\ntype: composite\ncomposite: {max_total_spans_per_second: 100, composite_sub_policy: [{name: i, type: string_attribute, string_attribute: {key: http.route, values: [/api/checkout], invert_match: true}}, {name: all, type: always_sample}], rate_allocation: [{policy: i, percent: 50}, {policy: all, percent: 50}]}",
            Sampled,
        ),
        // A sub-policy without a share keeps nothing, as in the Collector.
        (
            "name: a\ntype: composite\ncomposite: {max_total_spans_per_second: 100, composite_sub_policy: [{name: all, type: always_sample}]}",
            NotSampled,
        ),
        // `and` nests in `composite`.
        (
            "name: a\ntype: composite\ncomposite: {max_total_spans_per_second: 100, composite_sub_policy: [{name: both, type: and, and: {and_sub_policy: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}, {name: c, type: span_count, span_count: {min_spans: 2}}]}}], rate_allocation: [{policy: both}]}",
            Sampled,
        ),
    ];
    for (yaml, want) in table {
        assert_eq!(verdict(yaml, &t), *want, "{yaml}");
    }
    // One span sampled upstream (W3C flags in the low byte; the high bits say whether the
    // parent is remote).
    let mut flagged = span(1, 3, 0, 5, vec![]);
    flagged.flags = 0x0000_0301;
    let mut parts = t.clone();
    parts.push(request("frontend", vec![flagged]));
    assert_eq!(verdict("name: a\ntype: trace_flags", &parts), Sampled);
    let mut unflagged = span(1, 3, 0, 5, vec![]);
    unflagged.flags = 0x0000_0300;
    let mut parts = t.clone();
    parts.push(request("frontend", vec![unflagged]));
    assert_eq!(verdict("name: a\ntype: trace_flags", &parts), NotSampled);
}

#[test]
fn the_probabilistic_policy_hashes_as_the_collector_does() {
    // FNV-1a 64 of "default-hash-seed" then the trace id, computed apart from this code.
    let table = [
        (
            "0af7651916cd43dd8448eb211c80319c",
            0x33bf_83d4_5f51_634c_u64,
        ),
        ("4bf92f3577b34da6a3ce929d0e0e4736", 0xa545_33ba_2e49_70b5),
        ("ffffffffffffffffffffffffffffffff", 0x17be_c373_9634_fe2d),
    ];
    for (id, want) in table {
        let bytes: Vec<u8> = (0..16)
            .map(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert_eq!(fnv1a64(b"default-hash-seed", &bytes), want, "{id}");
    }
    assert_eq!(threshold(100.0), u64::MAX);
    assert_eq!(threshold(0.0), 0);
    assert_eq!(threshold(50.0), 1 << 63);
    // At 10 % the third is kept (its hash is 9.3 % of the range), the first is not.
    assert!(0x17be_c373_9634_fe2d <= threshold(10.0));
    assert!(0x33bf_83d4_5f51_634c > threshold(10.0));
}

/// Two traces empty a full bucket of twice the rate; the next is let through once a second
/// has refilled it, not before.
fn assert_bucket_drains_and_refills(r: &Rule, t: &[Batch]) {
    let now = StdInstant::now();
    let trace = |ms| Trace::new([1; 16], t, 2, now + Duration::from_millis(ms));
    assert_eq!(r.evaluate(&trace(0)), Ok(Verdict::Sampled));
    assert_eq!(r.evaluate(&trace(0)), Ok(Verdict::Sampled));
    assert_eq!(r.evaluate(&trace(0)), Ok(Verdict::NotSampled));
    assert_eq!(r.evaluate(&trace(999)), Ok(Verdict::NotSampled));
    assert_eq!(r.evaluate(&trace(1000)), Ok(Verdict::Sampled));
}

#[test]
fn rate_limiting_lets_spans_through_up_to_its_bucket() {
    // Two spans a second, for traces of two spans.
    let r = rule("name: a\ntype: rate_limiting\nrate_limiting: {spans_per_second: 2}");
    assert_bucket_drains_and_refills(&r, &checkout());
}

#[test]
fn composite_keeps_within_each_share_of_the_second() {
    // 10 spans a second: 50 % for errors, an equal share (10 / 2) for the rest.
    let r = rule(
        "name: a\ntype: composite\ncomposite:\n  max_total_spans_per_second: 10\n  composite_sub_policy:\n    - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n    - {name: rest, type: always_sample}\n  rate_allocation: [{policy: errors, percent: 50}, {policy: rest, percent: 0}]",
    );
    let failed = checkout();
    let fine = [request(
        "frontend",
        vec![span(2, 1, 0, 5, vec![]), span(2, 2, 0, 5, vec![])],
    )];
    let lone_error = {
        let mut s = span(3, 1, 0, 5, vec![]);
        s.status = Some(Status {
            code: 2,
            ..Default::default()
        });
        [request("frontend", vec![s])]
    };
    let now = StdInstant::now();
    let at = |parts: &[Batch], ms: u64| {
        let spans = parts.iter().map(Batch::items).sum();
        r.evaluate(&Trace::new(
            [1; 16],
            parts,
            spans,
            now + Duration::from_millis(ms),
        ))
    };
    use Verdict::*;
    // Two 2-span error traces fit in 5; the third would make 6.
    assert_eq!(at(&failed, 0), Ok(Sampled));
    assert_eq!(at(&failed, 100), Ok(Sampled));
    assert_eq!(
        at(&failed, 200),
        Ok(NotSampled),
        "past its share, a trace is not kept even where the next sub-policy has room"
    );
    // What did not fit was not counted: a 1-span error trace still fits (5).
    assert_eq!(at(&lone_error, 300), Ok(Sampled));
    assert_eq!(at(&lone_error, 400), Ok(NotSampled));
    // The others have their own share.
    assert_eq!(at(&fine, 500), Ok(Sampled));
    assert_eq!(at(&fine, 600), Ok(Sampled));
    assert_eq!(at(&fine, 700), Ok(NotSampled));
    // The next second starts every share again.
    assert_eq!(at(&failed, 1000), Ok(Sampled));
    assert_eq!(at(&fine, 1100), Ok(Sampled));
}

#[test]
fn composite_shares_that_do_not_do_what_they_seem_are_warned_about() {
    let warnings = |yaml: &str| {
        let c: TailSamplingConfig = config(yaml);
        assert_eq!(c.validate(), [], "{yaml}");
        c.warnings()
    };
    assert_eq!(
        warnings(
            "policies: [{name: c, type: composite, composite: {max_total_spans_per_second: 100, policy_order: [a, b], composite_sub_policy: [{name: a, type: always_sample}, {name: b, type: always_sample}], rate_allocation: [{policy: a, percent: 60}, {policy: b, percent: 40}]}}]"
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        warnings(
            "policies:\n  - {name: ok, type: always_sample}\n  - {name: c, type: composite, composite: {max_total_spans_per_second: 100, policy_order: [b, a], composite_sub_policy: [{name: a, type: always_sample}, {name: b, type: always_sample}], rate_allocation: [{policy: a, percent: 80}, {policy: bb, percent: 40}]}}"
        ),
        [
            "policies[1].composite.rate_allocation: no share for sub-policy \"b\": it keeps no trace (as in the Collector); give it a `percent`",
            "policies[1].composite.rate_allocation[1].policy: \"bb\" is not a sub-policy of this composite; ignored",
            "policies[1].composite.rate_allocation: the shares add up to 120 %: together the sub-policies can keep more than max_total_spans_per_second",
            "policies[1].composite.policy_order: not used: sub-policies are evaluated in the order of composite_sub_policy, as in the Collector",
        ]
    );
    assert_eq!(
        warnings(
            "decision_wait: 5s\ndecision_wait_after_root_received: 5s\npolicies: [{name: a, type: always_sample}]"
        ),
        [
            "decision_wait_after_root_received: not shorter than decision_wait, so no trace is decided sooner"
        ]
    );
    assert_eq!(
        warnings(
            "decision_wait: 5s\ndecision_wait_after_root_received: 2s\npolicies: [{name: a, type: always_sample}]"
        ),
        Vec::<String>::new()
    );
}

#[test]
fn bytes_limiting_lets_bytes_through_up_to_its_bucket() {
    let t = checkout();
    // The trace's protobuf size: its two requests.
    let size: usize = t.iter().map(|b| b.bytes().len()).sum();
    assert!(size > 100, "{size}");
    let r = rule(&format!(
        "name: a\ntype: bytes_limiting\nbytes_limiting: {{bytes_per_second: {size}}}"
    ));
    assert_bucket_drains_and_refills(&r, &t);
    // A burst smaller than the trace never lets it through.
    let small = rule(&format!(
        "name: a\ntype: bytes_limiting\nbytes_limiting: {{bytes_per_second: {size}, burst_capacity: {}}}",
        size - 1
    ));
    let trace = Trace::new([1; 16], &t, 2, StdInstant::now());
    assert_eq!(small.evaluate(&trace), Ok(Verdict::NotSampled));
}

#[test]
fn verdicts_combine_by_the_collectors_precedence() {
    use Verdict::*;
    let table: &[(&[Verdict], bool)] = &[
        (&[], false),
        (&[NotSampled], false),
        (&[Sampled], true),
        (&[NotSampled, Sampled], true),
        (&[Sampled, Dropped], false),
        (&[Sampled, InvertNotSampled], false),
        (&[InvertSampled], true),
        (&[InvertSampled, NotSampled], false),
        (&[InvertSampled, NotSampled, Sampled], true),
        (&[InvertSampled, InvertNotSampled], false),
    ];
    for (v, want) in table {
        assert_eq!(decide(v), *want, "{v:?}");
    }
}

#[test]
fn configs_are_checked_policy_by_policy() {
    let check = crate::processor::testspans::validation_messages::<TailSamplingConfig>;
    let table: &[(&str, &[&str])] = &[
        ("policies: [{name: all, type: always_sample}]", &[]),
        (
            "decision_wait: 10s\nnum_traces: 100\npolicies: [{name: e, type: status_code, status_code: {status_codes: [ERROR]}}]",
            &[],
        ),
        ("{}", &["policies: no policies: list at least one"]),
        (
            "decision_wait: 0s\npolicies: [{name: all, type: always_sample}]",
            &["decision_wait: must be positive"],
        ),
        (
            "policies: [{type: always_sample}]",
            &["policies[0].name: must not be empty"],
        ),
        (
            "policies: [{name: a, type: always_sample}, {name: a, type: always_sample}]",
            &["policies[1].name: duplicate policy name \"a\""],
        ),
        (
            "policies: [{name: a, type: latency}]",
            &["policies[0].latency: a policy of type \"latency\" needs its `latency` settings"],
        ),
        (
            "policies: [{name: a, type: status_code, status_code: {status_codes: [FAILED]}}]",
            &[
                "policies[0].status_code.status_codes: unknown status code \"FAILED\": use OK, ERROR or UNSET",
            ],
        ),
        (
            "policies: [{name: a, type: numeric_attribute, numeric_attribute: {key: x}}]",
            &["policies[0].numeric_attribute: set min_value, max_value or both"],
        ),
        (
            "policies: [{name: a, type: string_attribute, string_attribute: {key: x, values: ['(a'], enabled_regex_matching: true}}]",
            &[
                "policies[0].string_attribute.values[0]: invalid regular expression \"(a\": unclosed group",
            ],
        ),
        (
            "policies: [{name: a, type: composite}]",
            &[
                "policies[0].composite: a policy of type \"composite\" needs its `composite` settings",
            ],
        ),
        (
            "policies: [{name: a, type: composite, composite: {composite_sub_policy: [{name: b, type: always_sample}]}}]",
            &["policies[0].composite.max_total_spans_per_second: must be positive"],
        ),
        (
            "policies: [{name: a, type: composite, composite: {max_total_spans_per_second: 10}}]",
            &["policies[0].composite.composite_sub_policy: must not be empty"],
        ),
        (
            "policies: [{name: a, type: composite, composite: {max_total_spans_per_second: 10, composite_sub_policy: [{name: b, type: always_sample}, {name: c, type: status_code, status_code: {status_codes: [BAD]}}, {name: d, type: drop, drop: {}}]}}]",
            &[
                "policies[0].composite.composite_sub_policy[1].status_code.status_codes: unknown status code \"BAD\": use OK, ERROR or UNSET",
                "policies[0].composite.composite_sub_policy[2].type: a \"drop\" policy cannot be nested in another",
            ],
        ),
        (
            "policies: [{name: a, type: composite, composite: {max_total_spans_per_second: 10, composite_sub_policy: [{name: b, type: composite, composite: {}}]}}]",
            &[
                "policies[0].composite.composite_sub_policy[0].type: a \"composite\" policy cannot be nested in another",
            ],
        ),
        (
            "policies: [{name: a, type: composite, composite: {max_total_spans_per_second: 10, composite_sub_policy: [{name: b, type: and, and: {and_sub_policy: [{name: c, type: and, and: {}}]}}]}}]",
            &[
                "policies[0].composite.composite_sub_policy[0].and.and_sub_policy[0].type: a \"and\" policy cannot be nested in another",
            ],
        ),
        (
            "policies: [{name: a, type: not}]",
            &["policies[0].not: a policy of type \"not\" needs its `not` settings"],
        ),
        (
            "policies: [{name: a, type: not, not: {}}]",
            &["policies[0].not.not_sub_policy: must be set"],
        ),
        (
            "policies: [{name: a, type: not, not: {not_sub_policy: {name: b, type: not, not: {}}}}]",
            &["policies[0].not.not_sub_policy.type: a \"not\" policy cannot be nested in another"],
        ),
        (
            "policies: [{name: a, type: not, not: {not_sub_policy: {name: b, type: and, and: {}}}}]",
            &["policies[0].not.not_sub_policy.type: a \"and\" policy cannot be nested in another"],
        ),
        (
            "policies: [{name: a, type: and, and: {and_sub_policy: [{name: b, type: not, not: {not_sub_policy: {name: c, type: latency}}}]}}]",
            &[
                "policies[0].and.and_sub_policy[0].not.not_sub_policy.latency: a policy of type \"latency\" needs its `latency` settings",
            ],
        ),
        (
            "policies: [{name: a, type: and, and: {and_sub_policy: [{name: b, type: composite, composite: {}}]}}]",
            &[
                "policies[0].and.and_sub_policy[0].type: a \"composite\" policy cannot be nested in another",
            ],
        ),
        (
            "policies: [{name: a, type: groupbytrace}]",
            &[
                "policies[0].type: unknown policy type \"groupbytrace\" (supported: always_sample, latency, numeric_attribute, probabilistic, status_code, string_attribute, rate_limiting, bytes_limiting, span_count, trace_state, boolean_attribute, ottl_condition, trace_flags, and, drop, not, composite)",
            ],
        ),
        (
            "policies: [{name: a, type: and, and: {and_sub_policy: [{name: b, type: and, and: {}}]}}]",
            &[
                "policies[0].and.and_sub_policy[0].type: a \"and\" policy cannot be nested in another",
            ],
        ),
        (
            "policies: [{name: a, type: ottl_condition, ottl_condition: {span: ['attributes[\"x\" == 1']}}]",
            &["policies[0].ottl_condition.span[0]: invalid OTTL condition"],
        ),
        (
            "policies: [{name: a, type: rate_limiting, rate_limiting: {spans_per_second: 0}}]",
            &["policies[0].rate_limiting.spans_per_second: must be positive"],
        ),
        (
            "policies: [{name: a, type: bytes_limiting, bytes_limiting: {burst_capacity: 10}}]",
            &["policies[0].bytes_limiting.bytes_per_second: must be positive"],
        ),
        (
            "policies: [{name: a, type: bytes_limiting, bytes_limiting: {bytes_per_second: 10, burst_capacity: -1}}]",
            &["policies[0].bytes_limiting.burst_capacity: must not be negative"],
        ),
        (
            "policies: [{name: a, type: bytes_limiting, bytes_limiting: {bytes_per_second: 1048576}}]",
            &[],
        ),
        (
            "decision_waits: 1s",
            &[
                "decision_waits: unknown field `decision_waits`, expected one of `decision_wait`, `num_traces`, `decision_wait_after_root_received`, `maximum_trace_size_bytes`, `drop_pending_traces_on_shutdown`, `expected_new_traces_per_sec`, `sample_on_first_match`, `decision_cache`, `policies`",
            ],
        ),
    ];
    for (yaml, want) in table {
        let got = check(yaml);
        // OTTL messages carry the parser's caret drawing: compare their first words.
        let got: Vec<String> = got
            .iter()
            .zip(want.iter())
            .map(|(g, w)| {
                if g.starts_with(w) {
                    (*w).to_owned()
                } else {
                    g.clone()
                }
            })
            .chain(got.iter().skip(want.len()).cloned())
            .collect();
        assert_eq!(got, *want, "{yaml}");
    }
}

/// A sampler keeping traces with an error span, deciding 10 s after a trace's first span.
fn sampler(extra: &str) -> (Arc<TailSampler>, Arc<Recorder>, Context) {
    let yaml = format!(
        "decision_wait: 10s\n{extra}policies:\n  - name: errors\n    type: status_code\n    status_code: {{status_codes: [ERROR]}}\n"
    );
    let cfg: TailSamplingConfig = config(&yaml);
    let ctx = ctx("tail_sampling");
    let rec = Arc::new(Recorder::default());
    let p = TailSampler::spawn(&ctx, &cfg, cfg.compile().unwrap(), rec.clone());
    (p, rec, ctx)
}

fn failed(mut s: Span) -> Span {
    s.status = Some(Status {
        code: 2,
        ..Default::default()
    });
    s
}

fn metric(ctx: &Context, name: &str, labels: &str) -> String {
    let text = ctx.telemetry.render();
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(labels))
        .and_then(|l| l.rsplit_once(' '))
        .map_or_else(|| "absent".to_owned(), |(_, v)| v.to_owned())
}

#[tokio::test(start_paused = true)]
async fn traces_wait_for_their_decision_and_go_on_whole() {
    let (p, rec, ctx) = sampler("");
    // Trace 1 fails in its second request; trace 2 never fails.
    p.consume(request(
        "a",
        vec![span(1, 10, 0, 5, vec![]), span(2, 20, 0, 5, vec![])],
    ))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    p.consume(request(
        "b",
        vec![failed(span(1, 11, 1, 4, vec![])), span(2, 21, 1, 4, vec![])],
    ))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(rec.numbers().is_empty(), "decided before decision_wait");
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Trace 1 whole, in one request, both resources; trace 2 not at all.
    assert_eq!(rec.numbers(), [10, 11]);
    assert_eq!(rec.sizes(), [2]);
    let got = ExportTraceServiceRequest::decode(rec.0.lock().unwrap()[0].bytes().as_ref()).unwrap();
    assert_eq!(got.resource_spans.len(), 2);

    // Late spans follow the decision: trace 1's pass at once, trace 2's are dropped.
    p.consume(request(
        "c",
        vec![span(1, 12, 5, 6, vec![]), span(2, 22, 5, 6, vec![])],
    ))
    .await
    .unwrap();
    assert_eq!(rec.numbers(), [10, 11, 12]);
    for (name, labels, want) in [
        (
            "otelcol_processor_tail_sampling_global_count_traces_sampled_total",
            "sampled=\"true\"",
            "1",
        ),
        (
            "otelcol_processor_tail_sampling_global_count_traces_sampled_total",
            "sampled=\"false\"",
            "1",
        ),
        (
            "otelcol_processor_tail_sampling_count_traces_sampled_total",
            "policy=\"errors\",processor=\"tail_sampling\",sampled=\"true\"",
            "1",
        ),
        (
            "otelcol_processor_tail_sampling_new_trace_id_received_total",
            "",
            "2",
        ),
        (
            "otelcol_processor_tail_sampling_sampling_traces_on_memory",
            "",
            "2",
        ),
        (
            "meshtrace_processor_tail_sampling_late_spans_dropped_total",
            "",
            "1",
        ),
        ("otelcol_processor_incoming_items_total", "", "6"),
        ("otelcol_processor_outgoing_items_total", "", "3"),
        // Both late parts came a second after their trace's decision (at the 10 s tick).
        (
            "otelcol_processor_tail_sampling_sampling_late_span_age_bucket",
            "le=\"0\"",
            "0",
        ),
        (
            "otelcol_processor_tail_sampling_sampling_late_span_age_bucket",
            "le=\"5\"",
            "2",
        ),
        (
            "otelcol_processor_tail_sampling_sampling_decision_timer_latency_count",
            "",
            "1",
        ),
    ] {
        assert_eq!(metric(&ctx, name, labels), want, "{name}{{{labels}}}");
    }
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_root_span_brings_the_decision_forward() {
    let (p, rec, _ctx) = sampler("decision_wait_after_root_received: 1s\n");
    let child = |trace: u8, n: u64| {
        let mut s = failed(span(trace, n, 1, 4, vec![]));
        s.parent_span_id = (n - 1).to_be_bytes().to_vec();
        s
    };
    // Traces 1 and 2 fail in a child span; trace 1's root (the edge proxy's SERVER span, which
    // ends last) arrives 2 s later, trace 2's never.
    p.consume(request("reviews", vec![child(1, 11), child(2, 21)]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    p.consume(request("edge", vec![span(1, 10, 0, 5, vec![])]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(rec.numbers().is_empty(), "decided before the root's wait");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rec.numbers(), [11, 10], "trace 1, 1 s after its root");
    // Trace 2 waits the whole decision_wait; spans of trace 1 after its decision follow it.
    p.consume(request("ratings", vec![child(1, 12)]))
        .await
        .unwrap();
    assert_eq!(rec.numbers(), [11, 10, 12]);
    tokio::time::sleep(Duration::from_millis(6800)).await;
    assert_eq!(rec.numbers(), [11, 10, 12]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rec.numbers(), [11, 10, 12, 21]);
    // A root that comes first: the trace is due 1 s after it, with what came meanwhile.
    p.consume(request("edge", vec![span(3, 30, 0, 5, vec![])]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    p.consume(request("reviews", vec![child(3, 31)]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(rec.numbers(), [11, 10, 12, 21, 30, 31]);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn past_num_traces_the_oldest_is_dropped_undecided() {
    let (p, rec, ctx) = sampler("num_traces: 2\n");
    for t in 1..=3u8 {
        p.consume(request(
            "a",
            vec![failed(span(t, u64::from(t), 0, 1, vec![]))],
        ))
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(rec.numbers(), [2, 3]);
    assert_eq!(
        metric(
            &ctx,
            "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early_total",
            ""
        ),
        "1"
    );
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_decides_every_waiting_trace() {
    let (p, rec, _) = sampler("");
    p.consume(request(
        "a",
        vec![failed(span(1, 1, 0, 1, vec![])), span(2, 2, 0, 1, vec![])],
    ))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(rec.numbers().is_empty());
    p.shutdown().await;
    assert_eq!(rec.numbers(), [1]);
}

#[tokio::test(start_paused = true)]
async fn pending_traces_can_be_dropped_at_shutdown_instead() {
    let (p, rec, _) = sampler("drop_pending_traces_on_shutdown: true\n");
    p.consume(request("a", vec![failed(span(1, 1, 0, 1, vec![]))]))
        .await
        .unwrap();
    p.shutdown().await;
    assert!(rec.numbers().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_trace_past_maximum_trace_size_bytes_is_dropped_at_once() {
    let part = |trace: u8, n: u64| request("a", vec![failed(span(trace, n, 0, 1, vec![]))]);
    let one = part(1, 1).bytes().len();
    // Room for one part of a trace, not two.
    let (p, rec, ctx) = sampler(&format!("maximum_trace_size_bytes: {}\n", one + one / 2));
    p.consume(part(1, 1)).await.unwrap();
    p.consume(part(2, 20)).await.unwrap();
    p.consume(part(1, 2)).await.unwrap();
    // A part alone past the limit.
    let big = request(
        "a",
        (30..40).map(|n| failed(span(3, n, 0, 1, vec![]))).collect(),
    );
    assert!(big.bytes().len() > one + one / 2);
    p.consume(big).await.unwrap();
    let dropped = "otelcol_processor_tail_sampling_traces_dropped_too_large_total";
    assert_eq!(metric(&ctx, dropped, "processor=\"tail_sampling\""), "2");
    // Their later spans follow the drop; the other trace is decided as usual.
    p.consume(part(1, 3)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(rec.numbers(), [20]);
    assert_eq!(
        metric(
            &ctx,
            "meshtrace_processor_tail_sampling_late_spans_dropped_total",
            ""
        ),
        "1"
    );
    p.shutdown().await;
    assert_eq!(rec.numbers(), [20]);
}

#[tokio::test(start_paused = true)]
async fn decision_caches_remember_traces_that_left_memory() {
    let (p, rec, ctx) = sampler("num_traces: 1\ndecision_cache: {sampled_cache_size: 10}\n");
    p.consume(request("a", vec![failed(span(1, 1, 0, 1, vec![]))]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(11)).await;
    // Trace 2 pushes trace 1 out of memory; the cache still knows it was kept.
    p.consume(request("a", vec![span(2, 2, 0, 1, vec![])]))
        .await
        .unwrap();
    p.consume(request("a", vec![span(1, 3, 0, 1, vec![])]))
        .await
        .unwrap();
    assert_eq!(rec.numbers(), [1, 3]);
    let from_cache = "otelcol_processor_tail_sampling_early_releases_from_cache_decision_total";
    assert_eq!(metric(&ctx, from_cache, "sampled=\"true\""), "1");
    assert_eq!(metric(&ctx, from_cache, "sampled=\"false\""), "0");
    p.shutdown().await;
}

/// The example of docs/collector.md loads and validates as written.
#[test]
fn the_documented_example_is_valid() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/collector.md"))
        .unwrap();
    let section = doc.split("### Processor `tail_sampling`").nth(1).unwrap();
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let v = crate::config::value::from_yaml(yaml).unwrap();
    let cfg: TailSamplingConfig =
        crate::registry::parse_typed(v.get("processors").unwrap().get("tail_sampling").unwrap())
            .unwrap();
    assert_eq!(cfg.validate(), []);
    assert_eq!(cfg.policies.len(), 4);
    assert_eq!(cfg.compile().unwrap().len(), 4);
}

/// The `composite` example of docs/collector.md validates without a warning.
#[test]
fn the_documented_composite_example_is_valid() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/collector.md"))
        .unwrap();
    let section = doc.split("### Processor `tail_sampling`").nth(1).unwrap();
    let block = section
        .split("```yaml\n")
        .nth(2)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    assert!(block.contains("type: composite"), "{block}");
    let cfg: TailSamplingConfig = config(&format!("policies:\n{block}"));
    assert_eq!(cfg.validate(), []);
    assert_eq!(cfg.warnings(), Vec::<String>::new());
    let policy::PolicyConfig {
        composite: Some(c), ..
    } = &cfg.policies[0]
    else {
        panic!("no composite settings");
    };
    assert_eq!(c.max_total_spans_per_second, 2000);
    assert_eq!(c.composite_sub_policy.len(), 3);
}

mod composite_budget {
    //! `composite` against a model of the Collector's rule, over any traces in one second.
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Each trace goes to the first sub-policy that would keep it (here: errors, then
        /// everything); it is kept exactly when that sub-policy's spans this second, with
        /// it, stay within its share and the total. So no share is ever exceeded.
        #[test]
        fn keeps_what_the_collectors_rule_keeps(
            total in 1i64..200,
            percents in (0i64..=100, 0i64..=100),
            traces in proptest::collection::vec((1usize..30, any::<bool>()), 0..40),
        ) {
            let r = rule(&format!(
                "name: a\ntype: composite\ncomposite: {{max_total_spans_per_second: {total}, composite_sub_policy: [{{name: e, type: status_code, status_code: {{status_codes: [ERROR]}}}}, {{name: all, type: always_sample}}], rate_allocation: [{{policy: e, percent: {}}}, {{policy: all, percent: {}}}]}}",
                percents.0, percents.1
            ));
            let share = |p: i64| {
                let t = total as f64;
                (if p > 0 { p as f64 / 100.0 * t } else { t / 2.0 }) as i64
            };
            let shares = [share(percents.0), share(percents.1)];
            let mut kept = [0i64; 2];
            let now = StdInstant::now();
            for (n, (spans, error)) in traces.iter().enumerate() {
                let list = (0..*spans as u64)
                    .map(|i| {
                        let s = span(1, i, 0, 1, vec![]);
                        if *error && i == 0 { failed(s) } else { s }
                    })
                    .collect();
                let parts = [request("a", list)];
                let got = r
                    .evaluate(&Trace::new([1; 16], &parts, *spans, now + Duration::from_millis(n as u64)))
                    .unwrap();
                let sub = usize::from(!*error);
                let after = kept[sub] + *spans as i64;
                let fits = after <= shares[sub] && after <= total;
                if fits {
                    kept[sub] = after;
                }
                prop_assert_eq!(got, if fits { Verdict::Sampled } else { Verdict::NotSampled });
            }
            prop_assert!(kept[0] <= shares[0] && kept[1] <= shares[1]);
        }
    }
}
