//! Path rendering and the counting rules; the malformed-input table is in tests/malformed.rs.

use super::{ErrorKind, Path};

#[test]
fn paths_render_like_field_accessors() {
    let root = Path::ROOT;
    let rs = root.item("resource_spans", 0);
    let ss = rs.item("scope_spans", 1);
    let sp = ss.item("spans", 3);
    let id = sp.field("trace_id");
    assert_eq!(
        id.render(),
        "resource_spans[0].scope_spans[1].spans[3].trace_id"
    );
    assert_eq!(root.render(), "");
    let e = id.error(ErrorKind::IdLength { got: 6, want: 16 }, 42);
    assert_eq!(
        e.to_string(),
        "resource_spans[0].scope_spans[1].spans[3].trace_id: length 6, want 16 (at byte 42)"
    );
    assert_eq!(
        (e.kind(), e.offset(), e.path()),
        (
            ErrorKind::IdLength { got: 6, want: 16 },
            42,
            id.render().as_str()
        )
    );
}

mod salvage {
    use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
    use crate::proto::common::v1::InstrumentationScope;
    use crate::proto::resource::v1::Resource;
    use crate::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use crate::{ErrorKind, Limits, Signal, salvage_traces, validate};
    use prost::Message;

    fn span(n: u8, trace_len: usize) -> Span {
        Span {
            trace_id: vec![n; trace_len],
            span_id: vec![n; 8],
            name: format!("s{n}"),
            ..Default::default()
        }
    }

    fn request(resources: Vec<Vec<Vec<Span>>>, scope_name: &str) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: resources
                .into_iter()
                .map(|scopes| ResourceSpans {
                    resource: Some(Resource::default()),
                    scope_spans: scopes
                        .into_iter()
                        .map(|spans| ScopeSpans {
                            scope: Some(InstrumentationScope {
                                name: scope_name.into(),
                                ..Default::default()
                            }),
                            spans,
                            schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
                        })
                        .collect(),
                    schema_url: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn invalid_spans_are_dropped_and_everything_else_kept() {
        let good = |n| span(n, 16);
        let bad = |n| span(n, 3);
        // (input, expected output, kept, rejected, first error kind)
        let table = vec![
            (
                request(vec![vec![vec![good(1), bad(2), good(3)]]], "a"),
                request(vec![vec![vec![good(1), good(3)]]], "a"),
                2,
                1,
            ),
            (
                request(
                    vec![
                        vec![vec![bad(1)], vec![good(2)]],
                        vec![vec![bad(3), good(4)]],
                    ],
                    "b",
                ),
                request(vec![vec![vec![], vec![good(2)]], vec![vec![good(4)]]], "b"),
                2,
                2,
            ),
            (
                request(vec![vec![vec![good(1)]]], "c"),
                request(vec![vec![vec![good(1)]]], "c"),
                1,
                0,
            ),
        ];
        let limits = Limits::default();
        for (i, (input, want, kept, rejected)) in table.into_iter().enumerate() {
            let s = salvage_traces(&input.encode_to_vec(), &limits).unwrap();
            assert_eq!((s.kept, s.rejected), (kept, rejected), "case {i}");
            assert_eq!(
                ExportTraceServiceRequest::decode(s.bytes.as_slice()).unwrap(),
                want,
                "case {i}"
            );
            assert_eq!(
                validate(Signal::Traces, &s.bytes, &limits),
                Ok(kept),
                "case {i}"
            );
            assert_eq!(
                s.first.map(|e| e.kind()),
                (rejected > 0).then_some(ErrorKind::IdLength { got: 3, want: 16 }),
                "case {i}"
            );
        }
    }

    #[test]
    fn problems_outside_spans_refuse_the_whole_request() {
        let limits = Limits::default();
        let mut bad_utf8 = request(vec![vec![vec![span(1, 16)]]], "scope~marker").encode_to_vec();
        let at = bad_utf8.windows(7).position(|w| w == b"~marker").unwrap();
        bad_utf8[at] = 0xff;
        let good = request(vec![vec![vec![span(1, 16)]]], "a").encode_to_vec();
        let truncated = &good[..good.len() - 2];
        for (case, bytes) in [
            ("scope name not UTF-8", &bad_utf8[..]),
            ("truncated", truncated),
        ] {
            let e = salvage_traces(bytes, &limits).unwrap_err();
            assert_eq!(
                validate(Signal::Traces, bytes, &limits).unwrap_err(),
                e,
                "{case}"
            );
        }
    }
}
