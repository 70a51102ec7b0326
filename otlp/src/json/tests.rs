//! JSON writer details the examples do not cover.

use prost::Message;

use super::{from_protobuf, to_protobuf};
use crate::Signal;
use crate::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::proto::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};

fn gauge(v: f64) -> Vec<u8> {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "g".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            value: Some(number_data_point::Value::AsDouble(v)),
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

#[test]
fn doubles_use_shortest_form_and_proto3_names_for_non_finite() {
    let cases = [
        (1.0, r#""asDouble":1.0"#),
        (0.1, r#""asDouble":0.1"#),
        (1e300, r#""asDouble":1e+300"#),
        (0.0, r#""asDouble":0.0"#),
        (f64::NAN, r#""asDouble":"NaN""#),
        (f64::INFINITY, r#""asDouble":"Infinity""#),
        (f64::NEG_INFINITY, r#""asDouble":"-Infinity""#),
    ];
    for (v, want) in cases {
        let js = String::from_utf8(from_protobuf(Signal::Metrics, &gauge(v)).unwrap()).unwrap();
        assert!(js.contains(want), "{v}: {js}");
    }
    // Finite values read back bit for bit.
    let js = from_protobuf(Signal::Metrics, &gauge(0.1 + 0.2)).unwrap();
    assert_eq!(to_protobuf(Signal::Metrics, &js).unwrap(), gauge(0.1 + 0.2));
}

#[test]
fn empty_requests_are_empty_objects() {
    for s in Signal::ALL {
        assert_eq!(from_protobuf(s, &[]).unwrap(), b"{}");
        assert_eq!(to_protobuf(s, b"{}").unwrap(), Vec::<u8>::new());
    }
}
