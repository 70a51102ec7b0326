//! Requests in, exact outgoing headers and span context out, with fixed ids.

use super::*;
use crate::config::{B3Config, PropagationConfig, SamplingConfig};
use crate::ids::{RandomIds, SplitMix64};
use std::cell::RefCell;

const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const P: &str = "00f067aa0ba902b7";
/// The ids the fixed generator mints.
const NEW_T: &str = "0af7651916cd43dd8448eb211c80319c";
const NEW_S: &str = "b7ad6b7169203331";
const B3T: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const B3S: &str = "e457b5a2e4d86bd1";

struct FixedIds;
impl IdGenerator for FixedIds {
    fn trace_id(&mut self) -> TraceId {
        TraceId(hex16(NEW_T))
    }
    fn span_id(&mut self) -> SpanId {
        SpanId(hex8(NEW_S))
    }
}

fn hex16(s: &str) -> [u8; 16] {
    let mut out = [0; 16];
    crate::tracecontext::decode_hex(s.as_bytes(), &mut out).unwrap();
    out
}

fn hex8(s: &str) -> [u8; 8] {
    let mut out = [0; 8];
    crate::tracecontext::decode_hex(s.as_bytes(), &mut out).unwrap();
    out
}

/// Headers that also record which names were read.
struct Recording {
    inner: MemoryHeaders,
    reads: RefCell<Vec<String>>,
}

impl RequestHeaders for Recording {
    fn get(&self, name: &str) -> Option<std::borrow::Cow<'_, [u8]>> {
        self.reads.borrow_mut().push(name.to_owned());
        self.inner.get(name)
    }
    fn first(&self, name: &str) -> Option<&[u8]> {
        self.reads.borrow_mut().push(name.to_owned());
        self.inner.first(name)
    }
    fn set(&mut self, name: &str, value: &[u8]) {
        self.inner.set(name, value)
    }
    fn remove(&mut self, name: &str) {
        self.inner.remove(name)
    }
}

fn config(percentage: f64, extract: bool, inject: B3Inject) -> Config {
    Config {
        sampling: SamplingConfig { percentage },
        propagation: PropagationConfig {
            b3: B3Config { extract, inject },
            ..PropagationConfig::default()
        },
        ..Config::default()
    }
}

/// Runs one request; returns the sorted outgoing headers, the result and the names read.
fn run(cfg: &Config, input: &[(&str, &str)]) -> (Vec<(String, String)>, Propagated, Vec<String>) {
    let mut headers = Recording {
        inner: MemoryHeaders::new(input.iter().map(|(n, v)| (*n, v.as_bytes()))),
        reads: RefCell::new(Vec::new()),
    };
    let out = Propagator::new(cfg).propagate(&mut headers, &mut FixedIds);
    let mut fields: Vec<(String, String)> = headers
        .inner
        .fields
        .iter()
        .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    fields.sort();
    (fields, out, headers.reads.into_inner())
}

fn sorted(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = expected
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    v.sort();
    v
}

/// A table: input headers → exact outgoing headers (other headers are kept as they are).
type Headers<'a> = &'a [(&'a str, &'a str)];

fn check(cfg: &Config, cases: &[(Headers<'_>, Headers<'_>)]) {
    for (input, want) in cases {
        let mut input_with_other = input.to_vec();
        input_with_other.push((":path", "/x"));
        let mut want_with_other = want.to_vec();
        want_with_other.push((":path", "/x"));
        let (got, _, _) = run(cfg, &input_with_other);
        assert_eq!(got, sorted(&want_with_other), "input: {input:?}");
    }
}

