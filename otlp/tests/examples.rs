//! The official OTLP examples: validation counts, JSON → protobuf, protobuf → JSON → protobuf.

// Test code: panicking on unexpected input is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use bytes::Bytes;
use common::{EXAMPLES, count, decode, example};
use meshtrace_otlp::{Batch, Limits, Signal, json, validate};

#[test]
fn protobuf_examples_validate_and_count_exactly() {
    // Counts fixed by reading the JSON files: 1 span; 4 metrics (sum, gauge, histogram,
    // exponential histogram) with 1 point each; 1 log record; 1 event.
    let want = [1usize, 4, 1, 1];
    for ((signal, stem), want) in EXAMPLES.into_iter().zip(want) {
        let pb = example(stem, "pb");
        let items =
            validate(signal, &pb, &Limits::default()).unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert_eq!(items, want, "{stem}");
        assert_eq!(items, count(&decode(signal, &pb)), "{stem}");
        let batch = Batch::new_validated(signal, Bytes::from(pb), &Limits::default()).unwrap();
        assert_eq!((batch.signal(), batch.items()), (signal, want));
    }
}

#[test]
fn protobuf_examples_are_rejected_as_other_signals_or_counted_as_nothing() {
    // A traces request read as logs must not count spans as log records.
    let pb = example("trace", "pb");
    if let Ok(n) = validate(Signal::Logs, &pb, &Limits::default()) {
        assert_ne!(n, 1);
    }
}

#[test]
fn json_examples_convert_to_the_protobuf_twins() {
    for (signal, stem) in EXAMPLES {
        let pb = json::to_protobuf(signal, &example(stem, "json"))
            .unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert_eq!(
            decode(signal, &pb),
            decode(signal, &example(stem, "pb")),
            "{stem}"
        );
        // Field for field in the twin's order: the reader writes what prost writes.
        assert_eq!(pb, example(stem, "pb"), "{stem}");
        let batch = json::to_batch(signal, &example(stem, "json"), &Limits::default()).unwrap();
        assert_eq!(batch.items(), count(&decode(signal, &pb)));
    }
}

#[test]
fn protobuf_to_json_to_protobuf_round_trips() {
    for (signal, stem) in EXAMPLES {
        let pb = example(stem, "pb");
        let js = json::from_protobuf(signal, &pb).unwrap();
        let back = json::to_protobuf(signal, &js)
            .unwrap_or_else(|e| panic!("{stem}: {e}\n{}", String::from_utf8_lossy(&js)));
        assert_eq!(decode(signal, &back), decode(signal, &pb), "{stem}");
    }
}

#[test]
fn json_output_is_compact_and_spec_shaped() {
    let js = json::from_protobuf(Signal::Traces, &example("trace", "pb")).unwrap();
    let js = String::from_utf8(js).unwrap();
    assert_eq!(
        js,
        concat!(
            r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},"#,
            r#""scopeSpans":[{"scope":{"name":"my.library","version":"1.0.0","attributes":[{"key":"my.scope.attribute","value":{"stringValue":"some scope attribute"}}]},"#,
            r#""spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","#,
            r#""name":"I'm a server span","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000","#,
            r#""attributes":[{"key":"my.span.attr","value":{"stringValue":"some value"}}]}]}]}]}"#
        )
    );
    // Valid JSON, and the same data as the official example.
    let v: serde_json::Value = serde_json::from_str(&js).unwrap();
    assert!(v["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceState"].is_null());
}

#[test]
fn every_any_value_variant_round_trips_through_json() {
    let js = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{
        "timeUnixNano":"1","body":{"kvlistValue":{"values":[
            {"key":"s","value":{"stringValue":"x\"y"}},
            {"key":"b","value":{"boolValue":true}},
            {"key":"i","value":{"intValue":"-9223372036854775808"}},
            {"key":"i2","value":{"intValue":42}},
            {"key":"d","value":{"doubleValue":1.5}},
            {"key":"by","value":{"bytesValue":"AAEC/w=="}},
            {"key":"a","value":{"arrayValue":{"values":[{"intValue":"1"},{"stringValue":"two"}]}}},
            {"key":"e","value":{}}
        ]}},
        "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174"}]}]}]}"#;
    let pb = json::to_protobuf(Signal::Logs, js).unwrap();
    assert_eq!(validate(Signal::Logs, &pb, &Limits::default()), Ok(1));
    let out = json::from_protobuf(Signal::Logs, &pb).unwrap();
    let back = json::to_protobuf(Signal::Logs, &out).unwrap();
    assert_eq!(decode(Signal::Logs, &back), decode(Signal::Logs, &pb));
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains(r#"{"key":"by","value":{"bytesValue":"AAEC/w=="}}"#),
        "{out}"
    );
    assert!(
        out.contains(r#"{"key":"i","value":{"intValue":"-9223372036854775808"}}"#),
        "{out}"
    );
    assert!(
        out.contains(r#""traceId":"5b8efff798038103d269b633813fc60c""#),
        "{out}"
    );
}

#[test]
fn json_errors() {
    // Not JSON, wrong types, base64 ids: syntax errors.
    for bad in [
        &b"{"[..],
        br#"{"resourceSpans":{}}"#,
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA=="}]}]}]}"#,
    ] {
        assert!(
            matches!(json::to_protobuf(Signal::Traces, bad), Err(json::JsonError::Syntax(_))),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    // Decodes, but a 6-byte trace id is invalid OTLP.
    let short = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"010203040506"}]}]}]}"#;
    let err = json::to_batch(Signal::Traces, short, &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "resource_spans[0].scope_spans[0].spans[0].trace_id: length 6, want 16 (at byte 6)"
    );
    assert!(matches!(
        json::from_protobuf(Signal::Traces, &[0x0a]),
        Err(json::JsonError::Protobuf(_))
    ));
}
