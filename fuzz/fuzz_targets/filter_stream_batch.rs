//! Envoy's answer to the stream-properties expression (`stream::Batch::parse_of`, for each
//! `span.kind`'s properties): never panics, takes only an answer of exactly one part per
//! property the expression read, and each value is its part: absent when empty, the text
//! itself, or the integer it spells. A property the expression did not read goes to the host.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_filter::config::KindSetting;
use meshtrace_filter::fields::parse_decimal;
use meshtrace_filter::stream::{BATCHED, Batch, SEPARATOR, batched};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the kind, the rest is the answer.
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let kind = match pick % 3 {
        0 => KindSetting::Auto,
        1 => KindSetting::Server,
        _ => KindSetting::Client,
    };
    let properties = batched(kind);
    let Some(mut batch) = Batch::parse_of(data, properties) else {
        return;
    };
    let parts: Vec<&[u8]> = data.split(|&b| b == SEPARATOR).collect();
    assert_eq!(parts.len(), properties.len());
    for (&property, part) in properties.iter().zip(parts) {
        match batch.take(property) {
            Some(None) => assert!(part.is_empty()),
            Some(Some(v)) => {
                let integer = <[u8; 8]>::try_from(v.as_slice())
                    .ok()
                    .map(u64::from_le_bytes);
                assert!(v == part || (integer.is_some() && integer == parse_decimal(part)));
            }
            None => panic!("{property:?} is batched"),
        }
        assert_eq!(batch.take(property), Some(None), "taken once");
    }
    for property in BATCHED.into_iter().filter(|p| !properties.contains(p)) {
        assert_eq!(batch.take(property), None, "{property:?} was not read");
    }
});
