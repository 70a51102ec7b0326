use super::*;
use crate::otlp::Batch;
use crate::processor::testspans::*;
use crate::testutil::Recorder;

fn filter(yaml: &str, signal: Signal) -> (Arc<dyn Processor>, Arc<Recorder>, Context) {
    let cfg: FilterConfig = config(yaml);
    assert_eq!(cfg.validate(), vec![], "{yaml}");
    let rec = Arc::new(Recorder::default());
    let ctx = ctx("filter/test");
    let p = cfg.build(&ctx, signal, rec.clone()).unwrap();
    (p, rec, ctx)
}

fn received(rec: &Recorder) -> Vec<Batch> {
    rec.0.lock().unwrap().clone()
}

const SEED: &str = r#"
error_mode: ignore
traces:
  span:
    - IsMatch(attributes["upstream_cluster"], "grafana/.*")
    - attributes["http.route"] == "/livez"
    - attributes["user_agent.original"] == "kube-probe//"
    - name == "OperationHandler.handle"
"#;

#[tokio::test]
async fn seed_conditions_drop_exactly_the_matching_spans() {
    let (p, rec, ctx) = filter(SEED, Signal::Traces);
    let cases: Vec<(&str, Vec<crate::otlp::proto::common::v1::KeyValue>, bool)> = vec![
        (
            "grafana ingress",
            vec![s("upstream_cluster", "grafana/grafana_80")],
            false,
        ),
        (
            "grafana prefix only",
            vec![s("upstream_cluster", "grafana")],
            true,
        ),
        // IsMatch is a search, as RE2's MatchString.
        (
            "grafana inside",
            vec![s("upstream_cluster", "outbound|grafana/x")],
            false,
        ),
        (
            "tap-gui",
            vec![s("upstream_cluster", "tap-gui/server")],
            true,
        ),
        ("liveness", vec![s("http.route", "/livez")], false),
        ("readiness", vec![s("http.route", "/readyz")], true),
        (
            "probe",
            vec![s("user_agent.original", "kube-probe//")],
            false,
        ),
        (
            "probe 1.29",
            vec![s("user_agent.original", "kube-probe/1.29")],
            true,
        ),
        ("OperationHandler.handle", vec![], false),
        ("operationhandler.handle", vec![], true),
        ("int route", vec![i("http.route", 7)], true),
        ("no attributes", vec![], true),
    ];
    let spans = cases
        .iter()
        .enumerate()
        .map(|(n, (name, attrs, _))| span(n as u8, name, attrs.clone()))
        .collect();
    p.consume(batch(vec![group(
        vec![s("service.name", "gw")],
        "envoy",
        spans,
    )]))
    .await
    .unwrap();
    let got = received(&rec);
    assert_eq!(got.len(), 1);
    let want: Vec<String> = cases
        .iter()
        .filter(|(_, _, kept)| *kept)
        .map(|(n, _, _)| (*n).to_owned())
        .collect();
    assert_eq!(names(&got[0]), want);
    assert_eq!(got[0].items(), want.len());
    let metrics = ctx.telemetry.render();
    assert!(
        metrics.contains("otelcol_processor_filter_spans_filtered_total{filter=\"filter/test\"")
            && metrics.contains(&format!("}} {}\n", cases.len() - want.len())),
        "{metrics}"
    );
    assert!(metrics.contains(
        "otelcol_processor_incoming_items_total{otel_signal=\"traces\",processor=\"filter/test\""
    ));
}

#[tokio::test]
async fn dropping_everything_sends_nothing_and_empty_groups_go() {
    let (p, rec, _) = filter(SEED, Signal::Traces);
    p.consume(batch(vec![
        group(
            vec![s("service.name", "a")],
            "envoy",
            vec![span(1, "OperationHandler.handle", vec![])],
        ),
        group(
            vec![s("service.name", "b")],
            "envoy",
            vec![
                span(2, "keep", vec![]),
                span(3, "OperationHandler.handle", vec![]),
            ],
        ),
    ]))
    .await
    .unwrap();
    let got = received(&rec);
    let req = decode(&got[0]);
    assert_eq!(
        req.resource_spans.len(),
        1,
        "the resource that lost all its spans is removed"
    );
    assert_eq!(
        req.resource_spans[0].resource.as_ref().unwrap().attributes,
        vec![s("service.name", "b")]
    );
    assert_eq!(names(&got[0]), ["keep"]);

    p.consume(batch(vec![group(
        vec![],
        "envoy",
        vec![span(1, "OperationHandler.handle", vec![])],
    )]))
    .await
    .unwrap();
    assert_eq!(
        received(&rec).len(),
        1,
        "an emptied request is not passed on"
    );
}