#[test]
fn traceparent_is_continued_with_a_new_parent_id() {
    let tp = |flags: &str| format!("00-{T}-{P}-{flags}");
    let out = |flags: &str| format!("00-{T}-{NEW_S}-{flags}");
    let cfg = Config::default();
    let cases: Vec<(String, String)> = vec![
        (tp("01"), out("01")),
        (tp("00"), out("00")),
        (tp("02"), out("02")),
        (tp("03"), out("03")),
        // Unknown flags are cleared, known ones kept.
        (tp("ff"), out("03")),
        (tp("09"), out("01")),
        (tp("fc"), out("00")),
        // Future version: downgraded to 00, extra fields dropped.
        (
            format!("cc-{T}-{P}-01-what-the-future-will-be-like"),
            out("01"),
        ),
        (format!("\t{}  ", tp("01")), out("01")),
    ];
    for (input, want) in &cases {
        let (got, res, _) = run(&cfg, &[("traceparent", input)]);
        assert_eq!(got, sorted(&[("traceparent", want)]), "{input:?}");
        assert_eq!(res.span.origin, Origin::TraceContext);
        assert_eq!(res.span.parent_span_id, Some(SpanId(hex8(P))));
        assert_eq!(res.span.trace_id, TraceId(hex16(T)));
        assert_eq!(res.notes, Notes::default());
    }
}

#[test]
fn no_context_starts_a_random_sampled_trace() {
    let (got, res, _) = run(&Config::default(), &[]);
    assert_eq!(
        got,
        sorted(&[("traceparent", &format!("00-{NEW_T}-{NEW_S}-03"))])
    );
    assert_eq!(res.span.origin, Origin::New);
    assert_eq!(res.span.parent_span_id, None);
    assert!(res.span.tracestate.is_empty());
}

#[test]
fn invalid_traceparent_restarts_and_drops_tracestate_unread() {
    let new = format!("00-{NEW_T}-{NEW_S}-03");
    for bad in [
        format!("ff-{T}-{P}-01"),
        format!("00-{}-{P}-01", T.to_uppercase()),
        format!("00-{T}-{P}-01-extra"),
        format!("00-{}-{P}-01", "0".repeat(32)),
        format!("00-{T}-{}-01", "0".repeat(16)),
        // Two traceparent fields arrive joined: invalid, like the W3C suite expects.
        format!("00-{T}-{P}-01,00-{T}-{P}-01"),
        "garbage".to_owned(),
        String::new(),
    ] {
        let (got, res, reads) = run(
            &Config::default(),
            &[("traceparent", &bad), ("tracestate", "congo=t61rcWkgMzE")],
        );
        assert_eq!(got, sorted(&[("traceparent", &new)]), "{bad:?}");
        assert!(res.notes.traceparent.is_some(), "{bad:?}");
        assert!(
            !reads.iter().any(|r| r == "tracestate"),
            "tracestate parsed after {bad:?}"
        );
    }
    // A second traceparent field (not joined by the host): still two values, still invalid.
    let (got, _, _) = run(
        &Config::default(),
        &[
            ("traceparent", &format!("00-{T}-{P}-01")),
            ("TraceParent", &format!("00-{T}-{P}-01")),
        ],
    );
    assert_eq!(got, sorted(&[("traceparent", &new)]));
    // A future version may carry anything after its flags, so its value joined with a second
    // field parses; the second field still makes the request's context invalid.
    let (got, res, _) = run(
        &Config::default(),
        &[
            ("traceparent", &format!("cc-{T}-{P}-01-x")),
            ("traceparent", &format!("00-{T}-{P}-01")),
        ],
    );
    assert_eq!(got, sorted(&[("traceparent", &new)]));
    assert_eq!(res.notes.traceparent, Some(TraceParentError::Repeated));
}

