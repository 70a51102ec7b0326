use super::*;
use crate::processor::testspans::*;
use crate::testutil::Recorder;

fn processor(yaml: &str, signal: Signal) -> (Arc<dyn Processor>, Arc<Recorder>) {
    let cfg: TransformConfig = config(yaml);
    assert_eq!(cfg.validate(), vec![], "{yaml}");
    let rec = Arc::new(Recorder::default());
    let p = cfg.build(&ctx("transform"), signal, rec.clone()).unwrap();
    (p, rec)
}

fn errors(yaml: &str) -> Vec<String> {
    let cfg: TransformConfig = config(yaml);
    cfg.validate().iter().map(ToString::to_string).collect()
}

/// Two workloads' spans, as sidecars send them.
fn input() -> Batch {
    batch(vec![
        group(
            vec![
                s("service.name", "productpage"),
                s("k8s.namespace.name", "bookinfo"),
            ],
            "meshtrace",
            vec![
                span(
                    1,
                    "GET /reviews/0",
                    vec![
                        s("url.path", "/reviews/0?token=abc"),
                        i("http.response.status_code", 200),
                    ],
                ),
                span(
                    2,
                    "GET /healthz",
                    vec![s("user_agent.original", "kube-probe/1.30")],
                ),
            ],
        ),
        group(
            vec![s("service.name", "ratings")],
            "meshtrace",
            vec![span(
                3,
                "GET /ratings/7",
                vec![i("http.response.status_code", 503)],
            )],
        ),
    ])
}

async fn run(yaml: &str) -> ExportTraceServiceRequest {
    let (p, rec) = processor(yaml, Signal::Traces);
    p.consume(input()).await.unwrap();
    let got = rec.0.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].items(), 3, "no span added or lost");
    decode(&got[0])
}

fn attr(kvs: &[crate::otlp::proto::common::v1::KeyValue], key: &str) -> Option<String> {
    use crate::otlp::proto::common::v1::any_value::Value as V;
    kvs.iter().find(|kv| kv.key == key).map(|kv| {
        match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(V::StringValue(s)) => s.clone(),
            Some(V::IntValue(i)) => i.to_string(),
            Some(V::BoolValue(b)) => b.to_string(),
            other => format!("{other:?}"),
        }
    })
}

