//! The OTTL glue over protobuf views agrees with `meshtrace_ottl::memory::SpanData`: the
//! OTTL crate's own condition table (212 conditions, with their expected results on three
//! fixed spans) and its span-event table run against the same spans encoded as OTLP bytes
//! and read through `meshtrace_collector::processor::ottl_views`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../ottl/tests/common/mod.rs"]
mod ottl_common;

use meshtrace_collector::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use meshtrace_collector::otlp::proto::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use meshtrace_collector::otlp::proto::resource::v1::Resource;
use meshtrace_collector::otlp::proto::trace::v1::span::Event;
use meshtrace_collector::otlp::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use meshtrace_collector::otlp::views::TracesView;
use meshtrace_collector::otlp::{Batch, Limits, Signal};
use meshtrace_collector::processor::ottl_views::{EventCtx, SpanCtx};
use meshtrace_ottl::memory::{AttrValue, EventView, SpanData};
use meshtrace_ottl::{EvalError, SpanCondition, SpanEventCondition};
use prost::Message;

fn any(v: &AttrValue) -> AnyValue {
    use any_value::Value as V;
    AnyValue {
        value: match v {
            AttrValue::Empty => None,
            AttrValue::Str(s) => Some(V::StringValue(s.clone())),
            AttrValue::Bool(b) => Some(V::BoolValue(*b)),
            AttrValue::Int(i) => Some(V::IntValue(*i)),
            AttrValue::Double(d) => Some(V::DoubleValue(*d)),
            AttrValue::Bytes(b) => Some(V::BytesValue(b.clone())),
            AttrValue::Map(m) => Some(V::KvlistValue(KeyValueList { values: kvs(m) })),
            AttrValue::List(l) => Some(V::ArrayValue(ArrayValue {
                values: l.iter().map(any).collect(),
            })),
        },
    }
}

fn kvs(list: &[(String, AttrValue)]) -> Vec<KeyValue> {
    list.iter()
        .map(|(k, v)| KeyValue {
            key: k.clone(),
            value: Some(any(v)),
            ..Default::default()
        })
        .collect()
}

/// The span as a one-span OTLP request, validated as a receiver would.
fn encode(s: &SpanData) -> Batch {
    let span = Span {
        trace_id: s.trace_id.to_vec(),
        span_id: s.span_id.to_vec(),
        parent_span_id: if s.parent_span_id == [0; 8] {
            vec![]
        } else {
            s.parent_span_id.to_vec()
        },
        trace_state: s.trace_state.clone(),
        name: s.name.clone(),
        kind: s.kind,
        start_time_unix_nano: s.start_time_unix_nano,
        end_time_unix_nano: s.end_time_unix_nano,
        attributes: kvs(&s.attributes),
        dropped_attributes_count: s.dropped_attributes_count,
        events: s
            .events
            .iter()
            .map(|e| Event {
                time_unix_nano: e.time_unix_nano,
                name: e.name.clone(),
                attributes: kvs(&e.attributes),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: s.dropped_events_count,
        dropped_links_count: s.dropped_links_count,
        status: Some(Status {
            code: s.status_code,
            message: s.status_message.clone(),
        }),
        ..Default::default()
    };
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: kvs(&s.resource_attributes),
                dropped_attributes_count: s.resource_dropped_attributes_count,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: s.scope_name.clone(),
                    version: s.scope_version.clone(),
                    attributes: kvs(&s.scope_attributes),
                    dropped_attributes_count: s.scope_dropped_attributes_count,
                }),
                spans: vec![span],
                schema_url: s.scope_schema_url.clone(),
            }],
            schema_url: s.resource_schema_url.clone(),
        }],
    };
    Batch::new_validated(
        Signal::Traces,
        req.encode_to_vec().into(),
        &Limits::default(),
    )
    .unwrap()
}

