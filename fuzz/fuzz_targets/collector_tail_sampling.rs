//! `tail_sampling` policies over arbitrary requests: every policy type evaluates any bytes
//! without panicking, and over a valid traces request the verdicts are the same on the
//! request whole and on it cut into one part per span (the policies read the trace, not how
//! it arrived), except `rate_limiting`, whose bucket drains (`bytes_limiting`'s bucket and
//! `composite`'s budget here are too large to run out).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use meshtrace_collector::otlp::{Batch, Limits, Signal, batching, validate};
use meshtrace_collector::processor::tail_sampling::policy::{Level, PolicyConfig, Rule, Trace};

const POLICIES: &str = r#"
- {name: a, type: always_sample}
- {name: l, type: latency, latency: {threshold_ms: 1}}
- {name: lu, type: latency, latency: {threshold_ms: 1, upper_threshold_ms: 5}}
- {name: s, type: status_code, status_code: {status_codes: [ERROR, UNSET]}}
- {name: st, type: string_attribute, string_attribute: {key: k, values: [v, ""]}}
- {name: sr, type: string_attribute, string_attribute: {key: k, values: ["^v.*"], enabled_regex_matching: true, invert_match: true}}
- {name: n, type: numeric_attribute, numeric_attribute: {key: k, min_value: -5, max_value: 500}}
- {name: b, type: boolean_attribute, boolean_attribute: {key: k, value: true, invert_match: true}}
- {name: c, type: span_count, span_count: {min_spans: 2, max_spans: 3}}
- {name: t, type: trace_state, trace_state: {key: ot, values: ["th:8"]}}
- {name: p, type: probabilistic, probabilistic: {sampling_percentage: 30}}
- {name: o, type: ottl_condition, ottl_condition: {error_mode: ignore, span: ['attributes["k"] == "v"'], spanevent: ['name == "e"']}}
- {name: and, type: and, and: {and_sub_policy: [{name: x, type: span_count, span_count: {min_spans: 1}}, {name: y, type: status_code, status_code: {status_codes: [OK]}}]}}
- {name: d, type: drop, drop: {drop_sub_policy: [{name: x, type: string_attribute, string_attribute: {key: k, values: [v]}}]}}
- {name: tf, type: trace_flags}
- {name: no, type: not, not: {not_sub_policy: {name: x, type: numeric_attribute, numeric_attribute: {key: k, min_value: 1}}}}
- {name: dn, type: drop, drop: {drop_sub_policy: [{name: x, type: span_count, span_count: {min_spans: 1}}, {name: y, type: not, not: {not_sub_policy: {name: z, type: status_code, status_code: {status_codes: [ERROR]}}}}]}}
- {name: by, type: bytes_limiting, bytes_limiting: {bytes_per_second: 1000000000000000}}
- {name: cp, type: composite, composite: {max_total_spans_per_second: 1000000000000000, composite_sub_policy: [{name: x, type: string_attribute, string_attribute: {key: k, values: [v], invert_match: true}}, {name: y, type: and, and: {and_sub_policy: [{name: z, type: span_count, span_count: {min_spans: 2}}, {name: w, type: status_code, status_code: {status_codes: [ERROR]}}]}}], rate_allocation: [{policy: x, percent: 40}, {policy: y}]}}
"#;

/// Compiled once: regexes and OTTL are the slow part of an input otherwise.
fn rules() -> &'static [Rule] {
    static RULES: std::sync::OnceLock<Vec<Rule>> = std::sync::OnceLock::new();
    RULES.get_or_init(compile)
}

fn compile() -> Vec<Rule> {
    let v = meshtrace_collector::config::parse_yaml("fuzz", POLICIES).unwrap_or_else(|e| panic!("{e}"));
    let list: Vec<PolicyConfig> =
        meshtrace_collector::registry::parse_typed(&v).unwrap_or_else(|e| panic!("{e}"));
    list.iter()
        .enumerate()
        .map(|(i, p)| p.compile(&format!("policies[{i}]"), Level::Top).unwrap_or_else(|e| panic!("{e:?}")))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let rules = rules();
    let now = std::time::Instant::now();
    // Only what validates reaches a processor.
    let any = match Batch::new_validated(Signal::Traces, Bytes::copy_from_slice(data), &Limits::default()) {
        Ok(b) => b,
        Err(_) => return,
    };
    let whole = [any.clone()];
    let trace = Trace::new([7; 16], &whole, any.items(), now);
    let per_span: Vec<Batch> = batching::split(&any, 1);
    let cut = Trace::new([7; 16], &per_span, any.items(), now);
    for (i, r) in rules.iter().enumerate() {
        let a = r.evaluate(&trace);
        let b = r.evaluate(&cut);
        // The cut copy is still valid, and says the same (OTTL errors are ignored here).
        assert!(per_span.iter().all(|p| validate(Signal::Traces, p.bytes(), &Limits::default()).is_ok()));
        // `lu` widens its window span by span, as the Collector does: the order of spans is
        // the same in both, so it agrees too.
        assert_eq!(a, b, "policy {i}");
    }
});