/// B3 (openzipkin/b3-propagation, "Multiple Headers"): "the first value wins" when a header
/// is repeated — as separate fields, or joined with `,` into one as Envoy does for headers it
/// keeps in O(1) slots. A repeated deny stays a deny.
#[test]
fn repeated_b3_headers_keep_the_first_value() {
    let cfg = config(100.0, true, B3Inject::None);
    let deny = format!("00-{B3T}-{NEW_S}-00");
    let accept = format!("00-{B3T}-{NEW_S}-01");
    let other = "463ac35c9f6413ad48485a3953bb6124";
    type Case<'a> = (Vec<(&'a str, String)>, &'a str, Origin);
    let cases: [Case<'_>; 6] = [
        (
            vec![
                ("x-b3-traceid", B3T.into()),
                ("x-b3-spanid", B3S.into()),
                ("x-b3-sampled", "0".into()),
                ("x-b3-sampled", "0".into()),
            ],
            &deny,
            Origin::B3Multi,
        ),
        (
            vec![
                ("x-b3-traceid", B3T.into()),
                ("x-b3-spanid", B3S.into()),
                ("x-b3-sampled", "0,1".into()),
            ],
            &deny,
            Origin::B3Multi,
        ),
        (
            vec![
                ("x-b3-traceid", B3T.into()),
                ("x-b3-traceid", other.into()),
                ("x-b3-spanid", B3S.into()),
                ("x-b3-sampled", "1".into()),
            ],
            &accept,
            Origin::B3Multi,
        ),
        (
            vec![
                ("x-b3-traceid", format!("{B3T}, {other}")),
                ("x-b3-spanid", format!("{B3S},{B3S}")),
                ("x-b3-sampled", "0".into()),
            ],
            &deny,
            Origin::B3Multi,
        ),
        (
            vec![
                ("b3", format!("{B3T}-{B3S}-0")),
                ("b3", format!("{other}-{B3S}-1")),
            ],
            &deny,
            Origin::B3Single,
        ),
        (
            vec![("b3", format!("{B3T}-{B3S}-0,{other}-{B3S}-1"))],
            &deny,
            Origin::B3Single,
        ),
    ];
    for (input, want, origin) in cases {
        let input: Vec<(&str, &str)> = input.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (got, res, _) = run(&cfg, &input);
        let traceparent = got.iter().find(|(n, _)| n == "traceparent");
        assert_eq!(
            traceparent.map(|(_, v)| v.as_str()),
            Some(want),
            "{input:?}"
        );
        assert_eq!(res.span.origin, origin, "{input:?}");
        assert_eq!(res.notes.b3, None, "{input:?}");
    }
    // A repeated deny without ids is still a deny for the new trace.
    let (_, res, _) = run(&cfg, &[("x-b3-sampled", "0"), ("x-b3-sampled", "0")]);
    assert!(!res.span.sampled());
    let (_, res, _) = run(&cfg, &[("b3", "0"), ("b3", "1")]);
    assert!(!res.span.sampled());
}

