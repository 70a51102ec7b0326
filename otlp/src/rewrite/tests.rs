//! Rewrites as the collector's processors use them, checked by decoding the result.

use std::borrow::Cow;

use bytes::Bytes;
use prost::Message;

use super::{
    Action, AttributeEdits, SpanEdit, TracesEditor, Value, rewrite_resources, rewrite_traces,
};
use crate::proto::collector::logs::v1::ExportLogsServiceRequest;
use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::common::v1::{AnyValue, KeyValue, any_value};
use crate::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::resource::v1::Resource;
use crate::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use crate::views::{AnyValueRef, ResourceSpansView, ScopeSpansView, SpanView};
use crate::{Batch, Limits, Signal, validate};

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        key_strindex: 0,
    }
}
fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

fn request() -> ExportTraceServiceRequest {
    let span = |name: &str, status: &str| Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        trace_state: "rojo=00f067aa0ba902b7".into(),
        name: name.into(),
        attributes: vec![
            kv("http.url", s("http://reviews:9080/reviews/0?x=1")),
            kv("http.status_code", s(status)),
            kv("user.email", s("jane@example.com")),
        ],
        events: vec![
            span::Event {
                name: "e0".into(),
                ..Default::default()
            },
            span::Event {
                name: "e1".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let rs = |svc: &str, spans: Vec<Span>| ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", s(svc))],
            dropped_attributes_count: 0,
            entity_refs: vec![],
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        schema_url: String::new(),
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            rs(
                "reviews",
                vec![span("GET /reviews", "200"), span("GET /healthz", "200")],
            ),
            rs("ratings", vec![span("GET /healthz", "200")]),
            rs("debug", vec![span("GET /x", "500")]),
        ],
    }
}

fn batch() -> Batch {
    Batch::new_validated(
        Signal::Traces,
        Bytes::from(request().encode_to_vec()),
        &Limits::default(),
    )
    .unwrap()
}

/// The attributes processor's actions plus a filter processor's drop, in one editor.
struct Processors;

impl<'a> TracesEditor<'a> for Processors {
    fn resource(
        &mut self,
        rs: &ResourceSpansView<'a>,
        attributes: &mut AttributeEdits<'a>,
    ) -> Action {
        if rs.resource().attributes().get("service.name") == Some(AnyValueRef::Str("debug")) {
            return Action::Drop;
        }
        attributes.insert("k8s.cluster.name", "prod");
        Action::Keep
    }

    fn span(
        &mut self,
        _: &ResourceSpansView<'a>,
        _: &ScopeSpansView<'a>,
        span: &SpanView<'a>,
        edit: &mut SpanEdit<'a>,
    ) -> Action {
        if span.name() == "GET /healthz" {
            return Action::Drop;
        }
        let a = &mut edit.attributes;
        // hash
        if let Some(email) = a
            .get("user.email")
            .and_then(|v| v.as_str().map(str::to_owned))
        {
            a.update(
                "user.email",
                format!("{:016x}", email.len() as u64 * 0x9e37_79b9),
            );
        }
        // extract (the path of the URL, borrowed from the request)
        if let Some(Value::Str(Cow::Borrowed(url))) = a.get("http.url")
            && let Some(path) = url.split_once("9080").map(|(_, p)| p)
        {
            a.insert("http.path", path);
        }
        // convert
        if let Some(code) = a
            .get("http.status_code")
            .and_then(|v| v.as_str().and_then(|s| s.parse::<i64>().ok()))
        {
            a.upsert("http.status_code", code);
        }
        a.delete("http.url");
        edit.drop_event(0);
        edit.set_trace_state("");
        edit.set_status(2, "rewritten");
        Action::Keep
    }
}

#[test]
fn processors_edit_only_what_they_touch() {
    let b = batch();
    let out = rewrite_traces(&b, &mut Processors);
    assert_eq!(out.items(), 1);
    assert_eq!(
        validate(Signal::Traces, out.bytes(), &Limits::default()),
        Ok(1)
    );
    let got = ExportTraceServiceRequest::decode(out.bytes().as_ref()).unwrap();
    // "ratings" lost its only span (left empty: removed); "debug" was dropped.
    assert_eq!(got.resource_spans.len(), 1);
    let rs = &got.resource_spans[0];
    assert_eq!(
        rs.resource.as_ref().unwrap().attributes,
        [
            kv("service.name", s("reviews")),
            kv("k8s.cluster.name", s("prod"))
        ]
    );
    let sp = &rs.scope_spans[0].spans[0];
    assert_eq!(sp.name, "GET /reviews");
    assert_eq!(
        sp.attributes,
        [
            kv("http.status_code", any_value::Value::IntValue(200)),
            kv("user.email", s("00000009e3779b90")),
            kv("http.path", s("/reviews/0?x=1")),
        ]
    );
    assert_eq!(sp.trace_state, "");
    assert_eq!(
        sp.events
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["e1"]
    );
    assert_eq!(
        sp.status,
        Some(Status {
            message: "rewritten".into(),
            code: 2
        })
    );
    // Untouched fields came through as they were.
    assert_eq!(
        (sp.trace_id.as_slice(), sp.span_id.as_slice()),
        (&[1u8; 16][..], &[2u8; 8][..])
    );
}

