//! Views over the official examples, value by value.

use crate::views::{AnyValueRef, Attributes, LogsView, MetricsView, TracesView};

fn example(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/otlp-examples")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn trace_example() {
    let pb = example("trace.pb");
    let spans: Vec<_> = TracesView::new(&pb).spans().collect();
    assert_eq!(spans.len(), 1);
    let (rs, ss, s) = spans[0];
    assert_eq!(
        rs.resource().attributes().get("service.name"),
        Some(AnyValueRef::Str("my.service"))
    );
    assert_eq!(rs.resource().attributes().get("absent"), None);
    assert_eq!(
        (ss.scope().name(), ss.scope().version()),
        ("my.library", "1.0.0")
    );
    assert_eq!(
        ss.scope()
            .attributes()
            .get("my.scope.attribute")
            .and_then(|v| v.as_str()),
        Some("some scope attribute")
    );
    assert_eq!(
        s.trace_id(),
        [
            0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f,
            0xc6, 0x0c
        ]
    );
    assert_eq!(
        s.span_id(),
        [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]
    );
    assert_eq!(
        s.parent_span_id(),
        [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73]
    );
    assert_eq!((s.name(), s.kind()), ("I'm a server span", 2));
    assert_eq!(
        (s.start_time_unix_nano(), s.end_time_unix_nano()),
        (1544712660000000000, 1544712661000000000)
    );
    assert_eq!(
        s.attributes().get("my.span.attr"),
        Some(AnyValueRef::Str("some value"))
    );
    assert_eq!(
        (s.events_len(), s.links_len(), s.has_status()),
        (0, 0, false)
    );
}

#[test]
fn logs_and_metrics_examples() {
    let pb = example("logs.pb");
    let records: Vec<_> = LogsView::new(&pb)
        .resource_logs()
        .flat_map(|rl| rl.scope_logs().collect::<Vec<_>>())
        .flat_map(|sl| sl.log_records().collect::<Vec<_>>())
        .collect();
    assert_eq!(records.len(), 1);
    let r = records[0];
    assert_eq!(r.body(), AnyValueRef::Str("Example log record"));
    assert_eq!(r.severity_text(), "Information");
    let Some(AnyValueRef::Array(a)) = r.attributes().get("array.attribute") else {
        panic!()
    };
    assert_eq!(
        a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>(),
        ["many", "values"]
    );
    let Some(AnyValueRef::KvList(m)) = r.attributes().get("map.attribute") else {
        panic!()
    };
    assert_eq!(
        m.entries().get("some.map.key"),
        Some(AnyValueRef::Str("some value"))
    );
    assert_eq!(
        r.attributes().get("int.attribute"),
        Some(AnyValueRef::Int(10))
    );
    assert_eq!(
        r.attributes().get("double.attribute"),
        Some(AnyValueRef::Double(637.704))
    );
    assert_eq!(
        r.attributes().get("boolean.attribute"),
        Some(AnyValueRef::Bool(true))
    );

    let pb = example("metrics.pb");
    let metrics: Vec<_> = MetricsView::new(&pb)
        .resource_metrics()
        .flat_map(|rm| rm.scope_metrics().collect::<Vec<_>>())
        .flat_map(|sm| sm.metrics().collect::<Vec<_>>())
        .map(|m| (m.name(), m.data_type(), m.data_points_len()))
        .collect();
    assert_eq!(
        metrics,
        [
            ("my.counter", "sum", 1),
            ("my.gauge", "gauge", 1),
            ("my.histogram", "histogram", 1),
            ("my.exponential.histogram", "exponential_histogram", 1),
        ]
    );
}

#[test]
fn garbage_reads_as_nothing() {
    let junk = [0x0a, 0x05, 0x12, 0x7f, 0xff];
    assert_eq!(TracesView::new(&junk).spans().count(), 0);
    assert_eq!(AnyValueRef::parse(&[0x0a, 0x01, 0xff]), AnyValueRef::Empty);
}