#[tokio::test]
async fn unchanged_requests_pass_as_the_same_bytes() {
    let (p, rec, _) = filter(SEED, Signal::Traces);
    let b = batch(vec![group(vec![], "envoy", vec![span(1, "keep", vec![])])]);
    p.consume(b.clone()).await.unwrap();
    assert_eq!(received(&rec)[0].bytes().as_ptr(), b.bytes().as_ptr());
}

#[tokio::test]
async fn span_event_conditions_drop_events_and_keep_the_span() {
    let (p, rec, _) = filter(
        r#"
traces:
  spanevent:
    - name == "upstream_rq_retry"
    - attributes["grpc"] == true
"#,
        Signal::Traces,
    );
    let mut a = span(1, "a", vec![]);
    a.events = vec![
        event("upstream_rq_retry", vec![]),
        event("keep-me", vec![b("grpc", false)]),
        event("grpc", vec![b("grpc", true)]),
    ];
    let mut only = span(2, "b", vec![]);
    only.events = vec![event("upstream_rq_retry", vec![])];
    p.consume(batch(vec![group(vec![], "envoy", vec![a, only])]))
        .await
        .unwrap();
    let req = decode(&received(&rec)[0]);
    let spans = &req.resource_spans[0].scope_spans[0].spans;
    let events: Vec<Vec<&str>> = spans
        .iter()
        .map(|s| s.events.iter().map(|e| e.name.as_str()).collect())
        .collect();
    assert_eq!(events, vec![vec!["keep-me"], vec![]]);
}

#[tokio::test]
async fn a_dropped_span_is_not_checked_for_events() {
    let (p, rec, _) = filter(
        "error_mode: propagate\ntraces:\n  span: ['name == \"drop\"']\n  spanevent: ['Substring(name, 0, 100) == \"x\"']\n",
        Signal::Traces,
    );
    let mut d = span(1, "drop", vec![]);
    d.events = vec![event("short", vec![])];
    // The event condition would fail (substring out of range) — but the span goes first.
    p.consume(batch(vec![group(
        vec![],
        "envoy",
        vec![d, span(2, "keep", vec![])],
    )]))
    .await
    .unwrap();
    assert_eq!(names(&received(&rec)[0]), ["keep"]);
}

#[tokio::test]
async fn error_modes() {
    // The second condition fails on short names (substring out of range).
    let conds = "traces:\n  span:\n    - 'name == \"drop\"'\n    - 'Substring(name, 0, 8) == \"long-nam\"'\n";
    let input = || {
        batch(vec![group(
            vec![],
            "envoy",
            vec![
                span(1, "drop", vec![]),
                span(2, "long-name", vec![]),
                span(3, "x", vec![]),
            ],
        )])
    };
    for mode in ["ignore", "silent", "IGNORE"] {
        let (p, rec, _) = filter(&format!("error_mode: {mode}\n{conds}"), Signal::Traces);
        p.consume(input()).await.unwrap();
        assert_eq!(
            names(&received(&rec)[0]),
            ["x"],
            "{mode}: the failing condition counts as false"
        );
    }
    // Default: ignore.
    let (p, rec, _) = filter(conds, Signal::Traces);
    p.consume(input()).await.unwrap();
    assert_eq!(names(&received(&rec)[0]), ["x"]);

    let (p, rec, _) = filter(&format!("error_mode: propagate\n{conds}"), Signal::Traces);
    let e = p.consume(input()).await.unwrap_err();
    assert!(!e.is_retryable());
    assert!(e.to_string().contains("Substring(name, 0, 8)"), "{e}");
    assert!(e.to_string().contains("invalid range for substring"), "{e}");
    assert!(
        received(&rec).is_empty(),
        "nothing of a refused request goes on"
    );
}

#[tokio::test]
async fn metrics_and_logs_pass_through() {
    let (p, rec, _) = filter(SEED, Signal::Metrics);
    let b = metrics_batch("svc");
    p.consume(b.clone()).await.unwrap();
    assert_eq!(received(&rec), vec![b]);
}

