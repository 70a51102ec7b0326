//! A table of malformed (and tricky but valid) requests with the exact error each gets.

// Test code: panicking on unexpected input is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use meshtrace_otlp::{ErrorKind, Limits, Signal, WireType, validate};

// === a tiny protobuf encoder for hand-made inputs ===

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}
fn ld(field: u32, body: &[u8]) -> Vec<u8> {
    [
        varint(u64::from(field) << 3 | 2),
        varint(body.len() as u64),
        body.to_vec(),
    ]
    .concat()
}
fn vi(field: u32, v: u64) -> Vec<u8> {
    [varint(u64::from(field) << 3), varint(v)].concat()
}
fn f64_(field: u32, v: u64) -> Vec<u8> {
    [varint(u64::from(field) << 3 | 1), v.to_le_bytes().to_vec()].concat()
}
fn f32_(field: u32, v: u32) -> Vec<u8> {
    [varint(u64::from(field) << 3 | 5), v.to_le_bytes().to_vec()].concat()
}
fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// A traces request with one span whose body is `span`.
fn with_span(span: &[u8]) -> Vec<u8> {
    ld(1, &ld(2, &ld(2, span)))
}
fn good_span() -> Vec<u8> {
    cat(&[
        ld(1, &[7; 16]),
        ld(2, &[8; 8]),
        ld(5, b"GET /"),
        vi(6, 2),
        f64_(7, 1),
        f64_(8, 2),
    ])
}
fn attr(key: &[u8], value: &[u8]) -> Vec<u8> {
    cat(&[ld(1, key), ld(2, value)])
}
fn str_value(s: &[u8]) -> Vec<u8> {
    ld(1, s)
}
/// A logs request with one log record.
fn with_log(record: &[u8]) -> Vec<u8> {
    ld(1, &ld(2, &ld(2, record)))
}
/// A metrics request with one metric.
fn with_metric(metric: &[u8]) -> Vec<u8> {
    ld(1, &ld(2, &ld(2, metric)))
}
/// Arrays nested `depth` levels deep around a string.
fn nested(depth: usize) -> Vec<u8> {
    let mut v = str_value(b"leaf");
    for _ in 1..depth {
        v = ld(5, &ld(1, &v));
    }
    v
}

const SPAN: &str = "resource_spans[0].scope_spans[0].spans[0]";

struct Case {
    name: &'static str,
    signal: Signal,
    bytes: Vec<u8>,
    kind: ErrorKind,
    /// Expected path, when the case is about the path.
    path: Option<String>,
}

fn case(name: &'static str, signal: Signal, bytes: Vec<u8>, kind: ErrorKind) -> Case {
    Case {
        name,
        signal,
        bytes,
        kind,
        path: None,
    }
}

fn at(mut c: Case, path: &str) -> Case {
    c.path = Some(path.to_string());
    c
}

fn limits() -> Limits {
    Limits {
        max_attributes: 4,
        max_value_bytes: 10,
        max_depth: 3,
    }
}

