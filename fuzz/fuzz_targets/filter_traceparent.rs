//! `traceparent` parsing: never panics; whatever parses re-encodes (as version 00) to a value
//! that parses to the same ids and flags.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_filter::tracecontext::TraceParent;

fuzz_target!(|data: &[u8]| {
    if let Ok(tp) = TraceParent::parse(data) {
        assert!(!tp.trace_id.is_zero() && !tp.parent_id.is_zero());
        assert_ne!(tp.version, 0xff);
        let wire = tp.encode();
        let again = TraceParent::parse(&wire).expect("re-encoded traceparent parses");
        assert_eq!((again.trace_id, again.parent_id, again.flags), (tp.trace_id, tp.parent_id, tp.flags));
        assert_eq!(again.version, 0);
    }
});
