//! JSON reader and writer details the examples do not cover.

use prost::Message;

use super::{JsonError, from_protobuf, to_protobuf};
use crate::Signal;
use crate::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList, any_value};
use crate::proto::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use crate::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

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

/// A traces request holding one span.
fn one_span(span: Span) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn span_json(fields: &str) -> String {
    format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{fields}}}]}}]}}]}}"#)
}

fn attribute(value: any_value::Value) -> Span {
    Span {
        attributes: vec![KeyValue {
            key: "a".into(),
            value: Some(AnyValue { value: Some(value) }),
            key_strindex: 0,
        }],
        ..Default::default()
    }
}

const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";
const SPAN_ID: &str = "eee19b7ec3c1b174";

fn ids(span: Span) -> Span {
    Span {
        trace_id: vec![
            0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f,
            0xc6, 0x0c,
        ],
        span_id: vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74],
        ..span
    }
}

/// What the OpenTelemetry Collector's reader accepts and a serde mapping of the prost types
/// did not (or dropped without a word): each JSON span, and the span it must read as.
#[test]
fn the_reader_accepts_what_pdata_accepts() {
    let server = ids(Span {
        name: "x".into(),
        kind: 2,
        start_time_unix_nano: 1,
        flags: 257,
        dropped_attributes_count: 3,
        ..Default::default()
    });
    let cases: Vec<(String, Span)> = vec![
        // The proto field names: they used to decode to an empty span, answered 200.
        (
            format!(
                r#""trace_id":"{TRACE_ID}","span_id":"{SPAN_ID}","name":"x","kind":2,"start_time_unix_nano":"1","flags":257,"dropped_attributes_count":3"#
            ),
            server.clone(),
        ),
        // 32-bit integers as strings, enums by name.
        (
            format!(
                r#""traceId":"{TRACE_ID}","spanId":"{SPAN_ID}","name":"x","kind":"SPAN_KIND_SERVER","startTimeUnixNano":1,"flags":"257","droppedAttributesCount":"3""#
            ),
            server.clone(),
        ),
        // Integral floats are integers.
        (
            format!(
                r#""traceId":"{TRACE_ID}","spanId":"{SPAN_ID}","name":"x","kind":2.0,"startTimeUnixNano":"1e0","flags":2.57e2,"droppedAttributesCount":3"#
            ),
            server,
        ),
        // null is absent, for strings, lists and messages alike.
        (
            r#""name":null,"attributes":null,"status":null,"traceState":null,"kind":null"#.into(),
            Span::default(),
        ),
        (
            r#""status":{"code":"STATUS_CODE_ERROR","message":"m"}"#.into(),
            Span {
                status: Some(Status {
                    code: 2,
                    message: "m".into(),
                }),
                ..Default::default()
            },
        ),
        // Empty lists written without their `values` (pdata's writer leaves them out).
        (
            r#""attributes":[{"key":"a","value":{"arrayValue":{}}}]"#.into(),
            attribute(any_value::Value::ArrayValue(ArrayValue::default())),
        ),
        (
            r#""attributes":[{"key":"a","value":{"kvlist_value":{}}}]"#.into(),
            attribute(any_value::Value::KvlistValue(KeyValueList::default())),
        ),
        // base64 in either alphabet, padded or not.
        (
            r#""attributes":[{"key":"a","value":{"bytesValue":"AAEC_w"}}]"#.into(),
            attribute(any_value::Value::BytesValue(vec![0, 1, 2, 255])),
        ),
        (
            r#""attributes":[{"key":"a","value":{"bytes_value":"AAEC/w=="}}]"#.into(),
            attribute(any_value::Value::BytesValue(vec![0, 1, 2, 255])),
        ),
        // Doubles: numbers, decimal strings, integers.
        (
            r#""attributes":[{"key":"a","value":{"doubleValue":"1.5"}}]"#.into(),
            attribute(any_value::Value::DoubleValue(1.5)),
        ),
        (
            r#""attributes":[{"key":"a","value":{"doubleValue":-2}}]"#.into(),
            attribute(any_value::Value::DoubleValue(-2.0)),
        ),
        (
            r#""attributes":[{"key":"a","value":{"intValue":"-9223372036854775808"}}]"#.into(),
            attribute(any_value::Value::IntValue(i64::MIN)),
        ),
        // An unknown key is skipped with its value, whatever it holds.
        (
            r#""name":"x","future":{"a":[1,{"b":null}]},"kind":1"#.into(),
            Span {
                name: "x".into(),
                kind: 1,
                ..Default::default()
            },
        ),
    ];
    for (fields, want) in cases {
        let js = span_json(&fields);
        let got =
            to_protobuf(Signal::Traces, js.as_bytes()).unwrap_or_else(|e| panic!("{js}: {e}"));
        assert_eq!(got, one_span(want), "{js}");
    }
}

