//! Fuzzes transform statements: parsing and checking in every context, then running what
//! compiles on a decoded request. No input may panic, whatever the statement writes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_ottl::transform::StatementGroup;
use meshtrace_ottl::{ContextKind, ErrorMode};
use meshtrace_otlp::proto::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value as V,
};
use meshtrace_otlp::proto::resource::v1::Resource;
use meshtrace_otlp::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, span::Event};

fn kv(k: &str, v: V) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}

fn data() -> Vec<ResourceSpans> {
    let attrs = vec![
        kv("http.route", V::StringValue("/reviews/{id}".into())),
        kv("n", V::IntValue(412)),
        kv("d", V::DoubleValue(0.25)),
        kv("b", V::BytesValue(vec![1, 2])),
        kv("l", V::ArrayValue(ArrayValue { values: vec![AnyValue { value: Some(V::IntValue(1)) }] })),
        kv("m", V::KvlistValue(KeyValueList { values: vec![kv("k", V::StringValue("v".into()))] })),
        KeyValue { key: "empty".into(), value: None, ..Default::default() },
    ];
    vec![ResourceSpans {
        resource: Some(Resource { attributes: attrs.clone(), ..Default::default() }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope { name: "s".into(), attributes: attrs.clone(), ..Default::default() }),
            spans: vec![Span {
                trace_id: vec![1; 16],
                span_id: vec![2; 8],
                trace_state: "rojo=00f067aa0ba902b7".into(),
                name: "GET /reviews/1".into(),
                kind: 2,
                attributes: attrs.clone(),
                events: vec![Event { name: "e".into(), attributes: attrs, ..Default::default() }],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }]
}

fuzz_target!(|data_in: &[u8]| {
    let Ok(text) = std::str::from_utf8(data_in) else { return };
    for context in [ContextKind::Resource, ContextKind::Scope, ContextKind::Span, ContextKind::SpanEvent] {
        if let Ok(group) = StatementGroup::parse(context, &[text], &[] as &[&str], ErrorMode::Ignore) {
            let mut d = data();
            let _ = group.apply(&mut d, &mut |_| {});
            // What a statement wrote must still encode.
            let _ = prost::Message::encoded_len(&d[0]);
        }
    }
});
