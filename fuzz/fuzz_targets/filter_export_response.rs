//! The collector's `ExportTraceServiceResponse`: never panics on any body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_filter::otlp::response::parse_partial_success;

fuzz_target!(|data: &[u8]| {
    if let Some(p) = parse_partial_success(data) {
        assert!(p.error_message.len() <= 256 * 3);
    }
});
