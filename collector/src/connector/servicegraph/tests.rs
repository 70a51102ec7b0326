#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::graph::{Counts, Graph, SCOPE_NAME};
use super::*;
use crate::otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::otlp::proto::common::v1::{AnyValue, KeyValue, any_value};
use crate::otlp::proto::metrics::v1::{metric, number_data_point};
use crate::otlp::proto::trace::v1::{ResourceSpans, Span, Status};
use crate::processor::testspans::{batch, config, group, s, span};
use proptest::prelude::*;

const T0: u64 = 1_800_000_000_000_000_000;
const SEC: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

fn graph(yaml: &str) -> Graph {
    let c: ServiceGraphConfig = config(yaml);
    assert_eq!(c.validate(), Vec::new(), "{yaml}");
    Graph::new(c.settings(), T0)
}

/// A span of trace `t`, id `id`, parent `parent` (0: none), `ms` long.
fn call(t: u8, id: u8, parent: u8, kind: i32, ms: u64, error: bool, attrs: Vec<KeyValue>) -> Span {
    let mut sp = span(id, "call", attrs);
    sp.trace_id = vec![t; 16];
    sp.parent_span_id = if parent == 0 {
        Vec::new()
    } else {
        vec![0, 0, 0, 0, 0, 0, 0, parent]
    };
    sp.kind = kind;
    sp.end_time_unix_nano = sp.start_time_unix_nano + ms * MS;
    if error {
        sp.status = Some(Status {
            code: 2,
            ..Default::default()
        });
    }
    sp
}

fn svc(name: &str, spans: Vec<Span>) -> ResourceSpans {
    group(vec![s("service.name", name)], "envoy", spans)
}

fn add(g: &mut Graph, groups: Vec<ResourceSpans>, t: u64) {
    assert_eq!(g.add(batch(groups).bytes(), t), 0);
}

fn value(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        other => format!("{other:?}"),
    }
}

