use super::*;
use crate::{ConditionSet, ErrorMode, Span, SpanCondition};

/// A condition's literals as text, and whether any came from a pattern.
type Found = Option<(Vec<String>, bool)>;

fn lits(condition: &str) -> Found {
    let c = SpanCondition::parse(condition).unwrap();
    c.required_literals().map(|l| {
        (
            l.literals
                .iter()
                .map(|b| String::from_utf8(b.clone()).unwrap())
                .collect(),
            l.from_patterns,
        )
    })
}

fn some(literals: &[&str], from_patterns: bool) -> Found {
    Some((
        literals.iter().map(|s| (*s).to_owned()).collect(),
        from_patterns,
    ))
}

#[test]
fn conditions_and_their_literals() {
    let cases: &[(&str, Found)] = &[
        // The seed user's drop rules.
        (
            r#"IsMatch(attributes["upstream_cluster"], "grafana/.*")"#,
            some(&["grafana/"], true),
        ),
        (
            r#"attributes["http.route"] == "/livez""#,
            some(&["/livez"], false),
        ),
        (
            r#"attributes["user_agent.original"] == "kube-probe//""#,
            some(&["kube-probe//"], false),
        ),
        (
            r#"name == "OperationHandler.handle""#,
            some(&["OperationHandler.handle"], false),
        ),
        // Either side, with the context's prefix, the other stored strings.
        (r#""x-lit" == span.name"#, some(&["x-lit"], false)),
        (
            r#"resource.attributes["service.name"] == "checkout""#,
            some(&["checkout"], false),
        ),
        (
            r#"instrumentation_scope.name == "envoy""#,
            some(&["envoy"], false),
        ),
        (r#"scope.version == "1.40""#, some(&["1.40"], false)),
        (
            r#"instrumentation_scope.attributes["k"] == "v1""#,
            some(&["v1"], false),
        ),
        // Combinations.
        (
            r#"name == "a" or attributes["k"] == "b""#,
            some(&["a", "b"], false),
        ),
        (
            r#"name == "a" and attributes["k"] == "b""#,
            some(&["a"], false),
        ),
        (
            r#"kind == SPAN_KIND_SERVER and attributes["k"] == "probe""#,
            some(&["probe"], false),
        ),
        (r#"false"#, some(&[], false)),
        (r#"name == "a" or false"#, some(&["a"], false)),
        // Patterns: finite prefixes, alternations, classes.
        (
            r#"IsMatch(name, "(GET|POST) /health.*")"#,
            some(&["GET /health", "POST /health"], true),
        ),
        (
            r#"IsMatch(name, "^kube-probe")"#,
            some(&["kube-probe"], true),
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
        // Pattern literals the text of a number, boolean, hex or JSON escape could hold.
        (r#"IsMatch(attributes["k"], "^42")"#, None),
        (r#"IsMatch(attributes["k"], "true")"#, None),
        (r#"IsMatch(attributes["k"], "deadbeef")"#, None),
        (r#"IsMatch(attributes["k"], "u00e9x")"#, None),
        (r#"IsMatch(attributes["k"], "nix")"#, None),
        (r#"IsMatch(attributes["k"], "/livez")"#, None),
        (r#"IsMatch(attributes["k"], "a\":\"b")"#, None),
        (r#"IsMatch(attributes["k"], "(?i)abc")"#, None),
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
fn a_list_needs_every_condition_and_propagate_drops_pattern_literals() {
    let seed = [
        r#"IsMatch(attributes["upstream_cluster"], "grafana/.*")"#,
        r#"attributes["http.route"] == "/livez""#,
    ];
    let b = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    let set = |conds: &[&str], mode| ConditionSet::<Span>::parse(conds, mode).unwrap();
    assert_eq!(
        set(&seed, ErrorMode::Ignore).required_literals(),
        Some(b(&["grafana/", "/livez"]))
    );
    assert_eq!(
        set(&seed, ErrorMode::Silent).required_literals(),
        Some(b(&["grafana/", "/livez"]))
    );
    assert_eq!(set(&seed, ErrorMode::Propagate).required_literals(), None);
    assert_eq!(
        set(&seed[1..], ErrorMode::Propagate).required_literals(),
        Some(b(&["/livez"]))
    );
    assert_eq!(
        set(&[seed[1], r#"not (name == "x")"#], ErrorMode::Ignore).required_literals(),
        None
    );
    assert_eq!(
        set(&[seed[1], seed[1]], ErrorMode::Ignore).required_literals(),
        Some(b(&["/livez"])),
        "each literal once"
    );
}

#[test]
fn literals_that_survive_conversion() {
    // (literal, kept)
    let cases: &[(&[u8], bool)] = &[
        (b"grafana/", true),
        (b"kube-probe", true),
        (b"OperationHandler", true),
        (b"GET /x", true),
        (b"", false),
        (b"1234", false),
        (b"-1.5e+10", false),
        (b"NaN", false),
        (b"+Inf", false),
        (b"true", false),
        (b"null", false),
        (b"cafe", false),
        (b"x\"y", false),
        (b"x:y", false),
        (b"x,y", false),
        (b"zz\\n", false),
        (b"u00e9z", false),
        (b"nz", false),
        (b"/z", false),
        (b"z\xc3\xa9", false),
        (b"z\tq", false),
    ];
    for (literal, kept) in cases {
        assert_eq!(
            survives_conversion(literal),
            *kept,
            "{}",
            String::from_utf8_lossy(literal)
        );
    }
}

mod soundness {
    //! Whenever a condition with literals is true of a span, one of its literals is among the
    //! bytes the span's request would hold: every string, key and bytes value as stored.
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn a_true_condition_finds_a_literal(span in span()) {
            let stored = stored(&span);
            for source in CONDITIONS {
                let c = SpanCondition::parse(source).unwrap();
                let literals = c.required_literals().unwrap();
                if c.eval(&span).unwrap_or(false) {
                    let found = literals.literals.iter().any(|l| {
                        stored.iter().any(|s| s.windows(l.len()).any(|w| w == l.as_slice()))
                    });
                    prop_assert!(found, "{source} is true of {span:?} without {literals:?}");
                }
            }
        }
    }
}
