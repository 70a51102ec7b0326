//! Property tests over random prost-built requests: validation counts, views against prost,
//! split ∘ concat, rewrites against a model on the prost structs, and no panics on garbage.

// Test code: panicking on unexpected input is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use bytes::Bytes;
use common::strategies as gen_;
use common::{Decoded, count, decode};
use meshtrace_otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use meshtrace_otlp::proto::common::v1::{AnyValue, KeyValue, any_value};
use meshtrace_otlp::proto::trace::v1::Status;
use meshtrace_otlp::rewrite::{self, Action, AttributeEdits, SpanEdit, TracesEditor};
use meshtrace_otlp::views::{
    self, AnyValueRef, Attributes, ResourceSpansView, ScopeSpansView, SpanView,
};
use meshtrace_otlp::{Batch, Limits, Signal, batching, json, validate};
use proptest::prelude::*;
use prost::Message;

fn batch(signal: Signal, pb: Vec<u8>) -> Batch {
    Batch::new_validated(signal, Bytes::from(pb), &Limits::default()).unwrap()
}

fn any_request() -> impl Strategy<Value = (Signal, Vec<u8>)> {
    prop_oneof![
        gen_::traces().prop_map(|r| (Signal::Traces, r.encode_to_vec())),
        gen_::metrics().prop_map(|r| (Signal::Metrics, r.encode_to_vec())),
        gen_::logs().prop_map(|r| (Signal::Logs, r.encode_to_vec())),
    ]
}

// === views vs prost ===

fn norm(v: AnyValueRef<'_>) -> Option<any_value::Value> {
    use any_value::Value as V;
    Some(match v {
        AnyValueRef::Str(s) => V::StringValue(s.to_string()),
        AnyValueRef::Bool(b) => V::BoolValue(b),
        AnyValueRef::Int(i) => V::IntValue(i),
        AnyValueRef::Double(d) => V::DoubleValue(d),
        AnyValueRef::Bytes(b) => V::BytesValue(b.to_vec()),
        AnyValueRef::Array(a) => V::ArrayValue(meshtrace_otlp::proto::common::v1::ArrayValue {
            values: a.iter().map(|v| AnyValue { value: norm(v) }).collect(),
        }),
        AnyValueRef::KvList(kv) => {
            V::KvlistValue(meshtrace_otlp::proto::common::v1::KeyValueList {
                values: view_attrs(kv.entries()),
            })
        }
        AnyValueRef::Empty => return None,
    })
}

/// Attributes read through views, as prost values (absent and empty values both `None`,
/// which is how views read them).
fn view_attrs(a: Attributes<'_>) -> Vec<KeyValue> {
    a.iter()
        .map(|kv| KeyValue {
            key: kv.key().to_string(),
            value: norm(kv.value()).map(|v| AnyValue { value: Some(v) }),
            key_strindex: 0,
        })
        .collect()
}

/// Prost attributes normalised the same way (nested too).
fn prost_attrs(a: &[KeyValue]) -> Vec<KeyValue> {
    fn nv(v: &Option<AnyValue>) -> Option<AnyValue> {
        let v = v.as_ref()?.value.as_ref()?;
        Some(AnyValue {
            value: Some(match v {
                any_value::Value::ArrayValue(a) => {
                    any_value::Value::ArrayValue(meshtrace_otlp::proto::common::v1::ArrayValue {
                        values: a
                            .values
                            .iter()
                            .map(|x| AnyValue {
                                value: nv(&Some(x.clone())).and_then(|x| x.value),
                            })
                            .collect(),
                    })
                }
                any_value::Value::KvlistValue(kv) => {
                    any_value::Value::KvlistValue(meshtrace_otlp::proto::common::v1::KeyValueList {
                        values: prost_attrs(&kv.values),
                    })
                }
                other => other.clone(),
            }),
        })
    }
    a.iter()
        .map(|kv| KeyValue {
            key: kv.key.clone(),
            value: nv(&kv.value),
            key_strindex: 0,
        })
        .collect()
}

fn arr<const N: usize>(v: &[u8]) -> [u8; N] {
    <[u8; N]>::try_from(v).unwrap_or([0; N])
}