/// One line per data point.
fn render(req: &Option<ExportMetricsServiceRequest>) -> Vec<String> {
    let mut out = Vec::new();
    let Some(req) = req else { return out };
    assert_eq!(req.resource_metrics.len(), 1);
    let sm = &req.resource_metrics[0].scope_metrics[0];
    assert_eq!(sm.scope.as_ref().unwrap().name, SCOPE_NAME);
    for m in &sm.metrics {
        let attrs = |l: &[KeyValue]| {
            l.iter()
                .map(|kv| format!("{}={}", kv.key, value(&kv.value)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        match m.data.as_ref().unwrap() {
            metric::Data::Sum(sum) => {
                assert_eq!((sum.aggregation_temporality, sum.is_monotonic), (2, true));
                for p in &sum.data_points {
                    let Some(number_data_point::Value::AsInt(v)) = p.value else {
                        panic!()
                    };
                    assert_eq!(p.start_time_unix_nano, T0);
                    out.push(format!("{} {{{}}} = {v}", m.name, attrs(&p.attributes)));
                }
            }
            metric::Data::Histogram(h) => {
                assert_eq!(m.unit, "s");
                for p in &h.data_points {
                    out.push(format!(
                        "{} {{{}}} count={} sum={} buckets={:?}",
                        m.name,
                        attrs(&p.attributes),
                        p.count,
                        p.sum.unwrap(),
                        p.bucket_counts
                    ));
                }
            }
            other => panic!("{other:?}"),
        }
    }
    out
}

const BUCKETS: &str = "latency_histogram_buckets: [10ms, 100ms]\n";

#[test]
fn client_and_server_spans_pair_into_edges_in_either_order() {
    let mut g = graph(BUCKETS);
    // Trace 1: productpage's proxy calls reviews (CLIENT 2 → SERVER 3), server span first.
    add(
        &mut g,
        vec![svc("reviews", vec![call(1, 3, 2, 2, 40, false, vec![])])],
        T0,
    );
    assert_eq!(g.pending(), 1);
    add(
        &mut g,
        vec![svc(
            "productpage",
            vec![call(1, 2, 1, 3, 50, false, vec![])],
        )],
        T0,
    );
    assert_eq!(g.pending(), 0);
    // Trace 2: both in one request, the call failed on the server.
    add(
        &mut g,
        vec![
            svc("productpage", vec![call(2, 2, 1, 3, 5, false, vec![])]),
            svc("reviews", vec![call(2, 3, 2, 2, 4, true, vec![])]),
        ],
        T0,
    );
    // An internal span and an unpaired server span of another trace make no edge.
    add(
        &mut g,
        vec![svc(
            "reviews",
            vec![
                call(3, 9, 8, 1, 1, false, vec![]),
                call(3, 7, 6, 2, 1, false, vec![]),
            ],
        )],
        T0,
    );
    let edge = "client=productpage server=reviews connection_type=";
    assert_eq!(
        render(&g.flush(T0 + 60 * SEC)),
        [
            format!("traces_service_graph_request_total {{{edge} failed=false}} = 1"),
            format!("traces_service_graph_request_total {{{edge} failed=true}} = 1"),
            format!("traces_service_graph_request_failed_total {{{edge} failed=true}} = 1"),
            format!(
                "traces_service_graph_request_server {{{edge} failed=false}} count=1 sum=0.04 buckets=[0, 1, 0]"
            ),
            format!(
                "traces_service_graph_request_server {{{edge} failed=true}} count=1 sum=0.004 buckets=[1, 0, 0]"
            ),
            format!(
                "traces_service_graph_request_client {{{edge} failed=false}} count=1 sum=0.05 buckets=[0, 1, 0]"
            ),
            format!(
                "traces_service_graph_request_client {{{edge} failed=true}} count=1 sum=0.005 buckets=[1, 0, 0]"
            ),
        ]
    );
    assert_eq!(g.pending(), 1);
    assert_eq!(
        g.counts(),
        Counts {
            edges: 3,
            expired: 0,
            dropped: 0
        }
    );
}

#[test]
fn databases_messaging_and_dimensions() {
    let mut g = graph(&format!(
        "{BUCKETS}dimensions: [k8s.namespace.name, http.route]"
    ));
    add(
        &mut g,
        vec![
            group(
                vec![
                    s("service.name", "ratings"),
                    s("k8s.namespace.name", "shop"),
                ],
                "envoy",
                vec![
                    // A database call completes at once, named after the database.
                    call(1, 2, 1, 3, 3, false, vec![s("db.name", "ratings-db")]),
                    // PRODUCER and CONSUMER pair as a messaging edge.
                    call(2, 2, 1, 4, 1, false, vec![s("http.route", "/orders")]),
                ],
            ),
            svc("billing", vec![call(2, 3, 2, 5, 2, false, vec![])]),
        ],
        T0,
    );
    let lines: Vec<String> = render(&g.flush(T0 + SEC))
        .into_iter()
        .filter(|l| l.starts_with("traces_service_graph_request_total"))
        .collect();
    assert_eq!(
        lines,
        [
            "traces_service_graph_request_total {client=ratings server=billing connection_type=messaging_system failed=false client_k8s.namespace.name=shop client_http.route=/orders} = 1",
            "traces_service_graph_request_total {client=ratings server=ratings-db connection_type=database failed=false client_k8s.namespace.name=shop} = 1",
        ]
    );
}

#[test]
fn unpaired_halves_expire_into_virtual_nodes_or_are_dropped() {
    let half = |g: &mut Graph| {
        add(
            g,
            vec![
                // A call out of the mesh (no server span will come), to a named peer.
                svc(
                    "productpage",
                    vec![call(
                        1,
                        2,
                        1,
                        3,
                        5,
                        false,
                        vec![s("peer.service", "payments-api")],
                    )],
                ),
                // A root server span: its client is a user.
                svc("gateway", vec![call(2, 5, 0, 2, 7, false, vec![])]),
                // A client span without peer attributes.
                svc("cart", vec![call(3, 4, 1, 3, 1, false, vec![])]),
            ],
            T0,
        );
    };
    let mut g = graph(&format!("{BUCKETS}virtual_node_extra_label: true"));
    half(&mut g);
    g.maintain(T0 + SEC);
    assert_eq!(g.pending(), 3, "the TTL (2s) has not passed");
    g.maintain(T0 + 2 * SEC);
    assert_eq!(g.pending(), 0);
    assert_eq!(g.counts().expired, 3);
    let totals: Vec<String> = render(&g.flush(T0 + 3 * SEC))
        .into_iter()
        .filter(|l| l.starts_with("traces_service_graph_request_total"))
        .collect();
    assert_eq!(
        totals,
        [
            "traces_service_graph_request_total {client=cart server=unknown connection_type=virtual_node failed=false virtual_node=server} = 1",
            "traces_service_graph_request_total {client=user server=gateway connection_type=virtual_node failed=false virtual_node=client} = 1",
            "traces_service_graph_request_total {client=productpage server=payments-api connection_type=virtual_node failed=false virtual_node=server} = 1",
        ]
    );

    let mut off = graph("virtual_node_peer_attributes: []");
    half(&mut off);
    off.maintain(T0 + 2 * SEC);
    assert_eq!(off.flush(T0 + 3 * SEC), None);
    assert_eq!(off.counts().expired, 3);
}

#[test]
fn dimension_values_are_text_as_the_collector_prints_them() {
    use crate::otlp::proto::common::v1::ArrayValue;
    use crate::processor::testspans::{i, kv};
    let mut g = graph("dimensions: [code, tags]\nvirtual_node_peer_attributes: []");
    let tags = kv(
        "tags",
        any_value::Value::ArrayValue(ArrayValue {
            values: vec![
                AnyValue {
                    value: Some(any_value::Value::StringValue("a".into())),
                },
                AnyValue {
                    value: Some(any_value::Value::IntValue(1)),
                },
            ],
        }),
    );
    add(
        &mut g,
        vec![
            svc(
                "c",
                vec![call(1, 2, 1, 3, 1, false, vec![i("code", 200), tags])],
            ),
            svc("s", vec![call(1, 3, 2, 2, 1, false, vec![])]),
        ],
        T0,
    );
    let lines = render(&g.flush(T0 + SEC));
    assert_eq!(
        lines[0],
        "traces_service_graph_request_total {client=c server=s connection_type= failed=false client_code=200 client_tags=[\"a\",1]} = 1"
    );
}

#[test]
fn a_half_coming_again_after_its_pair_waits_its_own_ttl() {
    let mut g = graph("virtual_node_peer_attributes: []");
    let client = || svc("a", vec![call(1, 2, 1, 3, 1, false, vec![])]);
    add(&mut g, vec![client()], T0);
    add(
        &mut g,
        vec![svc("b", vec![call(1, 3, 2, 2, 1, false, vec![])])],
        T0,
    );
    // The client span again (a retried export), 1.5 s later: a new half.
    add(&mut g, vec![client()], T0 + 1500 * MS);
    g.maintain(T0 + 2100 * MS);
    assert_eq!(g.pending(), 1, "expired by the first half's deadline");
    g.maintain(T0 + 3500 * MS);
    assert_eq!((g.pending(), g.counts().expired), (0, 1));
}

#[test]
fn the_store_bound_drops_spans_and_stale_series_go() {
    let mut g = graph("store: {max_items: 2}\ncache_loop: 1m\nvirtual_node_peer_attributes: []");
    add(
        &mut g,
        vec![svc(
            "a",
            (1..=3)
                .map(|t| call(t, 2, 1, 3, 1, false, vec![]))
                .collect(),
        )],
        T0,
    );
    assert_eq!(
        g.counts(),
        Counts {
            edges: 2,
            expired: 0,
            dropped: 1
        }
    );
    // A complete edge needs no room in the store.
    add(
        &mut g,
        vec![svc(
            "a",
            vec![call(9, 2, 1, 3, 1, false, vec![s("db.name", "d")])],
        )],
        T0,
    );
    assert_eq!(g.counts().dropped, 1);
    assert!(g.flush(T0 + SEC).is_some());
    g.maintain(T0 + 14 * 60 * SEC);
    assert!(g.flush(T0 + 14 * 60 * SEC).is_some(), "not stale yet");
    g.maintain(T0 + 16 * 60 * SEC);
    assert_eq!(
        g.flush(T0 + 16 * 60 * SEC),
        None,
        "15 minutes without a call"
    );
}

#[test]
fn configs_are_refused_naming_the_field() {
    let cases: &[(&str, &[&str])] = &[
        ("{}", &[]),
        (
            "exponential_histogram_max_size: 160",
            &[
                "field `exponential_histogram_max_size`: exponential histograms are not supported: use latency_histogram_buckets",
            ],
        ),
        (
            "latency_histogram_buckets: [1s, 1s]",
            &["field `latency_histogram_buckets.1`: buckets must increase: 1s is not above 1s"],
        ),
        (
            "store: {ttl: 0s, max_items: 0}",
            &[
                "field `store.ttl`: must be above 0 (how long a span waits for its other half)",
                "field `store.max_items`: must be positive, not 0",
            ],
        ),
        ("cache_loop: 0s", &["field `cache_loop`: must be above 0"]),
    ];
    for (yaml, want) in cases {
        let c: ServiceGraphConfig = config(yaml);
        let got: Vec<String> = c.validate().iter().map(ToString::to_string).collect();
        assert_eq!(got, *want, "{yaml}");
    }
    // The Collector's README writes bare numbers, which Go reads as nanoseconds.
    let v = crate::config::value::from_yaml("latency_histogram_buckets: [1, 2]").unwrap();
    let e = crate::registry::parse_typed::<ServiceGraphConfig>(&v).unwrap_err();
    assert!(e.to_string().contains("latency_histogram_buckets"), "{e}");
    assert!(e.to_string().contains("write it with a unit"), "{e}");
    let c: ServiceGraphConfig =
        config("database_name_attribute: db.namespace\nmetrics_exporter: prometheus");
    assert_eq!(c.settings().database_name_attributes, ["db.namespace"]);
    assert_eq!(c.warnings().len(), 2);
}

proptest! {
    /// Whatever arrives in whatever order, each client/server pair is one call once both have
    /// come, and nothing waits past its TTL.
    #[test]
    fn every_pair_is_one_call(
        calls in proptest::collection::vec((1u8..20, proptest::bool::ANY, proptest::bool::ANY), 0..30),
        split in 0usize..30,
    ) {
        let mut g = graph("virtual_node_peer_attributes: []");
        // Per distinct trace: a client span and, if chosen, its server span.
        let mut seen = std::collections::BTreeSet::new();
        let mut spans = Vec::new();
        let mut paired = 0;
        for (t, with_server, server_first) in &calls {
            if !seen.insert(*t) { continue; }
            let c = svc("c", vec![call(*t, 2, 1, 3, 1, false, vec![])]);
            let sv = svc("s", vec![call(*t, 3, 2, 2, 1, false, vec![])]);
            if *with_server {
                paired += 1;
                if *server_first { spans.push(sv); spans.push(c); } else { spans.push(c); spans.push(sv); }
            } else {
                spans.push(c);
            }
        }
        let cut = split.min(spans.len());
        let rest = spans.split_off(cut);
        if !spans.is_empty() { add(&mut g, spans, T0); }
        if !rest.is_empty() { add(&mut g, rest, T0 + SEC); }
        let total: i64 = g.flush(T0 + SEC).map_or(0, |r| {
            r.resource_metrics[0].scope_metrics[0].metrics.iter()
                .filter(|m| m.name == "traces_service_graph_request_total")
                .flat_map(|m| match &m.data { Some(metric::Data::Sum(s)) => s.data_points.clone(), _ => vec![] })
                .map(|p| match p.value { Some(number_data_point::Value::AsInt(v)) => v, _ => 0 })
                .sum()
        });
        prop_assert_eq!(total, paired);
        g.maintain(T0 + 10 * SEC);
        prop_assert_eq!(g.pending(), 0);
        prop_assert_eq!(g.counts().expired as usize, seen.len() - paired as usize);
    }
}
