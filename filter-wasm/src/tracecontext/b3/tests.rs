//! B3 single and multi header values with the exact result, and properties.

use super::*;
use proptest::prelude::*;

const T128: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const T64: &str = "64fe8b2a57d3eff7";
const SPAN: &str = "e457b5a2e4d86bd1";
const PARENT: &str = "05e3ac9a4f6e3b90";

fn ctx(trace: &str, span: &str, parent: Option<&str>, sampling: B3Sampling) -> B3Single {
    let mut t = TraceId::default();
    if trace.len() == 16 {
        decode_hex(trace.as_bytes(), &mut t.0[8..]).unwrap();
    } else {
        decode_hex(trace.as_bytes(), &mut t.0).unwrap();
    }
    let mut s = SpanId::default();
    decode_hex(span.as_bytes(), &mut s.0).unwrap();
    let p = parent.map(|p| {
        let mut id = SpanId::default();
        decode_hex(p.as_bytes(), &mut id.0).unwrap();
        id
    });
    B3Single::Context(B3Context {
        trace_id: t,
        span_id: s,
        parent_span_id: p,
        sampling,
    })
}

#[test]
fn single_header_values() {
    use B3Sampling::*;
    let cases: Vec<(String, Result<B3Single, B3Error>)> = vec![
        (
            format!("{T128}-{SPAN}-1-{PARENT}"),
            Ok(ctx(T128, SPAN, Some(PARENT), Accept)),
        ),
        (
            format!("{T128}-{SPAN}-1"),
            Ok(ctx(T128, SPAN, None, Accept)),
        ),
        (format!("{T128}-{SPAN}-0"), Ok(ctx(T128, SPAN, None, Deny))),
        (format!("{T128}-{SPAN}-d"), Ok(ctx(T128, SPAN, None, Debug))),
        (format!("{T128}-{SPAN}"), Ok(ctx(T128, SPAN, None, Defer))),
        (format!("{T64}-{SPAN}-1"), Ok(ctx(T64, SPAN, None, Accept))),
        (format!(" {T64}-{SPAN}-0 "), Ok(ctx(T64, SPAN, None, Deny))),
        ("0".into(), Ok(B3Single::SamplingOnly(Deny))),
        ("1".into(), Ok(B3Single::SamplingOnly(Accept))),
        ("d".into(), Ok(B3Single::SamplingOnly(Debug))),
        ("x".into(), Err(B3Error::Sampling)),
        ("".into(), Err(B3Error::Structure)),
        ("true".into(), Err(B3Error::Structure)),
        (T128.to_owned(), Err(B3Error::Structure)),
        (
            format!("{T128}-{SPAN}-1-{PARENT}-x"),
            Err(B3Error::Structure),
        ),
        (
            format!("{}-{SPAN}-1", T128.to_uppercase()),
            Err(B3Error::TraceId),
        ),
        (format!("{}-{SPAN}-1", &T128[1..]), Err(B3Error::TraceId)),
        (
            format!("{}-{SPAN}-1", "0".repeat(32)),
            Err(B3Error::TraceId),
        ),
        (
            format!("{}-{SPAN}-1", "0".repeat(16)),
            Err(B3Error::TraceId),
        ),
        (format!("{T128}-{}-1", "0".repeat(16)), Err(B3Error::SpanId)),
        (
            format!("{T128}-{}-1", SPAN.to_uppercase()),
            Err(B3Error::SpanId),
        ),
        (format!("{T128}-{SPAN}-2"), Err(B3Error::Sampling)),
        (format!("{T128}-{SPAN}-true"), Err(B3Error::Sampling)),
        (format!("{T128}-{SPAN}-"), Err(B3Error::Sampling)),
        (
            format!("{T128}-{SPAN}-1-{}", "0".repeat(16)),
            Err(B3Error::ParentSpanId),
        ),
        (format!("{T128}-{SPAN}-1-abc"), Err(B3Error::ParentSpanId)),
    ];
    for (value, want) in cases {
        assert_eq!(parse_single(value.as_bytes()), want, "{value:?}");
    }
}