#[test]
fn tracestate_outcomes() {
    let tp_in = format!("00-{T}-{P}-01");
    let tp_out = format!("00-{T}-{NEW_S}-01");
    let big = format!("big={}", "x".repeat(200));
    let small = |i: usize| format!("k{i:02}={}", "y".repeat(26));
    let mut oversized: Vec<String> = (0..5).map(small).collect();
    oversized.push(big);
    oversized.extend((5..10).map(small));
    let oversized = oversized.join(",");
    let fitted = (0..10).map(small).collect::<Vec<_>>().join(",");
    let members = |n: usize| {
        (1..=n)
            .map(|i| format!("m{i}={i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (m32, m33) = (members(32), members(33));
    let cases: Vec<(Vec<&str>, Option<String>)> = vec![
        (vec!["congo=t61rcWkgMzE"], Some("congo=t61rcWkgMzE".into())),
        (
            vec!["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"],
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into()),
        ),
        (vec!["foo=1 \t , bar=2"], Some("foo=1,bar=2".into())),
        // Several fields are combined in order into one.
        (
            vec!["foo=1,bar=2", "rojo=1,congo=2", "baz=3"],
            Some("foo=1,bar=2,rojo=1,congo=2,baz=3".into()),
        ),
        (vec!["foo=1", ""], Some("foo=1".into())),
        (vec!["foo=1,foo=2"], Some("foo=1".into())),
        (vec!["foo=1", "foo=2"], Some("foo=1".into())),
        (
            vec!["tenant@system=x,other=y"],
            Some("tenant@system=x,other=y".into()),
        ),
        (vec![&oversized], Some(fitted)),
        (vec![&m32], Some(m32.clone())),
        (vec![&m33], None),
        (vec![""], None),
        (vec![" , "], None),
        (vec!["FOO=1"], None),
        (vec!["foo=1,bar"], None),
        (vec!["foo=,bar=3"], None),
        (vec!["foo=1", "BAR=2"], None),
    ];
    for (fields, want) in cases {
        let mut input: Vec<(&str, &str)> = vec![("traceparent", &tp_in)];
        input.extend(fields.iter().map(|v| ("tracestate", *v)));
        let (got, res, _) = run(&Config::default(), &input);
        let mut expect: Vec<(&str, &str)> = vec![("traceparent", &tp_out)];
        if let Some(ts) = &want {
            expect.push(("tracestate", ts));
        }
        assert_eq!(got, sorted(&expect), "{fields:?}");
        assert_eq!(res.span.tracestate, want.clone().unwrap_or_default());
    }
}

#[test]
fn tracestate_limit_is_configurable_and_noted() {
    let mut cfg = Config::default();
    // 30 members of 24 characters: 749 characters.
    let long: String = (0..30)
        .map(|i| format!("k{i:02}={}", "v".repeat(20)))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(long.len(), 749);
    cfg.propagation.tracestate_max_length = 1024;
    let (_, res, _) = run(
        &cfg,
        &[
            ("traceparent", &format!("00-{T}-{P}-01")),
            ("tracestate", &long),
        ],
    );
    assert_eq!(res.span.tracestate, long);
    cfg.propagation.tracestate_max_length = 512;
    let (_, res, _) = run(
        &cfg,
        &[
            ("traceparent", &format!("00-{T}-{P}-01")),
            ("tracestate", &format!("{long},k00=dup")),
        ],
    );
    assert_eq!(res.notes.tracestate_duplicates, 1);
    // 20 members (499 characters) fit in 512.
    assert_eq!(res.notes.tracestate_truncated, 10);
    assert_eq!(res.span.tracestate.len(), 499);
    assert!(long.starts_with(&res.span.tracestate));
}

#[test]
fn b3_is_continued_when_there_is_no_valid_traceparent() {
    let cfg = Config::default();
    let single = format!("{B3T}-{B3S}-1-05e3ac9a4f6e3b90");
    let check_b3 = |input: &[(&str, &str)], tp: &str, origin: Origin| {
        let (got, res, _) = run(&cfg, input);
        let lower: Vec<(String, &str)> = input
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), *v))
            .collect();
        let mut want: Vec<(&str, &str)> = lower.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        want.retain(|(n, _)| {
            !n.eq_ignore_ascii_case("traceparent") && !n.eq_ignore_ascii_case("tracestate")
        });
        want.push(("traceparent", tp));
        assert_eq!(got, sorted(&want), "{input:?}");
        assert_eq!(res.span.origin, origin, "{input:?}");
        res
    };
    let res = check_b3(
        &[("b3", &single)],
        &format!("00-{B3T}-{NEW_S}-01"),
        Origin::B3Single,
    );
    assert_eq!(res.span.parent_span_id, Some(SpanId(hex8(B3S))));
    check_b3(
        &[("b3", &format!("{B3T}-{B3S}-0"))],
        &format!("00-{B3T}-{NEW_S}-00"),
        Origin::B3Single,
    );
    let res = check_b3(
        &[("b3", &format!("{B3T}-{B3S}-d"))],
        &format!("00-{B3T}-{NEW_S}-01"),
        Origin::B3Single,
    );
    assert!(res.span.b3_debug);
    // 64-bit trace ids are zero-extended; deferred decisions use the sampler (100 %).
    check_b3(
        &[("b3", &format!("64fe8b2a57d3eff7-{B3S}"))],
        &format!("00-000000000000000064fe8b2a57d3eff7-{NEW_S}-01"),
        Origin::B3Single,
    );
    // Tracestate never travels with a context that did not come from traceparent.
    check_b3(
        &[("b3", &single), ("tracestate", "a=1")],
        &format!("00-{B3T}-{NEW_S}-01"),
        Origin::B3Single,
    );
    // An invalid traceparent falls back to B3.
    let res = check_b3(
        &[("traceparent", "00-bad"), ("b3", &single)],
        &format!("00-{B3T}-{NEW_S}-01"),
        Origin::B3Single,
    );
    assert!(res.notes.traceparent.is_some());
    // Multi.
    check_b3(
        &[
            ("x-b3-traceid", B3T),
            ("x-b3-spanid", B3S),
            ("x-b3-sampled", "1"),
            ("x-b3-parentspanid", "05e3ac9a4f6e3b90"),
        ],
        &format!("00-{B3T}-{NEW_S}-01"),
        Origin::B3Multi,
    );
    check_b3(
        &[
            ("X-B3-TraceId", B3T),
            ("X-B3-SpanId", B3S),
            ("X-B3-Sampled", "0"),
        ],
        &format!("00-{B3T}-{NEW_S}-00"),
        Origin::B3Multi,
    );
    check_b3(
        &[
            ("x-b3-traceid", B3T),
            ("x-b3-spanid", B3S),
            ("x-b3-flags", "1"),
        ],
        &format!("00-{B3T}-{NEW_S}-01"),
        Origin::B3Multi,
    );
    // An invalid single header does not hide valid multi headers.
    let res = check_b3(
        &[
            ("b3", "nonsense-here"),
            ("x-b3-traceid", B3T),
            ("x-b3-spanid", B3S),
        ],
        &format!("00-{B3T}-{NEW_S}-01"),
        Origin::B3Multi,
    );
    assert!(res.notes.b3.is_some());
    // Sampling-only B3 starts a trace with that decision.
    check_b3(
        &[("b3", "0")],
        &format!("00-{NEW_T}-{NEW_S}-02"),
        Origin::New,
    );
    check_b3(
        &[("x-b3-sampled", "0")],
        &format!("00-{NEW_T}-{NEW_S}-02"),
        Origin::New,
    );
    let res = check_b3(
        &[("b3", "d")],
        &format!("00-{NEW_T}-{NEW_S}-03"),
        Origin::New,
    );
    assert!(res.span.b3_debug);
    // Incomplete or invalid B3: a new trace.
    check_b3(
        &[("x-b3-traceid", B3T)],
        &format!("00-{NEW_T}-{NEW_S}-03"),
        Origin::New,
    );
    check_b3(
        &[("b3", &format!("{}-{B3S}-1", B3T.to_uppercase()))],
        &format!("00-{NEW_T}-{NEW_S}-03"),
        Origin::New,
    );
}