/// Non-finite doubles in proto3's spelling, which the writer also uses: they read back.
#[test]
fn non_finite_doubles_read_back() {
    for (text, v) in [
        (r#""NaN""#, f64::NAN),
        (r#""Infinity""#, f64::INFINITY),
        (r#""-Infinity""#, f64::NEG_INFINITY),
    ] {
        let js = format!(
            r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"g","gauge":{{"dataPoints":[{{"asDouble":{text}}}]}}}}]}}]}}]}}"#
        );
        assert_eq!(
            to_protobuf(Signal::Metrics, js.as_bytes()).unwrap(),
            gauge(v),
            "{text}"
        );
        let written = from_protobuf(Signal::Metrics, &gauge(v)).unwrap();
        assert_eq!(to_protobuf(Signal::Metrics, &written).unwrap(), gauge(v));
    }
}

/// Refused, with the field and the reason: what no reading can make sense of, and what two
/// readers could make different sense of.
#[test]
fn the_reader_refuses_with_the_field_named() {
    let cases = [
        (
            format!(r#""traceId":"{TRACE_ID}","trace_id":"{TRACE_ID}""#),
            "traceId given twice",
        ),
        (
            r#""attributes":[{"key":"a","value":{"stringValue":"s","intValue":1}}]"#.into(),
            "intValue set next to another field of its oneof",
        ),
        (
            r#""kind":"SPAN_KIND_NOPE""#.into(),
            "kind: unknown value \"SPAN_KIND_NOPE\"",
        ),
        (
            r#""kind":2.5"#.into(),
            "kind: expected a 32-bit integer or a value's name",
        ),
        (
            r#""droppedAttributesCount":-1"#.into(),
            "droppedAttributesCount: expected a 32-bit integer",
        ),
        (
            r#""droppedAttributesCount":"4294967296""#.into(),
            "droppedAttributesCount: expected a 32-bit integer",
        ),
        (
            r#""startTimeUnixNano":"-1""#.into(),
            "startTimeUnixNano: expected an unsigned 64-bit integer",
        ),
        (
            r#""attributes":[{"key":"a","value":{"doubleValue":"inf"}}]"#.into(),
            "doubleValue: expected a number",
        ),
        (r#""traceId":"abc""#.into(), "traceId: invalid hex"),
        (
            r#""spanId":"eee19b7ec3c1b17g""#.into(),
            "spanId: invalid hex",
        ),
        (
            r#""attributes":[{"key":"a","value":{"bytesValue":"*"}}]"#.into(),
            "bytesValue: invalid base64",
        ),
        (r#""name":1"#.into(), "name: expected a string"),
        (r#""attributes":{}"#.into(), "a list for attributes"),
        (r#""status":[]"#.into(), "an object for status"),
        (r#""status":"ok""#.into(), "status: expected an object"),
        (r#""attributes":"a""#.into(), "attributes: expected a list"),
    ];
    for (fields, want) in cases {
        let js = span_json(&fields);
        match to_protobuf(Signal::Traces, js.as_bytes()) {
            Err(JsonError::Syntax(e)) => {
                assert!(e.to_string().contains(want), "{js}: {e}, want {want}")
            }
            other => panic!("{js}: {other:?}"),
        }
    }
    // Trailing data after the request.
    assert!(to_protobuf(Signal::Traces, b"{} {}").is_err());
}
