//! The whole per-request participant logic over arbitrary trace headers: never panics, and
//! always sends exactly one valid version-00 `traceparent` carrying the proxy's own span id,
//! plus a `tracestate` that is valid and within the limit (or none).
//!
//! Input: a config byte, then fields separated by NUL, each `<name byte><value>`; the name is
//! `NAMES[byte % 10]` (so `\x0a` is `traceparent`, `\x01` `tracestate`, `\x02` `b3` …).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_filter::config::{B3Inject, Config};
use meshtrace_filter::ids::{RandomIds, SplitMix64};
use meshtrace_filter::propagation::{MemoryHeaders, Origin, Propagator};
use meshtrace_filter::tracecontext::{TraceParent, TraceState};

const NAMES: &[&str] = &[
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-b3-flags",
    "x-b3-parentspanid",
    "TraceParent",
    "x-other",
];

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, rest)) = data.split_first() else { return };
    let mut config = Config::default();
    config.sampling.percentage = f64::from(knobs & 0x0f) * 100.0 / 15.0;
    config.propagation.b3.extract = knobs & 0x10 != 0;
    config.propagation.b3.inject = match knobs >> 5 & 0x03 {
        0 => B3Inject::None,
        1 => B3Inject::Single,
        2 => B3Inject::Multi,
        _ => B3Inject::SingleAndMulti,
    };
    let fields = rest.split(|&b| b == 0).filter_map(|f| {
        let (&n, value) = f.split_first()?;
        Some((NAMES[usize::from(n) % NAMES.len()], value))
    });
    let mut headers = MemoryHeaders::new(fields);
    let mut ids = RandomIds::new(SplitMix64(u64::from(knobs)));
    let out = Propagator::new(&config).propagate(&mut headers, &mut ids);

    let tps = headers.all("traceparent");
    assert_eq!(tps.len(), 1);
    let tp = TraceParent::parse(tps[0]).expect("outgoing traceparent parses");
    assert_eq!(tps[0], &out.span.traceparent()[..]);
    assert_eq!((tp.version, tp.trace_id, tp.parent_id), (0, out.span.trace_id, out.span.span_id));
    assert_eq!(tp.flags.0 & !0x03, 0, "unknown flags must be written as zero");
    assert_ne!(Some(out.span.span_id), out.span.parent_span_id);
    let states = headers.all("tracestate");
    assert!(states.len() <= 1);
    if let Some(ts) = states.first() {
        assert_eq!(out.span.origin, Origin::TraceContext);
        assert!(ts.len() <= config.propagation.tracestate_max_length);
        let parsed = TraceState::parse(ts).expect("outgoing tracestate parses");
        assert!(!parsed.is_empty());
    }
});