fn check_trace_views(req: &ExportTraceServiceRequest, pb: &[u8]) {
    let view = views::TracesView::new(pb);
    let rss: Vec<_> = view.resource_spans().collect();
    assert_eq!(rss.len(), req.resource_spans.len());
    for (rv, rp) in rss.iter().zip(&req.resource_spans) {
        assert_eq!(rv.schema_url(), rp.schema_url);
        assert_eq!(rv.resource().is_present(), rp.resource.is_some());
        let res = rp.resource.clone().unwrap_or_default();
        assert_eq!(
            view_attrs(rv.resource().attributes()),
            prost_attrs(&res.attributes)
        );
        assert_eq!(
            rv.resource().dropped_attributes_count(),
            res.dropped_attributes_count
        );
        for kv in &res.attributes {
            // Lookup by key finds the first occurrence.
            let first = res.attributes.iter().find(|k| k.key == kv.key).unwrap();
            let got = rv.resource().attributes().get(&kv.key).map(norm);
            let want = prost_attrs(std::slice::from_ref(first))[0]
                .value
                .clone()
                .map(|v| v.value);
            assert_eq!(got, Some(want.flatten()));
        }
        let sss: Vec<_> = rv.scope_spans().collect();
        assert_eq!(sss.len(), rp.scope_spans.len());
        for (sv, sp) in sss.iter().zip(&rp.scope_spans) {
            let scope = sp.scope.clone().unwrap_or_default();
            assert_eq!(sv.scope().name(), scope.name);
            assert_eq!(sv.scope().version(), scope.version);
            assert_eq!(
                view_attrs(sv.scope().attributes()),
                prost_attrs(&scope.attributes)
            );
            assert_eq!(sv.schema_url(), sp.schema_url);
            let spans: Vec<_> = sv.spans().collect();
            assert_eq!(spans.len(), sp.spans.len());
            for (v, p) in spans.iter().zip(&sp.spans) {
                assert_eq!(v.trace_id(), arr::<16>(&p.trace_id));
                assert_eq!(v.span_id(), arr::<8>(&p.span_id));
                assert_eq!(v.parent_span_id(), arr::<8>(&p.parent_span_id));
                assert_eq!(v.trace_state(), p.trace_state);
                assert_eq!(v.flags(), p.flags);
                assert_eq!(v.name(), p.name);
                assert_eq!(v.kind(), p.kind);
                assert_eq!(v.start_time_unix_nano(), p.start_time_unix_nano);
                assert_eq!(v.end_time_unix_nano(), p.end_time_unix_nano);
                assert_eq!(view_attrs(v.attributes()), prost_attrs(&p.attributes));
                assert_eq!(v.attributes().len(), p.attributes.len());
                assert_eq!(v.dropped_attributes_count(), p.dropped_attributes_count);
                assert_eq!(v.dropped_events_count(), p.dropped_events_count);
                assert_eq!(v.dropped_links_count(), p.dropped_links_count);
                assert_eq!(v.events_len(), p.events.len());
                for (ev, ep) in v.events().zip(&p.events) {
                    assert_eq!(ev.time_unix_nano(), ep.time_unix_nano);
                    assert_eq!(ev.name(), ep.name);
                    assert_eq!(view_attrs(ev.attributes()), prost_attrs(&ep.attributes));
                    assert_eq!(ev.dropped_attributes_count(), ep.dropped_attributes_count);
                }
                assert_eq!(v.links_len(), p.links.len());
                for (lv, lp) in v.links().zip(&p.links) {
                    assert_eq!(lv.trace_id(), arr::<16>(&lp.trace_id));
                    assert_eq!(lv.span_id(), arr::<8>(&lp.span_id));
                    assert_eq!(lv.trace_state(), lp.trace_state);
                    assert_eq!(lv.flags(), lp.flags);
                    assert_eq!(view_attrs(lv.attributes()), prost_attrs(&lp.attributes));
                }
                let st = p.status.clone().unwrap_or_default();
                assert_eq!(v.has_status(), p.status.is_some());
                assert_eq!(v.status_code(), st.code);
                assert_eq!(v.status_message(), st.message);
            }
        }
    }
    assert_eq!(view.spans().count(), count(&Decoded::Traces(req.clone())));
}

// === flattening: every item with its resource and scope ===

fn opt<M: Message>(m: &Option<M>) -> Vec<u8> {
    match m {
        None => vec![0],
        Some(m) => [vec![1], m.encode_to_vec()].concat(),
    }
}

