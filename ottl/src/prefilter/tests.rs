use super::*;
use crate::{ConditionSet, ErrorMode, Span, SpanCondition};

/// A condition's literals as text, and the keys that must hold strings.
type Found = Option<(Vec<String>, Vec<String>)>;

fn lits(condition: &str) -> Found {
    let c = SpanCondition::parse(condition).unwrap();
    c.required_literals().map(|l| {
        (
            l.literals
                .iter()
                .map(|b| String::from_utf8(b.clone()).unwrap())
                .collect(),
            l.string_keys.clone(),
        )
    })
}

fn some(literals: &[&str], keys: &[&str]) -> Found {
    Some((
        literals.iter().map(|s| (*s).to_owned()).collect(),
        keys.iter().map(|s| (*s).to_owned()).collect(),
    ))
}

#[test]
fn conditions_and_their_literals() {
    let cases: &[(&str, Found)] = &[
        // The seed user's drop rules.
        (
            r#"IsMatch(attributes["upstream_cluster"], "grafana/.*")"#,
            some(&["grafana/"], &["upstream_cluster"]),
        ),
        (
            r#"attributes["http.route"] == "/livez""#,
            some(&["/livez"], &[]),
        ),
        (
            r#"attributes["user_agent.original"] == "kube-probe//""#,
            some(&["kube-probe//"], &[]),
        ),
        (
            r#"name == "OperationHandler.handle""#,
            some(&["OperationHandler.handle"], &[]),
        ),
        // Either side, with the context's prefix, the other stored strings.
        (r#""x-lit" == span.name"#, some(&["x-lit"], &[])),
        (
            r#"resource.attributes["service.name"] == "checkout""#,
            some(&["checkout"], &[]),
        ),
        (
            r#"instrumentation_scope.name == "envoy""#,
            some(&["envoy"], &[]),
        ),
        (r#"scope.version == "1.40""#, some(&["1.40"], &[])),
        (
            r#"instrumentation_scope.attributes["k"] == "v1""#,
            some(&["v1"], &[]),
        ),
        // Combinations.
        (
            r#"name == "a" or attributes["k"] == "b""#,
            some(&["a", "b"], &[]),
        ),
        (
            r#"name == "a" and attributes["k"] == "b""#,
            some(&["a"], &[]),
        ),
        (
            r#"kind == SPAN_KIND_SERVER and attributes["k"] == "probe""#,
            some(&["probe"], &[]),
        ),
        (r#"false"#, some(&[], &[])),
        (r#"name == "a" or false"#, some(&["a"], &[])),
        // Patterns: finite prefixes, alternations, classes.
        (
            r#"IsMatch(name, "(GET|POST) /health.*")"#,
            some(&["GET /health", "POST /health"], &[]),
        ),
        (
            r#"IsMatch(name, "^kube-probe")"#,
            some(&["kube-probe"], &[]),
        ),
        // Nothing to vouch for: a negation, a non-equality, a converter, another path, an
        // empty literal, a second key, an unbounded or empty pattern prefix.
        (r#"not (name == "a")"#, None),
        (r#"name != "a""#, None),
        (r#"attributes["k"] == 5"#, None),
        (r#"Len(name) == 3"#, None),
        (r#"ConvertCase(name, "lower") == "a""#, None),
        (
            r#"trace_id.string == "4bf92f3577b34da6a3ce929d0e0e4736""#,
            None,
        ),
        (r#"kind.string == "Server""#, None),
        (r#"status.message == "boom""#, None),
        (r#"name == """#, None),
        (r#"attributes["a"]["b"] == "c""#, None),
        (r#"name == "a" or kind == SPAN_KIND_CLIENT"#, None),
        (r#"true"#, None),
        (r#"IsMatch(name, ".*probe")"#, None),
        (r#"IsMatch(name, "[a-z]+")"#, None),
        (r#"IsMatch(name, "a?")"#, None),
        // Patterns over attributes: the key must hold strings, whatever the literal.
        (r#"IsMatch(attributes["k"], "^42")"#, some(&["42"], &["k"])),
        (
            r#"IsMatch(resource.attributes["k"], "/livez") or IsMatch(name, "^x")"#,
            some(&["/livez", "x"], &["k"]),
        ),
        (
            r#"IsMatch(attributes["k"], "(?i)ab")"#,
            some(&["AB", "Ab", "aB", "ab"], &["k"]),
        ),
    ];
    let mut failures = Vec::new();
    for (condition, want) in cases {
        let got = lits(condition);
        if &got != want {
            failures.push(format!("{condition}: {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_list_needs_every_condition() {
    let seed = [
        r#"IsMatch(attributes["upstream_cluster"], "grafana/.*")"#,
        r#"attributes["http.route"] == "/livez""#,
    ];
    let set = |conds: &[&str]| {
        ConditionSet::<Span>::parse(conds, ErrorMode::Propagate)
            .unwrap()
            .required_literals()
    };
    assert_eq!(
        set(&seed),
        Some(Literals {
            literals: vec![b"grafana/".to_vec(), b"/livez".to_vec()],
            string_keys: vec!["upstream_cluster".to_owned()],
        })
    );
    assert_eq!(set(&[seed[1], r#"not (name == "x")"#]), None);
    assert_eq!(
        set(&[seed[0], seed[0]]),
        Some(Literals {
            literals: vec![b"grafana/".to_vec()],
            string_keys: vec!["upstream_cluster".to_owned()],
        }),
        "each literal and key once"
    );
    assert_eq!(set(&[]), Some(Literals::default()));
}

/// `IsMatch` prints bytes in a map as base64: these six bytes read `grafana/`, which the
/// request's bytes do not hold. The key the condition reads holds a map, not a string, and
/// that is what the caller's check finds.
#[test]
fn a_map_holding_bytes_matches_without_the_literal() {
    use crate::memory::{AttrValue, SpanData};
    let bytes = vec![130, 182, 159, 106, 118, 191];
    let span = SpanData {
        attributes: vec![(
            "upstream_cluster".to_owned(),
            AttrValue::Map(vec![("x".to_owned(), AttrValue::Bytes(bytes.clone()))]),
        )],
        ..SpanData::default()
    };
    let c =
        SpanCondition::parse(r#"IsMatch(attributes["upstream_cluster"], "grafana/.*")"#).unwrap();
    assert!(c.eval(&span).unwrap());
    assert!(!bytes.windows(8).any(|w| w == b"grafana/"));
    assert_eq!(
        c.required_literals().unwrap().string_keys,
        ["upstream_cluster"]
    );
}

mod soundness {
    //! Whenever a condition with literals is true of a span, one of its literals is among the
    //! bytes the span's request would hold (every string, key and bytes value as stored), or
    //! an attribute of one of its string keys holds something other than a string.
    use super::*;
    use crate::memory::{AttrValue, SpanData};
    use proptest::prelude::*;

    const CONDITIONS: &[&str] = &[
        r#"IsMatch(attributes["upstream_cluster"], "grafana/.*")"#,
        r#"IsMatch(attributes["k"], "(GET|POST) /health.*")"#,
        r#"IsMatch(resource.attributes["k"], "^kube-probe")"#,
        r#"attributes["http.route"] == "/livez""#,
        r#"attributes["k"] == "kube-probe//""#,
        r#"name == "OperationHandler.handle" or instrumentation_scope.name == "envoy""#,
        r#"kind == SPAN_KIND_SERVER and attributes["k"] == "probe""#,
    ];

    /// Fragments that make near misses and hits likely.
    const WORDS: &[&str] = &[
        "grafana/",
        "grafana",
        "/",
        "GET /health",
        "POST /he",
        "alth",
        "kube-probe",
        "//",
        "/livez",
        "probe",
        "OperationHandler.handle",
        "envoy",
        "x",
        "\"",
        "\\",
        "é",
        "\n",
    ];

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(WORDS), 0..4).prop_map(|w| w.concat())
    }

    fn value() -> impl Strategy<Value = AttrValue> {
        let leaf = prop_oneof![
            text().prop_map(AttrValue::Str),
            any::<i64>().prop_map(AttrValue::Int),
            prop_oneof![Just(f64::NAN), Just(f64::INFINITY), any::<f64>()]
                .prop_map(AttrValue::Double),
            any::<bool>().prop_map(AttrValue::Bool),
            text().prop_map(|t| AttrValue::Bytes(t.into_bytes())),
            Just(AttrValue::Empty),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                proptest::collection::vec((text(), inner.clone()), 0..3).prop_map(AttrValue::Map),
                proptest::collection::vec(inner, 0..3).prop_map(AttrValue::List),
            ]
        })
    }

    fn attributes() -> impl Strategy<Value = Vec<(String, AttrValue)>> {
        let key = prop_oneof![
            Just("upstream_cluster".to_owned()),
            Just("http.route".to_owned()),
            Just("k".to_owned()),
            text(),
        ];
        proptest::collection::vec((key, value()), 0..4)
    }

    fn span() -> impl Strategy<Value = SpanData> {
        (text(), attributes(), attributes(), text(), 0..4i32).prop_map(
            |(name, attributes, resource_attributes, scope_name, kind)| SpanData {
                name,
                attributes,
                resource_attributes,
                scope_name,
                kind,
                ..SpanData::default()
            },
        )
    }

    /// The request's bytes as far as strings go: each string, key and bytes value, apart.
    fn stored(span: &SpanData) -> Vec<Vec<u8>> {
        fn walk(v: &AttrValue, out: &mut Vec<Vec<u8>>) {
            match v {
                AttrValue::Str(s) => out.push(s.as_bytes().to_vec()),
                AttrValue::Bytes(b) => out.push(b.clone()),
                AttrValue::Map(m) => {
                    for (k, v) in m {
                        out.push(k.as_bytes().to_vec());
                        walk(v, out);
                    }
                }
                AttrValue::List(l) => l.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = vec![
            span.name.as_bytes().to_vec(),
            span.scope_name.as_bytes().to_vec(),
        ];
        for (k, v) in span.attributes.iter().chain(&span.resource_attributes) {
            out.push(k.as_bytes().to_vec());
            walk(v, &mut out);
        }
        out
    }

    /// Whether some attribute named `key`, at any depth, holds something other than a string.
    fn not_a_string(span: &SpanData, key: &str) -> bool {
        fn walk(attrs: &[(String, AttrValue)], key: &str) -> bool {
            attrs.iter().any(|(k, v)| {
                (k == key && !matches!(v, AttrValue::Str(_)))
                    || match v {
                        AttrValue::Map(m) => walk(m, key),
                        AttrValue::List(l) => l.iter().any(|v| match v {
                            AttrValue::Map(m) => walk(m, key),
                            _ => false,
                        }),
                        _ => false,
                    }
            })
        }
        walk(&span.attributes, key) || walk(&span.resource_attributes, key)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn a_true_condition_finds_a_literal_or_a_non_string(span in span()) {
            let stored = stored(&span);
            for source in CONDITIONS {
                let c = SpanCondition::parse(source).unwrap();
                let literals = c.required_literals().unwrap();
                if c.eval(&span).unwrap_or(false) {
                    let found = literals.literals.iter().any(|l| {
                        stored.iter().any(|s| s.windows(l.len()).any(|w| w == l.as_slice()))
                    });
                    let excused = literals.string_keys.iter().any(|k| not_a_string(&span, k));
                    prop_assert!(
                        found || excused,
                        "{source} is true of {span:?} without {literals:?}"
                    );
                }
            }
        }
    }
}