#[test]
fn traceparent_wins_over_b3() {
    let tp = format!("00-{T}-{P}-00");
    check(
        &Config::default(),
        &[(
            &[
                ("traceparent", &tp),
                ("b3", &format!("{B3T}-{B3S}-1")),
                ("x-b3-traceid", B3T),
            ],
            &[
                ("traceparent", &format!("00-{T}-{NEW_S}-00")),
                ("b3", &format!("{B3T}-{B3S}-1")),
                ("x-b3-traceid", B3T),
            ],
        )],
    );
}

#[test]
fn b3_extraction_can_be_turned_off() {
    let cfg = config(100.0, false, B3Inject::None);
    let (got, res, reads) = run(&cfg, &[("b3", &format!("{B3T}-{B3S}-1"))]);
    assert_eq!(
        got,
        sorted(&[
            ("b3", &format!("{B3T}-{B3S}-1")),
            ("traceparent", &format!("00-{NEW_T}-{NEW_S}-03"))
        ])
    );
    assert_eq!(res.span.origin, Origin::New);
    assert_eq!(reads, vec!["traceparent"]);
}

#[test]
fn b3_injection_forms() {
    let tp_in = format!("00-{T}-{P}-01");
    let tp_out = format!("00-{T}-{NEW_S}-01");
    let stale: &[(&str, &str)] = &[
        ("traceparent", &tp_in),
        ("b3", "stale"),
        ("x-b3-traceid", "stale"),
        ("x-b3-spanid", "stale"),
        ("x-b3-parentspanid", "stale"),
        ("x-b3-sampled", "stale"),
        ("x-b3-flags", "stale"),
    ];
    let single = format!("{T}-{NEW_S}-1-{P}");
    check(
        &config(100.0, true, B3Inject::Single),
        &[(stale, &[("traceparent", &tp_out), ("b3", &single)])],
    );
    let multi: &[(&str, &str)] = &[
        ("traceparent", &tp_out),
        ("x-b3-traceid", T),
        ("x-b3-spanid", NEW_S),
        ("x-b3-parentspanid", P),
        ("x-b3-sampled", "1"),
    ];
    check(&config(100.0, true, B3Inject::Multi), &[(stale, multi)]);
    let mut both = multi.to_vec();
    both.push(("b3", &single));
    check(
        &config(100.0, true, B3Inject::SingleAndMulti),
        &[(stale, &both)],
    );

    // New unsampled trace: no parent, sampled 0.
    check(
        &config(0.0, true, B3Inject::SingleAndMulti),
        &[(
            &[],
            &[
                ("traceparent", &format!("00-{NEW_T}-{NEW_S}-02")),
                ("b3", &format!("{NEW_T}-{NEW_S}-0")),
                ("x-b3-traceid", NEW_T),
                ("x-b3-spanid", NEW_S),
                ("x-b3-sampled", "0"),
            ],
        )],
    );
    // Debug travels as `d` / x-b3-flags, without x-b3-sampled.
    check(
        &config(100.0, true, B3Inject::SingleAndMulti),
        &[(
            &[
                ("x-b3-traceid", B3T),
                ("x-b3-spanid", B3S),
                ("x-b3-sampled", "1"),
                ("x-b3-flags", "1"),
            ],
            &[
                ("traceparent", &format!("00-{B3T}-{NEW_S}-01")),
                ("b3", &format!("{B3T}-{NEW_S}-d-{B3S}")),
                ("x-b3-traceid", B3T),
                ("x-b3-spanid", NEW_S),
                ("x-b3-parentspanid", B3S),
                ("x-b3-flags", "1"),
            ],
        )],
    );
}