/// Spans of two services, scopes and kinds for the legacy matcher.
fn legacy_input() -> Batch {
    let mut client = span(
        3,
        "GET /api/orders",
        vec![s("http.method", "GET"), i("http.status_code", 503)],
    );
    client.kind = 3;
    batch(vec![
        group(
            vec![
                s("service.name", "frontend"),
                s("k8s.namespace.name", "apps"),
            ],
            "io.opentelemetry.spring-webmvc-6.0",
            vec![
                span(
                    1,
                    "hello_world",
                    vec![s("container.name", "app_container_1")],
                ),
                span(
                    2,
                    "health",
                    vec![s("container.name", "app_container_2"), b("probe", true)],
                ),
                client,
            ],
        ),
        group(
            vec![s("service.name", "app_3")],
            "envoy",
            vec![span(
                4,
                "hello/world",
                vec![s("container.name", "app_container_1")],
            )],
        ),
        group(vec![], "envoy", vec![span(5, "no-service", vec![])]),
    ])
}

#[tokio::test]
async fn legacy_include_exclude_match_properties() {
    for (yaml, kept) in [
        (
            "exclude:\n  match_type: strict\n  services: [app_3]",
            vec!["hello_world", "health", "GET /api/orders", "no-service"],
        ),
        (
            "include:\n  match_type: strict\n  services: [app_3]",
            vec!["hello/world"],
        ),
        (
            "include:\n  match_type: regexp\n  services: ['^front']",
            vec!["hello_world", "health", "GET /api/orders"],
        ),
        (
            "exclude:\n  match_type: strict\n  services: ['<nil-service-name>']",
            vec!["hello_world", "health", "GET /api/orders", "hello/world"],
        ),
        (
            "exclude:\n  match_type: strict\n  span_names: [hello_world, hello/world]",
            vec!["health", "GET /api/orders", "no-service"],
        ),
        // Regexp matches anywhere in the name.
        (
            "exclude:\n  match_type: regexp\n  span_names: ['world']",
            vec!["health", "GET /api/orders", "no-service"],
        ),
        (
            "exclude:\n  match_type: strict\n  span_kinds: [SPAN_KIND_CLIENT]",
            vec!["hello_world", "health", "hello/world", "no-service"],
        ),
        (
            "exclude:\n  match_type: regexp\n  span_kinds: ['SERVER$']",
            vec!["GET /api/orders"],
        ),
        (
            "exclude:\n  match_type: regexp\n  attributes:\n    - key: container.name\n      value: (app_container_1|app_container_2)",
            vec!["GET /api/orders", "no-service"],
        ),
        (
            "exclude:\n  match_type: strict\n  attributes:\n    - key: container.name\n      value: app_container_1",
            vec!["health", "GET /api/orders", "no-service"],
        ),
        // Every listed attribute must match.
        (
            "exclude:\n  match_type: strict\n  attributes:\n    - {key: container.name, value: app_container_2}\n    - {key: probe, value: true}",
            vec![
                "hello_world",
                "GET /api/orders",
                "hello/world",
                "no-service",
            ],
        ),
        // Strict values are typed: the int 503 is not the string "503".
        (
            "exclude:\n  match_type: strict\n  attributes:\n    - {key: http.status_code, value: '503'}",
            vec![
                "hello_world",
                "health",
                "GET /api/orders",
                "hello/world",
                "no-service",
            ],
        ),
        (
            "exclude:\n  match_type: strict\n  attributes:\n    - {key: http.status_code, value: 503}",
            vec!["hello_world", "health", "hello/world", "no-service"],
        ),
        // Regexp on a number matches its decimal text.
        (
            "exclude:\n  match_type: regexp\n  attributes:\n    - {key: http.status_code, value: '^5'}",
            vec!["hello_world", "health", "hello/world", "no-service"],
        ),
        // A key without a value: existence.
        (
            "exclude:\n  match_type: strict\n  attributes:\n    - key: probe",
            vec![
                "hello_world",
                "GET /api/orders",
                "hello/world",
                "no-service",
            ],
        ),
        (
            "exclude:\n  match_type: strict\n  resources:\n    - {key: k8s.namespace.name, value: apps}",
            vec!["hello/world", "no-service"],
        ),
        (
            "exclude:\n  match_type: strict\n  libraries:\n    - name: envoy",
            vec!["hello_world", "health", "GET /api/orders"],
        ),
        (
            "exclude:\n  match_type: strict\n  libraries:\n    - {name: envoy, version: 2.0.0}",
            vec![
                "hello_world",
                "health",
                "GET /api/orders",
                "hello/world",
                "no-service",
            ],
        ),
        // Both: include first, then exclude; all properties of a block must match.
        (
            "include:\n  match_type: strict\n  services: [frontend]\nexclude:\n  match_type: strict\n  span_names: [health]",
            vec!["hello_world", "GET /api/orders"],
        ),
        (
            "exclude:\n  match_type: strict\n  services: [frontend]\n  span_names: [health, hello/world]",
            vec![
                "hello_world",
                "GET /api/orders",
                "hello/world",
                "no-service",
            ],
        ),
        // The Collector's README spelling (capitalised keys).
        (
            "exclude:\n  match_type: strict\n  attributes:\n    - Key: probe\n      Value: true",
            vec![
                "hello_world",
                "GET /api/orders",
                "hello/world",
                "no-service",
            ],
        ),
    ] {
        let indented: String = yaml.lines().map(|l| format!("  {l}\n")).collect();
        let (p, rec, _) = filter(&format!("spans:\n{indented}"), Signal::Traces);
        p.consume(legacy_input()).await.unwrap();
        let got = received(&rec).first().map(names).unwrap_or_default();
        assert_eq!(got, kept, "{yaml}");
    }
}

