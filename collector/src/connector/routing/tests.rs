//! The routing connector on hand-built requests: a table of resources and the pipelines they
//! reach, the error modes, the same bytes when every group goes one way, and the config
//! errors as the Collector words them.

use super::*;
use crate::component::Validate;
use crate::otlp::proto::collector::logs::v1::ExportLogsServiceRequest;
use crate::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::otlp::proto::common::v1::{AnyValue, KeyValue, any_value};
use crate::otlp::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::otlp::proto::resource::v1::Resource;
use crate::otlp::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use crate::otlp::{Batch, Limits};
use crate::processor::testspans::{config, ctx};
use crate::testutil::Recorder;
use prost::Message;

fn attrs(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|(k, v)| KeyValue {
            key: (*k).into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue((*v).into())),
            }),
            ..Default::default()
        })
        .collect()
}

/// One resource group per entry: its resource attributes, one span named after the group's
/// index.
fn traces(resources: &[&[(&str, &str)]]) -> Batch {
    let req = ExportTraceServiceRequest {
        resource_spans: resources
            .iter()
            .enumerate()
            .map(|(i, a)| ResourceSpans {
                resource: Some(Resource {
                    attributes: attrs(a),
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: [1; 16].to_vec(),
                        span_id: [1; 8].to_vec(),
                        name: format!("r{i}"),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    };
    Batch::new_validated(
        Signal::Traces,
        req.encode_to_vec().into(),
        &Limits::default(),
    )
    .unwrap()
}

/// The group names (`r0`, …) in what `rec` received, in order.
fn groups(rec: &Recorder) -> Vec<String> {
    rec.0
        .lock()
        .unwrap()
        .iter()
        .flat_map(crate::processor::testspans::names)
        .collect()
}

const PIPELINES: [&str; 4] = [
    "traces/payments",
    "traces/checkout",
    "traces/audit",
    "traces/default",
];

/// A recorder per pipeline of `names`, and the heads to build a connector with.
fn recorders(names: &[&str]) -> (Vec<Arc<Recorder>>, PipelineHeads) {
    let recs: Vec<Arc<Recorder>> = names.iter().map(|_| Arc::default()).collect();
    let heads = names
        .iter()
        .zip(&recs)
        .map(|(p, r)| {
            (
                PipelineId::parse(p).unwrap(),
                r.clone() as Arc<dyn Consumer>,
            )
        })
        .collect();
    (recs, heads)
}

/// Builds the connector from `yaml` with a recorder per pipeline of [`PIPELINES`].
fn router(yaml: &str) -> (Arc<dyn Consumer>, Vec<Arc<Recorder>>) {
    let cfg: RoutingConfig = config(yaml);
    assert_eq!(cfg.validate(), Vec::new(), "{yaml}");
    let (recs, heads) = recorders(&PIPELINES);
    let c = cfg
        .build(&ctx("routing"), Signal::Traces, Signal::Traces, heads)
        .unwrap();
    (c, recs)
}

const TABLE: &str = r#"
default_pipelines: [traces/default]
table:
  - statement: route() where attributes["k8s.namespace.name"] == "payments"
    pipelines: [traces/payments]
  - condition: attributes["service.name"] == "checkout"
    pipelines: [traces/checkout]
  - 'route(["traces/audit", "traces/payments"]) where IsMatch(attributes["k8s.namespace.name"], "^audit-")'
"#;

#[tokio::test]
async fn each_resource_group_takes_the_first_route_it_matches() {
    let (c, recs) = router(TABLE);
    let batch = traces(&[
        &[
            ("k8s.namespace.name", "payments"),
            ("service.name", "ledger"),
        ],
        &[("k8s.namespace.name", "shop"), ("service.name", "checkout")],
        // Matches the first route and the second: the first wins.
        &[
            ("k8s.namespace.name", "payments"),
            ("service.name", "checkout"),
        ],
        &[("k8s.namespace.name", "audit-eu")],
        &[("k8s.namespace.name", "shop"), ("service.name", "cart")],
        &[],
    ]);
    c.consume(batch).await.unwrap();
    let got: Vec<Vec<String>> = recs.iter().map(|r| groups(r)).collect();
    assert_eq!(
        got,
        [
            vec!["r0", "r2", "r3"],
            vec!["r1"],
            vec!["r3"],
            vec!["r4", "r5"],
        ]
    );
    // One request per pipeline: the groups of a route travel together.
    assert_eq!(
        recs.iter().map(|r| r.sizes()).collect::<Vec<_>>(),
        [vec![2, 1], vec![1], vec![1], vec![2]]
    );
}

#[tokio::test]
async fn a_request_taking_one_route_goes_on_as_the_same_bytes() {
    let (c, recs) = router(TABLE);
    let batch = traces(&[
        &[("service.name", "checkout")],
        &[("service.name", "checkout"), ("k8s.namespace.name", "x")],
    ]);
    c.consume(batch.clone()).await.unwrap();
    let got = recs[1].0.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].bytes().as_ptr(), batch.bytes().as_ptr());
    assert!(
        recs.iter()
            .enumerate()
            .all(|(i, r)| i == 1 || r.sizes().is_empty())
    );
}

#[tokio::test]
async fn without_default_pipelines_unrouted_groups_are_dropped_and_route_falls_back() {
    // `route()` without pipelines sends to the defaults; without defaults, nothing is sent.
    let request = || traces(&[&[("service.name", "cart")], &[("service.name", "checkout")]]);
    let (c, recs) = router(
        r#"
table:
  - statement: route() where attributes["service.name"] == "checkout"
    pipelines: [traces/checkout]
"#,
    );
    c.consume(request()).await.unwrap();
    assert_eq!(groups(&recs[1]), ["r1"]);
    assert!(recs[3].sizes().is_empty());

    let (c, recs) = router(
        r#"
default_pipelines: [traces/default]
table:
  - statement: route() where attributes["service.name"] == "checkout"
  - statement: route()
    pipelines: [traces/audit]
"#,
    );
    c.consume(request()).await.unwrap();
    assert_eq!(
        groups(&recs[3]),
        ["r1"],
        "route() without pipelines: the defaults"
    );
    assert_eq!(
        groups(&recs[2]),
        ["r0"],
        "route() without where: always taken"
    );
}

#[tokio::test]
async fn evaluation_errors_follow_error_mode() {
    // Indexing a string fails at run time.
    let table = r#"
default_pipelines: [traces/default]
table:
  - condition: attributes["tenant"]["id"] == "a"
    pipelines: [traces/payments]
  - condition: attributes["service.name"] == "checkout"
    pipelines: [traces/checkout]
"#;
    let batch = || {
        traces(&[
            &[("service.name", "checkout")],
            &[("tenant", "flat"), ("service.name", "checkout")],
        ])
    };
    let (c, recs) = router(table);
    let e = c.consume(batch()).await.unwrap_err();
    assert!(!e.is_retryable());
    assert!(
        e.to_string()
            .starts_with("routing: failed to evaluate a route: condition \"attributes[\\\"tenant\\\"][\\\"id\\\"] == \\\"a\\\"\": "),
        "{e}"
    );
    assert!(
        recs.iter().all(|r| r.sizes().is_empty()),
        "nothing of a refused request is sent"
    );

    for mode in ["ignore", "silent"] {
        let (c, recs) = router(&format!("error_mode: {mode}{table}"));
        c.consume(batch()).await.unwrap();
        assert_eq!(
            groups(&recs[1]),
            ["r0", "r1"],
            "{mode}: the failing route is skipped"
        );
    }
}

#[tokio::test]
async fn logs_and_metrics_route_by_resource_too() {
    let yaml = r#"
default_pipelines: [logs/default]
table:
  - condition: attributes["service.name"] == "checkout"
    pipelines: [logs/checkout]
"#;
    let cfg: RoutingConfig = config(yaml);
    let (recs, heads) = recorders(&["logs/checkout", "logs/default"]);
    let c = cfg
        .build(&ctx("routing"), Signal::Logs, Signal::Logs, heads)
        .unwrap();
    let req = ExportLogsServiceRequest {
        resource_logs: ["cart", "checkout", "checkout"]
            .iter()
            .map(|s| ResourceLogs {
                resource: Some(Resource {
                    attributes: attrs(&[("service.name", s)]),
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default(); 2],
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    };
    let batch =
        Batch::new_validated(Signal::Logs, req.encode_to_vec().into(), &Limits::default()).unwrap();
    c.consume(batch).await.unwrap();
    assert_eq!(recs[0].sizes(), [4]);
    assert_eq!(recs[1].sizes(), [2]);

    // Built for pipelines that do not include the ones the table names: refused, naming one.
    let e = cfg
        .build(
            &ctx("routing"),
            Signal::Metrics,
            Signal::Metrics,
            vec![(PipelineId::parse("metrics/x").unwrap(), recs[0].clone())],
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("pipeline \"logs/default\" does not receive from this connector"),
        "{e}"
    );
}

#[test]
fn config_errors_name_the_field_and_the_reason() {
    let cases: &[(&str, &[&str])] = &[
        (
            "default_pipelines: [traces/a]",
            &["field `table`: invalid routing table: the routing table is empty"],
        ),
        (
            "table: []",
            &["field `table`: invalid routing table: the routing table is empty"],
        ),
        (
            "table: {a: 1}",
            &["field `table`: want a list of routes, found a map"],
        ),
        (
            "table: [{pipelines: [traces/a]}]",
            &["field `table.0`: invalid route: no condition or statement provided"],
        ),
        (
            "table: [{condition: 'true', statement: 'route()', pipelines: [traces/a]}]",
            &["field `table.0`: invalid route: both condition and statement provided"],
        ),
        (
            "table: [{condition: 'true'}]",
            &["field `table.0`: invalid route: no pipelines defined"],
        ),
        (
            "table: [{condition: 'attributes[\"a\"] ==', pipelines: [traces/a]}]",
            &[
                "field `table.0.condition`: invalid OTTL condition (resource context): 1:19: expected a value, found end of condition",
            ],
        ),
        (
            "table: [{condition: 'span.name == \"x\"', pipelines: [traces/a]}]",
            &[
                "field `table.0.condition`: invalid OTTL condition (resource context): 1:1: context \"span\" from path \"span.name\" is not valid in the resource context; use one of: \"resource\"",
            ],
        ),
        (
            "table: [{statement: 'drop() where true', pipelines: [traces/a]}]",
            &[
                "field `table.0.statement`: invalid route: a routing statement calls route(), found drop()",
            ],
        ),
        (
            "table: ['route(\"traces/a\") where true']",
            &["field `table.0`: invalid route: route() takes a list of pipeline names"],
        ),
        (
            "table: [{statement: 'route([\"traces/a\"])', pipelines: [traces/a]}]",
            &[
                "field `table.0.statement`: invalid route: pipelines given both in route(…) and in `pipelines`",
            ],
        ),
        (
            "table: ['route([\"traces\", \"spans/x\"]) where true']",
            &[
                "field `table.0.route.1`: unknown signal \"spans\" in pipeline id \"spans/x\" (expected traces, metrics or logs)",
            ],
        ),
        (
            "table: [{context: span, condition: 'true', pipelines: [traces/a]}]",
            &[
                "field `table.0.context`: the `span` context is not supported (meshtrace routes whole resource groups: use the `resource` context)",
            ],
        ),
        (
            "table: [{context: spans, condition: 'true', pipelines: [traces/a]}]",
            &["field `table.0.context`: invalid context: spans"],
        ),
        (
            "table: [{condition: 'true', pipelines: [traces/a], match_once: true}]",
            &[
                "field `table.0.match_once`: unknown field `match_once`, expected one of `context`, `statement`, `condition`, `pipelines`",
            ],
        ),
        (
            "match_once: true\ntable: ['route()']",
            &[
                "field `match_once`: unknown field `match_once`, expected one of `error_mode`, `default_pipelines`, `table`",
            ],
        ),
        (
            "default_pipelines: [traces/]\ntable: ['route()']",
            &[
                "field `default_pipelines.0`: invalid pipeline id \"traces/\": the name after `/` must be non-empty, without spaces",
            ],
        ),
    ];
    for (yaml, want) in cases {
        let v = crate::config::value::from_yaml(yaml).unwrap();
        let got: Vec<String> = match crate::registry::parse_typed::<RoutingConfig>(&v) {
            Ok(cfg) => cfg.validate().iter().map(ToString::to_string).collect(),
            Err(e) => vec![e.to_string()],
        };
        assert_eq!(got, *want, "{yaml}");
    }
}
