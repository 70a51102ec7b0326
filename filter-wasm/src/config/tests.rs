//! Config goldens (`testdata/config/`), exact error messages, and the examples in
//! `docs/filter.md` (every `json` block there must be a valid configuration).

use super::*;
use std::path::PathBuf;

fn testdata(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/config")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn empty_and_absent_mean_defaults() {
    for src in [
        "",
        "  \n",
        "{}",
        "{\"sampling\": {}, \"propagation\": {\"b3\": {}}}",
    ] {
        assert_eq!(
            Config::from_json(src.as_bytes()),
            Ok(Config::default()),
            "{src:?}"
        );
    }
    let d = Config::default();
    assert_eq!(d.sampling.percentage, 100.0);
    assert!(d.propagation.b3.extract);
    assert_eq!(d.propagation.b3.inject, B3Inject::None);
    assert_eq!(d.propagation.tracestate_max_length, 512);
}

#[test]
fn full_configuration() {
    let cfg = Config::from_json(&testdata("full.json")).unwrap();
    assert_eq!(
        cfg,
        Config {
            sampling: SamplingConfig { percentage: 12.5 },
            propagation: PropagationConfig {
                b3: B3Config {
                    extract: false,
                    inject: B3Inject::SingleAndMulti
                },
                tracestate_max_length: 1024,
            },
        }
    );
}

#[test]
fn every_inject_value() {
    for (name, want) in [
        ("none", B3Inject::None),
        ("single", B3Inject::Single),
        ("multi", B3Inject::Multi),
        ("single_and_multi", B3Inject::SingleAndMulti),
    ] {
        let src = format!("{{\"propagation\": {{\"b3\": {{\"inject\": \"{name}\"}}}}}}");
        assert_eq!(
            Config::from_json(src.as_bytes())
                .unwrap()
                .propagation
                .b3
                .inject,
            want
        );
    }
}

#[test]
fn integer_percentages_and_bounds() {
    for (src, want) in [("0", 0.0), ("100", 100.0), ("0.01", 0.01), ("1e1", 10.0)] {
        let json = format!("{{\"sampling\": {{\"percentage\": {src}}}}}");
        assert_eq!(
            Config::from_json(json.as_bytes())
                .unwrap()
                .sampling
                .percentage,
            want
        );
    }
}

#[test]
fn invalid_configurations_name_the_field_and_the_problem() {
    let cases = [
        (
            "invalid_percentage_range.json",
            "sampling.percentage: must be between 0 and 100, got 150",
        ),
        (
            "invalid_percentage_type.json",
            "sampling.percentage: invalid type: string \"10%\", expected f64 at line 1 column 33",
        ),
        (
            "invalid_unknown_section.json",
            "propagaton: unknown field `propagaton`, expected `sampling` or `propagation` at line 1 column 45",
        ),
        (
            "invalid_b3_inject.json",
            "propagation.b3.inject: unknown variant `both`, expected one of `none`, `single`, `multi`, `single_and_multi` at line 1 column 40",
        ),
        (
            "invalid_tracestate_max_length.json",
            "propagation.tracestate_max_length: must be at least 512 (the W3C minimum to propagate), got 100",
        ),
        (
            "invalid_syntax.json",
            "configuration: EOF while parsing an object at line 2 column 0",
        ),
    ];
    for (file, want) in cases {
        let got = Config::from_json(&testdata(file)).map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_owned()), "{file}");
    }
}

#[test]
fn other_refusals() {
    let err = |src: &str| Config::from_json(src.as_bytes()).unwrap_err().to_string();
    assert_eq!(
        err("{\"sampling\": {\"percent\": 5}}"),
        "sampling.percent: unknown field `percent`, expected `percentage` at line 1 column 23"
    );
    assert_eq!(
        err("[]"),
        "configuration: must be a JSON object, such as {\"sampling\": {\"percentage\": 10}}"
    );
    assert_eq!(err("null"), err("[]"));
    assert_eq!(err("\"x\""), err("[]"));
    // Found by fuzzing: an empty key must still name a field.
    assert_eq!(
        err("{\"\": {}}"),
        "configuration: unknown field ``, expected `sampling` or `propagation` at line 1 column 3"
    );
    assert_eq!(
        err("{} {}"),
        "configuration: trailing characters at line 1 column 4"
    );
    assert_eq!(
        err("{\"sampling\": {\"percentage\": -0.5}}"),
        "sampling.percentage: must be between 0 and 100, got -0.5"
    );
    assert_eq!(
        err("{\"propagation\": {\"b3\": {\"extract\": \"yes\"}}}"),
        "propagation.b3.extract: invalid type: string \"yes\", expected a boolean at line 1 column 40"
    );
}

#[test]
fn examples_in_the_user_docs_are_valid() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/filter.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut blocks = 0;
    let mut rest = doc.as_str();
    while let Some(start) = rest.find("```json\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("unterminated json block");
        Config::from_json(&body.as_bytes()[..end]).unwrap_or_else(|e| {
            panic!(
                "docs/filter.md example #{}: {e}\n{}",
                blocks + 1,
                &body[..end]
            )
        });
        blocks += 1;
        rest = &body[end + 3..];
    }
    assert!(
        blocks >= 3,
        "expected the configuration examples in docs/filter.md, found {blocks}"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn inject() -> impl Strategy<Value = B3Inject> {
        prop_oneof![
            Just(B3Inject::None),
            Just(B3Inject::Single),
            Just(B3Inject::Multi),
            Just(B3Inject::SingleAndMulti)
        ]
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Err(e) = Config::from_json(&bytes) {
                prop_assert!(!e.field.is_empty() && !e.problem.is_empty());
            }
        }

        #[test]
        fn never_panics_on_json_like_text(s in r#"[{}\[\]":,a-z_. 0-9e+-]{0,80}"#) {
            if let Err(e) = Config::from_json(s.as_bytes()) {
                prop_assert!(!e.field.is_empty() && !e.problem.is_empty());
            }
        }

        #[test]
        fn round_trip(
            percentage in 0.0f64..=100.0,
            extract in any::<bool>(),
            inject in inject(),
            max in 512usize..100_000,
        ) {
            let json = format!(
                r#"{{"sampling": {{"percentage": {percentage:?}}}, "propagation": {{"b3": {{"extract": {extract}, "inject": "{}"}}, "tracestate_max_length": {max}}}}}"#,
                inject.as_str()
            );
            let got = Config::from_json(json.as_bytes()).unwrap();
            // serde_json's fast float parsing may be one ULP off; irrelevant for a percentage.
            prop_assert!((got.sampling.percentage - percentage).abs() <= percentage * 1e-15);
            let want = PropagationConfig {
                b3: B3Config { extract, inject },
                tracestate_max_length: max,
            };
            prop_assert_eq!(got.propagation, want);
        }

        #[test]
        fn rejects_out_of_range_percentages(p in prop_oneof![-1e9f64..-1e-9, 100.000_001f64..1e9]) {
            let json = format!(r#"{{"sampling": {{"percentage": {p:?}}}}}"#);
            let err = Config::from_json(json.as_bytes()).unwrap_err();
            prop_assert_eq!(err.field, "sampling.percentage");
        }

        #[test]
        fn rejects_short_tracestate_limits(max in 0usize..512) {
            let json = format!(r#"{{"propagation": {{"tracestate_max_length": {max}}}}}"#);
            let err = Config::from_json(json.as_bytes()).unwrap_err();
            prop_assert_eq!(err.field, "propagation.tracestate_max_length");
        }
    }
}
