//! A header map is read in place: taking Envoy's serialized answer and looking up fields
//! (method, path, the trace headers, `:status`, `content-length`) allocates nothing, however
//! many fields the map has. Only a value repeated over several fields is joined into a new
//! buffer. Counted with a per-thread counting allocator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../ottl/tests/common/counting_alloc.rs"]
mod counting_alloc;

use meshtrace_filter::fields::Fields;

fn allocations(f: impl FnOnce()) -> usize {
    let before = counting_alloc::allocations();
    f();
    counting_alloc::allocations() - before
}

/// An Envoy request header map with `extra` more fields.
fn serialized(extra: usize) -> Vec<u8> {
    let mut pairs: Vec<(String, String)> = [
        (":authority", "productpage:9080"),
        (":path", "/productpage"),
        (":method", "GET"),
        (":scheme", "http"),
        ("user-agent", "curl/8.5.0"),
        ("x-request-id", "5d3f2c1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f"),
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "a=1"),
        ("tracestate", "b=2"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    pairs.extend((0..extra).map(|i| (format!("x-extra-{i}"), format!("value {i}"))));
    Fields::from_pairs(pairs).as_bytes().to_vec()
}

#[test]
fn reading_a_header_map_allocates_nothing_per_field() {
    for extra in [0, 10, 100] {
        let bytes = serialized(extra);
        let mut fields = None;
        let n = allocations(|| {
            let f = Fields::from_serialized(bytes).unwrap();
            for name in [
                ":method",
                ":path",
                ":authority",
                "user-agent",
                "traceparent",
            ] {
                assert!(f.first(name).is_some(), "{name}");
                assert!(matches!(
                    f.joined(name),
                    Some(std::borrow::Cow::Borrowed(_))
                ));
            }
            for name in ["b3", "x-b3-traceid", "content-length"] {
                assert!(!f.contains(name));
            }
            assert_eq!(f.len(), 9 + extra);
            fields = Some(f);
        });
        assert_eq!(n, 0, "{extra} extra fields");
        // Two `tracestate` fields are combined into one new value.
        let f = fields.unwrap();
        let n = allocations(|| assert_eq!(f.joined("tracestate").unwrap().as_ref(), b"a=1,b=2"));
        assert_eq!(n, 1);
    }
}