fn with_ctx<R>(b: &Batch, f: impl FnOnce(SpanCtx<'_>) -> R) -> R {
    let (rs, ss, span) = TracesView::new(b.bytes()).spans().next().unwrap();
    f(SpanCtx {
        span,
        resource: rs.resource(),
        resource_schema_url: rs.schema_url(),
        scope: ss.scope(),
        scope_schema_url: ss.schema_url(),
    })
}

fn outcome(r: Result<bool, EvalError>) -> char {
    match r {
        Ok(true) => 'T',
        Ok(false) => 'F',
        Err(_) => 'E',
    }
}

/// A Rust string literal (`"…"` or `r#"…"#`) at the start of `s`: its value and the rest.
fn literal(s: &str) -> Option<(String, &str)> {
    if let Some(rest) = s.strip_prefix("r#\"") {
        let end = rest.find("\"#")?;
        return Some((rest[..end].to_owned(), &rest[end + 2..]));
    }
    let rest = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &rest[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                c => out.push(c),
            },
            c => out.push(c),
        }
    }
    None
}

/// The `(condition, "TFE")` pairs of the OTTL crate's `SPAN_TABLE`.
fn span_table() -> Vec<(String, String)> {
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ottl/tests/conditions.rs"),
    )
    .unwrap();
    let start = src.find("const SPAN_TABLE").unwrap();
    let body = &src[start..];
    let mut rest = &body[body.find("= &[").unwrap() + 4..];
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if rest.starts_with("];") {
            break;
        }
        if rest.starts_with("//") {
            rest = &rest[rest.find('\n').unwrap()..];
            continue;
        }
        rest = rest.strip_prefix('(').expect("a table entry");
        let (cond, r) = literal(rest.trim_start()).unwrap();
        let r = r.trim_start().strip_prefix(',').unwrap();
        let (want, r) = literal(r.trim_start()).unwrap();
        rest = r.trim_start().trim_start_matches(',').trim_start();
        rest = rest.strip_prefix(')').unwrap();
        out.push((cond, want));
    }
    out
}

#[test]
fn the_views_glue_gives_the_ottl_tables_results() {
    let spans = [
        ottl_common::grafana_ingress(),
        ottl_common::kube_probe(),
        ottl_common::failed_client(),
    ];
    let batches: Vec<Batch> = spans.iter().map(encode).collect();
    let table = span_table();
    assert!(table.len() >= 200, "read {} conditions", table.len());
    let mut failures = Vec::new();
    for (src, want) in &table {
        let cond = SpanCondition::parse(src).unwrap_or_else(|e| panic!("{}", e.render(src)));
        let memory: String = spans.iter().map(|s| outcome(cond.eval(s))).collect();
        let views: String = batches
            .iter()
            .map(|b| with_ctx(b, |ctx| outcome(cond.eval(&ctx))))
            .collect();
        if views != *want || memory != *want {
            failures.push(format!(
                "{src}: want {want}, memory {memory}, views {views}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
}

#[test]
fn span_event_conditions_through_the_views() {
    let span = ottl_common::grafana_ingress();
    let b = encode(&span);
    for src in [
        r#"name == "upstream_rq_retry""#,
        r#"spanevent.attributes["retry.attempt"] >= 2"#,
        r#"IsMatch(attributes["reason"], "^5")"#,
        r#"span.attributes["http.method"] == "GET""#,
        "span.kind == SPAN_KIND_SERVER",
        "time_unix_nano > span.start_time_unix_nano",
        r#"time - span.start_time == Duration("12ms")"#,
        r#"resource.attributes["service.name"] == "istio-ingressgateway""#,
        r#"instrumentation_scope.name == "envoy""#,
        r#"spanevent.attributes["missing"] == nil"#,
        "Len(attributes) == 2",
        r#"Keys(attributes)[0] == "retry.attempt""#,
        "dropped_attributes_count == 0",
    ] {
        let cond = SpanEventCondition::parse(src).unwrap_or_else(|e| panic!("{}", e.render(src)));
        let memory = cond.eval(&EventView {
            span: &span,
            event: &span.events[0],
        });
        let views = with_ctx(&b, |ctx| {
            let event = ctx.span.events().next().unwrap();
            cond.eval(&EventCtx { span: ctx, event })
        });
        assert_eq!(views, memory, "{src}");
    }
}