fn errors(yaml: &str) -> Vec<String> {
    let cfg: FilterConfig = config(yaml);
    cfg.validate().iter().map(ToString::to_string).collect()
}

#[test]
fn invalid_configs_are_refused_with_the_reason() {
    let e =
        errors("traces:\n  span:\n    - 'name == \"ok\"'\n    - 'attributes[test] == \"pass\"'\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("field `traces.span.1`: invalid OTTL condition: 1:12: "),
        "{}",
        e[0]
    );
    assert!(
        e[0].contains("\n        attributes[test] == \"pass\"\n                   ^"),
        "{}",
        e[0]
    );

    let e = errors("traces:\n  spanevent: ['resource.foo == 1']\n");
    assert!(
        e[0].starts_with("field `traces.spanevent.0`: invalid OTTL condition: 1:"),
        "{e:?}"
    );

    for (yaml, want) in [
        (
            "metrics:\n  metric: ['name == \"x\"']\n",
            "field `metrics`: `metrics` conditions are not supported",
        ),
        (
            "logs:\n  log_record: ['true']\n",
            "field `logs`: `logs` conditions are not supported",
        ),
        (
            "trace_conditions: ['name == \"x\"']\n",
            "field `trace_conditions.0`: condition \"name == \\\"x\\\"\": path \"name\" has no context prefix",
        ),
        (
            "trace_conditions: ['span.name == \"x\"', {conditions: ['span.name == \"y\"']}]\n",
            "configuring multiple configuration styles is not supported",
        ),
        (
            "trace_conditions: ['span.name == \"x\"']\ntraces:\n  span: ['true']\n",
            "cannot use context inferred trace conditions",
        ),
        (
            "trace_conditions:\n  - context: resource\n    conditions: ['name == \"x\"']\n",
            "field `trace_conditions.0.conditions.0`: invalid OTTL condition: 1:1",
        ),
        (
            "trace_conditions:\n  - context: scope\n    conditions: ['span.name == \"x\"']\n",
            "field `trace_conditions.0.conditions.0`: invalid OTTL condition: 1:1: context \"span\" from path \"span.name\" is not valid in the scope context",
        ),
        (
            "trace_conditions:\n  - context: span\n    conditions: ['attributes[test] == 1']\n",
            "field `trace_conditions.0.conditions.0`: invalid OTTL condition: 1:12",
        ),
        (
            "trace_conditions:\n  - conditions: ['span.name == 1']\n    error_mode: loud\n",
            "field `trace_conditions.0.error_mode`: unknown error mode",
        ),
        (
            "traces:\n  resource: ['name == \"x\"']\n",
            "field `traces.resource.0`: invalid OTTL condition: 1:1",
        ),
        (
            "traces:\n  span: ['true']\nspans:\n  exclude:\n    match_type: strict\n    services: [a]\n",
            "cannot use \"traces.span\"",
        ),
        (
            "spans:\n  exclude:\n    match_type: strict\n",
            "field `spans.exclude`: at least one of",
        ),
        (
            "spans:\n  exclude:\n    match_type: exact\n    services: [a]\n",
            "field `spans.exclude.match_type`: unrecognized match_type \"exact\"",
        ),
        (
            "spans:\n  exclude:\n    services: [a]\n",
            "field `spans.exclude.match_type`: match_type is required",
        ),
        (
            "spans:\n  include:\n    match_type: regexp\n    span_names: ['(']\n",
            "field `spans.include.span_names.0`: invalid regexp",
        ),
        (
            "spans:\n  include:\n    match_type: strict\n    span_kinds: [server]\n",
            "field `spans.include.span_kinds.0`: span_kinds string must match one of the standard span kinds",
        ),
        (
            "spans:\n  include:\n    match_type: regexp\n    attributes: [{key: a, value: 1}]\n",
            "match_type=regexp for \"a\" only supports Str, but found an integer",
        ),
        (
            "spans:\n  include:\n    match_type: strict\n    attributes: [{key: '', value: 1}]\n",
            "can't have empty key",
        ),
        (
            "spans:\n  include:\n    match_type: strict\n    log_bodies: [x]\n",
            "log_bodies should not be specified for trace spans",
        ),
    ] {
        let e = errors(yaml).join("\n");
        assert!(e.contains(want), "{yaml}: {e}");
    }
    // Empty sections for other signals are fine (configs shared with the Collector).
    assert!(errors("metrics: {}\nlogs:\n  log_record: []\ntraces:\n  span: []\n").is_empty());
    let bad: Result<FilterConfig, _> = crate::registry::parse_typed(
        &crate::config::value::from_yaml("error_mode: loud\n").unwrap(),
    );
    assert!(
        bad.unwrap_err()
            .to_string()
            .contains("unknown error mode \"loud\"")
    );
}

