//! Zipkin v2 bodies (JSON and protobuf) into OTLP: never panic; a body that translates gives
//! a request that passes OTLP validation with one span per decoded Zipkin span.
//! The first byte picks the format (bit 0: protobuf) and `parse_string_tags` (bit 1).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_otlp::{Limits, Signal, validate};
use meshtrace_zipkin::{Format, Options, decode, to_otlp};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let format = if first & 1 == 0 { Format::Json } else { Format::Proto };
    let options = Options { parse_string_tags: first & 2 != 0 };
    let Ok(spans) = decode(body, format) else { return };
    if let Ok(req) = to_otlp(body, format, options) {
        let pb = req.encode_to_vec();
        let items = validate(Signal::Traces, &pb, &Limits::default());
        if let Ok(n) = items {
            assert_eq!(n, spans.len());
        }
    }
});
