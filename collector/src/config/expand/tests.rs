//! Expansion tables: the forms, nesting, re-expansion, escapes and cycles.

use super::*;
use std::collections::HashMap;

struct Fake(HashMap<&'static str, &'static str>);

impl Lookup for Fake {
    fn env(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|s| (*s).to_owned())
    }
    fn file(&self, path: &str) -> std::io::Result<String> {
        match path {
            "/secrets/key" => Ok("s3cr3t\n".into()),
            "/etc/otel/p.yaml" => Ok("endpoint: ${env:HOST}:4317\n".into()),
            "/secrets/loop" => Ok("${file:/secrets/loop}".into()),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file",
            )),
        }
    }
}

fn fake() -> Fake {
    Fake(HashMap::from([
        ("HOST", "10.0.0.1"),
        ("PORT", "4317"),
        ("KEY", "0123"),
        ("ON", "true"),
        ("BASE", "/etc/otel"),
        ("ALIAS", "${env:PORT}"),
        // The Collector's expand-escaped-env.yaml (confmap/internal/e2e).
        ("ENV_VALUE", "some expanded value"),
        ("ENV_NESTED_DOLLARSIGN", "here is 1 $$"),
        ("ENV_NESTED_DOLLARSIGN_ESCAPED", "here are 2 $$$"),
        (
            "ENV_EXPAND_NESTED",
            "${env:ENV_VALUE} came from nested expansion",
        ),
        (
            "ENV_LIST",
            "['$$ESCAPE_ME','$${ESCAPE_ME}','$${env:ESCAPE_ME}']",
        ),
        // Cycles.
        ("SELF", "x${env:SELF}"),
        ("PING", "${env:PONG}"),
        ("PONG", "a ${PING}"),
    ]))
}

fn run(input: &str) -> (Result<Value, String>, Vec<String>) {
    let mut v = Value::String(input.into());
    let mut w = Vec::new();
    let r = expand(&mut v, &mut vec![], &fake(), &mut w)
        .map(|()| v)
        .map_err(|e| e.reason);
    (r, w)
}

fn s(x: &str) -> Value {
    Value::String(x.into())
}

fn exp(t: Value, o: &str) -> Value {
    Value::Expanded {
        typed: Box::new(t),
        original: o.into(),
    }
}