#[test]
fn legacy_spans_config_warns_about_its_deprecation() {
    let cfg: FilterConfig =
        config("spans:\n  exclude:\n    match_type: strict\n    services: [a]\n");
    assert_eq!(cfg.warnings().len(), 1);
    let cfg: FilterConfig = config(SEED);
    assert!(cfg.warnings().is_empty());
}

#[tokio::test]
async fn context_inferred_trace_conditions() {
    // Flat: one group; span and resource paths infer the span context.
    let (p, rec, _) = filter(
        "trace_conditions:\n  - span.name == \"drop\"\n  - resource.attributes[\"service.name\"] == \"noisy\"\n",
        Signal::Traces,
    );
    p.consume(batch(vec![
        group(
            vec![s("service.name", "noisy")],
            "envoy",
            vec![span(1, "keep?", vec![])],
        ),
        group(
            vec![s("service.name", "app")],
            "envoy",
            vec![span(2, "drop", vec![]), span(3, "keep", vec![])],
        ),
    ]))
    .await
    .unwrap();
    assert_eq!(names(&received(&rec)[0]), ["keep"]);

    // A spanevent path makes the group span-event conditions.
    let (p, rec, _) = filter(
        "trace_conditions: ['spanevent.name == \"retry\" and span.name == \"a\"']\n",
        Signal::Traces,
    );
    let mut a = span(1, "a", vec![]);
    a.events = vec![event("retry", vec![]), event("other", vec![])];
    let mut b2 = span(2, "b", vec![]);
    b2.events = vec![event("retry", vec![])];
    p.consume(batch(vec![group(vec![], "envoy", vec![a, b2])]))
        .await
        .unwrap();
    let req = decode(&received(&rec)[0]);
    let events: Vec<Vec<&str>> = req.resource_spans[0].scope_spans[0]
        .spans
        .iter()
        .map(|s| s.events.iter().map(|e| e.name.as_str()).collect())
        .collect();
    assert_eq!(events, vec![vec!["other"], vec!["retry"]]);

    // Structured groups: an explicit context allows unprefixed paths; each group has its
    // own error mode.
    let (p, rec, _) = filter(
        "error_mode: propagate\ntrace_conditions:\n  - context: span\n    error_mode: ignore\n    conditions:\n      - 'Substring(name, 0, 8) == \"long-nam\"'\n  - conditions: ['span.name == \"x\"']\n",
        Signal::Traces,
    );
    p.consume(batch(vec![group(
        vec![],
        "envoy",
        vec![
            span(1, "long-name", vec![]),
            span(2, "x", vec![]),
            span(3, "y", vec![]),
        ],
    )]))
    .await
    .unwrap();
    assert_eq!(names(&received(&rec)[0]), ["y"]);
}

