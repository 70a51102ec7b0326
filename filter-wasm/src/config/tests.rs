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
    let want = Config {
        mode: Mode::Tracer,
        sampling: SamplingConfig { percentage: 12.5 },
        propagation: PropagationConfig {
            b3: B3Config {
                extract: false,
                inject: B3Inject::SingleAndMulti,
            },
            tracestate_max_length: 1024,
        },
        span: SpanConfig {
            kind: KindSetting::Server,
            name: NameStyle::Envoy,
            url_query: true,
            routes: vec!["/users/{id}".into(), "/static/*".into()],
            request_headers: vec!["x-tenant".into(), "x-feature-*".into()],
            response_headers: vec!["content-type".into()],
            tags: [("team", "payments"), ("tier", "gold")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
            known_methods: None,
        },
        drop: DropConfig {
            paths: vec![
                PathRule::Exact("/healthz".into()),
                PathRule::Prefix("/debug/".into()),
            ],
            user_agents: vec!["kube-probe/*".into()],
            methods: vec!["OPTIONS".into()],
            hosts: vec!["*.internal".into()],
        },
        resource: ResourceConfig {
            tracing_service_name: TracingServiceName::CanonicalNameAndNamespace,
            attributes: [("deployment.environment.name".to_owned(), "prod".to_owned())].into(),
        },
        export: Some(ExportConfig {
            cluster: "outbound|4318||meshtrace-collector.observability.svc.cluster.local".into(),
            authority: Some("collector:4318".into()),
            path: "/otlp/v1/traces".into(),
            timeout_ms: 2000,
            headers: [("x-scope-orgid".to_owned(), "team-a".to_owned())].into(),
            batch_size: 256,
            flush_interval_ms: 500,
            max_buffered_spans: 2048,
            when_full: WhenFull::DropOldest,
        }),
        access_log: AccessLogConfig {
            trace_id_header: Some("x-trace-id".into()),
        },
        enricher: EnricherConfig::default(),
    };
    assert_eq!(cfg, want);
}

#[test]
fn enricher_configuration() {
    let cfg = Config::from_json(&testdata("enricher.json")).unwrap();
    assert_eq!(cfg.mode, Mode::Enricher);
    assert_eq!(cfg.span.routes, vec!["/api/{version}/*".to_owned()]);
    assert_eq!(
        cfg.enricher,
        EnricherConfig {
            route_header: Some("x-route".into()),
            workload_header: None,
        }
    );
}

