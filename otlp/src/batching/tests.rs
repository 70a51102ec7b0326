//! split/concat on hand-built requests: the shapes the property tests reach only by chance.

use bytes::Bytes;
use prost::Message;

use super::{concat, partition_resources, split};
use crate::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric,
};
use crate::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use crate::{Batch, Limits, Signal};

fn batch(signal: Signal, pb: Vec<u8>) -> Batch {
    Batch::new_validated(signal, Bytes::from(pb), &Limits::default()).unwrap()
}

fn point(t: u64) -> NumberDataPoint {
    NumberDataPoint {
        time_unix_nano: t,
        ..Default::default()
    }
}

#[test]
fn a_metric_larger_than_max_is_split_across_batches_with_its_header() {
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "requests".into(),
                    unit: "1".into(),
                    data: Some(metric::Data::Sum(Sum {
                        data_points: (0..5).map(point).collect(),
                        aggregation_temporality: 2,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            schema_url: "s".into(),
            ..Default::default()
        }],
    };
    let parts = split(&batch(Signal::Metrics, req.encode_to_vec()), 2);
    assert_eq!(
        parts.iter().map(Batch::items).collect::<Vec<_>>(),
        [2, 2, 1]
    );
    let mut times = Vec::new();
    for p in &parts {
        let d = ExportMetricsServiceRequest::decode(p.bytes().as_ref()).unwrap();
        let rm = &d.resource_metrics[0];
        assert_eq!(rm.schema_url, "s");
        let m = &rm.scope_metrics[0].metrics[0];
        assert_eq!((m.name.as_str(), m.unit.as_str()), ("requests", "1"));
        let Some(metric::Data::Sum(s)) = &m.data else {
            panic!("{m:?}")
        };
        assert!(s.is_monotonic);
        assert_eq!(s.aggregation_temporality, 2);
        times.extend(s.data_points.iter().map(|p| p.time_unix_nano));
    }
    assert_eq!(times, [0, 1, 2, 3, 4]);
}

#[test]
fn metrics_without_points_stay_where_they_are() {
    let m = |name: &str, n: u64| Metric {
        name: name.into(),
        data: (n > 0).then(|| {
            metric::Data::Gauge(Gauge {
                data_points: (0..n).map(point).collect(),
            })
        }),
        ..Default::default()
    };
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![m("a", 2), m("empty", 0), m("b", 2)],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let parts = split(&batch(Signal::Metrics, req.encode_to_vec()), 2);
    let names: Vec<Vec<String>> = parts
        .iter()
        .map(|p| {
            let d = ExportMetricsServiceRequest::decode(p.bytes().as_ref()).unwrap();
            d.resource_metrics[0].scope_metrics[0]
                .metrics
                .iter()
                .map(|m| m.name.clone())
                .collect()
        })
        .collect();
    assert_eq!(
        names,
        [vec!["a".to_string()], vec!["empty".into(), "b".into()]]
    );
}

#[test]
fn spans_split_by_count_across_resources() {
    let rs = |n: usize, url: &str| ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: (0..n)
                .map(|i| Span {
                    name: format!("{url}{i}"),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        schema_url: url.into(),
        ..Default::default()
    };
    let req = ExportTraceServiceRequest {
        resource_spans: vec![rs(3, "a"), rs(1, "b"), rs(4, "c")],
    };
    let b = batch(Signal::Traces, req.encode_to_vec());
    let parts = split(&b, 3);
    let got: Vec<Vec<(String, Vec<String>)>> = parts
        .iter()
        .map(|p| {
            ExportTraceServiceRequest::decode(p.bytes().as_ref())
                .unwrap()
                .resource_spans
                .into_iter()
                .map(|r| {
                    (
                        r.schema_url,
                        r.scope_spans[0]
                            .spans
                            .iter()
                            .map(|s| s.name.clone())
                            .collect(),
                    )
                })
                .collect()
        })
        .collect();
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        [
            vec![("a".to_string(), v(&["a0", "a1", "a2"]))],
            vec![
                ("b".to_string(), v(&["b0"])),
                ("c".to_string(), v(&["c0", "c1"]))
            ],
            vec![("c".to_string(), v(&["c2", "c3"]))],
        ]
    );
    // No limit, or a batch that fits: the same bytes, not a copy.
    assert_eq!(split(&b, 0)[0].bytes().as_ptr(), b.bytes().as_ptr());
    assert_eq!(split(&b, 8)[0].bytes().as_ptr(), b.bytes().as_ptr());
    // concat skips other signals and returns a single part as is.
    let m = Batch::empty(Signal::Metrics);
    let c = concat(Signal::Traces, [&b, &m]);
    assert_eq!(c.bytes().as_ptr(), b.bytes().as_ptr());
    assert_eq!(concat(Signal::Traces, parts.iter()).items(), 8);
}

/// A traces request with one resource group per entry of `spans`, each holding that many
/// spans; the group's `schema_url` is its index.
fn groups(spans: &[usize]) -> Batch {
    let req = ExportTraceServiceRequest {
        resource_spans: spans
            .iter()
            .enumerate()
            .map(|(i, n)| ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..*n)
                        .map(|k| Span {
                            name: format!("{i}.{k}"),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                schema_url: i.to_string(),
                ..Default::default()
            })
            .collect(),
    };
    batch(Signal::Traces, req.encode_to_vec())
}

fn schema_urls(b: &Batch) -> Vec<String> {
    ExportTraceServiceRequest::decode(b.bytes().as_ref())
        .unwrap()
        .resource_spans
        .into_iter()
        .map(|r| r.schema_url)
        .collect()
}

#[test]
fn resources_are_partitioned_in_order_with_their_items() {
    let b = groups(&[2, 1, 3, 0, 4]);
    let index = |group: &[u8]| -> usize {
        let rs = ResourceSpans::decode(group).unwrap();
        rs.schema_url.parse().unwrap()
    };
    // Groups 0 and 2 to output 1, group 1 dropped, 3 and 4 to output 0; output 2 gets none.
    let parts = partition_resources(&b, 3, |g| match index(g) {
        0 | 2 => Some(1),
        1 => None,
        _ => Some(0),
    });
    assert_eq!(parts.len(), 3);
    assert_eq!(schema_urls(&parts[0]), ["3", "4"]);
    assert_eq!(schema_urls(&parts[1]), ["0", "2"]);
    assert!(parts[2].is_empty());
    assert_eq!(
        parts.iter().map(Batch::items).collect::<Vec<_>>(),
        [4, 5, 0]
    );
    // The counts are the ones validation finds.
    for p in &parts {
        let again = Batch::new_validated(Signal::Traces, p.bytes().clone(), &Limits::default());
        assert_eq!(again.map(|a| a.items()), Ok(p.items()));
    }
    // An output index past the end drops the group, as `None` does.
    let parts = partition_resources(&b, 1, |g| (index(g) == 4).then_some(0).or(Some(7)));
    assert_eq!(schema_urls(&parts[0]), ["4"]);
}

#[test]
fn a_request_going_one_way_is_passed_on_not_copied() {
    let b = groups(&[1, 2]);
    let parts = partition_resources(&b, 2, |_| Some(1));
    assert!(parts[0].is_empty());
    assert_eq!(parts[1].bytes().as_ptr(), b.bytes().as_ptr());
    assert_eq!(parts[1], b);
    let parts = partition_resources(&b, 2, |_| None);
    assert!(parts.iter().all(Batch::is_empty));
    let parts = partition_resources(&Batch::empty(Signal::Traces), 2, |_| Some(0));
    assert!(parts.iter().all(Batch::is_empty));
}
