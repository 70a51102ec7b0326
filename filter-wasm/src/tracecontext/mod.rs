//! Trace context formats on the wire: W3C `traceparent` and `tracestate` (Trace Context Level 2)
//! and Zipkin B3 (single `b3` and multi `x-b3-*`).
//!
//! Plain Rust with no proxy-wasm dependency. Parsers take the raw header bytes (a header value
//! may hold any byte, and none of them may panic here), use fixed-size ids and do not allocate.

pub mod b3;
pub mod traceparent;
pub mod tracestate;

use std::fmt;

pub use b3::{B3Context, B3Error, B3Multi, B3Sampling, B3Single};
pub use traceparent::{TraceParent, TraceParentError};
pub use tracestate::{TraceState, TraceStateError};

/// A 16-byte trace id. The all-zero id is invalid on the wire and never minted here.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id (W3C calls the caller's one `parent-id`). All zeros is invalid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SpanId(pub [u8; 8]);

/// The `trace-flags` byte of `traceparent`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceFlags(pub u8);

impl TraceId {
    /// Whether every byte is zero (invalid per the spec).
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }

    /// The right-most 7 bytes as an integer in `[0, 2^56)`: the part of the id that the
    /// Level 2 `random` flag promises is random, and the input of consistent sampling.
    pub fn randomness(&self) -> u64 {
        let [_, _, _, _, _, _, _, _, _, b9, b10, b11, b12, b13, b14, b15] = self.0;
        u64::from_be_bytes([0, b9, b10, b11, b12, b13, b14, b15])
    }

    /// Lowercase hex, 32 characters.
    pub fn to_hex(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        encode_hex(&self.0, &mut out);
        out
    }
}

impl SpanId {
    /// Whether every byte is zero (invalid per the spec).
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }

    /// Lowercase hex, 16 characters.
    pub fn to_hex(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        encode_hex(&self.0, &mut out);
        out
    }
}

impl TraceFlags {
    /// Bit 0: the caller may have recorded trace data.
    pub const SAMPLED: u8 = 0x01;
    /// Bit 1 (Level 2): at least the right-most 7 bytes of the trace id are random.
    pub const RANDOM: u8 = 0x02;
    /// The bits this version of the spec defines; others must be written as zero.
    pub const KNOWN: u8 = Self::SAMPLED | Self::RANDOM;

    /// Flags with the given bits set.
    pub fn new(sampled: bool, random: bool) -> Self {
        let mut bits = 0;
        if sampled {
            bits |= Self::SAMPLED;
        }
        if random {
            bits |= Self::RANDOM;
        }
        TraceFlags(bits)
    }

    /// The sampled bit.
    pub fn sampled(self) -> bool {
        self.0 & Self::SAMPLED != 0
    }

    /// The random-trace-id bit.
    pub fn random(self) -> bool {
        self.0 & Self::RANDOM != 0
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}", self.0)
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

/// The value of one lowercase hex digit; `None` for anything else (uppercase included: the
/// W3C grammar is `HEXDIGLC`, and B3 specifies lower-hex too).
pub(crate) fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes lowercase hex into `out`; `src` must be exactly twice as long as `out`.
pub(crate) fn decode_hex(src: &[u8], out: &mut [u8]) -> Option<()> {
    if src.len() != out.len() * 2 {
        return None;
    }
    for (pair, byte) in src.chunks_exact(2).zip(out.iter_mut()) {
        let (hi, lo) = match pair {
            [hi, lo] => (hex_value(*hi)?, hex_value(*lo)?),
            _ => return None,
        };
        *byte = (hi << 4) | lo;
    }
    Some(())
}

/// Encodes `src` as lowercase hex into `out` (which holds `2 * src.len()` bytes).
pub(crate) fn encode_hex(src: &[u8], out: &mut [u8]) {
    for (byte, pair) in src.iter().zip(out.chunks_exact_mut(2)) {
        if let [hi, lo] = pair {
            *hi = hex_digit(byte >> 4);
            *lo = hex_digit(byte & 0x0f);
        }
    }
}

fn hex_digit(nibble: u8) -> u8 {
    if nibble < 10 {
        b'0' + nibble
    } else {
        b'a' + (nibble - 10)
    }
}

/// Strips leading and trailing optional whitespace (SP and HTAB, RFC 9110 `OWS`).
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_case() {
        let mut out = [0u8; 4];
        assert_eq!(decode_hex(b"00ff7a10", &mut out), Some(()));
        assert_eq!(out, [0x00, 0xff, 0x7a, 0x10]);
        let mut hex = [0u8; 8];
        encode_hex(&out, &mut hex);
        assert_eq!(&hex, b"00ff7a10");
        assert_eq!(
            decode_hex(b"00FF7a10", &mut out),
            None,
            "uppercase is not HEXDIGLC"
        );
        assert_eq!(decode_hex(b"00ff7a1", &mut out), None, "odd length");
        assert_eq!(decode_hex(b"00ff7a1g", &mut out), None);
    }

    #[test]
    fn randomness_is_the_right_most_seven_bytes() {
        let id = TraceId([
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7,
        ]);
        assert_eq!(id.randomness(), 0x0001_0203_0405_0607);
        assert_eq!(TraceId([0xff; 16]).randomness(), (1 << 56) - 1);
    }

    #[test]
    fn flags_bits() {
        assert_eq!(TraceFlags::new(true, true), TraceFlags(0x03));
        assert_eq!(TraceFlags::new(false, true), TraceFlags(0x02));
        assert!(TraceFlags(0x09).sampled());
        assert!(!TraceFlags(0x09).random());
    }

    #[test]
    fn ows_trimming() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b" \t "), b"");
        assert_eq!(trim_ows(b""), b"");
    }
}