#[tokio::test]
async fn explicit_resource_and_scope_groups_read_unprefixed_paths_as_theirs() {
    // `attributes` is the resource's in the resource group and the scope's in the scope
    // group; a matching resource or scope loses every span, the others keep theirs.
    let (p, rec, _) = filter(
        r#"trace_conditions:
  - context: resource
    conditions: ['attributes["k8s.namespace.name"] == "istio-system"']
  - context: scope
    conditions: ['name == "noisy-lib"', 'resource.attributes["tier"] == "debug"']
"#,
        Signal::Traces,
    );
    p.consume(batch(vec![
        group(
            vec![s("k8s.namespace.name", "istio-system")],
            "envoy",
            vec![span(1, "a", vec![s("k8s.namespace.name", "istio-system")])],
        ),
        group(
            vec![s("k8s.namespace.name", "shop")],
            "noisy-lib",
            vec![span(2, "b", vec![])],
        ),
        group(
            vec![s("k8s.namespace.name", "shop")],
            "envoy",
            // A span attribute of that name is not the resource's: kept.
            vec![span(3, "c", vec![s("k8s.namespace.name", "istio-system")])],
        ),
        group(
            vec![s("tier", "debug")],
            "envoy",
            vec![span(4, "d", vec![])],
        ),
    ]))
    .await
    .unwrap();
    assert_eq!(names(&received(&rec)[0]), ["c"]);

    // `traces.resource`: the same, with the processor's error mode.
    let (p, rec, _) = filter(
        "traces:\n  resource: ['attributes[\"k8s.namespace.name\"] == \"istio-system\"']\n  span: ['name == \"b\"']\n",
        Signal::Traces,
    );
    p.consume(batch(vec![
        group(
            vec![s("k8s.namespace.name", "istio-system")],
            "envoy",
            vec![span(1, "a", vec![])],
        ),
        group(
            vec![s("k8s.namespace.name", "shop")],
            "envoy",
            vec![
                span(2, "b", vec![]),
                span(3, "c", vec![s("k8s.namespace.name", "istio-system")]),
            ],
        ),
    ]))
    .await
    .unwrap();
    let kept = received(&rec);
    assert_eq!(names(&kept[0]), ["c"]);
    assert_eq!(
        crate::processor::testspans::decode(&kept[0])
            .resource_spans
            .len(),
        1
    );
}

/// The processor itself (not behind `dyn Processor`), to compare it with and without the
/// literal prefilter.
fn processor(yaml: &str) -> processor::FilterProcessor {
    let cfg: FilterConfig = config(yaml);
    let compiled = cfg.compile().unwrap();
    let rec: Arc<dyn Consumer> = Arc::new(Recorder::default());
    processor::FilterProcessor::new(&ctx("filter/test"), Signal::Traces, compiled, rec)
}

#[test]
fn which_configurations_search_for_literals_first() {
    // (case, config, prefiltered)
    let cases = [
        ("the seed's conditions, error_mode ignore", SEED.to_owned(), true),
        (
            "the seed's conditions under propagate",
            SEED.replace("error_mode: ignore", "error_mode: propagate"),
            true,
        ),
        (
            "equalities under propagate",
            "error_mode: propagate\ntraces:\n  span:\n    - name == \"x\"\n".to_owned(),
            true,
        ),
        (
            "a condition without literals",
            "traces:\n  span:\n    - kind == SPAN_KIND_CLIENT\n".to_owned(),
            false,
        ),
        (
            "span-event conditions",
            "error_mode: ignore\ntraces:\n  span:\n    - name == \"x\"\n  spanevent:\n    - name == \"e\"\n"
                .to_owned(),
            false,
        ),
    ];
    for (name, yaml, want) in cases {
        assert_eq!(processor(&yaml).has_prefilter(), want, "{name}");
    }
}

#[test]
fn a_request_without_the_literals_passes_as_the_same_bytes() {
    let p = processor(SEED);
    let b = batch(vec![group(
        vec![s("service.name", "gw")],
        "envoy",
        vec![span(
            1,
            "ingress",
            vec![s("upstream_cluster", "outbound|80||web")],
        )],
    )]);
    let out = p.filter(&b).unwrap();
    assert_eq!(out.bytes().as_ptr(), b.bytes().as_ptr());
    // A literal in an unrelated place (the resource) costs an evaluation, and still keeps.
    let near = batch(vec![group(
        vec![s("note", "/livez")],
        "envoy",
        vec![span(1, "ingress", vec![])],
    )]);
    assert_eq!(names(&p.filter(&near).unwrap()), vec!["ingress"]);
}

