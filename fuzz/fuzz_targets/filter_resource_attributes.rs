//! `OTEL_RESOURCE_ATTRIBUTES` parsing: never panics; what is accepted has non-empty keys and
//! round-trips through percent-encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_filter::node::parse_resource_attributes;

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'_' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(pairs) = parse_resource_attributes(text) {
        for (k, _) in &pairs {
            assert!(!k.is_empty());
        }
        let again: String = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join(",");
        // Trimming may drop edge spaces of keys and values, never anything else.
        let reparsed = parse_resource_attributes(&again).expect("re-encoded pairs parse");
        assert_eq!(reparsed.len(), pairs.len());
    }
});
