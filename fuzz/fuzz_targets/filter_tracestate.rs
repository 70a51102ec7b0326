//! `tracestate` parsing, canonical form and truncation: never panics; the canonical form
//! parses back to the same members; truncation fits the limit and keeps order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_filter::tracecontext::TraceState;

fuzz_target!(|data: &[u8]| {
    let Ok(state) = TraceState::parse(data) else { return };
    assert!(state.len() <= 32);
    let canonical = state.to_header_value();
    assert_eq!(canonical.len(), state.encoded_len());
    let again = TraceState::parse(canonical.as_bytes()).expect("canonical tracestate parses");
    assert_eq!(again.members(), state.members());
    assert_eq!(again.duplicates_dropped(), 0);
    let limit = data.first().map_or(0, |&b| usize::from(b) * 4);
    let mut cut = state.clone();
    cut.truncate(limit);
    assert!(cut.encoded_len() <= limit);
    let mut rest = state.members().iter();
    for m in cut.members() {
        assert!(rest.any(|x| x == m), "truncation reordered members");
    }
});
