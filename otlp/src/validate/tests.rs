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

mod plain_key_value {
    use super::super::common::{key_value, plain_key_value};
    use super::super::{Ctx, Path};
    use crate::Limits;
    use proptest::strategy::Strategy;

    fn general(kv: &[u8], limits: &Limits) -> bool {
        key_value(&Ctx { limits }, kv, 0, &Path::ROOT, 1, kv.is_ascii()).is_ok()
    }

    #[test]
    fn the_usual_layouts_take_the_short_way_and_the_rest_do_not() {
        let max = Limits::default().max_value_bytes;
        for (kv, plain) in [
            (&b"\x0a\x01k\x12\x03\x0a\x01v"[..], true),
            (b"\x0a\x01k\x12\x02\x0a\x00", true),
            (b"\x0a\x00\x12\x02\x18\x05", true),
            (b"\x0a\x01k\x12\x03\x18\x96\x01", true),
            // Value first, no value, a bool, a double, extra fields: the general walk.
            (b"\x12\x03\x0a\x01v\x0a\x01k", false),
            (b"\x0a\x01k", false),
            (b"\x0a\x01k\x12\x02\x10\x01", false),
            (b"\x0a\x01k\x12\x03\x0a\x01v\x18\x01", false),
            // Lengths that do not add up, an unfinished varint, a 10-byte varint.
            (b"\x0a\x01k\x12\x04\x0a\x01v", false),
            (b"\x0a\x01k\x12\x03\x0a\x02v", false),
            (b"\x0a\x01k\x12\x02\x18\x96", false),
            // Not ASCII (valid UTF-8 or not): the general walk checks it.
            ("\x0a\x02é\x12\x03\x0a\x01v".as_bytes(), false),
            (b"\x0a\x01k\x12\x03\x0a\x01\xff", false),
            (
                b"\x0a\x01k\x12\x0b\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
                false,
            ),
        ] {
            assert_eq!(plain_key_value(kv, max), plain, "{kv:?}");
        }
        // Over the value limit: the general walk reports it.
        assert!(!plain_key_value(b"\x0a\x01k\x12\x03\x0a\x01v", 0));
    }

    proptest::proptest! {
        /// Whatever the short way accepts, the general walk accepts: near-canonical entries
        /// with one byte changed, under tight and default limits.
        #[test]
        fn what_the_short_way_accepts_the_general_walk_accepts(
            key in "[a-z.]{0,20}|ü",
            value in proptest::prop_oneof![
                "[ -~]{0,40}|é{1,3}".prop_map(|s| [&[0x0a, s.len() as u8][..], s.as_bytes()].concat()),
                proptest::collection::vec(proptest::num::u8::ANY, 1..12)
                    .prop_map(|v| [&[0x18][..], &v].concat()),
            ],
            flip in proptest::option::of((0usize..80, proptest::num::u8::ANY)),
            max in proptest::sample::select(vec![3usize, 16, 4096]),
        ) {
            let mut kv = [&[0x0a, key.len() as u8][..], key.as_bytes(), &[0x12, value.len() as u8], &value].concat();
            if let Some((at, b)) = flip && at < kv.len() {
                kv[at] = b;
            }
            let limits = Limits { max_value_bytes: max, ..Limits::default() };
            if plain_key_value(&kv, max) {
                proptest::prop_assert!(general(&kv, &limits), "{kv:?}");
            }
        }
    }
}
