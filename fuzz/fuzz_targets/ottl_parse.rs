//! Fuzzes the OTTL condition parser, checker and evaluator: no input may panic, and any text
//! that parses must print to text that parses back to the same tree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_ottl::memory::{AttrValue, EventData, EventView, SpanData, attrs};
use meshtrace_ottl::{SpanCondition, SpanEventCondition, parse_ast};

fn span() -> SpanData {
    let mut attributes = attrs([
        ("http.method", "GET"),
        ("http.route", "/livez"),
        ("upstream_cluster", "grafana/grafana_80"),
        ("user_agent.original", "kube-probe//"),
    ]);
    attributes.push(("n".into(), AttrValue::Int(412)));
    attributes.push(("d".into(), AttrValue::Double(0.25)));
    attributes.push(("b".into(), AttrValue::Bytes(vec![1, 2])));
    attributes.push(("l".into(), AttrValue::List(vec![AttrValue::Int(1), AttrValue::Str("x".into())])));
    attributes.push(("m".into(), AttrValue::Map(attrs([("k", "v")]))));
    SpanData {
        name: "OperationHandler.handle".into(),
        kind: 2,
        trace_state: "rojo=00f067aa0ba902b7".into(),
        start_time_unix_nano: 1_706_175_283_018_000_000,
        end_time_unix_nano: 1_706_175_283_056_000_000,
        attributes,
        events: vec![EventData { name: "e".into(), attributes: attrs([("a", "b")]), ..Default::default() }],
        resource_attributes: attrs([("service.name", "grafana")]),
        ..Default::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(mut tree) = parse_ast(text) {
        let printed = tree.to_string();
        let mut again = parse_ast(&printed).unwrap_or_else(|e| panic!("printed form does not parse: {printed:?}: {e}"));
        tree.clear_spans();
        again.clear_spans();
        assert_eq!(tree, again, "round trip changed the tree: {text:?} -> {printed:?}");
    }
    let span = span();
    if let Ok(cond) = SpanCondition::parse(text) {
        let _ = cond.eval(&span);
    }
    if let Ok(cond) = SpanEventCondition::parse(text) {
        let view = EventView { span: &span, event: &span.events[0] };
        let _ = cond.eval(&view);
    }
});