/// One item per row, with everything that must travel with it through split/concat.
fn flatten(d: &Decoded) -> Vec<Vec<u8>> {
    let mut rows = Vec::new();
    match d {
        Decoded::Traces(r) => {
            for rs in &r.resource_spans {
                for ss in &rs.scope_spans {
                    for s in &ss.spans {
                        rows.push(
                            [
                                opt(&rs.resource),
                                rs.schema_url.as_bytes().to_vec(),
                                opt(&ss.scope),
                                ss.schema_url.as_bytes().to_vec(),
                                s.encode_to_vec(),
                            ]
                            .concat(),
                        );
                    }
                }
            }
        }
        Decoded::Logs(r) => {
            for rl in &r.resource_logs {
                for sl in &rl.scope_logs {
                    for l in &sl.log_records {
                        rows.push(
                            [
                                opt(&rl.resource),
                                rl.schema_url.as_bytes().to_vec(),
                                opt(&sl.scope),
                                sl.schema_url.as_bytes().to_vec(),
                                l.encode_to_vec(),
                            ]
                            .concat(),
                        );
                    }
                }
            }
        }
        Decoded::Metrics(r) => {
            use meshtrace_otlp::proto::metrics::v1::metric::Data;
            for rm in &r.resource_metrics {
                for sm in &rm.scope_metrics {
                    for m in &sm.metrics {
                        let mut header = m.clone();
                        let points: Vec<Vec<u8>> = match &mut header.data {
                            None => vec![],
                            Some(Data::Gauge(g)) => std::mem::take(&mut g.data_points)
                                .iter()
                                .map(|p| p.encode_to_vec())
                                .collect(),
                            Some(Data::Sum(g)) => std::mem::take(&mut g.data_points)
                                .iter()
                                .map(|p| p.encode_to_vec())
                                .collect(),
                            Some(Data::Histogram(g)) => std::mem::take(&mut g.data_points)
                                .iter()
                                .map(|p| p.encode_to_vec())
                                .collect(),
                            Some(Data::ExponentialHistogram(g)) => {
                                std::mem::take(&mut g.data_points)
                                    .iter()
                                    .map(|p| p.encode_to_vec())
                                    .collect()
                            }
                            Some(Data::Summary(g)) => std::mem::take(&mut g.data_points)
                                .iter()
                                .map(|p| p.encode_to_vec())
                                .collect(),
                        };
                        for p in points {
                            rows.push(
                                [
                                    opt(&rm.resource),
                                    rm.schema_url.as_bytes().to_vec(),
                                    opt(&sm.scope),
                                    sm.schema_url.as_bytes().to_vec(),
                                    header.encode_to_vec(),
                                    p,
                                ]
                                .concat(),
                            );
                        }
                    }
                }
            }
        }
    }
    rows
}

// === a model editor, applied both through rewrite and on the prost structs ===

/// Decisions derived from the span itself, so the model can replay them.
fn plan(name: &str, start: u64) -> (bool, bool, bool, bool) {
    let h = start.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ name.len() as u64;
    (
        h.is_multiple_of(5),
        h.is_multiple_of(3),
        (h >> 3).is_multiple_of(2),
        (h >> 5).is_multiple_of(4),
    )
}

struct ModelEditor;

impl<'a> TracesEditor<'a> for ModelEditor {
    fn resource(
        &mut self,
        rs: &ResourceSpansView<'a>,
        attributes: &mut AttributeEdits<'a>,
    ) -> Action {
        if rs.schema_url().len() == 3 {
            return Action::Drop;
        }
        attributes.upsert("env", "prod");
        Action::Keep
    }

    fn span(
        &mut self,
        _: &ResourceSpansView<'a>,
        _: &ScopeSpansView<'a>,
        span: &SpanView<'a>,
        edit: &mut SpanEdit<'a>,
    ) -> Action {
        let (drop, tag, untrace, status) = plan(span.name(), span.start_time_unix_nano());
        if drop {
            return Action::Drop;
        }
        if tag {
            edit.attributes
                .upsert("http.method", rewrite::Value::Int(7));
            edit.attributes.delete("service.name");
            edit.drop_event(0);
        }
        if untrace {
            edit.set_trace_state("k=v");
        }
        if status {
            edit.set_status(2, "boom");
        }
        Action::Keep
    }
}