fn cases() -> Vec<Case> {
    use ErrorKind::*;
    use Signal::*;
    let wrong = |got, want| WrongWireType { got, want };
    let big_attrs: Vec<Vec<u8>> = (0..5)
        .map(|i| ld(9, &attr(format!("k{i}").as_bytes(), &str_value(b"v"))))
        .collect();
    vec![
        // --- wire level ---
        case("tag without value", Traces, vec![0x0a], Truncated),
        case(
            "length past the end",
            Traces,
            vec![0x0a, 0x05, 1, 2],
            Truncated,
        ),
        case(
            "overlong length varint",
            Traces,
            [vec![0x0a], vec![0xff; 10], vec![0x01]].concat(),
            MalformedVarint,
        ),
        case(
            "overlong tag varint",
            Traces,
            vec![0xff; 11],
            MalformedVarint,
        ),
        case(
            "10-byte varint overflowing u64",
            Traces,
            [vec![0x08], vec![0xff; 9], vec![0x02]].concat(),
            MalformedVarint,
        ),
        case("truncated varint", Traces, vec![0x08, 0x80], Truncated),
        case("field number 0", Traces, vec![0x02, 0x00], InvalidTag),
        case("start group", Traces, vec![0x0b], Group),
        case("end group", Traces, vec![0x0c], Group),
        case("wire type 6", Traces, vec![0x0e], InvalidWireType(6)),
        case("wire type 7", Logs, vec![0x0f], InvalidWireType(7)),
        case(
            "truncated fixed64",
            Traces,
            with_span(&[0x39, 1, 2, 3]),
            Truncated,
        ),
        case(
            "truncated fixed32",
            Traces,
            with_span(&[0x85, 0x01, 1, 2]),
            Truncated,
        ),
        case(
            "span longer than its scope",
            Traces,
            ld(1, &ld(2, &[0x12, 0x7f, 0x0a])),
            Truncated,
        ),
        case(
            "group in an unknown span field",
            Traces,
            with_span(&cat(&[good_span(), vec![0xa3, 0x06]])),
            Group,
        ),
        // --- wrong wire types for known fields ---
        at(
            case(
                "resource_spans as varint",
                Traces,
                vec![0x08, 0x01],
                wrong(WireType::Varint, WireType::Len),
            ),
            "resource_spans[0]",
        ),
        at(
            case(
                "start time as varint",
                Traces,
                with_span(&vi(7, 1)),
                wrong(WireType::Varint, WireType::I64),
            ),
            &format!("{SPAN}.start_time_unix_nano"),
        ),
        case(
            "flags as varint",
            Traces,
            with_span(&vi(16, 1)),
            wrong(WireType::Varint, WireType::I32),
        ),
        case(
            "kind as bytes",
            Traces,
            with_span(&ld(6, b"x")),
            wrong(WireType::Len, WireType::Varint),
        ),
        case(
            "name as fixed32",
            Traces,
            with_span(&f32_(5, 1)),
            wrong(WireType::I32, WireType::Len),
        ),
        case(
            "double_value as varint",
            Traces,
            with_span(&ld(9, &attr(b"d", &vi(4, 1)))),
            wrong(WireType::Varint, WireType::I64),
        ),
        case(
            "status code as fixed64",
            Traces,
            with_span(&ld(15, &f64_(3, 2))),
            wrong(WireType::I64, WireType::Varint),
        ),
        case(
            "event time as bytes",
            Traces,
            with_span(&ld(11, &ld(1, b"12345678"))),
            wrong(WireType::Len, WireType::I64),
        ),
        at(
            case(
                "gauge as varint",
                Metrics,
                with_metric(&vi(5, 1)),
                wrong(WireType::Varint, WireType::Len),
            ),
            "resource_metrics[0].scope_metrics[0].metrics[0].gauge",
        ),
        case(
            "log severity as fixed64",
            Logs,
            with_log(&f64_(2, 9)),
            wrong(WireType::I64, WireType::Varint),
        ),
        // --- ids ---
        at(
            case(
                "6-byte trace id",
                Traces,
                with_span(&ld(1, &[1; 6])),
                IdLength { got: 6, want: 16 },
            ),
            &format!("{SPAN}.trace_id"),
        ),
        case(
            "17-byte trace id",
            Traces,
            with_span(&ld(1, &[1; 17])),
            IdLength { got: 17, want: 16 },
        ),
        case(
            "4-byte span id",
            Traces,
            with_span(&ld(2, &[1; 4])),
            IdLength { got: 4, want: 8 },
        ),
        case(
            "16-byte parent span id",
            Traces,
            with_span(&ld(4, &[1; 16])),
            IdLength { got: 16, want: 8 },
        ),
        at(
            case(
                "15-byte link trace id",
                Traces,
                with_span(&ld(13, &ld(1, &[1; 15]))),
                IdLength { got: 15, want: 16 },
            ),
            &format!("{SPAN}.links[0].trace_id"),
        ),
        at(
            case(
                "8-byte log trace id",
                Logs,
                with_log(&ld(9, &[1; 8])),
                IdLength { got: 8, want: 16 },
            ),
            "resource_logs[0].scope_logs[0].log_records[0].trace_id",
        ),
        case(
            "16-byte exemplar span id",
            Metrics,
            with_metric(&ld(5, &ld(1, &ld(5, &ld(4, &[1; 16]))))),
            IdLength { got: 16, want: 8 },
        ),
        // --- UTF-8 ---
        at(
            case(
                "span name not UTF-8",
                Traces,
                with_span(&ld(5, &[0xff, 0xfe])),
                InvalidUtf8,
            ),
            &format!("{SPAN}.name"),
        ),
        at(
            case(
                "attribute key not UTF-8",
                Traces,
                with_span(&ld(9, &attr(&[0xc3], &str_value(b"v")))),
                InvalidUtf8,
            ),
            &format!("{SPAN}.attributes[0].key"),
        ),
        at(
            case(
                "resource string value not UTF-8",
                Traces,
                ld(
                    1,
                    &ld(1, &ld(1, &attr(b"k", &str_value(&[0xed, 0xa0, 0x80])))),
                ),
                InvalidUtf8,
            ),
            "resource_spans[0].resource.attributes[0].value.string_value",
        ),
        case(
            "scope name not UTF-8",
            Traces,
            ld(1, &ld(2, &ld(1, &ld(1, &[0x80])))),
            InvalidUtf8,
        ),
        case(
            "schema_url not UTF-8",
            Logs,
            ld(1, &ld(3, &[0xff])),
            InvalidUtf8,
        ),
        at(
            case(
                "log body not UTF-8",
                Logs,
                with_log(&ld(5, &str_value(&[0xf8]))),
                InvalidUtf8,
            ),
            "resource_logs[0].scope_logs[0].log_records[0].body.string_value",
        ),
        case(
            "metric name not UTF-8",
            Metrics,
            with_metric(&ld(1, &[0xc0, 0x80])),
            InvalidUtf8,
        ),
        // --- packed fields ---
        case(
            "histogram bucket_counts of 7 bytes",
            Metrics,
            with_metric(&ld(9, &ld(1, &ld(6, &[0; 7])))),
            PackedLength { len: 7, width: 8 },
        ),
        case(
            "exponential buckets with a cut varint",
            Metrics,
            with_metric(&ld(10, &ld(1, &ld(8, &ld(2, &[0x01, 0x80]))))),
            Truncated,
        ),
        // --- limits ---
        at(
            case(
                "AnyValue nested too deep",
                Traces,
                with_span(&ld(9, &attr(b"a", &nested(4)))),
                TooDeep { limit: 3 },
            ),
            &format!(
                "{SPAN}.attributes[0].value.array_value.values[0].array_value.values[0].array_value.values[0]"
            ),
        ),
        at(
            case(
                "too many span attributes",
                Traces,
                with_span(&big_attrs.concat()),
                TooManyAttributes { limit: 4 },
            ),
            &format!("{SPAN}.attributes[4]"),
        ),
        case(
            "kvlist with too many entries",
            Logs,
            with_log(&ld(
                5,
                &ld(
                    6,
                    &(0..5)
                        .map(|_| ld(1, &attr(b"k", &str_value(b"v"))))
                        .collect::<Vec<_>>()
                        .concat(),
                ),
            )),
            TooManyAttributes { limit: 4 },
        ),
        case(
            "string value too long",
            Traces,
            with_span(&ld(9, &attr(b"k", &str_value(b"0123456789a")))),
            ValueTooLong { len: 11, limit: 10 },
        ),
        case(
            "bytes value too long",
            Logs,
            with_log(&ld(5, &ld(7, &[0; 64]))),
            ValueTooLong { len: 64, limit: 10 },
        ),
        case(
            "attribute key too long",
            Traces,
            with_span(&ld(9, &attr(b"a-very-long-key", &str_value(b"v")))),
            ValueTooLong { len: 15, limit: 10 },
        ),
    ]
}

