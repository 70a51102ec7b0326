use super::*;

const SEP: &str = "\u{1f}";

fn le(v: u64) -> Option<Vec<u8>> {
    Some(v.to_le_bytes().to_vec())
}

fn text(s: &str) -> Option<Vec<u8>> {
    Some(s.as_bytes().to_vec())
}

fn answer(parts: &[&str]) -> Vec<u8> {
    parts.join(SEP).into_bytes()
}

#[test]
fn the_expression_reads_every_batched_property() {
    assert_eq!(
        expression(),
        "string(xds.listener_direction) + '\\x1f' + \
         string(response.flags) + '\\x1f' + \
         request.protocol + '\\x1f' + \
         source.address + '\\x1f' + \
         (has(upstream.address) ? upstream.address : '') + '\\x1f' + \
         (has(xds.cluster_name) ? xds.cluster_name : '')"
    );
}

/// A configured kind leaves out the direction, and a client span the downstream peer (the
/// local app), which its spans never read (`tracer::tests::batched_properties_build_the_same_span`).
#[test]
fn a_configured_kind_reads_fewer_properties() {
    use crate::config::KindSetting;
    assert_eq!(expression_of(batched(KindSetting::Auto)), expression());
    assert_eq!(
        expression_of(batched(KindSetting::Server)),
        "string(response.flags) + '\\x1f' + \
         request.protocol + '\\x1f' + \
         source.address + '\\x1f' + \
         (has(upstream.address) ? upstream.address : '') + '\\x1f' + \
         (has(xds.cluster_name) ? xds.cluster_name : '')"
    );
    assert_eq!(
        expression_of(batched(KindSetting::Client)),
        "string(response.flags) + '\\x1f' + \
         request.protocol + '\\x1f' + \
         (has(upstream.address) ? upstream.address : '') + '\\x1f' + \
         (has(xds.cluster_name) ? xds.cluster_name : '')"
    );
    // An answer is read against the properties it was asked for; the others go to the host.
    let client = batched(KindSetting::Client);
    let mut batch = Batch::parse_of(&answer(&["0", "HTTP/2", "", "outbound|80||b"]), client)
        .expect("four parts");
    assert_eq!(batch.take(Property::ResponseFlags), Some(le(0)));
    assert_eq!(batch.take(Property::RequestProtocol), Some(text("HTTP/2")));
    assert_eq!(batch.take(Property::UpstreamAddress), Some(None));
    assert_eq!(
        batch.take(Property::ClusterName),
        Some(text("outbound|80||b"))
    );
    assert_eq!(batch.take(Property::ListenerDirection), None);
    assert_eq!(batch.take(Property::SourceAddress), None);
    // The number of parts is the expression's: a six-part answer is not a client batch.
    let six = answer(&["2", "0", "HTTP/2", "a", "b", "c"]);
    assert_eq!(Batch::parse_of(&six, client), None);
    assert_eq!(
        Batch::parse_of(&answer(&["0", "HTTP/2", "b"]), client),
        None
    );
    assert!(Batch::parse_of(&six, batched(KindSetting::Auto)).is_some());
}

/// A failure is one stream's until [`GIVE_UP_AFTER`] come in a row; a success ends the run.
#[test]
fn evaluations_are_given_up_after_a_run_of_failures() {
    // (outcomes, failed = true; the evaluation after which the expression is given up)
    let mut one_short = vec![true; usize::from(GIVE_UP_AFTER) - 1];
    one_short.push(false);
    one_short.extend(vec![true; usize::from(GIVE_UP_AFTER) - 1]);
    let cases: Vec<(&str, Vec<bool>, Option<usize>)> = vec![
        ("all fine", vec![false; 100], None),
        ("one failure", vec![false, true, false], None),
        ("one short of the run, twice", one_short, None),
        (
            "a run from the start",
            vec![true; 20],
            Some(usize::from(GIVE_UP_AFTER) - 1),
        ),
        (
            "a run after successes",
            [vec![false; 5], vec![true; 20]].concat(),
            Some(5 + usize::from(GIVE_UP_AFTER) - 1),
        ),
    ];
    for (name, outcomes, want) in cases {
        let mut run = FailureRun::default();
        let got = outcomes.iter().position(|&failed| run.record(failed));
        assert_eq!(got, want, "{name}");
    }
    let mut run = FailureRun::default();
    run.record(true);
    run.record(true);
    assert_eq!(run.failures(), 2);
    run.record(false);
    assert_eq!(run.failures(), 0);
}