fn upsert(attrs: &mut Vec<KeyValue>, key: &str, value: any_value::Value) {
    let kv = KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    };
    match attrs.iter().position(|a| a.key == key) {
        Some(i) => {
            attrs[i] = kv;
            let mut seen = 0;
            attrs.retain(|a| {
                if a.key == key {
                    seen += 1;
                    seen == 1
                } else {
                    true
                }
            });
        }
        None => attrs.push(kv),
    }
}

fn model(mut req: ExportTraceServiceRequest) -> ExportTraceServiceRequest {
    req.resource_spans.retain(|rs| rs.schema_url.len() != 3);
    for rs in &mut req.resource_spans {
        let res = rs.resource.get_or_insert_with(Default::default);
        upsert(
            &mut res.attributes,
            "env",
            any_value::Value::StringValue("prod".into()),
        );
        for ss in &mut rs.scope_spans {
            let had = !ss.spans.is_empty();
            ss.spans
                .retain(|s| !plan(&s.name, s.start_time_unix_nano).0);
            for s in &mut ss.spans {
                let (_, tag, untrace, status) = plan(&s.name, s.start_time_unix_nano);
                if tag {
                    upsert(
                        &mut s.attributes,
                        "http.method",
                        any_value::Value::IntValue(7),
                    );
                    s.attributes.retain(|a| a.key != "service.name");
                    if !s.events.is_empty() {
                        s.events.remove(0);
                    }
                }
                if untrace {
                    s.trace_state = "k=v".into();
                }
                if status {
                    s.status = Some(Status {
                        message: "boom".into(),
                        code: 2,
                    });
                }
            }
            if had && ss.spans.is_empty() {
                ss.spans = vec![Default::default()]; // marker: removed below
                ss.schema_url = "\u{0}removed".into();
            }
        }
        let had = !rs.scope_spans.is_empty();
        rs.scope_spans.retain(|ss| ss.schema_url != "\u{0}removed");
        if had && rs.scope_spans.is_empty() {
            rs.schema_url = "\u{0}removed".into();
        }
    }
    req.resource_spans
        .retain(|rs| rs.schema_url != "\u{0}removed");
    req
}

/// Normalises attribute values the way a rewrite writes them: an edited list writes every
/// kept value field, so `None` values survive only in unedited lists. Compare modulo that.
fn normalise(mut req: ExportTraceServiceRequest) -> ExportTraceServiceRequest {
    fn fix(attrs: &mut [KeyValue]) {
        for kv in attrs {
            if kv.value.as_ref().is_some_and(|v| v.value.is_none()) {
                kv.value = None;
            }
        }
    }
    for rs in &mut req.resource_spans {
        if let Some(r) = &mut rs.resource {
            fix(&mut r.attributes);
        }
        for ss in &mut rs.scope_spans {
            for s in &mut ss.spans {
                fix(&mut s.attributes);
            }
        }
    }
    req
}

