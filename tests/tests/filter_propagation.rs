//! The filter in the real Envoy (v8 runtime) in front of an echo upstream: tables of requests
//! and exactly the trace headers the upstream received.
//!
//! Expected values may use `{trace}` and `{span}`: the trace id and parent-id of the
//! `traceparent` the upstream got (minted by the proxy). They are checked to be well-formed,
//! non-zero, and different from every id the request carried.

// Test code: failing loudly is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use meshtrace_e2e::client;
use meshtrace_e2e::echo::{EchoServer, Received};
use meshtrace_e2e::envoy::{self, DemoConfig, Envoy};
use meshtrace_e2e::wasm::filter_wasm;

const V: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const P: &str = "00f067aa0ba902b7";
const B3T: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const B3S: &str = "e457b5a2e4d86bd1";
const B3P: &str = "05e3ac9a4f6e3b90";

const TRACE_HEADERS: &[&str] = &[
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
];

/// Envoy with the filter and `plugin_config`, in front of an echo server.
struct Proxy {
    envoy: Envoy,
    port: u16,
    _echo: EchoServer,
}

impl Proxy {
    fn start(plugin_config: &str) -> Proxy {
        let wasm = filter_wasm().unwrap_or_else(|e| panic!("{e}"));
        let echo = EchoServer::start(0).unwrap();
        let config = DemoConfig {
            inbound_port: 0,
            outbound_port: 0,
            admin_port: 0,
            app_port: echo.port(),
            upstream_port: echo.port(),
            // Nothing exports in these tests; the cluster only has to exist.
            collector_port: echo.port(),
            wasm,
            plugin_config: Some(plugin_config.to_owned()),
        }
        .render(&DemoConfig::template().unwrap())
        .unwrap();
        let envoy = Envoy::start(&config).unwrap_or_else(|e| panic!("{e}"));
        let port = envoy.listener_port("inbound").unwrap();
        Proxy {
            envoy,
            port,
            _echo: echo,
        }
    }

    fn send(&mut self, headers: &[(&str, &[u8])]) -> Received {
        let r = client::get(self.port, "/", headers).unwrap_or_else(|e| panic!("{e}"));
        self.envoy.ensure_running().unwrap();
        assert_eq!(
            r.status,
            200,
            "the filter must never fail a request: {headers:?}\n{}",
            String::from_utf8_lossy(&r.body)
        );
        Received::from_body(&r.body).unwrap()
    }