/// `Attributes::find` compares keys in place for the usual `key, value` layout; every other
/// layout (value first, a repeated key where the last wins, extra fields) must give the same
/// answer as a full parse.
#[test]
fn attribute_lookup_in_every_layout() {
    fn len_field(num: u8, data: &[u8]) -> Vec<u8> {
        let mut out = vec![(num << 3) | 2];
        let mut n = data.len();
        while n >= 0x80 {
            out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out.extend_from_slice(data);
        out
    }
    let value = |s: &str| len_field(1, s.as_bytes());
    let long_key = "k".repeat(200);
    let kvs: Vec<Vec<u8>> = vec![
        [len_field(1, b"a"), len_field(2, &value("1"))].concat(),
        // Value before key.
        [len_field(2, &value("2")), len_field(1, b"b")].concat(),
        // The key field twice: the last one counts.
        [
            len_field(1, b"x"),
            len_field(2, &value("3")),
            len_field(1, b"c"),
        ]
        .concat(),
        // A two-byte key length.
        [len_field(1, long_key.as_bytes()), len_field(2, &value("4"))].concat(),
        // An unknown extra field (key_strindex).
        [
            len_field(1, b"d"),
            len_field(2, &value("5")),
            vec![3 << 3, 7],
        ]
        .concat(),
        // No value.
        len_field(1, b"e"),
    ];
    let list: Vec<u8> = kvs.iter().flat_map(|kv| len_field(9, kv)).collect();
    let attrs = Attributes::new(&list, 9);
    for (key, want) in [
        ("a", Some("1")),
        ("b", Some("2")),
        ("x", None),
        ("c", Some("3")),
        (long_key.as_str(), Some("4")),
        ("d", Some("5")),
        ("zz", None),
    ] {
        assert_eq!(attrs.get(key).and_then(|v| v.as_str()), want, "{key}");
    }
    assert_eq!(attrs.get("e"), Some(AnyValueRef::Empty));
}

proptest::proptest! {
    /// The in-place lookup finds what a full decode finds: the first attribute with the key.
    #[test]
    fn attribute_lookup_matches_a_full_decode(
        pairs in proptest::collection::vec(("[a-c]{1,2}", "[a-z]{0,3}|.{200}"), 0..12),
        probe in "[a-c]{1,2}",
    ) {
        use crate::proto::common::v1::{AnyValue, KeyValue, any_value};
        use prost::Message;
        let kvs: Vec<KeyValue> = pairs
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.clone(),
                value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.clone())) }),
                ..Default::default()
            })
            .collect();
        let span = crate::proto::trace::v1::Span { attributes: kvs, ..Default::default() };
        let buf = span.encode_to_vec();
        let want = pairs.iter().find(|(k, _)| *k == probe).map(|(_, v)| v.as_str());
        let view = crate::views::SpanView::parse(&buf);
        proptest::prop_assert_eq!(view.attributes().get(&probe).and_then(|v| v.as_str()), want);
    }
}

/// A span's attribute run is skipped in one loop; an entry cut short inside the run ends the
/// span there, as the general field reader does: entries before it count, fields after it
/// are not read.
#[test]
fn a_malformed_attribute_inside_a_run_ends_the_span_there() {
    let entry = |k: &[u8]| [&[0x4a, k.len() as u8 + 2, 0x0a, k.len() as u8][..], k].concat();
    let name = [&[0x2a, 1][..], b"n"].concat();
    let status = vec![0x7a, 2, 0x18, 2];
    for (run, want) in [
        // Whole run, then a field after it: everything read.
        (
            [entry(b"a"), entry(b"b"), entry(b"c")].concat(),
            (3, Some(2)),
        ),
        // The third entry claims more bytes than the span has.
        (
            [entry(b"a"), entry(b"b"), vec![0x4a, 0x7f, 0x0a]].concat(),
            (2, None),
        ),
        // The third entry's length is an unfinished varint.
        (
            [entry(b"a"), entry(b"b"), vec![0x4a, 0xff]].concat(),
            (2, None),
        ),
    ] {
        let buf = [name.clone(), run, status.clone()].concat();
        let span = crate::views::SpanView::parse(&buf);
        assert_eq!(span.name(), "n");
        assert_eq!(
            (
                span.attributes().len(),
                (span.status_code() != 0).then_some(span.status_code())
            ),
            want
        );
        assert!(span.attributes().get("b").is_some());
    }
}
