use super::*;
use crate::otlp::proto::common::v1::KeyValue;
use crate::processor::testspans::*;
use crate::testutil::Recorder;

fn tid(hex: &str) -> Vec<u8> {
    (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

const DEFAULT_TID: &str = "fefefefefefefefefe80000000000000";

fn sampler(yaml: &str) -> (SamplerProcessor, Arc<Recorder>, Context) {
    let cfg: SamplerConfig = config(yaml);
    assert_eq!(cfg.validate(), vec![], "{yaml}");
    let rec = Arc::new(Recorder::default());
    let c = ctx("probabilistic_sampler");
    (
        SamplerProcessor::new(&c, Signal::Traces, &cfg, rec.clone()),
        rec,
        c,
    )
}

/// Samples one span; `Some(tracestate)` when it is kept.
fn one(yaml: &str, trace_id: &str, trace_state: &str, attrs: Vec<KeyValue>) -> Option<String> {
    let (p, _, _) = sampler(yaml);
    let mut sp = span(1, "s", attrs);
    sp.trace_id = tid(trace_id);
    sp.trace_state = trace_state.into();
    let out = p.sample(&batch(vec![group(vec![], "envoy", vec![sp])]));
    (out.items() == 1).then(|| {
        decode(&out).resource_spans[0].scope_spans[0].spans[0]
            .trace_state
            .clone()
    })
}

/// The Collector's `Test_tracesamplerprocessor_TraceState` cases, for both consistent modes:
/// (name, percentage, precision, fail_closed, trace id, tracestate, equalizing, proportional).
/// Precision 14 stands for the Go tests' unset (full) precision.
#[test]
fn consistent_modes_match_the_collector() {
    type Case = (
        &'static str,
        f32,
        u32,
        bool,
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "100 percent",
            100.0,
            14,
            false,
            DEFAULT_TID,
            "",
            Some("ot=th:0"),
            Some("ot=th:0"),
        ),
        (
            "50 percent sampled",
            50.0,
            14,
            false,
            DEFAULT_TID,
            "",
            Some("ot=th:8"),
            Some("ot=th:8"),
        ),
        (
            "25 percent sampled",
            25.0,
            14,
            false,
            "ddddddddddddddddddc0000000000000",
            "",
            Some("ot=th:c"),
            Some("ot=th:c"),
        ),
        (
            "25 percent unsampled",
            25.0,
            14,
            false,
            "ddddddddddddddddddb0000000000000",
            "",
            None,
            None,
        ),
        (
            "1 percent sampled",
            1.0,
            14,
            false,
            DEFAULT_TID,
            "ot=rv:FD70A3D70A3D71",
            Some("ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71"),
            Some("ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71"),
        ),
        (
            "1 percent precision 4",
            1.0,
            4,
            false,
            DEFAULT_TID,
            "ot=rv:FD70A3D70A3D71",
            Some("ot=rv:FD70A3D70A3D71;th:fd70a"),
            Some("ot=rv:FD70A3D70A3D71;th:fd70a"),
        ),
        (
            "1 percent precision 3",
            1.0,
            3,
            false,
            DEFAULT_TID,
            "ot=rv:FD70A3D70A3D71",
            None,
            None,
        ),
        (
            "1 percent not sampled",
            1.0,
            14,
            false,
            DEFAULT_TID,
            "ot=rv:FD70A3D70A3D70",
            None,
            None,
        ),
        ("49 percent", 49.0, 14, false, DEFAULT_TID, "", None, None),
        (
            "1 percent with tid",
            1.0,
            4,
            false,
            "a0a0a0a0a0a0a0a0a0fe000000000000",
            "",
            Some("ot=th:fd70a"),
            Some("ot=th:fd70a"),
        ),
        (
            "incoming 50 percent with rvalue",
            50.0,
            14,
            false,
            DEFAULT_TID,
            "ot=rv:90000000000000;th:80000000000000",
            Some("ot=rv:90000000000000;th:8"),
            None,
        ),
        (
            "incoming 50 at 25 not sampled",
            25.0,
            14,
            false,
            DEFAULT_TID,
            "ot=th:8",
            None,
            None,
        ),
        (
            "incoming 50 at 25 sampled",
            25.0,
            14,
            false,
            "ffffffffffffffffffffffffffffffff",
            "ot=th:8",
            Some("ot=th:c"),
            Some("ot=th:e"),
        ),
        (
            "equalizing vs proportional",
            50.0,
            14,
            false,
            DEFAULT_TID,
            "ot=rv:c0000000000000;th:8",
            Some("ot=rv:c0000000000000;th:8"),
            Some("ot=rv:c0000000000000;th:c"),
        ),
        (
            "inconsistent arriving threshold",
            100.0,
            14,
            false,
            DEFAULT_TID,
            "ot=rv:40000000000000;th:8",
            Some("ot=rv:40000000000000;th:0"),
            Some("ot=rv:40000000000000;th:0"),
        ),
        (
            "inconsistent, fail closed",
            1.0,
            14,
            true,
            DEFAULT_TID,
            "ot=rv:40000000000000;th:8",
            None,
            None,
        ),
        (
            "40 percent precision 3",
            40.0,
            3,
            false,
            DEFAULT_TID,
            "ot=rv:a0000000000000",
            Some("ot=rv:a0000000000000;th:99a"),
            Some("ot=rv:a0000000000000;th:99a"),
        ),
        (
            "50 at 40 precision 6",
            40.0,
            6,
            false,
            "a0a0a0a0a0a0a0a0a0d0000000000000",
            "ot=th:8",
            Some("ot=th:99999a"),
            Some("ot=th:cccccd"),
        ),
        (
            "50 at 40 partly",
            40.0,
            3,
            false,
            "a0a0a0a0a0a0a0a0a0b0000000000000",
            "ot=th:8",
            Some("ot=th:99a"),
            None,
        ),
        (
            "50 at 40 not sampled",
            40.0,
            3,
            false,
            "a0a0a0a0a0a0a0a0a080000000000000",
            "ot=th:8",
            None,
            None,
        ),
        (
            "200 percent",
            200.0,
            14,
            false,
            DEFAULT_TID,
            "",
            Some("ot=th:0"),
            Some("ot=th:0"),
        ),
        (
            "tiny probability rounding",
            100.0 * (1.0 / 16384.0),
            14,
            false,
            "111111111111111111ffffffffffffff",
            "ot=th:fffc",
            Some("ot=th:fffc"),
            Some("ot=th:fffffff"),
        ),
        (
            "almost 100 percent",
            (1.0 - 8e-7) * 100.0,
            10,
            false,
            "111111111111111111ffffffffffffff",
            "",
            Some("ot=th:00000cccccccd"),
            Some("ot=th:00000cccccccd"),
        ),
        (
            "probability underflow",
            0.0625,
            14,
            false,
            "111111111111111111ffffffffffffff",
            "ot=th:fffffffffffff8",
            Some("ot=th:fffffffffffff8"),
            None,
        ),
        // Other tracestate members survive, after the ot member.
        (
            "other members",
            50.0,
            4,
            false,
            DEFAULT_TID,
            "congo=t61rcWkgMzE,ot=x:1",
            Some("ot=th:8;x:1,congo=t61rcWkgMzE"),
            Some("ot=th:8;x:1,congo=t61rcWkgMzE"),
        ),
    ];
    for (name, pct, precision, fail_closed, t, ts, eq, prop) in cases {
        for (mode, want) in [("equalizing", eq), ("proportional", prop)] {
            let yaml = format!(
                "mode: {mode}\nsampling_percentage: {pct}\nsampling_precision: {precision}\nfail_closed: {fail_closed}\nhash_seed: 4312\n"
            );
            assert_eq!(one(&yaml, t, ts, vec![]).as_deref(), want, "{mode}: {name}");
        }
    }
}

#[test]
fn sampling_priority_overrides_every_mode() {
    for mode in ["hash_seed", "proportional", "equalizing"] {
        for (pct, attr, kept) in [
            (0.0, i("sampling.priority", 2), true),
            (0.0, d("sampling.priority", 1.0), true),
            (0.0, s("sampling.priority", "1"), true),
            (0.0, s("sampling.priority", "0.5"), true),
            (100.0, i("sampling.priority", 0), false),
            (100.0, d("sampling.priority", 0.0), false),
            (100.0, s("sampling.priority", "0"), false),
            (100.0, s("sampling.priority", "0.0"), false),
            // Negative or unreadable: the normal decision.
            (0.0, i("sampling.priority", -1), false),
            (100.0, s("sampling.priority", "NaN"), true),
            (0.0, i("no.sampling.priority", 2), false),
            (100.0, i("no.sampling.priority", 2), true),
        ] {
            let yaml = format!("mode: {mode}\nsampling_percentage: {pct}\nhash_seed: 4312\n");
            // A trace id with no W3C randomness: only 100 % samples it by probability.
            let got = one(
                &yaml,
                "01000000000000000000000000000000",
                "",
                vec![attr.clone()],
            );
            assert_eq!(got.is_some(), kept, "{mode} {pct} {attr:?}");
        }
    }
    // Priority keeps a span with an explicit 100 % threshold.
    assert_eq!(
        one(
            "mode: proportional\nsampling_percentage: 1\n",
            DEFAULT_TID,
            "",
            vec![i("sampling.priority", 2)]
        )
        .as_deref(),
        Some("ot=th:0")
    );
}

#[test]
fn missing_randomness_follows_fail_closed() {
    for (pct, fail_closed, kept) in [
        (0.0, true, false),
        (62.0, true, false),
        (100.0, true, false),
        (0.0, false, false),
        (62.0, false, true),
        (100.0, false, true),
    ] {
        for mode in ["hash_seed", "proportional", "equalizing"] {
            let yaml = format!(
                "mode: {mode}\nsampling_percentage: {pct}\nfail_closed: {fail_closed}\nhash_seed: 4312\n"
            );
            let got = one(&yaml, "00000000000000000000000000000000", "", vec![]);
            assert_eq!(got.is_some(), kept, "{mode} {pct} {fail_closed}");
        }
    }
    // fail_closed is on by default.
    assert_eq!(
        one(
            "sampling_percentage: 100\n",
            "00000000000000000000000000000000",
            "",
            vec![]
        ),
        None
    );
}

#[test]
fn broken_tracestates_fail_closed() {
    for ts in [
        "ot=rv:abababababababab",
        "ot=th:abababababababab",
        "ot=th:-1",
        "Invalid=Header",
    ] {
        for mode in ["proportional", "equalizing", "hash_seed"] {
            let yaml = format!("mode: {mode}\nsampling_percentage: 100\n");
            assert_eq!(one(&yaml, DEFAULT_TID, ts, vec![]), None, "{mode} {ts}");
            let open = format!("{yaml}fail_closed: false\n");
            assert!(
                one(&open, DEFAULT_TID, ts, vec![]).is_some(),
                "{mode} {ts} fail open"
            );
        }
    }
    // An arriving threshold the trace id's randomness contradicts.
    assert_eq!(
        one(
            "mode: equalizing\nsampling_percentage: 100\n",
            "ffffffffffffffffff70000000000000",
            "ot=th:8",
            vec![]
        ),
        None
    );
}

#[test]
fn hash_seed_writes_randomness_and_threshold() {
    // The Collector's Test_tracesamplerprocessor_HashSeedTraceState: sampled spans carry
    // `rv` (the hash randomness) and `th` (14-bit rounding of the percentage).
    for (pct, tvalue) in [
        (100.0, "0"),
        (75.0, "4"),
        (50.0, "8"),
        (25.0, "c"),
        (10.0, "e668"),
        (100.0 / 3.0, "aaac"),
    ] {
        let yaml = format!("mode: hash_seed\nhash_seed: 4312\nsampling_percentage: {pct}\n");
        let mut found = 0;
        for n in 0u64..2000 {
            let t = format!("{:016x}{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15), n);
            let Some(ts) = one(&yaml, &t, "", vec![]) else {
                continue;
            };
            let parsed = TraceState::parse(&ts).unwrap();
            let (th_text, th) = parsed.ot.th.clone().unwrap();
            let (_, rv) = parsed.ot.rv.unwrap();
            assert_eq!(th_text, tvalue, "{pct}");
            assert!(th.should_sample(rv));
            found += 1;
            if found == 10 {
                break;
            }
        }
        assert_eq!(found, 10, "{pct}");
    }
    // Spans that already carry consistent-sampling information are an error in this mode.
    assert_eq!(
        one("sampling_percentage: 100\n", DEFAULT_TID, "ot=th:8", vec![]),
        None
    );
    assert!(
        one(
            "sampling_percentage: 100\nfail_closed: false\n",
            DEFAULT_TID,
            "ot=th:8",
            vec![]
        )
        .is_some()
    );
}

#[test]
fn every_replica_decides_the_same_for_a_trace() {
    // Spans of one trace in different requests and processors: all kept or all dropped,
    // with about the configured share of traces kept.
    let yaml = "sampling_percentage: 30\nhash_seed: 22\n";
    let (a, _, _) = sampler(yaml);
    let (b, _, _) = sampler(yaml);
    let mut kept = 0;
    for n in 0u64..4000 {
        let mut x = span(1, "x", vec![]);
        x.trace_id = [
            n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes(),
            n.to_be_bytes(),
        ]
        .concat();
        let mut y = x.clone();
        y.span_id = vec![2; 8];
        let ka = a.sample(&batch(vec![group(vec![], "e", vec![x])])).items();
        let kb = b.sample(&batch(vec![group(vec![], "f", vec![y])])).items();
        assert_eq!(ka, kb, "trace {n}");
        kept += ka;
    }
    assert!((1000..1400).contains(&kept), "{kept} of 4000 kept at 30 %");
}

#[tokio::test]
async fn counts_decisions_and_passes_the_rest_on() {
    let (p, rec, c) = sampler("mode: proportional\nsampling_percentage: 50\n");
    let mut keep = span(1, "keep", vec![]);
    keep.trace_id = tid("ffffffffffffffffffffffffffffffff");
    let mut drop = span(2, "drop", vec![]);
    drop.trace_id = tid("00000000000000000000000000000001");
    let prio = span(3, "prio", vec![i("sampling.priority", 1)]);
    p.consume(batch(vec![group(vec![], "envoy", vec![keep, drop, prio])]))
        .await
        .unwrap();
    assert_eq!(names(&rec.0.lock().unwrap()[0]), ["keep", "prio"]);
    let m = c.telemetry.render();
    for line in [
        "otelcol_processor_probabilistic_sampler_count_traces_sampled_total{policy=\"trace_id_w3c\",sampled=\"true\"",
        "otelcol_processor_probabilistic_sampler_count_traces_sampled_total{policy=\"trace_id_w3c\",sampled=\"false\"",
        "otelcol_processor_probabilistic_sampler_count_traces_sampled_total{policy=\"sampling_priority\",sampled=\"true\"",
    ] {
        let v = m.lines().find(|l| l.starts_with(line)).unwrap();
        assert!(v.ends_with(" 1"), "{v}");
    }
    // Nothing kept: nothing sent.
    let mut drop = span(4, "drop", vec![]);
    drop.trace_id = tid("00000000000000000000000000000001");
    p.consume(batch(vec![group(vec![], "envoy", vec![drop])]))
        .await
        .unwrap();
    assert_eq!(rec.0.lock().unwrap().len(), 1);
}

#[test]
fn config_validation() {
    for (yaml, want) in [
        ("sampling_percentage: -1", "sampling rate is negative"),
        ("sampling_percentage: 1e-20", "sampling rate is too small"),
        (
            "sampling_percentage: 10\nsampling_precision: 0",
            "invalid sampling precision: 0",
        ),
        (
            "sampling_percentage: 10\nsampling_precision: 15",
            "sampling precision is too great",
        ),
        (
            "sampling_percentage: 10\nattribute_source: span",
            "invalid attribute source: span",
        ),
    ] {
        let cfg: SamplerConfig = config(yaml);
        let e: Vec<String> = cfg.validate().iter().map(ToString::to_string).collect();
        assert!(e.iter().any(|m| m.contains(want)), "{yaml}: {e:?}");
    }
    let bad = crate::registry::parse_typed::<SamplerConfig>(
        &crate::config::value::from_yaml("mode: random\n").unwrap(),
    );
    assert!(
        bad.unwrap_err()
            .to_string()
            .contains("unsupported sampler mode \"random\"")
    );
    let cfg: SamplerConfig = config("sampling_percentage: 10\nsampling_priority: prio\n");
    assert_eq!(cfg.warnings().len(), 1);
    let cfg: SamplerConfig = config("{}");
    assert!(cfg.fail_closed && cfg.sampling_precision == 4 && cfg.mode == Mode::HashSeed);
}
