//! B3 single and multi parsing: never panics; a parsed single header re-encodes to a value
//! that parses the same. The input is split on NUL into the single header and the four
//! multi headers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_filter::tracecontext::b3::{self, B3Multi, B3Sampling, B3Single};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let single = parts.next().unwrap_or_default();
    if let Ok(B3Single::Context(ctx)) = b3::parse_single(single) {
        assert!(!ctx.trace_id.is_zero() && !ctx.span_id.is_zero());
        let mut expected = ctx;
        if ctx.sampling == B3Sampling::Defer {
            expected.parent_span_id = None;
        }
        let wire = b3::encode_single(&ctx);
        assert_eq!(b3::parse_single(wire.as_bytes()), Ok(B3Single::Context(expected)));
    }
    let multi = B3Multi {
        trace_id: parts.next(),
        span_id: parts.next(),
        sampled: parts.next(),
        flags: parts.next(),
    };
    if let Ok(Some(B3Single::Context(ctx))) = multi.parse() {
        assert!(!ctx.trace_id.is_zero() && !ctx.span_id.is_zero());
    }
});