#[test]
fn multi_header_values() {
    use B3Sampling::*;
    let m = |t: Option<&str>, s: Option<&str>, smp: Option<&str>, f: Option<&str>| {
        B3Multi {
            trace_id: t.map(str::as_bytes),
            span_id: s.map(str::as_bytes),
            sampled: smp.map(str::as_bytes),
            flags: f.map(str::as_bytes),
        }
        .parse()
    };
    assert_eq!(
        m(Some(T128), Some(SPAN), Some("1"), None),
        Ok(Some(ctx(T128, SPAN, None, Accept)))
    );
    assert_eq!(
        m(Some(T128), Some(SPAN), Some("true"), None),
        Ok(Some(ctx(T128, SPAN, None, Accept)))
    );
    assert_eq!(
        m(Some(T128), Some(SPAN), Some("0"), None),
        Ok(Some(ctx(T128, SPAN, None, Deny)))
    );
    assert_eq!(
        m(Some(T128), Some(SPAN), Some("false"), None),
        Ok(Some(ctx(T128, SPAN, None, Deny)))
    );
    assert_eq!(
        m(Some(T64), Some(SPAN), None, None),
        Ok(Some(ctx(T64, SPAN, None, Defer)))
    );
    assert_eq!(
        m(Some(T128), Some(SPAN), Some("0"), Some("1")),
        Ok(Some(ctx(T128, SPAN, None, Debug)))
    );
    assert_eq!(
        m(Some(T128), Some(SPAN), Some("yes"), None),
        Ok(Some(ctx(T128, SPAN, None, Defer)))
    );
    assert_eq!(m(None, None, None, None), Ok(None));
    assert_eq!(
        m(None, None, Some("0"), None),
        Ok(Some(B3Single::SamplingOnly(Deny)))
    );
    assert_eq!(
        m(None, None, None, Some("1")),
        Ok(Some(B3Single::SamplingOnly(Debug)))
    );
    assert_eq!(m(None, None, Some("maybe"), None), Ok(None));
    assert_eq!(
        m(Some(T128), None, Some("1"), None),
        Err(B3Error::Incomplete)
    );
    assert_eq!(m(None, Some(SPAN), None, None), Err(B3Error::Incomplete));
    assert_eq!(
        m(Some("xyz"), Some(SPAN), None, None),
        Err(B3Error::TraceId)
    );
    assert_eq!(
        m(Some(T128), Some("0000000000000000"), None, None),
        Err(B3Error::SpanId)
    );
}

#[test]
fn encode_single_forms() {
    let B3Single::Context(mut c) = ctx(T64, SPAN, Some(PARENT), B3Sampling::Accept) else {
        unreachable!()
    };
    assert_eq!(
        encode_single(&c).as_bytes(),
        format!("0000000000000000{T64}-{SPAN}-1-{PARENT}").as_bytes()
    );
    c.parent_span_id = None;
    c.sampling = B3Sampling::Debug;
    assert_eq!(
        encode_single(&c).as_bytes(),
        format!("0000000000000000{T64}-{SPAN}-d").as_bytes()
    );
    c.sampling = B3Sampling::Deny;
    assert_eq!(
        encode_single(&c).as_bytes(),
        format!("0000000000000000{T64}-{SPAN}-0").as_bytes()
    );
    c.sampling = B3Sampling::Defer;
    c.parent_span_id = Some(SpanId([1; 8]));
    assert_eq!(
        encode_single(&c).as_bytes(),
        format!("0000000000000000{T64}-{SPAN}").as_bytes()
    );
}

fn sampling() -> impl Strategy<Value = B3Sampling> {
    prop_oneof![
        Just(B3Sampling::Accept),
        Just(B3Sampling::Deny),
        Just(B3Sampling::Debug),
        Just(B3Sampling::Defer)
    ]
}

proptest! {
    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let _ = parse_single(&bytes);
        let m = B3Multi { trace_id: Some(&bytes), span_id: Some(&bytes), sampled: Some(&bytes), flags: Some(&bytes) };
        let _ = m.parse();
    }

    #[test]
    fn single_round_trip(trace in any::<[u8; 16]>(), span in any::<[u8; 8]>(), parent in any::<Option<[u8; 8]>>(), s in sampling()) {
        prop_assume!(trace.iter().any(|&b| b != 0) && span.iter().any(|&b| b != 0));
        prop_assume!(parent.is_none_or(|p| p.iter().any(|&b| b != 0)));
        let parent = if s == B3Sampling::Defer { None } else { parent.map(SpanId) };
        let c = B3Context { trace_id: TraceId(trace), span_id: SpanId(span), parent_span_id: parent, sampling: s };
        prop_assert_eq!(parse_single(encode_single(&c).as_bytes()), Ok(B3Single::Context(c)));
    }

    #[test]
    fn rejects_uppercase_ids(trace in "[0-9a-f]{31}[A-F]", span in "[0-9a-f]{16}") {
        let v = format!("{trace}-{span}-1");
        prop_assert_eq!(parse_single(v.as_bytes()), Err(B3Error::TraceId));
    }
}