    /// Runs a table; reports every mismatch at once.
    fn check(&mut self, cases: &[Case]) {
        let mut failures = Vec::new();
        for case in cases {
            let headers: Vec<(&str, &[u8])> =
                case.send.iter().map(|(n, v)| (*n, v.as_slice())).collect();
            let received = self.send(&headers);
            if let Err(e) = case.verify(&received) {
                failures.push(format!("{}: {e}", case.name));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
}

struct Case {
    name: String,
    send: Vec<(&'static str, Vec<u8>)>,
    /// The trace headers the upstream must receive, and nothing else of them.
    want: Vec<(&'static str, String)>,
}

fn case(
    name: impl Into<String>,
    send: &[(&'static str, &str)],
    want: &[(&'static str, &str)],
) -> Case {
    Case {
        name: name.into(),
        send: send
            .iter()
            .map(|(n, v)| (*n, v.as_bytes().to_vec()))
            .collect(),
        want: want.iter().map(|(n, v)| (*n, (*v).to_owned())).collect(),
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        && s.bytes().any(|c| c != b'0')
}

impl Case {
    fn verify(&self, received: &Received) -> Result<(), String> {
        let tp = received
            .one("traceparent")
            .map_err(|e| e.to_string())?
            .ok_or("no traceparent upstream")?;
        let parts: Vec<&str> = tp.split('-').collect();
        let [version, trace, span, flags] = parts.as_slice() else {
            return Err(format!("malformed traceparent {tp:?}"));
        };
        if *version != "00"
            || !is_lower_hex(trace, 32)
            || !is_lower_hex(span, 16)
            || flags.len() != 2
        {
            return Err(format!("malformed traceparent {tp:?}"));
        }
        let sent: String = self
            .send
            .iter()
            .map(|(_, v)| String::from_utf8_lossy(v).to_lowercase())
            .collect();
        if sent.contains(span) {
            return Err(format!("the proxy reused a span id from the request: {tp}"));
        }
        let uses_new_trace = self.want.iter().any(|(_, v)| v.contains("{trace}"));
        if uses_new_trace && sent.contains(&trace[16..]) {
            return Err(format!("expected a new trace, got {tp}"));
        }
        let mut want: Vec<(String, String)> = self
            .want
            .iter()
            .map(|(n, v)| {
                (
                    (*n).to_owned(),
                    v.replace("{trace}", trace).replace("{span}", span),
                )
            })
            .collect();
        want.sort();
        let mut got: Vec<(String, String)> = received
            .headers
            .iter()
            .filter(|(n, _)| TRACE_HEADERS.contains(&n.as_str()))
            .cloned()
            .collect();
        got.sort();
        if got == want {
            Ok(())
        } else {
            Err(format!("\n   want {want:?}\n    got {got:?}"))
        }
    }
}

fn tp(flags: &str) -> String {
    format!("00-{V}-{P}-{flags}")
}

#[test]
fn w3c_traceparent_table() {
    let mut proxy = Proxy::start("{}");
    let cont = |flags: &str| format!("00-{V}-{{span}}-{flags}");
    let new = "00-{trace}-{span}-03";
    let mut cases = vec![
        case(
            "valid, sampled",
            &[("traceparent", &tp("01"))],
            &[("traceparent", &cont("01"))],
        ),
        case(
            "valid, not sampled",
            &[("traceparent", &tp("00"))],
            &[("traceparent", &cont("00"))],
        ),
        case(
            "random flag kept",
            &[("traceparent", &tp("02"))],
            &[("traceparent", &cont("02"))],
        ),
        case(
            "sampled + random",
            &[("traceparent", &tp("03"))],
            &[("traceparent", &cont("03"))],
        ),
        case(
            "unknown flags cleared",
            &[("traceparent", &tp("ff"))],
            &[("traceparent", &cont("03"))],
        ),
        case(
            "unknown flag, sampled",
            &[("traceparent", &tp("09"))],
            &[("traceparent", &cont("01"))],
        ),
        case(
            "header name casing",
            &[("TraceParent", &tp("01"))],
            &[("traceparent", &cont("01"))],
        ),
        case(
            "surrounding whitespace",
            &[("traceparent", &format!(" {}\t", tp("01")))],
            &[("traceparent", &cont("01"))],
        ),
        case(
            "future version with extra fields",
            &[(
                "traceparent",
                &format!("cc-{V}-{P}-01-what-the-future-will-be-like"),
            )],
            &[("traceparent", &cont("01"))],
        ),
        case(
            "future version, 55 characters",
            &[("traceparent", &format!("cc-{V}-{P}-00"))],
            &[("traceparent", &cont("00"))],
        ),
        case("missing", &[], &[("traceparent", new)]),
        case(
            "tracestate without traceparent",
            &[("tracestate", "foo=1")],
            &[("traceparent", new)],
        ),
    ];
    let upper_v = V.to_uppercase();
    let invalid: Vec<(&str, String)> = vec![
        ("version ff", format!("ff-{V}-{P}-01")),
        ("version too short", format!("0-{V}-{P}-01")),
        ("version too long", format!("000-{V}-{P}-01")),
        ("version illegal characters", format!(".0-{V}-{P}-01")),
        ("version uppercase", format!("0A-{V}-{P}-01")),
        ("trace-id all zero", format!("00-{}-{P}-01", "0".repeat(32))),
        ("trace-id uppercase", format!("00-{upper_v}-{P}-01")),
        (
            "trace-id illegal characters",
            format!("00-.{}-{P}-01", &V[1..]),
        ),
        ("trace-id too long", format!("00-{V}3-{P}-01")),
        ("trace-id too short", format!("00-{}-{P}-01", &V[1..])),
        (
            "parent-id all zero",
            format!("00-{V}-{}-01", "0".repeat(16)),
        ),
        (
            "parent-id uppercase",
            format!("00-{V}-{}-01", "00F067AA0BA902B7"),
        ),
        ("parent-id too long", format!("00-{V}-{P}7-01")),
        ("parent-id too short", format!("00-{V}-{}-01", &P[1..])),
        ("flags uppercase", format!("00-{V}-{P}-0A")),
        ("flags illegal characters", format!("00-{V}-{P}-0.")),
        ("flags too long", format!("00-{V}-{P}-001")),
        ("flags too short", format!("00-{V}-{P}-1")),
        ("wrong separator", format!("00-{V}_{P}-01")),
        ("trailing character on 00", format!("00-{V}-{P}-01.")),
        (
            "trailing field on 00",
            format!("00-{V}-{P}-01-what-the-future-will-be-like"),
        ),
        (
            "future version, bad separator after flags",
            format!("cc-{V}-{P}-01.what-the-future"),
        ),
        ("empty", String::new()),
    ];
    for (name, value) in invalid {
        // An invalid traceparent restarts the trace, and its tracestate never goes upstream.
        let mut c = case(
            format!("invalid: {name}"),
            &[("tracestate", "foo=1")],
            &[("traceparent", new)],
        );
        c.send.push(("traceparent", value.into_bytes()));
        cases.push(c);
    }
    cases.push(case(
        "invalid: two traceparent fields",
        &[
            ("traceparent", &format!("00-{V}-{P}-01")),
            ("traceparent", &format!("00-{}-{P}-01", B3T)),
        ],
        &[("traceparent", new)],
    ));
    // A future version may carry anything after its flags: joined with a second field it
    // would parse, so the count of fields decides.
    cases.push(case(
        "invalid: a future version and a second traceparent field",
        &[
            ("traceparent", &format!("cc-{V}-{P}-01-x")),
            ("traceparent", &format!("00-{}-{P}-01", B3T)),
        ],
        &[("traceparent", new)],
    ));
    let mut non_ascii = case(
        "invalid: non-ASCII byte",
        &[("tracestate", "foo=1")],
        &[("traceparent", new)],
    );
    let mut bytes = tp("01").into_bytes();
    bytes[10] = 0xff;
    non_ascii.send.push(("traceparent", bytes));
    cases.push(non_ascii);
    proxy.check(&cases);
}

#[test]
fn w3c_tracestate_table() {
    let mut proxy = Proxy::start("{}");
    let tp_out = format!("00-{V}-{{span}}-01");
    let with = |name: &str, fields: &[&str], want: Option<&str>| {
        let mut c = case(
            name,
            &[("traceparent", &tp("01"))],
            &[("traceparent", &tp_out)],
        );
        c.send
            .extend(fields.iter().map(|f| ("tracestate", f.as_bytes().to_vec())));
        if let Some(w) = want {
            c.want.push(("tracestate", w.to_owned()));
        }
        c
    };
    let members = |n: usize| {
        (1..=n)
            .map(|i| format!("bar{i:02}={i:02}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let big = format!("big={}", "x".repeat(200));
    let small = |i: usize| format!("k{i:02}={}", "y".repeat(26));
    let mut oversized: Vec<String> = (0..5).map(small).collect();
    oversized.push(big);
    oversized.extend((5..10).map(small));
    let oversized = oversized.join(",");
    let fitted = (0..10).map(small).collect::<Vec<_>>().join(",");
    let long_tail: String = (0..30)
        .map(|i| format!("k{i:02}={}", "v".repeat(20)))
        .collect::<Vec<_>>()
        .join(",");
    let long_tail_fitted: String = (0..20)
        .map(|i| format!("k{i:02}={}", "v".repeat(20)))
        .collect::<Vec<_>>()
        .join(",");
    let key256 = "z".repeat(256);
    let key257 = "z".repeat(257);
    let (m32, m33) = (members(32), members(33));
    let cases = vec![
        with(
            "kept as is",
            &["congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"],
            Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
        ),
        with("header name casing", &[], None),
        with(
            "multiple fields combined in order",
            &["foo=1,bar=2", "rojo=1,congo=2", "baz=3"],
            Some("foo=1,bar=2,rojo=1,congo=2,baz=3"),
        ),
        with(
            "whitespace around members",
            &["foo=1 \t , \t bar=2, \t baz=3"],
            Some("foo=1,bar=2,baz=3"),
        ),
        with("empty members", &["foo=1,,bar=2,"], Some("foo=1,bar=2")),
        with(
            "empty field next to a valid one",
            &["foo=1", ""],
            Some("foo=1"),
        ),
        with("empty header", &[""], None),
        with(
            "duplicate keys in one field",
            &["foo=1,foo=2"],
            Some("foo=1"),
        ),
        with(
            "duplicate keys across fields",
            &["foo=1", "foo=2"],
            Some("foo=1"),
        ),
        with(
            "multi-tenant key",
            &["tenant@system=v1,other=v2"],
            Some("tenant@system=v1,other=v2"),
        ),
        with(
            "key of 256 characters",
            &[&format!("foo=1,{key256}=1")],
            Some(&format!("foo=1,{key256}=1")),
        ),
        with(
            "key of 257 characters",
            &[&format!("foo=1,{key257}=1")],
            None,
        ),
        with("32 members", &[&m32], Some(&m32)),
        with("33 members", &[&m33], None),
        with(
            "oversized: large member removed first",
            &[&oversized],
            Some(&fitted),
        ),
        with(
            "oversized: members removed from the right",
            &[&long_tail],
            Some(&long_tail_fitted),
        ),
        with("uppercase key", &["FOO=1"], None),
        with("key with a dot", &["foo.bar=1"], None),
        with("key starting with @", &["@foo=1,bar=2"], None),
        with("empty value", &["foo=,bar=3"], None),
        with("value with =", &["foo=bar=baz"], None),
        with("member without =", &["foo=1,bar"], None),
    ];
    let mut cases = cases;
    // Header name casing: the request sends `TraceState`.
    cases[1].send.push(("TraceState", b"foo=1".to_vec()));
    cases[1].want.push(("tracestate", "foo=1".to_owned()));
    let mut non_ascii = with("non-ASCII value", &[], None);
    non_ascii
        .send
        .push(("tracestate", b"foo=caf\xc3\xa9".to_vec()));
    cases.push(non_ascii);
    proxy.check(&cases);
}

#[test]
fn b3_extraction_table() {
    let mut proxy = Proxy::start("{}");
    let single = format!("{B3T}-{B3S}-1-{B3P}");
    let cont = |flags: &str| format!("00-{B3T}-{{span}}-{flags}");
    let new = |flags: &str| format!("00-{{trace}}-{{span}}-{flags}");
    let multi = |sampled: Option<&'static str>, flags: Option<&'static str>| {
        let mut h: Vec<(&'static str, &'static str)> =
            vec![("x-b3-traceid", B3T), ("x-b3-spanid", B3S)];
        h.extend(sampled.map(|s| ("x-b3-sampled", s)));
        h.extend(flags.map(|f| ("x-b3-flags", f)));
        h
    };
    // With injection off, B3 headers pass through unchanged.
    let passthrough = |h: &[(&'static str, &'static str)], tp: String| {
        let mut want: Vec<(&'static str, String)> =
            h.iter().map(|(n, v)| (*n, (*v).to_owned())).collect();
        want.retain(|(n, _)| *n != "tracestate" && *n != "traceparent");
        want.push(("traceparent", tp));
        Case {
            name: format!("{h:?}"),
            send: h.iter().map(|(n, v)| (*n, v.as_bytes().to_vec())).collect(),
            want,
        }
    };
    let b3_64 = format!("64fe8b2a57d3eff7-{B3S}-1");
    let deferred = format!("{B3T}-{B3S}");
    let unsampled = format!("{B3T}-{B3S}-0");
    let debug = format!("{B3T}-{B3S}-d");
    let upper = format!("{}-{B3S}-1", B3T.to_uppercase());
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let cases = vec![
        passthrough(&[("b3", leak(single.clone()))], cont("01")),
        passthrough(&[("b3", leak(unsampled))], cont("00")),
        passthrough(&[("b3", leak(debug))], cont("01")),
        passthrough(&[("b3", leak(deferred))], cont("01")),
        passthrough(
            &[("b3", leak(b3_64))],
            "00-000000000000000064fe8b2a57d3eff7-{span}-01".to_owned(),
        ),
        passthrough(
            &[("b3", leak(single.clone())), ("tracestate", "foo=1")],
            cont("01"),
        ),
        passthrough(&[("b3", "0")], new("02")),
        passthrough(&[("b3", "1")], new("03")),
        passthrough(&[("b3", leak(upper))], new("03")),
        passthrough(&multi(Some("1"), None), cont("01")),
        passthrough(&multi(Some("0"), None), cont("00")),
        passthrough(&multi(None, None), cont("01")),
        passthrough(&multi(Some("0"), Some("1")), cont("01")),
        passthrough(
            &[
                ("x-b3-traceid", "64fe8b2a57d3eff7"),
                ("x-b3-spanid", B3S),
                ("x-b3-sampled", "0"),
            ],
            "00-000000000000000064fe8b2a57d3eff7-{span}-00".to_owned(),
        ),
        passthrough(&[("x-b3-sampled", "0")], new("02")),
        passthrough(&[("x-b3-traceid", B3T)], new("03")),
        // traceparent wins over B3.
        passthrough(
            &[
                ("traceparent", leak(tp("00"))),
                ("b3", leak(single.clone())),
            ],
            format!("00-{V}-{{span}}-00"),
        ),
        // an invalid traceparent falls back to B3.
        passthrough(
            &[("traceparent", "00-garbage"), ("b3", leak(single))],
            cont("01"),
        ),
        // A repeated B3 header: the first value wins (a deny stays a deny).
        passthrough(
            &[
                ("x-b3-traceid", B3T),
                ("x-b3-spanid", B3S),
                ("x-b3-sampled", "0"),
                ("x-b3-sampled", "1"),
            ],
            cont("00"),
        ),
        passthrough(
            &[
                ("b3", leak(format!("{B3T}-{B3S}-0"))),
                ("b3", leak(format!("{B3T}-{B3S}-1"))),
            ],
            cont("00"),
        ),
        passthrough(&[("x-b3-sampled", "0"), ("x-b3-sampled", "0")], new("02")),
    ];
    proxy.check(&cases);
}

#[test]
fn b3_injection_single() {
    let mut proxy = Proxy::start(r#"{"propagation": {"b3": {"inject": "single"}}}"#);
    let stale: &[(&'static str, &str)] = &[
        ("x-b3-traceid", B3T),
        ("x-b3-spanid", B3S),
        ("x-b3-parentspanid", B3P),
        ("x-b3-sampled", "1"),
    ];
    let mut from_tp = stale.to_vec();
    let tp01 = tp("01");
    from_tp.push(("traceparent", &tp01));
    let single_in = format!("{B3T}-{B3S}-0-{B3P}");
    proxy.check(&[
        case(
            "traceparent in, b3 out, stale multi removed",
            &from_tp,
            &[
                ("traceparent", &format!("00-{V}-{{span}}-01")),
                ("b3", &format!("{V}-{{span}}-1-{P}")),
            ],
        ),
        case(
            "b3 in, b3 rewritten with the proxy's span",
            &[("b3", &single_in)],
            &[
                ("traceparent", &format!("00-{B3T}-{{span}}-00")),
                ("b3", &format!("{B3T}-{{span}}-0-{B3S}")),
            ],
        ),
        case(
            "multi in (preferred over none), single out",
            stale,
            &[
                ("traceparent", &format!("00-{B3T}-{{span}}-01")),
                ("b3", &format!("{B3T}-{{span}}-1-{B3S}")),
            ],
        ),
        case(
            "new trace",
            &[],
            &[
                ("traceparent", "00-{trace}-{span}-03"),
                ("b3", "{trace}-{span}-1"),
            ],
        ),
    ]);
}

#[test]
fn b3_injection_multi() {
    let mut proxy = Proxy::start(r#"{"propagation": {"b3": {"inject": "multi"}}}"#);
    let tp01 = tp("01");
    let stale_single = format!("{B3T}-{B3S}-1");
    proxy.check(&[
        case(
            "traceparent in, multi out, stale single removed",
            &[
                ("traceparent", &tp01),
                ("b3", "garbage"),
                ("x-b3-flags", "1"),
            ],
            &[
                ("traceparent", &format!("00-{V}-{{span}}-01")),
                ("x-b3-traceid", V),
                ("x-b3-spanid", "{span}"),
                ("x-b3-parentspanid", P),
                ("x-b3-sampled", "1"),
            ],
        ),
        case(
            "debug travels as x-b3-flags",
            &[
                ("x-b3-traceid", B3T),
                ("x-b3-spanid", B3S),
                ("x-b3-flags", "1"),
                ("x-b3-parentspanid", B3P),
            ],
            &[
                ("traceparent", &format!("00-{B3T}-{{span}}-01")),
                ("x-b3-traceid", B3T),
                ("x-b3-spanid", "{span}"),
                ("x-b3-parentspanid", B3S),
                ("x-b3-flags", "1"),
            ],
        ),
        case(
            "single in, multi out",
            &[("b3", &stale_single)],
            &[
                ("traceparent", &format!("00-{B3T}-{{span}}-01")),
                ("x-b3-traceid", B3T),
                ("x-b3-spanid", "{span}"),
                ("x-b3-parentspanid", B3S),
                ("x-b3-sampled", "1"),
            ],
        ),
        case(
            "new trace: no parent",
            &[("x-b3-parentspanid", B3P)],
            &[
                ("traceparent", "00-{trace}-{span}-03"),
                ("x-b3-traceid", "{trace}"),
                ("x-b3-spanid", "{span}"),
                ("x-b3-sampled", "1"),
            ],
        ),
    ]);
}

#[test]
fn sampling_percentage_zero_is_parent_based() {
    let mut proxy = Proxy::start(r#"{"sampling": {"percentage": 0}}"#);
    let deferred = format!("{B3T}-{B3S}");
    proxy.check(&[
        case(
            "new trace, not sampled",
            &[],
            &[("traceparent", "00-{trace}-{span}-02")],
        ),
        case(
            "sampled parent kept",
            &[("traceparent", &tp("01"))],
            &[("traceparent", &format!("00-{V}-{{span}}-01"))],
        ),
        case(
            "b3 decision kept",
            &[("b3", "1")],
            &[("b3", "1"), ("traceparent", "00-{trace}-{span}-03")],
        ),
        case(
            "deferred b3 decided here",
            &[("b3", &deferred)],
            &[
                ("b3", &deferred),
                ("traceparent", &format!("00-{B3T}-{{span}}-00")),
            ],
        ),
    ]);
}

#[test]
fn sampling_fifty_percent_decides_from_the_trace_id() {
    let mut proxy = Proxy::start(r#"{"sampling": {"percentage": 50}}"#);
    // The right-most 7 bytes of the trace id against 2^55.
    let cases: Vec<Case> = [
        ("ffffffffffffffffff80000000000000", "01"),
        ("00000000000000000080000000000001", "01"),
        ("ffffffffffffffffff7fffffffffffff", "00"),
        ("00000000000000000000000000000001", "00"),
    ]
    .iter()
    .map(|(trace, flags)| {
        let b3 = format!("{trace}-{B3S}");
        case(
            *trace,
            &[("b3", &b3)],
            &[
                ("b3", &b3),
                ("traceparent", &format!("00-{trace}-{{span}}-{flags}")),
            ],
        )
    })
    .collect();
    proxy.check(&cases);
}

#[test]
fn b3_extraction_can_be_disabled() {
    let mut proxy = Proxy::start(r#"{"propagation": {"b3": {"extract": false}}}"#);
    let single = format!("{B3T}-{B3S}-0");
    proxy.check(&[case(
        "b3 ignored",
        &[("b3", &single)],
        &[("b3", &single), ("traceparent", "00-{trace}-{span}-03")],
    )]);
}

#[test]
fn ids_are_fresh_for_every_request() {
    let mut proxy = Proxy::start("{}");
    let mut traces = std::collections::HashSet::new();
    let mut spans = std::collections::HashSet::new();
    for _ in 0..50 {
        let r = proxy.send(&[]);
        let new = r.one("traceparent").unwrap().unwrap().to_owned();
        assert!(
            traces.insert(new[3..35].to_owned()),
            "repeated trace id in {new}"
        );
        assert!(
            spans.insert(new[36..52].to_owned()),
            "repeated span id in {new}"
        );
        let r = proxy.send(&[("traceparent", tp("01").as_bytes())]);
        let out = r.one("traceparent").unwrap().unwrap().to_owned();
        assert!(
            spans.insert(out[36..52].to_owned()),
            "repeated span id in {out}"
        );
    }
}

#[test]
fn a_bad_configuration_is_refused_at_startup_with_the_field_named() {
    let wasm = filter_wasm().unwrap_or_else(|e| panic!("{e}"));
    for (plugin_config, message) in [
        (
            r#"{"sampling": {"percentage": 150}}"#,
            "invalid plugin configuration: sampling.percentage: must be between 0 and 100, got 150",
        ),
        (
            r#"{"propagation": {"b3": {"inject": "both"}}}"#,
            "invalid plugin configuration: propagation.b3.inject: unknown variant `both`",
        ),
        (
            r#"{"sampling": {"percent": 5}}"#,
            "invalid plugin configuration: sampling.percent: unknown field `percent`",
        ),
    ] {
        let config = DemoConfig {
            inbound_port: 0,
            outbound_port: 0,
            admin_port: 0,
            app_port: 9,
            upstream_port: 9,
            collector_port: 9,
            wasm: wasm.clone(),
            plugin_config: Some(plugin_config.to_owned()),
        }
        .render(&DemoConfig::template().unwrap())
        .unwrap();
        let (status, log) = envoy::start_expecting_failure(&config).unwrap();
        assert!(!status.success(), "Envoy accepted {plugin_config}");
        assert!(
            log.contains(message),
            "no {message:?} in the log of {plugin_config}:\n{log}"
        );
        assert!(!log.contains("panicked"), "{log}");
    }
}
