//! Capped gzip decompression on arbitrary bytes: never panic, never exceed the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_otlp::gzip;

fuzz_target!(|data: &[u8]| {
    const CAP: usize = 1 << 20;
    if let Ok(out) = gzip::decompress(data, CAP) {
        assert!(out.len() <= CAP);
        let again = gzip::decompress(&gzip::compress(&out, 1), CAP).unwrap();
        assert_eq!(again, out);
    }
});