#[test]
fn dropping_everything_gives_an_empty_request() {
    struct DropAll;
    impl<'a> TracesEditor<'a> for DropAll {
        fn span(
            &mut self,
            _: &ResourceSpansView<'a>,
            _: &ScopeSpansView<'a>,
            _: &SpanView<'a>,
            _: &mut SpanEdit<'a>,
        ) -> Action {
            Action::Drop
        }
    }
    let out = rewrite_traces(&batch(), &mut DropAll);
    assert_eq!((out.items(), out.is_empty()), (0, true));
}

#[test]
fn resource_rewrite_for_logs_keeps_records_byte_for_byte() {
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: None,
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: Some(AnyValue {
                        value: Some(s("hello")),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            schema_url: "url".into(),
        }],
    };
    let b = Batch::new_validated(
        Signal::Logs,
        Bytes::from(req.encode_to_vec()),
        &Limits::default(),
    )
    .unwrap();
    let out = rewrite_resources(&b, |r, e| {
        assert!(!r.is_present());
        e.upsert("service.name", "api");
        Action::Keep
    });
    let got = ExportLogsServiceRequest::decode(out.bytes().as_ref()).unwrap();
    let mut want = req.clone();
    want.resource_logs[0].resource = Some(Resource {
        attributes: vec![kv("service.name", s("api"))],
        ..Default::default()
    });
    assert_eq!(got, want);
    assert_eq!(out.items(), 1);
    let dropped = rewrite_resources(&b, |_, _| Action::Drop);
    assert_eq!((dropped.items(), dropped.is_empty()), (0, true));
}

#[test]
fn attribute_edits_follow_the_attributes_processor_semantics() {
    let pb = request().encode_to_vec();
    let view = crate::views::TracesView::new(&pb);
    let (_, _, span) = view.spans().next().unwrap();
    let mut e = AttributeEdits::new(span.attributes());
    assert!(!e.insert("http.url", "x"), "insert never overwrites");
    assert!(e.update("http.url", "y"));
    assert!(!e.update("missing", "z"), "update never creates");
    assert!(e.delete("user.email"));
    assert!(!e.delete("user.email"));
    e.upsert("new", true);
    assert_eq!(
        e.keys().collect::<Vec<_>>(),
        ["http.status_code", "http.url", "new"]
    );
    assert_eq!(e.get("new"), Some(Value::Bool(true)));
    assert_eq!(e.get("http.status_code"), Some(Value::from("200")));
    e.clear();
    assert!(!e.contains("http.url"));
    assert_eq!(e.keys().count(), 0);
    assert!(!e.is_unchanged());
}