#[test]
fn sampling_is_parent_based_and_by_trace_id_for_new_traces() {
    let none = config(0.0, true, B3Inject::None);
    let (got, _, _) = run(&none, &[]);
    assert_eq!(
        got,
        sorted(&[("traceparent", &format!("00-{NEW_T}-{NEW_S}-02"))])
    );
    // The caller's decision is kept whatever the percentage.
    let (got, _, _) = run(&none, &[("traceparent", &format!("00-{T}-{P}-01"))]);
    assert_eq!(
        got,
        sorted(&[("traceparent", &format!("00-{T}-{NEW_S}-01"))])
    );
    let all = config(100.0, true, B3Inject::None);
    let (got, _, _) = run(&all, &[("traceparent", &format!("00-{T}-{P}-00"))]);
    assert_eq!(
        got,
        sorted(&[("traceparent", &format!("00-{T}-{NEW_S}-00"))])
    );
    // Deferred B3 at 50 %: decided by the right-most 7 bytes of the trace id.
    let half = config(50.0, true, B3Inject::None);
    for (trace, flags) in [
        ("ffffffffffffffffff80000000000000", "01"),
        ("00000000000000000080000000000000", "01"),
        ("ffffffffffffffffff7fffffffffffff", "00"),
        ("00000000000000000000000000000001", "00"),
    ] {
        let (got, _, _) = run(&half, &[("b3", &format!("{trace}-{B3S}"))]);
        assert_eq!(
            got,
            sorted(&[
                ("b3", &format!("{trace}-{B3S}")),
                ("traceparent", &format!("00-{trace}-{NEW_S}-{flags}"))
            ]),
            "{trace}"
        );
    }
}

#[test]
fn real_ids_are_fresh_per_request() {
    let p = Propagator::default();
    let mut ids = RandomIds::new(SplitMix64(42));
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let mut h = MemoryHeaders::new([("traceparent", format!("00-{T}-{P}-01").as_bytes())]);
        let out = p.propagate(&mut h, &mut ids);
        assert!(seen.insert(out.span.span_id), "span id repeated");
        assert_ne!(out.span.span_id, SpanId(hex8(P)));
        let mut h = MemoryHeaders::default();
        let out = p.propagate(&mut h, &mut ids);
        assert!(seen.insert(out.span.span_id));
        assert!(!out.span.trace_id.is_zero());
    }
}

#[test]
fn memory_headers_join_repeated_fields() {
    let h = MemoryHeaders::new([("a", &b"1"[..]), ("B", b"2"), ("A", b"3")]);
    assert_eq!(h.get("a").as_deref(), Some(&b"1,3"[..]));
    assert_eq!(h.get("b").as_deref(), Some(&b"2"[..]));
    assert_eq!(h.get("c"), None);
}
