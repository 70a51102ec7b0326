use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;

use super::*;

#[test]
fn the_expression_is_the_filters() {
    assert_eq!(EXPRESSION, meshtrace_filter::stream::expression());
    assert_eq!(expression(6), EXPRESSION);
    assert_eq!(expression(1), "string(xds.listener_direction)");
    assert_eq!(
        expression(2),
        "string(xds.listener_direction) + '\\x1f' + string(response.flags)"
    );
}

#[test]
fn modes_by_name() {
    let m = |propagation, records, request_map, cel, response_map| Mode {
        propagation,
        records,
        request_map,
        cel,
        response_map,
    };
    let cases: &[(&[u8], Option<Mode>)] = &[
        (b"empty", Some(m(false, false, false, 0, false))),
        (b" propagation\n", Some(m(true, false, false, 0, false))),
        (b"bare", Some(m(true, true, false, 0, false))),
        (b"span", Some(m(true, true, true, 6, true))),
        (b"bare+cel", Some(m(true, true, false, 6, false))),
        (b"bare+cel1", Some(m(true, true, false, 1, false))),
        (b"bare+cel6", Some(m(true, true, false, 6, false))),
        (
            b"bare+response-map+request-map",
            Some(m(true, true, true, 0, true)),
        ),
        (
            b"propagation+request-map",
            Some(m(true, false, true, 0, false)),
        ),
        (
            b"bare+request-map+cel+response-map",
            Some(m(true, true, true, 6, true)),
        ),
        // Steps need what they build on.
        (b"propagation+cel", None),
        (b"empty+request-map", None),
        (b"bare+", None),
        (b"bare+clock", None),
        (b"bare+cel0", None),
        (b"bare+cel7", None),
        (b"bare+cel12", None),
        (b"Span", None),
        (b"", None),
        (b"{\"mode\": \"span\"}", None),
    ];
    for (config, mode) in cases {
        assert_eq!(
            Mode::parse(config),
            *mode,
            "{:?}",
            String::from_utf8_lossy(config)
        );
    }
}

#[test]
fn a_child_keeps_the_trace_and_points_at_the_parent() {
    let span = [0xab; 8];
    let new_trace = [0x11; 16];
    let tp = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let ids = child_of(Some(tp), span, new_trace);
    assert_eq!(
        traceparent(&ids),
        *b"00-4bf92f3577b34da6a3ce929d0e0e4736-abababababababab-01"
    );
    assert_eq!(ids.parent, [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]);
    // Not the version-00 layout: a new trace, a root span.
    for bad in [
        &b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0"[..],
        b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        b"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
        b"",
    ] {
        let ids = child_of(Some(bad), span, new_trace);
        assert_eq!((ids.trace, ids.parent), (new_trace, [0; 8]), "{bad:?}");
    }
    assert_eq!(
        traceparent(&child_of(None, span, new_trace)),
        *b"00-11111111111111111111111111111111-abababababababab-01"
    );
}

#[test]
fn spans_decode_as_otlp() {
    let parent = Ids {
        trace: [1; 16],
        span: [2; 8],
        parent: [3; 8],
    };
    let root = Ids {
        parent: [0; 8],
        ..parent
    };
    let mut spans = Vec::new();
    encode_span(
        &mut spans,
        &parent,
        10,
        20,
        200,
        Some(b"1\x1f0\x1fHTTP/1.1"),
    );
    encode_span(&mut spans, &root, 30, 40, 503, None);
    let request = ExportTraceServiceRequest::decode(export_request(&spans).as_slice());
    let request = request.unwrap_or_default();
    assert_eq!(request.resource_spans.len(), 1);
    let got: Vec<_> = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| {
            let attrs: Vec<_> = s
                .attributes
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        kv.value.as_ref().and_then(|v| v.value.clone()),
                    )
                })
                .collect();
            (
                s.trace_id.clone(),
                s.span_id.clone(),
                s.parent_span_id.clone(),
                s.name.clone(),
                s.kind,
                s.start_time_unix_nano,
                s.end_time_unix_nano,
                attrs,
            )
        })
        .collect();
    let status = |n| {
        (
            "http.response.status_code".to_owned(),
            Some(Value::IntValue(n)),
        )
    };
    assert_eq!(
        got,
        vec![
            (
                vec![1; 16],
                vec![2; 8],
                vec![3; 8],
                "floor".to_owned(),
                2,
                10,
                20,
                vec![
                    status(200),
                    (
                        "meshtrace.floor.properties".to_owned(),
                        Some(Value::StringValue("1\u{1f}0\u{1f}HTTP/1.1".to_owned()))
                    )
                ]
            ),
            (
                vec![1; 16],
                vec![2; 8],
                vec![],
                "floor".to_owned(),
                2,
                30,
                40,
                vec![status(503)]
            ),
        ]
    );
}
