//! The persistent queue's record decoder (what recovery runs on every segment after a crash):
//! no input may panic; the entries found cover the input exactly, in order; every record
//! found re-encodes to the very bytes it was read from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshtrace_collector::exporter::helper::persistent::format::{
    self, Entry, decode_ack, decode_exact, encode_ack, encode_record,
};

fuzz_target!(|data: &[u8]| {
    let mut at = 0;
    for e in format::scan(data) {
        match e {
            Entry::Record(r) => {
                assert_eq!(r.offset, at);
                let frame = &data[at..at + r.frame_len()];
                let mut again = Vec::new();
                encode_record(&mut again, r.seq, r.signal, r.payload);
                assert_eq!(again, frame);
                let alone = decode_exact(frame).unwrap();
                assert_eq!((alone.offset, alone.seq, alone.signal, alone.payload), (0, r.seq, r.signal, r.payload));
                at += r.frame_len();
            }
            Entry::Corrupt { offset, len } | Entry::Truncated { offset, len } => {
                assert_eq!(offset, at);
                assert!(len > 0);
                at += len;
            }
        }
    }
    assert_eq!(at, data.len());
    if let Some(w) = decode_ack(data) {
        assert_eq!(encode_ack(w).as_slice(), data);
    }
});