#[test]
fn malformed_inputs_get_their_exact_error() {
    let cases = cases();
    assert!(cases.len() >= 30, "{}", cases.len());
    for c in cases {
        let err = match validate(c.signal, &c.bytes, &limits()) {
            Ok(n) => panic!("{}: accepted with {n} items", c.name),
            Err(e) => e,
        };
        assert_eq!(err.kind(), c.kind, "{}: {err}", c.name);
        if let Some(path) = &c.path {
            assert_eq!(err.path(), path, "{}", c.name);
        }
        assert!(
            err.offset() <= c.bytes.len(),
            "{}: offset {}",
            c.name,
            err.offset()
        );
    }
}

#[test]
fn error_messages_name_the_field_and_offset() {
    let bytes = with_span(&cat(&[ld(1, &[7; 16]), ld(2, &[1; 3])]));
    let err = validate(Signal::Traces, &bytes, &Limits::default()).unwrap_err();
    // 3 nested headers of 2 bytes, then an 18-byte trace id: the span id field is at 24.
    assert_eq!(err.offset(), 24);
    assert_eq!(
        err.to_string(),
        "resource_spans[0].scope_spans[0].spans[0].span_id: length 3, want 8 (at byte 24)"
    );
    let err = validate(Signal::Traces, &[0x0a], &Limits::default()).unwrap_err();
    assert_eq!(err.to_string(), "request: truncated data (at byte 1)");
}