/// `IsMatch` reads a map as JSON, bytes in base64: these six bytes print as `grafana/`, which
/// the request does not hold. The span is dropped all the same: the key holds a map, so the
/// request is evaluated.
#[test]
fn a_map_an_is_match_reads_is_evaluated() {
    use crate::otlp::proto::common::v1::KeyValueList;
    use crate::otlp::proto::common::v1::any_value::Value as V;
    let grafana_in_base64 = vec![130, 182, 159, 106, 118, 191];
    let map = V::KvlistValue(KeyValueList {
        values: vec![kv("x", V::BytesValue(grafana_in_base64))],
    });
    let b = batch(vec![group(
        vec![],
        "envoy",
        vec![
            span(1, "keep", vec![]),
            span(2, "drop", vec![kv("upstream_cluster", map)]),
        ],
    )]);
    assert!(!b.bytes().windows(8).any(|w| w == b"grafana/"));
    let p = processor(SEED);
    assert!(p.has_prefilter());
    assert_eq!(names(&p.filter(&b).unwrap()), vec!["keep"]);
}

mod prefilter_equivalence {
    //! The prefilter never changes what the filter passes on: with and without it, the same
    //! bytes for any request.
    use super::*;
    use crate::otlp::proto::common::v1::any_value::Value as V;
    use crate::otlp::proto::common::v1::{ArrayValue, KeyValue, KeyValueList};
    use proptest::prelude::*;

    const WORDS: &[&str] = &[
        "grafana/",
        "grafana",
        "/livez",
        "/live",
        "kube-probe//",
        "kube-probe/1.29",
        "OperationHandler.handle",
        "Operation",
        "x",
        "/",
    ];

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(WORDS), 0..3).prop_map(|w| w.concat())
    }

    fn value() -> impl Strategy<Value = V> {
        prop_oneof![
            4 => text().prop_map(V::StringValue),
            1 => any::<i64>().prop_map(V::IntValue),
            1 => any::<f64>().prop_map(V::DoubleValue),
            1 => text().prop_map(|t| V::BytesValue(t.into_bytes())),
            1 => proptest::collection::vec(text(), 0..2).prop_map(|l| V::ArrayValue(ArrayValue {
                values: l.into_iter().map(|t| av(V::StringValue(t)).unwrap()).collect(),
            })),
            1 => (text(), text()).prop_map(|(k, v)| V::KvlistValue(KeyValueList {
                values: vec![kv(&k, V::StringValue(v))],
            })),
            1 => (text(), any::<Vec<u8>>()).prop_map(|(k, b)| V::KvlistValue(KeyValueList {
                values: vec![kv(&k, V::BytesValue(b))],
            })),
        ]
    }

    fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
        let key = prop_oneof![
            Just("upstream_cluster".to_owned()),
            Just("upstream_cluster.name".to_owned()),
            Just("x_upstream_cluster".to_owned()),
            Just("http.route".to_owned()),
            Just("user_agent.original".to_owned()),
            text(),
        ];
        proptest::collection::vec((key, value()), 0..4)
            .prop_map(|kvs| kvs.into_iter().map(|(k, v)| kv(&k, v)).collect())
    }

    fn request() -> impl Strategy<Value = Batch> {
        let spans = proptest::collection::vec((text(), attributes()), 1..5).prop_map(|spans| {
            spans
                .into_iter()
                .enumerate()
                .map(|(n, (name, attrs))| span(n as u8, &name, attrs))
                .collect::<Vec<_>>()
        });
        proptest::collection::vec((attributes(), text(), spans), 1..3).prop_map(|groups| {
            batch(
                groups
                    .into_iter()
                    .map(|(resource, scope, spans)| group(resource, &scope, spans))
                    .collect(),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn with_and_without_the_prefilter_the_same_output(b in request()) {
            let with = processor(SEED);
            prop_assert!(with.has_prefilter());
            let without = processor(SEED).without_prefilter();
            let (a, z) = (with.filter(&b).unwrap(), without.filter(&b).unwrap());
            prop_assert_eq!(a.bytes(), z.bytes());
        }
    }
}