#[test]
fn export_defaults_and_authority() {
    let cfg = Config::from_json(
        br#"{"export": {"cluster": "outbound|4318||meshtrace-collector.observability.svc.cluster.local"}}"#,
    )
    .unwrap();
    let e = cfg.export.unwrap();
    assert_eq!(
        (
            e.path.as_str(),
            e.timeout_ms,
            e.batch_size,
            e.flush_interval_ms,
            e.max_buffered_spans,
            e.when_full
        ),
        ("/v1/traces", 5000, 512, 1000, 4096, WhenFull::DropNewest)
    );
    assert_eq!(
        e.effective_authority(),
        "meshtrace-collector.observability.svc.cluster.local:4318"
    );
    for (cluster, authority) in [
        ("collector", "collector"),
        ("outbound|4318|v1|otel.ns.svc", "otel.ns.svc:4318"),
        ("outbound|4318||", "outbound|4318||"),
        ("inbound|4318||x", "inbound|4318||x"),
    ] {
        let e = ExportConfig {
            cluster: cluster.into(),
            ..ExportConfig::default()
        };
        assert_eq!(e.effective_authority(), authority, "{cluster}");
    }
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
            "sampling.percentage: invalid type: string \"10%\", expected a number",
        ),
        (
            "invalid_unknown_section.json",
            "propagaton: unknown field `propagaton`, expected one of `mode`, `sampling`, `propagation`, `span`, `drop`, `resource`, `export`, `access_log`, `enricher`",
        ),
        (
            "invalid_b3_inject.json",
            "propagation.b3.inject: unknown variant `both`, expected one of `none`, `single`, `multi`, `single_and_multi`",
        ),
        (
            "invalid_tracestate_max_length.json",
            "propagation.tracestate_max_length: must be at least 512 (the W3C minimum to propagate), got 100",
        ),
        (
            "invalid_syntax.json",
            "configuration: expected `,` or `}` at line 2 column 1",
        ),
        (
            "invalid_export_cluster.json",
            "export.cluster: required: the Envoy cluster of the collector's OTLP/HTTP port (in Istio: outbound|4318||<collector service FQDN>)",
        ),
        (
            "invalid_export_batch_size.json",
            "export.batch_size: must be between 1 and 65536, got 0",
        ),
        (
            "invalid_drop_path_kind.json",
            "drop.paths[0]: unknown variant `regex`, expected `exact` or `prefix`",
        ),
        (
            "invalid_route.json",
            "span.routes[1]: \"users/{id}\" must start with /",
        ),
        (
            "invalid_enricher_with_export.json",
            "export: not used in enricher mode: Envoy's native tracer samples, propagates and reports the spans (only span.routes and enricher apply); remove it or use \"mode\": \"tracer\"",
        ),
        (
            "invalid_span_without_export.json",
            "span: has no effect without export: the filter records spans only when \"export\" is set",
        ),
        (
            "invalid_request_header.json",
            "span.request_headers[0]: \"X-Tenant\" is not a header name or a pattern with * (lowercase letters, digits and -._~!#$%&'^`|+)",
        ),
        (
            "invalid_enricher_trace_id_header.json",
            "access_log.trace_id_header: not available in enricher mode: Envoy's tracer picks the trace id after this filter ran; print %TRACE_ID% in the access log instead",
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
    let table: &[(&str, &str)] = &[
        (
            r#"{"sampling": {"percent": 5}}"#,
            "sampling.percent: unknown field `percent`, expected `percentage`",
        ),
        (
            "[]",
            "configuration: must be a JSON object, such as {\"sampling\": {\"percentage\": 10}}",
        ),
        (
            "null",
            "configuration: must be a JSON object, such as {\"sampling\": {\"percentage\": 10}}",
        ),
        // Found by fuzzing: an empty key must still name a field, at any depth.
        (
            r#"{"sampling": {"": 1}}"#,
            "sampling.\"\": unknown field ``, expected `percentage`",
        ),
        (
            r#"{"": {}}"#,
            "\"\": unknown field ``, expected one of `mode`, `sampling`, `propagation`, `span`, `drop`, `resource`, `export`, `access_log`, `enricher`",
        ),
        (
            "{} {}",
            "configuration: trailing characters at line 1 column 4",
        ),
        (
            r#"{"sampling": {"percentage": 10}, "sampling": {}}"#,
            "configuration: duplicate key at line 1 column 34",
        ),
        (
            r#"{"sampling": {"percentage": -0.5}}"#,
            "sampling.percentage: must be between 0 and 100, got -0.5",
        ),
        (
            r#"{"propagation": {"b3": {"extract": "yes"}}}"#,
            "propagation.b3.extract: invalid type: string \"yes\", expected a boolean",
        ),
        (
            r#"{"propagation": {"tracestate_max_length": 600.5}}"#,
            "propagation.tracestate_max_length: invalid type: number 600.5, expected a non-negative integer",
        ),
        (
            r#"{"mode": "sidecar"}"#,
            "mode: unknown variant `sidecar`, expected `tracer` or `enricher`",
        ),
        (
            r#"{"export": {"cluster": "c", "max_buffered_spans": 100}}"#,
            "export.max_buffered_spans: must be at least export.batch_size (512), got 100",
        ),
        (
            r#"{"export": {"cluster": "c", "timeout_ms": 0}}"#,
            "export.timeout_ms: must be between 1 and 300000, got 0",
        ),
        (
            r#"{"export": {"cluster": "c", "flush_interval_ms": 10}}"#,
            "export.flush_interval_ms: must be between 50 and 60000, got 10",
        ),
        (
            r#"{"export": {"cluster": "c", "when_full": "block"}}"#,
            "export.when_full: unknown variant `block`, expected `drop_newest` or `drop_oldest`",
        ),
        (
            r#"{"export": {"cluster": "c", "path": "v1/traces"}}"#,
            "export.path: must start with / and have no spaces, got \"v1/traces\"",
        ),
        (
            r#"{"export": {"cluster": "c", "headers": {"Authorization": "x"}}}"#,
            "export.headers.Authorization: \"Authorization\" is not a lowercase header name",
        ),
        (
            r#"{"export": {"cluster": "c", "headers": {"content-type": "x"}}}"#,
            "export.headers.content-type: is set by the filter (content-type: application/x-protobuf) or by Envoy",
        ),
        (
            r#"{"export": {"cluster": "c", "headers": {"x-a": "b\nc"}}}"#,
            "export.headers.x-a: values must not contain control characters (CR, LF, NUL …)",
        ),
        (
            r#"{"export": {"cluster": "c", "headers": {"x-a": 1}}}"#,
            "export.headers.x-a: invalid type: number 1, expected a string",
        ),
        (
            r#"{"export": {"cluster": "c"}, "drop": {"paths": [{"exact": "healthz"}]}}"#,
            "drop.paths[0].exact: must start with /, got \"healthz\"",
        ),
        (
            r#"{"export": {"cluster": "c"}, "drop": {"paths": [{"exact": "/a", "prefix": "/b"}]}}"#,
            "drop.paths[0]: expected exactly one of `exact` or `prefix`",
        ),
        (
            r#"{"export": {"cluster": "c"}, "drop": {"paths": ["/healthz"]}}"#,
            "drop.paths[0]: invalid type: string \"/healthz\", expected {\"exact\": …} or {\"prefix\": …}",
        ),
        (
            r#"{"export": {"cluster": "c"}, "drop": {"methods": ["options"]}}"#,
            "drop.methods[0]: methods are case-sensitive uppercase tokens such as OPTIONS, got \"options\"",
        ),
        (
            r#"{"export": {"cluster": "c"}, "drop": {"user_agents": [""]}}"#,
            "drop.user_agents[0]: must not be empty (use \"*\" to match everything)",
        ),
        (
            r#"{"export": {"cluster": "c"}, "span": {"known_methods": ["GET", "propfind"]}}"#,
            "span.known_methods[1]: methods are case-sensitive uppercase tokens such as OPTIONS, got \"propfind\"",
        ),
        (
            r#"{"export": {"cluster": "c"}, "span": {"tags": {"team": "a", "http.route": "/x"}}}"#,
            "span.tags.http.route: the filter writes this attribute itself; a span's attribute names must be unique",
        ),
        (
            r#"{"export": {"cluster": "c"}, "span": {"tags": {"http.request.header.x-a": "1"}}}"#,
            "span.tags.http.request.header.x-a: the filter writes this attribute itself; a span's attribute names must be unique",
        ),
        (
            r#"{"export": {"cluster": "c"}, "span": {"kind": "producer"}}"#,
            "span.kind: unknown variant `producer`, expected one of `auto`, `server`, `client`",
        ),
        (
            r#"{"export": {"cluster": "c"}, "resource": {"tracing_service_name": "app_label_and_namespace"}}"#,
            "resource.tracing_service_name: unknown variant `app_label_and_namespace`, expected one of `APP_LABEL_AND_NAMESPACE`, `CANONICAL_NAME_ONLY`, `CANONICAL_NAME_AND_NAMESPACE`",
        ),
        (
            r#"{"enricher": {"route_header": "x-r"}}"#,
            "enricher: only used with \"mode\": \"enricher\"",
        ),
        (
            r#"{"mode": "enricher", "sampling": {"percentage": 10}}"#,
            "sampling: not used in enricher mode: Envoy's native tracer samples, propagates and reports the spans (only span.routes and enricher apply); remove it or use \"mode\": \"tracer\"",
        ),
        (
            r#"{"mode": "enricher", "span": {"routes": ["/a"], "tags": {"a": "b"}}}"#,
            "span: not used in enricher mode: Envoy's native tracer samples, propagates and reports the spans (only span.routes and enricher apply); remove it or use \"mode\": \"tracer\"",
        ),
        (
            r#"{"resource": {"attributes": {"a": "b"}}}"#,
            "resource: has no effect without export: the filter records spans only when \"export\" is set",
        ),
        (
            r#"{"access_log": {"trace_id_header": "X-Trace"}}"#,
            "access_log.trace_id_header: \"X-Trace\" is not a lowercase header name",
        ),
    ];
    let mut failures = Vec::new();
    for (src, want) in table {
        let got = err(src);
        if got != *want {
            failures.push(format!("{src}\n   want {want}\n    got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn drop_rules_without_export_still_apply() {
    // They decide which requests the proxy leaves untouched, spans or not.
    let cfg = Config::from_json(br#"{"drop": {"user_agents": ["kube-probe/*"]}}"#).unwrap();
    assert_eq!(cfg.drop.user_agents.len(), 1);
}

#[test]
fn messages_quote_and_print_numbers_exactly() {
    assert_eq!(quoted("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    for (x, want) in [
        (150.0, "150"),
        (-0.5, "-0.5"),
        (0.1, "0.1"),
        (12.345678901, "12.345678901"),
        (100.000001, "100.000001"),
        (1e20, "100000000000000000000"),
    ] {
        assert_eq!(number_text(x), want, "{x}");
    }
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
            // The reader is exact for these; allow one ULP anyway (irrelevant for a percentage).
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