#[test]
fn answers_parse_to_what_get_property_returns() {
    type Case<'a> = (&'a str, Vec<u8>, Option<[Option<Vec<u8>>; 6]>);
    let cases: Vec<Case> = vec![
        (
            "Envoy 1.40's answer in the benchmark (no listener direction set)",
            answer(&[
                "0",
                "0",
                "HTTP/1.1",
                "127.0.0.1:56292",
                "127.0.0.1:39505",
                "app",
            ]),
            Some([
                le(0),
                le(0),
                text("HTTP/1.1"),
                text("127.0.0.1:56292"),
                text("127.0.0.1:39505"),
                text("app"),
            ]),
        ),
        (
            "an Istio outbound hop: '|' in the cluster name, IPv6 peers, flags UF|URX",
            answer(&[
                "2",
                "32800",
                "HTTP/2",
                "[fd00::1]:41234",
                "[fd00::2]:9080",
                "outbound|9080||reviews.default.svc.cluster.local",
            ]),
            Some([
                le(2),
                le(32800),
                text("HTTP/2"),
                text("[fd00::1]:41234"),
                text("[fd00::2]:9080"),
                text("outbound|9080||reviews.default.svc.cluster.local"),
            ]),
        ),
        (
            "a local reply: no upstream host, cluster or protocol",
            answer(&["1", "256", "", "10.0.0.7:1234", "", ""]),
            Some([le(1), le(256), None, text("10.0.0.7:1234"), None, None]),
        ),
        (
            "every value absent",
            answer(&["", "", "", "", "", ""]),
            Some(Default::default()),
        ),
        ("one part short", answer(&["1", "0", "", "", ""]), None),
        (
            "one part too many: a separator inside a value",
            answer(&["1", "0", "", "", "a", &format!("b{SEP}c")]),
            None,
        ),
        ("nothing at all", Vec::new(), None),
        (
            "a direction that is not a number",
            answer(&["-1", "0", "", "", "", ""]),
            None,
        ),
        (
            "flags past u64",
            answer(&["1", "99999999999999999999", "", "", "", ""]),
            None,
        ),
    ];
    let mut failures = Vec::new();
    for (name, bytes, want) in cases {
        let got = Batch::parse(&bytes);
        // Every property read: each slot answered, if only with "absent".
        let want = want.map(|values| Batch(values.map(Some)));
        if got != want {
            failures.push(format!("{name}: {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_value_is_taken_once_and_other_properties_go_to_the_host() {
    let mut batch = Batch::parse(&answer(&["1", "0", "HTTP/1.1", "", "", "c"])).unwrap();
    assert_eq!(batch.take(Property::ClusterName), Some(text("c")));
    assert_eq!(batch.take(Property::ClusterName), Some(None));
    assert_eq!(batch.take(Property::UpstreamAddress), Some(None));
    assert_eq!(batch.take(Property::ListenerDirection), Some(le(1)));
    for p in [
        Property::RequestSize,
        Property::ResponseCode,
        Property::ResponseCodeDetails,
        Property::ResponseSize,
    ] {
        assert_eq!(batch.take(p), None, "{p:?} is not batched");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn batches_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Some(mut batch) = Batch::parse(&bytes) {
                for p in BATCHED {
                    prop_assert!(batch.take(p).is_some());
                }
            }
        }

        #[test]
        fn text_values_without_the_separator_come_back_as_sent(
            texts in proptest::collection::vec("[^\u{1f}]{0,40}", 4),
        ) {
            let parts = ["7", "9", &texts[0], &texts[1], &texts[2], &texts[3]];
            let mut batch = Batch::parse(&answer(&parts)).unwrap();
            prop_assert_eq!(batch.take(Property::ListenerDirection), Some(le(7)));
            prop_assert_eq!(batch.take(Property::ResponseFlags), Some(le(9)));
            let texts_back = [
                Property::RequestProtocol,
                Property::SourceAddress,
                Property::UpstreamAddress,
                Property::ClusterName,
            ]
            .map(|p| batch.take(p).unwrap());
            for (back, sent) in texts_back.iter().zip(&texts) {
                prop_assert_eq!(back.clone(), (!sent.is_empty()).then(|| sent.as_bytes().to_vec()));
            }
        }
    }
}
