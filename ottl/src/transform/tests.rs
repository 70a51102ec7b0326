use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value as V,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span::Event};

use super::*;
use crate::ErrorKind;

fn kv(k: &str, v: V) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(x: &str) -> V {
    V::StringValue(x.into())
}

/// A sidecar's server span with an event, under a resource and a scope.
fn data() -> Vec<ResourceSpans> {
    vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![
                kv("service.name", s("reviews")),
                kv("k8s.namespace.name", s("bookinfo")),
            ],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "meshtrace".into(),
                version: "1".into(),
                ..Default::default()
            }),
            spans: vec![
                Span {
                    trace_id: vec![0x4b; 16],
                    span_id: vec![0x0a; 8],
                    name: "GET /reviews/42".into(),
                    kind: 2,
                    start_time_unix_nano: 1_000,
                    end_time_unix_nano: 5_000,
                    attributes: vec![
                        kv("http.request.method", s("GET")),
                        kv("url.path", s("/reviews/42?user=alice@example.com")),
                        kv("http.response.status_code", V::IntValue(503)),
                        kv("user_agent.original", s("curl/8.5.0")),
                    ],
                    events: vec![Event {
                        name: "retry".into(),
                        attributes: vec![kv("attempt", V::IntValue(1))],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                Span {
                    name: "GET /healthz".into(),
                    kind: 2,
                    attributes: vec![kv("http.response.status_code", V::IntValue(200))],
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    }]
}

fn show_value(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        None => "<empty>".into(),
        Some(V::StringValue(x)) => format!("{x:?}"),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(d)) => d.to_string(),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::BytesValue(b)) => format!("0x{}", hex(b)),
        Some(V::ArrayValue(a)) => format!(
            "[{}]",
            a.values
                .iter()
                .map(|v| show_value(&Some(v.clone())))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Some(V::KvlistValue(m)) => show_map(&m.values),
        Some(V::StringValueStrindex(i)) => format!("strindex {i}"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn show_map(kvs: &[KeyValue]) -> String {
    format!(
        "{{{}}}",
        kvs.iter()
            .map(|kv| format!("{}={}", kv.key, show_value(&kv.value)))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Everything the tests change, one line per resource, scope and span.
fn show(data: &[ResourceSpans]) -> Vec<String> {
    let mut out = Vec::new();
    for rs in data {
        let r = rs.resource.clone().unwrap_or_default();
        out.push(format!(
            "resource {} {}",
            show_map(&r.attributes),
            rs.schema_url
        ));
        for ss in &rs.scope_spans {
            let sc = ss.scope.clone().unwrap_or_default();
            out.push(format!(
                "scope {} {} {} {}",
                sc.name,
                sc.version,
                show_map(&sc.attributes),
                ss.schema_url
            ));
            for sp in &ss.spans {
                let st = sp.status.clone().unwrap_or_default();
                out.push(format!(
                    "span {:?} kind={} trace={} span={} parent={} ts={:?} t={}-{} status={}:{:?} {}{}",
                    sp.name,
                    sp.kind,
                    hex(&sp.trace_id),
                    hex(&sp.span_id),
                    hex(&sp.parent_span_id),
                    sp.trace_state,
                    sp.start_time_unix_nano,
                    sp.end_time_unix_nano,
                    st.code,
                    st.message,
                    show_map(&sp.attributes),
                    sp.events
                        .iter()
                        .map(|e| format!(" event {:?}@{} {}", e.name, e.time_unix_nano, show_map(&e.attributes)))
                        .collect::<String>()
                ));
            }
        }
    }
    out
}

fn run(context: ContextKind, statements: &[&str]) -> Vec<String> {
    let group = StatementGroup::parse(context, statements, &[] as &[&str], ErrorMode::Propagate)
        .unwrap_or_else(|e| panic!("{statements:?}: {}", e[0]));
    let mut d = data();
    group
        .apply(&mut d, &mut |f| panic!("reported {f}"))
        .unwrap_or_else(|e| panic!("{statements:?}: {e}"));
    show(&d)
}

/// The first span's line after running `statements` in the span context.
fn span0(statements: &[&str]) -> String {
    run(ContextKind::Span, statements)[2].clone()
}

const SPAN0: &str = r#"span "GET /reviews/42" kind=2 trace=4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b span=0a0a0a0a0a0a0a0a parent= ts="" t=1000-5000 status=0:"" {http.request.method="GET" url.path="/reviews/42?user=alice@example.com" http.response.status_code=503 user_agent.original="curl/8.5.0"} event "retry"@0 {attempt=1}"#;

#[test]
fn fixture_is_what_the_table_starts_from() {
    assert_eq!(span0(&[]), SPAN0);
}

#[test]
fn editors_on_a_span_give_exact_results() {
    let attrs = |a: &str| {
        SPAN0.replace(
        r#"{http.request.method="GET" url.path="/reviews/42?user=alice@example.com" http.response.status_code=503 user_agent.original="curl/8.5.0"}"#,
        a,
    )
    };
    let cases: &[(&[&str], String)] = &[
        (
            &[r#"set(attributes["env"], "prod")"#],
            attrs(
                r#"{http.request.method="GET" url.path="/reviews/42?user=alice@example.com" http.response.status_code=503 user_agent.original="curl/8.5.0" env="prod"}"#,
            ),
        ),
        (
            &[
                r#"set(attributes["http.request.method"], Concat([attributes["http.request.method"], "!"], ""))"#,
            ],
            attrs(
                r#"{http.request.method="GET!" url.path="/reviews/42?user=alice@example.com" http.response.status_code=503 user_agent.original="curl/8.5.0"}"#,
            ),
        ),
        // nil sets nothing; a type a field cannot take is not written.
        (
            &[
                r#"set(attributes["x"], attributes["missing"])"#,
                "set(name, 1)",
                r#"set(kind, "x")"#,
            ],
            SPAN0.to_owned(),
        ),
        (
            &[
                r#"set(status.code, STATUS_CODE_ERROR) where attributes["http.response.status_code"] >= 500"#,
                r#"set(status.message, "upstream 503")"#,
            ],
            SPAN0.replace(r#"status=0:"""#, r#"status=2:"upstream 503""#),
        ),
        (
            &[
                r#"set(status.code, STATUS_CODE_ERROR) where attributes["http.response.status_code"] < 500"#,
            ],
            SPAN0.to_owned(),
        ),
        (
            &[r#"set(name, "renamed")"#, "set(kind, SPAN_KIND_CLIENT)"],
            SPAN0.replace(r#""GET /reviews/42" kind=2"#, r#""renamed" kind=3"#),
        ),
        (
            &[r#"set(kind.string, "Consumer")"#],
            SPAN0.replace("kind=2", "kind=5"),
        ),
        (
            &[r#"set(span.name, Concat([name, kind.string], " | "))"#],
            SPAN0.replace(r#""GET /reviews/42""#, r#""GET /reviews/42 | Server""#),
        ),
        (
            &[
                "set(start_time_unix_nano, 2000)",
                "set(end_time, end_time + Duration(\"1us\"))",
            ],
            SPAN0.replace("t=1000-5000", "t=2000-6000"),
        ),
        (
            &[
                r#"set(trace_id.string, "0102030405060708090a0b0c0d0e0f10")"#,
                "set(parent_span_id, span_id)",
            ],
            SPAN0
                .replace(
                    "trace=4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b",
                    "trace=0102030405060708090a0b0c0d0e0f10",
                )
                .replace("parent= ", "parent=0a0a0a0a0a0a0a0a "),
        ),
        (
            &[
                r#"set(trace_state["mesh"], "a1")"#,
                r#"set(trace_state["vendor"], "b2")"#,
            ],
            SPAN0.replace(r#"ts="""#, r#"ts="vendor=b2,mesh=a1""#),
        ),
        (
            &[
                r#"delete_key(attributes, "user_agent.original")"#,
                r#"delete_matching_keys(attributes, "^http\\.")"#,
            ],
            attrs(r#"{url.path="/reviews/42?user=alice@example.com"}"#),
        ),
        (
            &[r#"keep_keys(attributes, ["url.path", "nope", "http.request.method"])"#],
            attrs(r#"{http.request.method="GET" url.path="/reviews/42?user=alice@example.com"}"#),
        ),
        (
            &[r#"keep_matching_keys(attributes, "^(url|user)")"#],
            attrs(
                r#"{url.path="/reviews/42?user=alice@example.com" user_agent.original="curl/8.5.0"}"#,
            ),
        ),
        (
            &[r#"limit(attributes, 2, ["user_agent.original"])"#],
            attrs(r#"{http.request.method="GET" user_agent.original="curl/8.5.0"}"#),
        ),
        (&[r#"limit(attributes, 9, [])"#], SPAN0.to_owned()),
        (
            &[r#"truncate_all(attributes, 4)"#],
            attrs(
                r#"{http.request.method="GET" url.path="/rev" http.response.status_code=503 user_agent.original="curl"}"#,
            ),
        ),
        (
            &[r#"replace_pattern(attributes["url.path"], "user=[^&]+", "user=REDACTED")"#],
            attrs(
                r#"{http.request.method="GET" url.path="/reviews/42?user=REDACTED" http.response.status_code=503 user_agent.original="curl/8.5.0"}"#,
            ),
        ),
        (
            &[r#"replace_pattern(name, "/reviews/([0-9]+)", "/reviews/{id}:$1")"#],
            SPAN0.replace(r#""GET /reviews/42""#, r#""GET /reviews/{id}:42""#),
        ),
        (
            &[
                r#"replace_pattern(attributes["url.path"], "user=([^&]+)", "$1", SHA256, "user=%s")"#,
            ],
            attrs(
                r#"{http.request.method="GET" url.path="/reviews/42?user=ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976" http.response.status_code=503 user_agent.original="curl/8.5.0"}"#,
            ),
        ),
        // Not a string: left alone.
        (
            &[r#"replace_pattern(attributes["http.response.status_code"], "5", "x")"#],
            SPAN0.to_owned(),
        ),
        (
            &[r##"replace_all_patterns(attributes, "value", "[0-9]", "#")"##],
            attrs(
                r##"{http.request.method="GET" url.path="/reviews/##?user=alice@example.com" http.response.status_code=503 user_agent.original="curl/#.#.#"}"##,
            ),
        ),
        (
            &[r#"replace_all_patterns(attributes, "key", "^http\\.", "h.")"#],
            attrs(
                r#"{h.request.method="GET" url.path="/reviews/42?user=alice@example.com" h.response.status_code=503 user_agent.original="curl/8.5.0"}"#,
            ),
        ),
        (
            &[r#"replace_match(name, "GET /reviews/*", "GET /reviews/{id}")"#],
            SPAN0.replace(r#""GET /reviews/42""#, r#""GET /reviews/{id}""#),
        ),
        (
            &[r#"replace_all_matches(attributes, "curl/*", "curl")"#],
            attrs(
                r#"{http.request.method="GET" url.path="/reviews/42?user=alice@example.com" http.response.status_code=503 user_agent.original="curl"}"#,
            ),
        ),
        (
            &[r#"merge_maps(attributes, {"http.request.method": "POST", "new": true}, "insert")"#],
            attrs(
                r#"{http.request.method="GET" url.path="/reviews/42?user=alice@example.com" http.response.status_code=503 user_agent.original="curl/8.5.0" new=true}"#,
            ),
        ),
        (
            &[r#"merge_maps(attributes, {"http.request.method": "POST", "new": true}, "update")"#],
            attrs(
                r#"{http.request.method="POST" url.path="/reviews/42?user=alice@example.com" http.response.status_code=503 user_agent.original="curl/8.5.0"}"#,
            ),
        ),
        (
            &[
                r#"merge_maps(attributes, ParseJSON("{\"a\":{\"b\":1}}"), "upsert")"#,
                r#"set(attributes["a"]["c"], [1, "x"])"#,
            ],
            attrs(
                r#"{http.request.method="GET" url.path="/reviews/42?user=alice@example.com" http.response.status_code=503 user_agent.original="curl/8.5.0" a={b=1 c=[1,"x"]}}"#,
            ),
        ),
        (
            &[
                r#"append(attributes["http.request.method"], "HEAD")"#,
                r#"append(attributes["tags"], values = ["a", "b"])"#,
                r#"append(attributes["tags"], "c")"#,
            ],
            attrs(
                r#"{http.request.method=["GET","HEAD"] url.path="/reviews/42?user=alice@example.com" http.response.status_code=503 user_agent.original="curl/8.5.0" tags=["a","b","c"]}"#,
            ),
        ),
        // The cache carries a value from one statement to the next.
        (
            &[
                r#"set(cache["m"], ExtractPatterns(attributes["url.path"], "user=(?P<user>[^@]+)@")) where attributes["url.path"] != nil"#,
                r#"set(attributes["enduser.id"], cache["m"]["user"])"#,
            ],
            attrs(
                r#"{http.request.method="GET" url.path="/reviews/42?user=alice@example.com" http.response.status_code=503 user_agent.original="curl/8.5.0" enduser.id="alice"}"#,
            ),
        ),
        // Span statements write to the span's resource and scope too.
        (
            &[
                r#"set(resource.attributes["cluster"], "east")"#,
                r#"set(scope.version, "2")"#,
            ],
            SPAN0.to_owned(),
        ),
        (
            &[
                r#"set(attributes["ns"], resource.attributes["k8s.namespace.name"]) where IsRootSpan()"#,
            ],
            attrs(
                r#"{http.request.method="GET" url.path="/reviews/42?user=alice@example.com" http.response.status_code=503 user_agent.original="curl/8.5.0" ns="bookinfo"}"#,
            ),
        ),
    ];
    for (statements, want) in cases {
        assert_eq!(&span0(statements), want, "{statements:?}");
    }
}

#[test]
fn every_context_runs_on_its_own_items() {
    // resource: once per resource; unqualified paths are the resource's.
    let out = run(
        ContextKind::Resource,
        &[
            r#"set(attributes["cluster"], "east")"#,
            r#"set(schema_url, "https://opentelemetry.io/schemas/1.26.0")"#,
        ],
    );
    assert_eq!(
        out[0],
        r#"resource {service.name="reviews" k8s.namespace.name="bookinfo" cluster="east"} https://opentelemetry.io/schemas/1.26.0"#
    );
    let out = run(
        ContextKind::Scope,
        &[
            r#"set(version, Concat([name, version], "-"))"#,
            r#"set(attributes["from"], resource.attributes["service.name"])"#,
        ],
    );
    assert_eq!(out[1], r#"scope meshtrace meshtrace-1 {from="reviews"} "#);
    // span: each span; the health check span is selected by its where clause.
    let out = run(
        ContextKind::Span,
        &[r#"set(attributes["probe"], true) where name == "GET /healthz""#],
    );
    assert_eq!(
        out[3],
        r#"span "GET /healthz" kind=2 trace= span= parent= ts="" t=0-0 status=0:"" {http.response.status_code=200 probe=true}"#
    );
    assert_eq!(out[2], SPAN0);
    // spanevent: each event, reading its span.
    let out = run(
        ContextKind::SpanEvent,
        &[
            r#"set(attributes["span"], span.name)"#,
            r#"set(name, "retried")"#,
            "set(time_unix_nano, span.start_time_unix_nano)",
        ],
    );
    assert!(
        out[2].ends_with(r#"event "retried"@1000 {attempt=1 span="GET /reviews/42"}"#),
        "{}",
        out[2]
    );
}

#[test]
fn group_conditions_select_items() {
    let group = StatementGroup::parse(
        ContextKind::Span,
        &[r#"set(attributes["sel"], true)"#],
        &[
            r#"name == "nope""#,
            r#"attributes["http.response.status_code"] == 200"#,
        ],
        ErrorMode::Propagate,
    )
    .unwrap();
    let mut d = data();
    group.apply(&mut d, &mut |_| {}).unwrap();
    let out = show(&d);
    assert_eq!(out[2], SPAN0);
    assert!(out[3].contains("sel=true"), "{}", out[3]);
}

#[test]
fn error_modes_decide_what_a_failing_statement_does() {
    let statements = [
        r#"set(attributes["a"], 1)"#,
        r#"set(attributes["b"], Substring(name, 50, 5))"#,
        r#"set(attributes["c"], 3)"#,
    ];
    let run_mode = |mode| {
        let g =
            StatementGroup::parse(ContextKind::Span, &statements, &[] as &[&str], mode).unwrap();
        let mut d = data();
        let mut reported = Vec::new();
        let r = g.apply(&mut d, &mut |f| reported.push(f.to_string()));
        (r.map_err(|e| e.to_string()), reported, show(&d))
    };
    let (r, reported, out) = run_mode(ErrorMode::Propagate);
    let err = r.unwrap_err();
    assert!(err.contains("Substring(name, 50, 5)"), "{err}");
    assert!(reported.is_empty());
    // Stopped at the first span's second statement: "a" set there, nothing else.
    assert!(
        out[2].contains("a=1") && !out[2].contains("c=3"),
        "{}",
        out[2]
    );
    assert!(!out[3].contains("a=1"), "{}", out[3]);
    let (r, reported, out) = run_mode(ErrorMode::Ignore);
    assert!(r.is_ok());
    assert_eq!(reported.len(), 2, "{reported:?}");
    assert!(out[2].contains("a=1") && out[2].contains("c=3") && !out[2].contains("b="));
    let (r, reported, out) = run_mode(ErrorMode::Silent);
    assert!(r.is_ok() && reported.is_empty());
    assert!(out[3].contains("a=1") && out[3].contains("c=3"));
}

#[test]
fn invalid_ids_and_targets_fail_at_run_time() {
    for (st, want) in [
        (r#"set(trace_id.string, "xyz")"#, "not 32 hex digits"),
        (
            r#"set(attributes["http.request.method"]["x"], 1)"#,
            "does not support indexing",
        ),
        (
            r#"delete_key(attributes["url.path"], "k")"#,
            "expected a map but got string",
        ),
        (
            r#"merge_maps(attributes, "x", "upsert")"#,
            "expected a map as the source",
        ),
    ] {
        let g = StatementGroup::parse(
            ContextKind::Span,
            &[st],
            &[] as &[&str],
            ErrorMode::Propagate,
        )
        .unwrap_or_else(|e| panic!("{st}: {}", e[0]));
        let err = g.apply(&mut data(), &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains(want), "{st}: {err}");
    }
}

#[test]
fn bad_statements_are_compile_errors_naming_the_problem() {
    for (st, context, kind, want) in [
        (
            "",
            ContextKind::Span,
            ErrorKind::Syntax,
            "expected a statement",
        ),
        (
            r#"name == "x""#,
            ContextKind::Span,
            ErrorKind::Syntax,
            "expected an editor call",
        ),
        (
            r#"Set(name, "x")"#,
            ContextKind::Span,
            ErrorKind::UnknownFunction,
            "lowercase",
        ),
        (
            r#"sett(name, "x")"#,
            ContextKind::Span,
            ErrorKind::UnknownFunction,
            "undefined editor \"sett\" (did you mean set?)",
        ),
        (
            r#"rewrite(name, "x")"#,
            ContextKind::Span,
            ErrorKind::UnknownFunction,
            "undefined editor \"rewrite\" (editors: set, delete_key,",
        ),
        (
            r#"flatten(attributes)"#,
            ContextKind::Span,
            ErrorKind::UnknownFunction,
            "not supported by meshtrace",
        ),
        (
            r#"set("x", name)"#,
            ContextKind::Span,
            ErrorKind::Type,
            "target of set must be a path",
        ),
        (
            r#"set(name)"#,
            ContextKind::Span,
            ErrorKind::Arguments,
            "'value' is missing",
        ),
        (
            r#"set(name, "a", "b")"#,
            ContextKind::Span,
            ErrorKind::Arguments,
            "at most 2 arguments",
        ),
        (
            r#"set(target = name, nope = 1)"#,
            ContextKind::Span,
            ErrorKind::Arguments,
            "no parameter named 'nope'",
        ),
        (
            r#"set(name, "x") where"#,
            ContextKind::Span,
            ErrorKind::Syntax,
            "after 'where'",
        ),
        (
            r#"set(name, "x") whence"#,
            ContextKind::Span,
            ErrorKind::Syntax,
            "expected 'where'",
        ),
        (
            r#"set(name, "x") where nme == "y""#,
            ContextKind::Span,
            ErrorKind::UnknownPath,
            "\"nme\"",
        ),
        (
            r#"delete_key(name, "x")"#,
            ContextKind::Span,
            ErrorKind::Type,
            "needs a map",
        ),
        (
            r#"delete_key(attributes, key)"#,
            ContextKind::Span,
            ErrorKind::Type,
            "expected a string literal",
        ),
        (
            r#"limit(attributes, -1, [])"#,
            ContextKind::Span,
            ErrorKind::InvalidArgument,
            "cannot be negative",
        ),
        (
            r#"limit(attributes, 1, ["a", "b"])"#,
            ContextKind::Span,
            ErrorKind::InvalidArgument,
            "can't be greater than the limit",
        ),
        (
            r#"replace_pattern(name, "(", "x")"#,
            ContextKind::Span,
            ErrorKind::Regex,
            "cannot be compiled",
        ),
        (
            r#"replace_pattern(name, "a", "x", SHA3)"#,
            ContextKind::Span,
            ErrorKind::InvalidArgument,
            "SHA3 is not supported",
        ),
        (
            r#"replace_all_patterns(attributes, "both", "a", "b")"#,
            ContextKind::Span,
            ErrorKind::InvalidArgument,
            "must be \"key\" or \"value\"",
        ),
        (
            r#"replace_match(name, "[a", "x")"#,
            ContextKind::Span,
            ErrorKind::InvalidArgument,
            "invalid glob",
        ),
        (
            r#"merge_maps(attributes, {}, "replace")"#,
            ContextKind::Span,
            ErrorKind::InvalidArgument,
            "strategy",
        ),
        (
            r#"append(name, "x")"#,
            ContextKind::Span,
            ErrorKind::Type,
            "append needs a map entry",
        ),
        (
            r#"append(attributes["x"])"#,
            ContextKind::Span,
            ErrorKind::Arguments,
            "at least one of value or values",
        ),
        (
            r#"set(span.name, "x")"#,
            ContextKind::Resource,
            ErrorKind::UnknownPath,
            "context \"span\" from path",
        ),
        (
            r#"set(spanevent.name, "x")"#,
            ContextKind::Scope,
            ErrorKind::UnknownPath,
            "not valid in the scope context",
        ),
        (
            r#"set(name, "x")"#,
            ContextKind::Resource,
            ErrorKind::UnknownPath,
            "not a field of the resource context",
        ),
    ] {
        let e = Statement::parse(st, context).expect_err(st);
        assert_eq!(e.kind(), kind, "{st}: {e}");
        assert!(e.message().contains(want), "{st}: {e}");
    }
}

#[test]
fn group_errors_name_every_bad_statement_and_condition() {
    let errs = StatementGroup::parse(
        ContextKind::Span,
        &[r#"set(name, "ok")"#, "bad(", r#"set(x, 1)"#],
        &["name ==", r#"name == "ok""#],
        ErrorMode::Ignore,
    )
    .unwrap_err();
    let got: Vec<_> = errs.iter().map(|e| (e.part, e.index)).collect();
    assert_eq!(
        got,
        [
            (Part::Statements, 1),
            (Part::Statements, 2),
            (Part::Conditions, 0)
        ]
    );
    assert!(
        errs[1]
            .to_string()
            .starts_with("statement: \"set(x, 1)\": "),
        "{}",
        errs[1]
    );
}

#[test]
fn event_attributes_and_nested_lists_are_targets() {
    let mut d = data();
    d[0].scope_spans[0].spans[0].attributes.push(kv(
        "list",
        V::ArrayValue(ArrayValue {
            values: vec![AnyValue {
                value: Some(s("x")),
            }],
        }),
    ));
    d[0].scope_spans[0].spans[0].attributes.push(kv(
        "m",
        V::KvlistValue(KeyValueList {
            values: vec![kv("secret", s("s")), kv("keep", s("k"))],
        }),
    ));
    let g = StatementGroup::parse(
        ContextKind::Span,
        &[
            r#"set(attributes["list"][0], "y")"#,
            r#"delete_key(attributes["m"], "secret")"#,
            r#"set(attributes["list"][3], "z")"#,
        ],
        &[] as &[&str],
        ErrorMode::Propagate,
    )
    .unwrap();
    let err = g.apply(&mut d, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("index 3 out of bounds"), "{err}");
    let out = show(&d);
    assert!(out[2].contains(r#"list=["y"] m={keep="k"}"#), "{}", out[2]);
    let status = d[0].scope_spans[0].spans[0].status.clone();
    assert_eq!(status, None::<Status>);
}

#[test]
fn may_change_is_false_only_when_nothing_can_be_written() {
    use crate::memory::{EventData, EventView, SpanData, attrs};
    let span = SpanData {
        name: "GET /healthz".into(),
        attributes: attrs([("http.route", "/healthz")]),
        events: vec![EventData {
            name: "retry".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let group = |statements: &[&str], conditions: &[&str]| {
        StatementGroup::parse(ContextKind::Span, statements, conditions, ErrorMode::Ignore).unwrap()
    };
    for (statements, conditions, want) in [
        (&[r#"set(name, "x")"#][..], &[][..], true),
        (&[r#"set(name, "x") where name == "other""#], &[], false),
        (
            &[
                r#"set(name, "x") where name == "other""#,
                r#"set(attributes["p"], true) where attributes["http.route"] == "/healthz""#,
            ],
            &[],
            true,
        ),
        (&[r#"set(name, "x")"#], &[r#"name == "other""#], false),
        (
            &[r#"set(name, "x")"#],
            &[r#"name == "other""#, r#"name == "GET /healthz""#],
            true,
        ),
        // An evaluation error: the full run decides (and reports it).
        (
            &[r#"set(name, "x") where Substring(name, 50, 2) == "x""#],
            &[],
            true,
        ),
        (
            &[r#"set(name, "x")"#],
            &[r#"Substring(name, 50, 2) == "x""#],
            true,
        ),
    ] {
        assert_eq!(
            group(statements, conditions).may_change_span(&span),
            want,
            "{statements:?} {conditions:?}"
        );
    }
    let events = StatementGroup::parse(
        ContextKind::SpanEvent,
        &[r#"set(attributes["a"], 1) where name == "exception""#],
        &[] as &[&str],
        ErrorMode::Ignore,
    )
    .unwrap();
    let view = EventView {
        span: &span,
        event: &span.events[0],
    };
    assert!(!events.may_change_event(&view));
    let events = StatementGroup::parse(
        ContextKind::SpanEvent,
        &[r#"set(attributes["a"], 1) where span.name == "GET /healthz""#],
        &[] as &[&str],
        ErrorMode::Ignore,
    )
    .unwrap();
    assert!(events.may_change_event(&view));
}

#[test]
fn what_a_group_writes_to_decides_how_it_can_run() {
    let g = |context, statements: &[&str], conditions: &[&str]| {
        let g = StatementGroup::parse(context, statements, conditions, ErrorMode::Ignore).unwrap();
        (g.writes_only_spans(), g.applies_to_every_item())
    };
    let span = ContextKind::Span;
    assert_eq!(g(span, &[r#"set(name, "x")"#], &[]), (true, true));
    assert_eq!(
        g(span, &[r#"set(name, "x") where kind == 2"#], &[]),
        (true, false)
    );
    assert_eq!(
        g(span, &[r#"set(name, "x")"#], &["kind == 2"]),
        (true, false)
    );
    assert_eq!(
        g(
            span,
            &[
                r#"set(cache["a"], 1)"#,
                r#"set(resource.attributes["a"], 1) where kind == 2"#
            ],
            &[]
        ),
        (false, true)
    );
    assert_eq!(
        g(
            ContextKind::SpanEvent,
            &[r#"set(attributes["a"], 1) where name == "e""#],
            &[]
        ),
        (true, false)
    );
    assert_eq!(
        g(
            ContextKind::Resource,
            &[r#"set(attributes["a"], 1) where attributes["b"] == 1"#],
            &[]
        ),
        (false, false)
    );
    assert_eq!(
        g(ContextKind::Scope, &[r#"set(name, "x")"#], &[]),
        (false, true)
    );
}
