//! OTLP/JSON in and out: never panic; JSON that converts and validates must convert back to the
//! same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_otlp::{Limits, json, validate};

include!("otlp_common.rs");

fuzz_target!(|data: &[u8]| {
    let Some((signal, payload)) = signal_and_payload(data) else { return };
    let _ = json::from_protobuf(signal, payload);
    if let Ok(pb) = json::to_protobuf(signal, payload)
        && validate(signal, &pb, &Limits::default()).is_ok()
    {
        let js = json::from_protobuf(signal, &pb).unwrap();
        let back = json::to_protobuf(signal, &js).unwrap();
        // The reader's output is canonical (prost's field order, defaults left out): written
        // and read again, it is the same bytes.
        assert_eq!(back, pb);
    }
});