/// Upserting keys a span does not have (the seed pipeline's `attributes` action) copies the
/// span's bytes as they are and appends the new entries after them; upserting a key it has
/// re-encodes the list in place.
#[test]
fn new_keys_are_appended_to_the_span_bytes() {
    struct Upsert(&'static str);
    impl<'a> TracesEditor<'a> for Upsert {
        fn span(
            &mut self,
            _: &ResourceSpansView<'a>,
            _: &ScopeSpansView<'a>,
            _: &SpanView<'a>,
            edit: &mut SpanEdit<'a>,
        ) -> Action {
            edit.attributes.upsert(self.0, "tap-sandbox");
            edit.attributes.upsert("n", 7);
            Action::Keep
        }
    }
    let b = batch();
    let spans_of = |bytes: &[u8]| -> Vec<Vec<u8>> {
        crate::views::TracesView::new(bytes)
            .spans()
            .map(|(_, _, s)| s.raw().to_vec())
            .collect()
    };
    let before = spans_of(b.bytes());
    let out = rewrite_traces(&b, &mut Upsert("cluster"));
    assert_eq!(
        validate(Signal::Traces, out.bytes(), &Limits::default()),
        Ok(4)
    );
    let mut appended = Vec::new();
    let kvs = [
        kv("cluster", s("tap-sandbox")),
        kv("n", any_value::Value::IntValue(7)),
    ];
    for kv in &kvs {
        prost::encoding::message::encode(9, kv, &mut appended);
    }
    for (old, new) in before.iter().zip(spans_of(out.bytes())) {
        assert_eq!(new, [old.as_slice(), &appended].concat());
    }
    let got = ExportTraceServiceRequest::decode(out.bytes().as_ref()).unwrap();
    let sp = &got.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(sp.attributes[3..], kvs);
    assert_eq!(sp.events.len(), 2, "fields after the attributes survive");

    // An existing key keeps its position: the list is rewritten.
    let out = rewrite_traces(&b, &mut Upsert("http.url"));
    let got = ExportTraceServiceRequest::decode(out.bytes().as_ref()).unwrap();
    let sp = &got.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(sp.attributes[0], kv("http.url", s("tap-sandbox")));
    assert_eq!(sp.attributes.len(), 4);
}

proptest::proptest! {
    /// Whatever keys the span has and the edits touch, the rewritten span decodes to the list
    /// the attributes processor defines (whether the rewrite appended or re-encoded).
    #[test]
    fn upserts_and_inserts_decode_as_the_processor_defines(
        original in proptest::collection::btree_map("[a-d]", "[a-z]{0,3}", 0..5),
        edits in proptest::collection::vec((proptest::bool::ANY, "[a-f]", "[A-Z]{1,3}"), 1..4),
    ) {
        struct Edits(Vec<(bool, String, String)>);
        impl<'a> TracesEditor<'a> for Edits {
            fn span(&mut self, _: &ResourceSpansView<'a>, _: &ScopeSpansView<'a>,
                    _: &SpanView<'a>, edit: &mut SpanEdit<'a>) -> Action {
                for (upsert, k, v) in &self.0 {
                    if *upsert {
                        edit.attributes.upsert(k.clone(), v.clone());
                    } else {
                        edit.attributes.insert(k.clone(), v.clone());
                    }
                }
                Action::Keep
            }
        }
        let original: Vec<(String, String)> = original.into_iter().collect();
        // The model: an existing key is set in place (upsert only), a new one goes last.
        let mut want = original.clone();
        for (upsert, k, v) in &edits {
            match want.iter().position(|(wk, _)| wk == k) {
                Some(i) if *upsert => want[i].1 = v.clone(),
                Some(_) => {}
                None => want.push((k.clone(), v.clone())),
            }
        }
        let span = Span {
            name: "s".into(),
            attributes: original.iter().map(|(k, v)| kv(k, s(v))).collect(),
            status: Some(Status { message: "m".into(), code: 2 }),
            ..Default::default()
        };
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans { spans: vec![span.clone()], ..Default::default() }],
                ..Default::default()
            }],
        };
        let b = Batch::new_validated(
            Signal::Traces, Bytes::from(req.encode_to_vec()), &Limits::default()).unwrap();
        let out = rewrite_traces(&b, &mut Edits(edits));
        proptest::prop_assert_eq!(
            validate(Signal::Traces, out.bytes(), &Limits::default()), Ok(1));
        let got = ExportTraceServiceRequest::decode(out.bytes().as_ref()).unwrap();
        let expected = Span {
            attributes: want.iter().map(|(k, v)| kv(k, s(v))).collect(),
            ..span
        };
        proptest::prop_assert_eq!(&got.resource_spans[0].scope_spans[0].spans[0], &expected);
    }
}

/// Replaces the spans named `GET /x` whole, leaving the others as bytes.
struct Replacer;

impl<'a> TracesEditor<'a> for Replacer {
    fn span(
        &mut self,
        _: &ResourceSpansView<'a>,
        _: &ScopeSpansView<'a>,
        span: &SpanView<'a>,
        edit: &mut SpanEdit<'a>,
    ) -> Action {
        if span.name() == "GET /x" {
            // Also an edit that the replacement overrides.
            edit.set_status(1, "ignored");
            edit.replace(
                Span {
                    name: "replaced".into(),
                    kind: 3,
                    ..Default::default()
                }
                .encode_to_vec(),
            );
        }
        Action::Keep
    }
}

#[test]
fn a_replaced_span_is_written_whole_and_the_rest_as_it_came() {
    let b = batch();
    let out = rewrite_traces(&b, &mut Replacer);
    validate(Signal::Traces, out.bytes(), &Limits::default()).unwrap();
    let mut want = request();
    want.resource_spans[2].scope_spans[0].spans[0] = Span {
        name: "replaced".into(),
        kind: 3,
        ..Default::default()
    };
    assert_eq!(
        ExportTraceServiceRequest::decode(out.bytes().as_ref()).unwrap(),
        want
    );
    assert_eq!(out.items(), b.items());
}