#[test]
fn tricky_but_valid_inputs_are_accepted() {
    let ok: Vec<(&str, Signal, Vec<u8>, usize)> = vec![
        ("empty request", Signal::Traces, vec![], 0),
        ("empty span", Signal::Traces, with_span(&[]), 1),
        (
            "empty ids (pdata reads them as the zero id)",
            Signal::Traces,
            with_span(&cat(&[ld(1, &[]), ld(2, &[]), ld(4, &[])])),
            1,
        ),
        (
            "unknown fields of every wire type",
            Signal::Traces,
            with_span(&cat(&[
                good_span(),
                vi(99, 1),
                f64_(98, 1),
                f32_(97, 1),
                ld(96, b"x"),
            ])),
            1,
        ),
        (
            "unknown top-level field",
            Signal::Logs,
            cat(&[vi(7, 1), with_log(&[])]),
            1,
        ),
        (
            "unpacked bucket counts",
            Signal::Metrics,
            with_metric(&ld(
                9,
                &ld(1, &cat(&[f64_(6, 1), f64_(6, 2), ld(7, &[0; 8])])),
            )),
            1,
        ),
        (
            "packed exponential buckets",
            Signal::Metrics,
            with_metric(&ld(
                10,
                &ld(1, &ld(8, &cat(&[vi(1, 3), ld(2, &[1, 0x80, 0x01, 5])]))),
            )),
            1,
        ),
        (
            "non-minimal varint",
            Signal::Traces,
            with_span(&[0x30, 0x82, 0x80, 0x00]),
            1,
        ),
        (
            "depth at the limit",
            Signal::Traces,
            with_span(&ld(9, &attr(b"a", &nested(3)))),
            1,
        ),
        (
            "attributes at the limit",
            Signal::Traces,
            with_span(
                &(0..4)
                    .map(|_| ld(9, &attr(b"k", &str_value(b"0123456789"))))
                    .collect::<Vec<_>>()
                    .concat(),
            ),
            1,
        ),
        (
            "two gauges merge",
            Signal::Metrics,
            with_metric(&cat(&[
                ld(5, &cat(&[ld(1, &[]), ld(1, &[])])),
                ld(5, &ld(1, &[])),
            ])),
            3,
        ),
        (
            "a later sum replaces a gauge",
            Signal::Metrics,
            with_metric(&cat(&[
                ld(5, &cat(&[ld(1, &[]), ld(1, &[])])),
                ld(7, &ld(1, &[])),
            ])),
            1,
        ),
    ];
    for (name, signal, bytes, items) in ok {
        assert_eq!(validate(signal, &bytes, &limits()), Ok(items), "{name}");
    }
}