#[tokio::test]
async fn the_collectors_own_example_config_runs_as_documented() {
    // The span and resource groups of contrib's transformprocessor test config.
    let out = run(r#"
trace_statements:
  - context: span
    statements:
      - set(name, "bear") where attributes["url.path"] == "/reviews/0?token=abc"
      - keep_keys(attributes, ["url.path", "http.response.status_code"])
  - context: resource
    statements:
      - set(attributes["name"], "bear")
"#)
    .await;
    let rs0 = &out.resource_spans[0];
    let spans = &rs0.scope_spans[0].spans;
    assert_eq!(spans[0].name, "bear");
    assert_eq!(spans[1].name, "GET /healthz");
    assert_eq!(
        spans[1].attributes,
        vec![],
        "user_agent.original is not kept"
    );
    assert_eq!(spans[0].attributes.len(), 2);
    for rs in &out.resource_spans {
        assert_eq!(
            attr(&rs.resource.as_ref().unwrap().attributes, "name").as_deref(),
            Some("bear")
        );
    }
}

#[tokio::test]
async fn flat_statements_infer_their_context_and_share_the_cache_in_a_run() {
    let out = run(r#"
trace_statements:
  - set(resource.attributes["mesh"], "istio")
  - set(span.cache["q"], ExtractPatterns(span.attributes["url.path"], "token=(?P<t>[a-z]+)")) where span.attributes["url.path"] != nil
  - set(span.attributes["token.sha"], SHA256(span.cache["q"]["t"])) where span.cache["q"] != nil
  - replace_pattern(span.attributes["url.path"], "token=[^&]+", "token=***")
  - set(span.status.code, STATUS_CODE_ERROR) where span.attributes["http.response.status_code"] >= 500
"#)
    .await;
    let rs = &out.resource_spans;
    assert_eq!(
        attr(&rs[1].resource.as_ref().unwrap().attributes, "mesh").as_deref(),
        Some("istio")
    );
    let s1 = &rs[0].scope_spans[0].spans[0];
    assert_eq!(
        attr(&s1.attributes, "url.path").as_deref(),
        Some("/reviews/0?token=***")
    );
    assert_eq!(
        attr(&s1.attributes, "token.sha").as_deref(),
        Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        "sha256(\"abc\")"
    );
    assert_eq!(s1.status, None);
    assert_eq!(
        rs[1].scope_spans[0].spans[0]
            .status
            .as_ref()
            .map(|s| s.code),
        Some(2)
    );
}

#[tokio::test]
async fn group_conditions_and_span_events() {
    let (p, rec) = processor(
        r#"
trace_statements:
  - context: spanevent
    conditions: ['name == "exception"']
    statements:
      - delete_key(attributes, "exception.stacktrace")
      - set(attributes["span"], span.name)
"#,
        Signal::Traces,
    );
    let mut sp = span(1, "GET /", vec![]);
    sp.events = vec![
        event(
            "exception",
            vec![
                s("exception.stacktrace", "at main()"),
                s("exception.type", "E"),
            ],
        ),
        event("retry", vec![s("exception.stacktrace", "kept")]),
    ];
    p.consume(batch(vec![group(vec![], "s", vec![sp])]))
        .await
        .unwrap();
    let got = decode(&rec.0.lock().unwrap()[0]);
    let events = &got.resource_spans[0].scope_spans[0].spans[0].events;
    assert_eq!(
        events[0]
            .attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect::<Vec<_>>(),
        ["exception.type", "span"]
    );
    assert_eq!(
        attr(&events[1].attributes, "exception.stacktrace").as_deref(),
        Some("kept")
    );
    assert_eq!(attr(&events[1].attributes, "span"), None);
}

#[tokio::test]
async fn error_mode_propagate_refuses_the_request_and_ignore_goes_on() {
    let yaml = |mode: &str| {
        format!(
            "error_mode: {mode}\ntrace_statements:\n  - context: span\n    statements:\n      - set(attributes[\"n\"], Int(attributes[\"url.path\"]) + 1)\n      - set(attributes[\"after\"], true)\n"
        )
    };
    // The first span's url.path does not parse as an int: Int gives nil, and nil + 1 fails.
    let (p, rec) = processor(&yaml("propagate"), Signal::Traces);
    let err = p.consume(input()).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(
        err.to_string()
            .contains("transform processor: failed to execute statement: set(attributes[\"n\"]"),
        "{err}"
    );
    assert!(
        rec.0.lock().unwrap().is_empty(),
        "nothing of a refused request goes on"
    );
    let (p, rec) = processor(&yaml("ignore"), Signal::Traces);
    p.consume(input()).await.unwrap();
    let got = decode(&rec.0.lock().unwrap()[0]);
    for rs in &got.resource_spans {
        for sp in &rs.scope_spans[0].spans {
            assert_eq!(
                attr(&sp.attributes, "after").as_deref(),
                Some("true"),
                "{}",
                sp.name
            );
        }
    }
}

#[tokio::test]
async fn statements_that_nest_too_deep_are_refused_not_passed_on() {
    let deep = (0..25).fold("1".to_owned(), |acc, _| format!("[{acc}]"));
    let (p, rec) = processor(
        &format!(
            "trace_statements:\n  - context: span\n    statements:\n      - 'set(attributes[\"deep\"], {deep}) where name == \"GET /reviews/0\"'\n"
        ),
        Signal::Traces,
    );
    let err = p.consume(input()).await.unwrap_err().to_string();
    assert!(
        err.starts_with("transform processor: transformed span \"GET /reviews/0\" is invalid: attributes[2].value.array_value.values[0]."),
        "{err}"
    );
    assert!(err.ends_with(": values nested deeper than 20"), "{err}");
    assert!(rec.0.lock().unwrap().is_empty());
    // Decoding the whole request (a statement writes every span, or the resource), the
    // request is checked.
    let (p, rec) = processor(
        &format!(
            "trace_statements:\n  - context: span\n    statements:\n      - 'set(attributes[\"deep\"], {deep})'\n      - 'set(resource.attributes[\"r\"], 1)'\n"
        ),
        Signal::Traces,
    );
    let err = p.consume(input()).await.unwrap_err().to_string();
    assert!(
        err.starts_with("transform processor: transformed request is invalid: resource_spans[0].scope_spans[0].spans[0].attributes[2]"),
        "{err}"
    );
    assert!(rec.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn metrics_pass_through_and_no_statements_pass_the_same_bytes() {
    let (p, rec) = processor(
        "trace_statements:\n  - 'set(span.name, \"x\")'\n",
        Signal::Metrics,
    );
    let m = metrics_batch("svc");
    p.consume(m.clone()).await.unwrap();
    assert_eq!(rec.0.lock().unwrap()[0], m);
    let (p, rec) = processor("error_mode: ignore\n", Signal::Traces);
    let b = input();
    p.consume(b.clone()).await.unwrap();
    assert_eq!(
        rec.0.lock().unwrap()[0].bytes().as_ptr(),
        b.bytes().as_ptr()
    );
}

#[test]
fn bad_configs_name_the_field_and_the_reason() {
    let cases: &[(&str, &[&str])] = &[
        (
            "trace_statements:\n  - context: span\n    statements:\n      - set(name, \"bear\" where attributes[\"http.path\"] == \"/animal\"\n      - keep_keys(attributes, [\"http.method\"])\n",
            &["field `trace_statements.0.statements.0`: invalid OTTL statement (span context): 1:"],
        ),
        (
            "trace_statements:\n  - context: span\n    statements:\n      - not_a_function(attributes, [\"a\"])\n",
            &[
                "field `trace_statements.0.statements.0`: invalid OTTL statement (span context): 1:1: undefined editor \"not_a_function\"",
            ],
        ),
        (
            "trace_statements:\n  - context: span\n    conditions: ['nme == \"x\"']\n    statements: ['set(name, \"x\")']\n",
            &[
                "field `trace_statements.0.conditions.0`: invalid OTTL condition (span context): 1:1:",
            ],
        ),
        (
            "trace_statements:\n  - context: test\n    statements: ['set(name, \"x\")']\n",
            &["field `trace_statements.0.context`: unknown context \"test\" for traces"],
        ),
        ("error_mode: test\n", &["error_mode"]),
        (
            "trace_statements:\n  - 'set(span.name, \"x\")'\n  - context: span\n    statements: ['set(name, \"y\")']\n",
            &[
                "field `trace_statements`: configuring multiple configuration styles is not supported",
            ],
        ),
        (
            "trace_statements:\n  - 'set(span.name, \"x\")'\n  - 'set(name, \"y\")'\n",
            &[
                "field `trace_statements.1`: \"set(name, \\\"y\\\")\": path \"name\" has no context prefix",
            ],
        ),
        (
            "trace_statements:\n  - 'set(span.name, \"x\")'\n  - 'set(span.name, Sting(1))'\n",
            &[
                "field `trace_statements.1`: invalid OTTL statement (span context): 1:16: undefined function \"Sting\"",
            ],
        ),
        (
            "trace_statements:\n  - statements: ['set(resource.attributes[\"a\"], \"b\")']\n    shared_cache: true\n",
            &[
                "field `trace_statements.0.shared_cache`: a cache shared between groups is not supported",
            ],
        ),
        (
            "trace_statements:\n  - context: span\n    statments: ['set(name, \"x\")']\n",
            &[
                "field `trace_statements.0.statments`: unknown field `statments`",
                "field `trace_statements.0.statements`: a group needs at least one statement",
            ],
        ),
        (
            "metric_statements:\n  - context: datapoint\n    statements: ['set(metric.name, \"bear\")']\nlog_statements:\n  - 'set(log.body, \"x\")'\n",
            &[
                "field `metric_statements`: `metric_statements` are not supported",
                "field `log_statements`: `log_statements` are not supported",
            ],
        ),
        ("flatten_data: true\n", &["field `flatten_data`"]),
        (
            "trace_statements:\n  - context: resource\n    statements: ['set(span.name, \"x\")']\n",
            &[
                "invalid OTTL statement (resource context): 1:5: context \"span\" from path \"span.name\" is not valid in the resource context",
            ],
        ),
    ];
    for (yaml, want) in cases {
        let got = if yaml.starts_with("error_mode: test") {
            let v = crate::config::value::from_yaml(yaml).unwrap();
            vec![
                crate::registry::parse_typed::<TransformConfig>(&v)
                    .unwrap_err()
                    .to_string(),
            ]
        } else {
            errors(yaml)
        };
        assert_eq!(got.len(), want.len(), "{yaml}: {got:#?}");
        for (g, w) in got.iter().zip(*want) {
            assert!(
                g.starts_with(w) || g.contains(w),
                "{yaml}:\n got {g}\nwant {w}"
            );
        }
    }
}

#[test]
fn an_error_shows_the_statement_with_a_caret() {
    let e = errors(
        "trace_statements:\n  - context: span\n    statements: ['set(attributes[\"a\"], Sting(1))']\n",
    );
    assert_eq!(e.len(), 1);
    assert!(
        e[0].contains("1:22: undefined function \"Sting\" (did you mean String?)\n        set(attributes[\"a\"], Sting(1))\n                             ^^^^^"),
        "{}",
        e[0]
    );
}

fn build(yaml: &str) -> TransformProcessor {
    let cfg: TransformConfig = config(yaml);
    let groups = cfg.compile().unwrap();
    TransformProcessor {
        mode: Mode::of(&groups),
        groups,
        next: Arc::new(Recorder::default()),
        counters: ItemCounters::new(&ctx("transform"), Signal::Traces),
        label: "transform".into(),
    }
}

#[test]
fn requests_no_statement_applies_to_pass_on_as_the_same_bytes() {
    let conditional = "trace_statements:\n  - context: span\n    statements:\n      - 'set(status.code, STATUS_CODE_ERROR) where attributes[\"http.response.status_code\"] >= 500'\n";
    let p = build(conditional);
    assert_eq!(p.mode, Mode::SpanBySpan);
    let healthy = batch(vec![group(
        vec![],
        "s",
        vec![span(1, "GET /", vec![i("http.response.status_code", 200)])],
    )]);
    let out = p.transform(&healthy).unwrap();
    assert_eq!(
        out.bytes().as_ptr(),
        healthy.bytes().as_ptr(),
        "not decoded"
    );
    // Decoded, run, nothing written: still the same bytes.
    let out = p.decoding_everything().transform(&healthy).unwrap();
    assert_eq!(
        out.bytes().as_ptr(),
        healthy.bytes().as_ptr(),
        "nothing written"
    );
    let failing = input();
    let out = build(conditional).transform(&failing).unwrap();
    assert_ne!(out, failing);
    // A statement for every span: decoding the request once costs less than span by span.
    let p = build("trace_statements:\n  - 'set(span.name, \"a\")'\n");
    assert_eq!(p.mode, Mode::Decode { precheck: true });
    // Attribute keys only: planned on the bytes, edits spliced in.
    let p = build(
        "trace_statements:\n  - 'set(span.attributes[\"a\"], 1)'\n  - 'delete_key(span.attributes, \"b\")'\n",
    );
    assert_eq!(p.mode, Mode::Attributes);
    // A span statement writing to the resource: the whole request is decoded, after the
    // check on its bytes.
    let p = build(
        "trace_statements:\n  - context: span\n    statements: ['set(resource.attributes[\"a\"], 1) where name == \"x\"']\n",
    );
    assert_eq!(p.mode, Mode::Decode { precheck: true });
    assert_eq!(
        p.transform(&healthy).unwrap().bytes().as_ptr(),
        healthy.bytes().as_ptr()
    );
    // A resource group cannot be checked span by span: the request is decoded.
    let p = build(
        "trace_statements:\n  - context: resource\n    statements: ['set(attributes[\"a\"], 1) where attributes[\"b\"] == 2']\n",
    );
    assert_eq!(p.mode, Mode::Decode { precheck: false });
    assert_eq!(
        p.transform(&healthy).unwrap().bytes().as_ptr(),
        healthy.bytes().as_ptr()
    );
}

mod precheck {
    use super::*;
    use proptest::prelude::*;

    /// Statements whose `where` clauses read what earlier ones write: the check must not be
    /// fooled by a condition that only becomes true after another statement ran.
    const STATEMENTS: &[&str] = &[
        r#"set(attributes["tag"], "t") where name == "b""#,
        r#"set(name, "b") where attributes["n"] == 2"#,
        r#"set(attributes["seen"], true) where attributes["tag"] == "t""#,
        r#"delete_key(attributes, "n") where IsMatch(name, "^c")"#,
        r#"replace_pattern(name, "a", "c") where attributes["n"] > 3"#,
        r#"set(status.code, STATUS_CODE_ERROR) where Substring(name, 3, 1) == "x""#,
        r#"set(attributes["deep"], [[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]) where attributes["n"] == 5"#,
        // Writes the resource: the whole request is decoded.
        r#"set(resource.attributes["m"], name) where attributes["n"] == 1"#,
        // Attribute-only statements, planned on the bytes unless they read an earlier write.
        r#"keep_keys(attributes, ["tag", "n"]) where attributes["n"] != 3"#,
        r#"set(attributes["n"], attributes["n"] + 10) where name == "a""#,
        r#"delete_matching_keys(attributes, "^t")"#,
        r#"set(attributes["n"], 1)"#,
        r#"set(attributes["x"], Concat([name, resource.attributes["service.name"]], "/"))"#,
    ];

    fn span_of(name: u8, n: i64) -> crate::otlp::proto::trace::v1::Span {
        let names = ["a", "b", "c", "abcx"];
        let mut s = span(1, names[usize::from(name) % names.len()], vec![i("n", n)]);
        s.events = vec![event("e", vec![i("n", n)])];
        s
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn checking_before_decoding_gives_the_same_result(
            picks in proptest::collection::vec(0..STATEMENTS.len(), 1..4),
            mode in prop_oneof![Just("ignore"), Just("propagate")],
            spans in proptest::collection::vec((0u8..4, 0i64..6), 1..5),
            events_group in proptest::bool::ANY,
        ) {
            let statements: String = picks.iter().map(|p| format!("      - '{}'\n", STATEMENTS[*p].replace('\'', "''"))).collect();
            // A second group on span events, reading what the first wrote to their span.
            let events = if events_group {
                "  - context: spanevent\n    statements:\n      - 'set(attributes[\"s\"], span.name) where span.attributes[\"tag\"] == \"t\" or attributes[\"n\"] == 4'\n"
            } else {
                ""
            };
            let yaml = format!("error_mode: {mode}\ntrace_statements:\n  - context: span\n    statements:\n{statements}{events}");
            // Two resources: statements read the resource of their own span.
            let (a, b) = spans.split_at(spans.len() / 2);
            let input = batch(vec![
                group(vec![s("service.name", "a")], "s", a.iter().map(|(n, v)| span_of(*n, *v)).collect()),
                group(vec![], "t", b.iter().map(|(n, v)| span_of(*n, *v)).collect()),
            ]);
            // Failures compare by kind, and statement failures by message; an invalid span is
            // located in the request by one path, in the span by the other.
            let kind = |e: TransformError| match e {
                TransformError::Statement(f) => format!("statement {}: {}", f.condition, f.error),
                TransformError::Invalid(_) | TransformError::InvalidSpan { .. } => "invalid".into(),
                TransformError::Decode(e) => format!("decode {e}"),
            };
            let checked = build(&yaml).transform(&input).map(|b| decode(&b)).map_err(kind);
            let full = build(&yaml).decoding_everything().transform(&input).map(|b| decode(&b)).map_err(kind);
            // Under propagate, when several spans fail, which failure is reported depends on
            // the order spans and groups are run in (documented); the request is refused
            // either way.
            if mode == "propagate" && checked.is_err() && full.is_err() {
                return Ok(());
            }
            prop_assert_eq!(checked, full);
        }
    }
}