#[test]
fn table() {
    let cases: Vec<(&str, Result<Value, String>)> = vec![
        ("plain", Ok(s("plain"))),
        ("${env:HOST}:4317", Ok(s("10.0.0.1:4317"))),
        ("${HOST}:${PORT}", Ok(s("10.0.0.1:4317"))),
        ("${env:PORT}", Ok(exp(Value::Int(4317), "4317"))),
        ("${env:KEY}", Ok(s("0123"))),
        ("${ON}", Ok(exp(Value::Bool(true), "true"))),
        ("${env:HOST}", Ok(s("10.0.0.1"))),
        ("${env:MISSING:-localhost}:1", Ok(s("localhost:1"))),
        ("${env:HOST:-localhost}", Ok(s("10.0.0.1"))),
        ("$${env:HOST}", Ok(s("${env:HOST}"))),
        ("a$$b", Ok(s("a$b"))),
        ("$HOST", Ok(s("$HOST"))),
        ("price: 5$", Ok(s("price: 5$"))),
        ("Bearer ${file:/secrets/key}", Ok(s("Bearer s3cr3t"))),
        ("${file:/secrets/key}", Ok(s("s3cr3t"))),
        ("${env:MISSING}", Ok(exp(Value::Null, ""))),
        (
            "${env:1BAD}",
            Err("invalid environment variable name \"1BAD\" in ${env:1BAD}".into()),
        ),
        (
            "${http:x}",
            Err("unsupported scheme \"http\" in ${http:x} (supported: env, file)".into()),
        ),
        (
            "${env:HOST",
            Err("unterminated reference in \"${env:HOST\"".into()),
        ),
        (
            "${file:/nope}",
            Err("cannot read ${file:/nope}: no such file".into()),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(run(input).0, want, "input {input:?}");
    }
}

#[test]
fn nested_and_re_expanded_references() {
    let cases: Vec<(&str, Result<Value, String>)> = vec![
        // A default that is itself a reference; the inner reference goes first.
        ("${env:MISSING:-${env:HOST}}", Ok(s("10.0.0.1"))),
        ("${env:HOST:-${env:PORT}}", Ok(s("10.0.0.1"))),
        ("${env:MISSING:-${env:PORT}}", Ok(exp(Value::Int(4317), "4317"))),
        ("x-${env:MISSING:-${env:ALSO_MISSING:-y}}", Ok(s("x-y"))),
        // A reference inside a file path.
        (
            "${file:${env:BASE}/p.yaml}",
            Ok(exp(
                Value::Map(vec![("endpoint".into(), s("10.0.0.1:4317"))]),
                "endpoint: 10.0.0.1:4317",
            )),
        ),
        // A variable holding a reference: expanded in turn, typed by what it ends up as.
        ("${env:ALIAS}", Ok(exp(Value::Int(4317), "4317"))),
        ("port ${env:ALIAS}", Ok(s("port 4317"))),
        // The Collector's expand-escaped-env.yaml, keys 1–22 (env as the default scheme).
        ("$$ENV_VALUE", Ok(s("$ENV_VALUE"))),
        ("$$$$ENV_VALUE", Ok(s("$$ENV_VALUE"))),
        ("$$${ENV_VALUE}", Ok(s("$some expanded value"))),
        ("some${ENV_VALUE}text", Ok(s("somesome expanded valuetext"))),
        ("some$${ENV_VALUE}text", Ok(s("some${ENV_VALUE}text"))),
        ("$${ONE}$${TWO}", Ok(s("${ONE}${TWO}"))),
        ("text$$", Ok(s("text$"))),
        ("$$", Ok(s("$"))),
        ("$${1}$${env:2}", Ok(s("${1}${env:2}"))),
        ("some$${env:ENV_VALUE}text", Ok(s("some${env:ENV_VALUE}text"))),
        ("$${env:${ENV_VALUE}}", Ok(s("${env:some expanded value}"))),
        ("$${env:$${ENV_VALUE}}", Ok(s("${env:${ENV_VALUE}}"))),
        (
            "env:MAP_VALUE_2}$${ENV_VALUE}{",
            Ok(s("env:MAP_VALUE_2}${ENV_VALUE}{")),
        ),
        ("$$${env:ENV_VALUE}", Ok(s("$some expanded value"))),
        ("$ENV_VALUE", Ok(s("$ENV_VALUE"))),
        (
            "${env:ENV_LIST}",
            Ok(exp(
                Value::Seq(vec![
                    s("$ESCAPE_ME"),
                    s("${ESCAPE_ME}"),
                    s("${env:ESCAPE_ME}"),
                ]),
                "['$ESCAPE_ME','${ESCAPE_ME}','${env:ESCAPE_ME}']",
            )),
        ),
        ("${env:ENV_NESTED_DOLLARSIGN}", Ok(s("here is 1 $"))),
        ("${env:ENV_NESTED_DOLLARSIGN_ESCAPED}", Ok(s("here are 2 $$"))),
        (
            "${env:ENV_EXPAND_NESTED}",
            Ok(s("some expanded value came from nested expansion")),
        ),
        ("${env:UNDEFINED_KEY:-default_value}", Ok(s("default_value"))),
        (
            "${env:UNDEFINED_KEY:-$${env:UNDEFINED_KEY}}",
            Ok(s("${env:UNDEFINED_KEY:-${env:UNDEFINED_KEY}}")),
        ),
        // Cycles are refused, naming the chain.
        (
            "${env:SELF}",
            Err("${env:SELF} refers back to itself: ${env:SELF} → ${env:SELF}".into()),
        ),
        (
            "a ${PING}",
            Err(
                "${env:PING} refers back to itself: ${env:PING} → ${env:PONG} → ${env:PING}"
                    .into(),
            ),
        ),
        (
            "${file:/secrets/loop}",
            Err("${file:/secrets/loop} refers back to itself: ${file:/secrets/loop} → ${file:/secrets/loop}".into()),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(run(input).0, want, "input {input:?}");
    }
}

#[test]
fn chains_deeper_than_the_bound_are_refused() {
    // D0 → D1 → … → D11: distinct variables, no cycle, one level too deep.
    let names: Vec<String> = (0..=MAX_DEPTH + 1).map(|i| format!("D{i}")).collect();
    let values: Vec<String> = (0..=MAX_DEPTH + 1)
        .map(|i| format!("${{env:D{}}}", i + 1))
        .collect();
    let mut env: HashMap<&'static str, &'static str> = HashMap::new();
    for (n, v) in names.iter().zip(&values) {
        env.insert(n.clone().leak(), v.clone().leak());
    }
    let mut v = s("${env:D0}");
    let e = expand(&mut v, &mut vec![], &Fake(env), &mut vec![]).unwrap_err();
    assert_eq!(
        e.reason,
        "${env:D10}: references nested more than 10 levels deep (from ${env:D0})"
    );
}

#[test]
fn unset_variables_warn() {
    let (_, w) = run("${env:MISSING}");
    assert_eq!(
        w,
        vec![
            "configuration references unset environment variable MISSING; it expands to an empty string"
        ]
    );
}

#[test]
fn errors_name_the_path() {
    let mut v: Value =
        crate::config::value::from_yaml("exporters:\n  otlp:\n    endpoint: ${bad:x}\n").unwrap();
    let e = expand(&mut v, &mut vec![], &fake(), &mut vec![]).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("exporters.otlp.endpoint"));
}

#[test]
fn keys_are_not_expanded() {
    let mut v: Value = crate::config::value::from_yaml("${env:HOST}: ${env:HOST}\n").unwrap();
    expand(&mut v, &mut vec![], &fake(), &mut vec![]).unwrap();
    assert_eq!(v, Value::Map(vec![("${env:HOST}".into(), s("10.0.0.1"))]));
}

#[test]
fn messages_show_references_for_the_values_they_resolved_to() {
    let mut v: Value = crate::config::value::from_yaml(
        "a: ${env:HOST}:${env:PORT}\nb: ${file:/secrets/key}\nc: ${env:ON}\nd: ${env:ENV_VALUE}\n",
    )
    .unwrap();
    let scrub = expand_recording(&mut v, &mut vec![], &fake(), &mut vec![]).unwrap();
    for (message, shown) in [
        // Short values (a port, a boolean) stay: they are not credentials and are everywhere.
        (
            "invalid endpoint \"10.0.0.1:4317\"",
            "invalid endpoint \"${env:HOST}:4317\"",
        ),
        ("key s3cr3t refused", "key ${file:/secrets/key} refused"),
        ("expected true or false", "expected true or false"),
        // Every occurrence of the whole value; a part of it is not the value.
        (
            "\"some expanded value\" and some expanded",
            "\"${env:ENV_VALUE}\" and some expanded",
        ),
    ] {
        assert_eq!(scrub.apply(message), shown, "{message}");
    }
}
