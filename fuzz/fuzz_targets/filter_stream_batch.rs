//! Envoy's answer to the stream-properties expression (`stream::Batch::parse`): never panics,
//! takes only an answer of exactly one part per batched property, and each value is its part:
//! absent when empty, the text itself, or the integer it spells.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_filter::fields::parse_decimal;
use meshtrace_filter::stream::{BATCHED, Batch, SEPARATOR};

fuzz_target!(|data: &[u8]| {
    let Some(mut batch) = Batch::parse(data) else {
        return;
    };
    let parts: Vec<&[u8]> = data.split(|&b| b == SEPARATOR).collect();
    assert_eq!(parts.len(), BATCHED.len());
    for (property, part) in BATCHED.into_iter().zip(parts) {
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
});
