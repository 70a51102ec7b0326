//! Views over the official examples, value by value.

use crate::views::{AnyValueRef, LogsView, MetricsView, TracesView};

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