struct KeepAll;
impl<'a> TracesEditor<'a> for KeepAll {
    fn span(
        &mut self,
        _: &ResourceSpansView<'a>,
        _: &ScopeSpansView<'a>,
        _: &SpanView<'a>,
        _: &mut SpanEdit<'a>,
    ) -> Action {
        Action::Keep
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn validate_accepts_and_counts_exactly((signal, pb) in any_request()) {
        let n = validate(signal, &pb, &Limits::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(n, count(&decode(signal, &pb)));
    }

    #[test]
    fn trace_views_read_what_prost_decodes(req in gen_::traces()) {
        let pb = req.encode_to_vec();
        check_trace_views(&req, &pb);
    }

    #[test]
    fn log_and_metric_views_read_what_prost_decodes(logs in gen_::logs(), metrics in gen_::metrics()) {
        let pb = logs.encode_to_vec();
        let v = views::LogsView::new(&pb);
        let records: Vec<_> = v.resource_logs().flat_map(|rl| rl.scope_logs().collect::<Vec<_>>())
            .flat_map(|sl| sl.log_records().collect::<Vec<_>>()).collect();
        let prost: Vec<_> = logs.resource_logs.iter().flat_map(|rl| &rl.scope_logs).flat_map(|sl| &sl.log_records).collect();
        prop_assert_eq!(records.len(), prost.len());
        for (v, p) in records.iter().zip(prost) {
            prop_assert_eq!(v.time_unix_nano(), p.time_unix_nano);
            prop_assert_eq!(v.observed_time_unix_nano(), p.observed_time_unix_nano);
            prop_assert_eq!(v.severity_number(), p.severity_number);
            prop_assert_eq!(v.severity_text(), p.severity_text.as_str());
            prop_assert_eq!(norm(v.body()), p.body.clone().and_then(|b| prost_attrs(&[KeyValue { key: String::new(), value: Some(b), key_strindex: 0 }])[0].value.clone()).and_then(|v| v.value));
            prop_assert_eq!(view_attrs(v.attributes()), prost_attrs(&p.attributes));
            prop_assert_eq!(v.trace_id(), arr::<16>(&p.trace_id));
            prop_assert_eq!(v.span_id(), arr::<8>(&p.span_id));
            prop_assert_eq!(v.flags(), p.flags);
            prop_assert_eq!(v.event_name(), p.event_name.as_str());
        }
        for (rv, rp) in v.resource_logs().zip(&logs.resource_logs) {
            prop_assert_eq!(view_attrs(rv.resource().attributes()), prost_attrs(&rp.resource.clone().unwrap_or_default().attributes));
        }
        let pb = metrics.encode_to_vec();
        let v = views::MetricsView::new(&pb);
        for (rv, rp) in v.resource_metrics().zip(&metrics.resource_metrics) {
            prop_assert_eq!(view_attrs(rv.resource().attributes()), prost_attrs(&rp.resource.clone().unwrap_or_default().attributes));
            for (sv, sp) in rv.scope_metrics().zip(&rp.scope_metrics) {
                prop_assert_eq!(sv.scope().name(), sp.scope.clone().unwrap_or_default().name);
                for (mv, mp) in sv.metrics().zip(&sp.metrics) {
                    prop_assert_eq!(mv.name(), mp.name.as_str());
                    prop_assert_eq!(mv.unit(), mp.unit.as_str());
                    prop_assert_eq!(mv.description(), mp.description.as_str());
                }
            }
        }
    }

    #[test]
    fn split_then_concat_preserves_every_item((signal, pb) in any_request(), max in 1usize..7) {
        let b = batch(signal, pb.clone());
        let parts = batching::split(&b, max);
        let mut total = 0;
        for p in &parts {
            prop_assert!(p.items() <= max);
            prop_assert!(parts.len() == 1 || p.items() > 0);
            let n = validate(signal, p.bytes(), &Limits::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(n, p.items());
            total += n;
        }
        prop_assert_eq!(total, b.items());
        prop_assert_eq!(parts.len(), b.items().div_ceil(max).max(1));
        let merged = batching::concat(signal, &parts);
        prop_assert_eq!(merged.items(), b.items());
        prop_assert_eq!(flatten(&decode(signal, merged.bytes())), flatten(&decode(signal, &pb)));
    }

    #[test]
    fn partition_items_sends_each_item_where_the_route_says(
        (signal, pb) in any_request(),
        outputs in 1usize..12,
        choices in proptest::collection::vec(any::<u8>(), 1..16),
    ) {
        let b = batch(signal, pb.clone());
        let depth = if signal == Signal::Metrics { 4 } else { 2 };
        let mut decisions = Vec::new();
        let parts = batching::partition_items(&b, outputs, |holders, item| {
            assert_eq!(holders.len(), depth);
            assert!(!item.is_empty() || signal == Signal::Metrics);
            let c = choices[decisions.len() % choices.len()] as usize % (outputs + 1);
            // `outputs` itself stands for a dropped item, through an index past the end.
            let d = if c == outputs && decisions.len() % 2 == 0 { None } else { Some(c) };
            decisions.push(d.filter(|&o| o < outputs));
            d
        });
        prop_assert_eq!(decisions.len(), b.items());
        prop_assert_eq!(parts.len(), outputs);
        let rows = flatten(&decode(signal, &pb));
        prop_assert_eq!(rows.len(), decisions.len());
        for (o, p) in parts.iter().enumerate() {
            let n = validate(signal, p.bytes(), &Limits::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(n, p.items());
            let want: Vec<_> = rows.iter().zip(&decisions).filter(|(_, d)| **d == Some(o)).map(|(r, _)| r.clone()).collect();
            prop_assert_eq!(p.items(), want.len());
            prop_assert_eq!(flatten(&decode(signal, p.bytes())), want);
        }
    }

    #[test]
    fn concat_is_a_merged_request((s1, a) in any_request(), b in gen_::traces()) {
        let ba = batch(s1, a.clone());
        let bb = batch(Signal::Traces, b.encode_to_vec());
        let m = batching::concat(Signal::Traces, [&bb, &ba, &bb]);
        let want_items = if s1 == Signal::Traces { 2 * bb.items() + ba.items() } else { 2 * bb.items() };
        prop_assert_eq!(m.items(), want_items);
        prop_assert_eq!(validate(Signal::Traces, m.bytes(), &Limits::default()), Ok(want_items));
        let mut builder = batching::BatchBuilder::new(Signal::Traces);
        builder.push(&bb).unwrap();
        prop_assert_eq!(builder.push(&ba).is_ok(), s1 == Signal::Traces);
        prop_assert_eq!(builder.take().items(), bb.items() + if s1 == Signal::Traces { ba.items() } else { 0 });
        prop_assert!(builder.is_empty());
    }

    #[test]
    fn keep_all_rewrite_returns_the_same_bytes(req in gen_::traces()) {
        let b = batch(Signal::Traces, req.encode_to_vec());
        let out = rewrite::rewrite_traces(&b, &mut KeepAll);
        prop_assert_eq!(out.bytes().as_ptr(), b.bytes().as_ptr());
        prop_assert_eq!(out.items(), b.items());
        let out = rewrite::rewrite_resources(&b, |_, _| Action::Keep);
        prop_assert_eq!(out.bytes().as_ptr(), b.bytes().as_ptr());
    }

    #[test]
    fn rewrite_matches_the_model(req in gen_::traces()) {
        let b = batch(Signal::Traces, req.encode_to_vec());
        let out = rewrite::rewrite_traces(&b, &mut ModelEditor);
        let n = validate(Signal::Traces, out.bytes(), &Limits::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(n, out.items());
        let got = ExportTraceServiceRequest::decode(out.bytes().as_ref()).unwrap();
        prop_assert_eq!(normalise(got), normalise(model(req)));
    }

    #[test]
    fn resource_rewrite_matches_the_model((signal, pb) in any_request()) {
        let b = batch(signal, pb);
        let out = rewrite::rewrite_resources(&b, |r, edits| {
            if r.attributes().len() == 1 { return Action::Drop; }
            edits.delete("service.name");
            edits.insert("k8s.cluster.name", "c1");
            Action::Keep
        });
        let n = validate(signal, out.bytes(), &Limits::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(n, out.items());
        // Every remaining resource has the edit applied; dropped ones took their items along.
        let mut kept_items = 0;
        let before = decode(signal, b.bytes());
        let after = decode(signal, out.bytes());
        let groups = |d: &Decoded| -> Vec<(Vec<KeyValue>, usize)> {
            match d {
                Decoded::Traces(r) => r.resource_spans.iter().map(|g| (g.resource.clone().unwrap_or_default().attributes,
                    count(&Decoded::Traces(ExportTraceServiceRequest { resource_spans: vec![g.clone()] })))).collect(),
                Decoded::Logs(r) => r.resource_logs.iter().map(|g| (g.resource.clone().unwrap_or_default().attributes,
                    count(&Decoded::Logs(meshtrace_otlp::proto::collector::logs::v1::ExportLogsServiceRequest { resource_logs: vec![g.clone()] })))).collect(),
                Decoded::Metrics(r) => r.resource_metrics.iter().map(|g| (g.resource.clone().unwrap_or_default().attributes,
                    count(&Decoded::Metrics(meshtrace_otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest { resource_metrics: vec![g.clone()] })))).collect(),
            }
        };
        let kept: Vec<_> = groups(&before).into_iter().filter(|(a, _)| a.len() != 1).collect();
        let got = groups(&after);
        prop_assert_eq!(kept.len(), got.len());
        for ((mut a, n), (g, m)) in kept.into_iter().zip(got) {
            a.retain(|kv| kv.key != "service.name");
            if !a.iter().any(|kv| kv.key == "k8s.cluster.name") {
                a.push(KeyValue { key: "k8s.cluster.name".into(), value: Some(AnyValue { value: Some(any_value::Value::StringValue("c1".into())) }), key_strindex: 0 });
            }
            prop_assert_eq!(prost_attrs(&g), prost_attrs(&a));
            prop_assert_eq!(n, m);
            kept_items += n;
        }
        prop_assert_eq!(kept_items, out.items());
    }

    #[test]
    fn json_round_trips((signal, pb) in any_request()) {
        let js = json::from_protobuf(signal, &pb).unwrap();
        let back = json::to_protobuf(signal, &js).map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&js))))?;
        prop_assert_eq!(decode(signal, &back), decode(signal, &pb));
        // The reader writes fields in prost's order and leaves out what prost leaves out.
        prop_assert_eq!(back, pb);
    }

    /// What opentelemetry-rust's OTLP/JSON exporters send (the serde mapping of these prost
    /// types: nulls for absent messages, every default written) reads as the same request.
    #[test]
    fn json_from_opentelemetry_rust_reads_back((signal, pb) in any_request()) {
        use meshtrace_otlp::proto::collector::logs::v1::ExportLogsServiceRequest;
        use meshtrace_otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
        let js = match signal {
            Signal::Traces => serde_json::to_vec(&ExportTraceServiceRequest::decode(&pb[..]).unwrap()),
            Signal::Metrics => serde_json::to_vec(&ExportMetricsServiceRequest::decode(&pb[..]).unwrap()),
            Signal::Logs => serde_json::to_vec(&ExportLogsServiceRequest::decode(&pb[..]).unwrap()),
        }
        .unwrap();
        let back = json::to_protobuf(signal, &js).map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&js))))?;
        prop_assert_eq!(decode(signal, &back), decode(signal, &pb));
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_requests_never_panic_and_stay_consistent(
        (signal, pb) in any_request(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let mut bytes = pb;
        for (at, byte, op) in edits {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => { bytes.truncate(i); }
                _ => bytes.insert(i, byte),
            }
        }
        exercise(&bytes);
        // Whatever validates must split, concat and rewrite into valid requests.
        if let Ok(n) = validate(signal, &bytes, &Limits::default()) {
            let b = batch(signal, bytes.clone());
            let parts = batching::split(&b, 2);
            let total: usize = parts.iter().map(|p| validate(signal, p.bytes(), &Limits::default()).unwrap()).sum();
            prop_assert_eq!(total, n);
            if signal == Signal::Traces {
                let out = rewrite::rewrite_traces(&b, &mut ModelEditor);
                prop_assert_eq!(validate(signal, out.bytes(), &Limits::default()), Ok(out.items()));
            }
            let out = rewrite::rewrite_resources(&b, |_, e| { e.upsert("x", 1i64); Action::Keep });
            prop_assert_eq!(validate(signal, out.bytes(), &Limits::default()), Ok(out.items()));
        }
    }
}

/// Runs every entry point over arbitrary bytes; only panics matter.
fn exercise(bytes: &[u8]) {
    for signal in Signal::ALL {
        let _ = validate(signal, bytes, &Limits::default());
        let _ = json::from_protobuf(signal, bytes);
        let _ = json::to_protobuf(signal, bytes);
        // Views and the byte-level operations over unvalidated bytes.
        let b = Batch::empty(signal);
        let _ = b;
    }
    for (_, _, s) in views::TracesView::new(bytes).spans() {
        let _ = (
            s.name(),
            s.trace_id(),
            s.status_code(),
            s.status_message(),
            s.attributes().get("a"),
        );
        for kv in s.attributes().iter() {
            let _ = format!("{:?}", kv.value());
        }
        for e in s.events() {
            let _ = e.attributes().len();
        }
        for l in s.links() {
            let _ = l.attributes().get("a");
        }
    }
    for rl in views::LogsView::new(bytes).resource_logs() {
        for sl in rl.scope_logs() {
            for r in sl.log_records() {
                let _ = format!("{:?}", r.body());
            }
        }
    }
    for rm in views::MetricsView::new(bytes).resource_metrics() {
        let _ = rm.resource().attributes().len();
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                let _ = m.data_points_len();
            }
        }
    }
    let _ = gzip_never_panics(bytes);
}

fn gzip_never_panics(bytes: &[u8]) -> bool {
    meshtrace_otlp::gzip::decompress(bytes, 1 << 16).is_ok()
}
