//! Protobuf wire format, write side: varints, tags and length-delimited fields appended to a
//! `Vec<u8>`. Just what OTLP trace export needs; nothing here allocates beyond the buffer.

/// Wire type of varint fields.
pub const VARINT: u8 = 0;
/// Wire type of 64-bit fixed fields.
pub const FIXED64: u8 = 1;
/// Wire type of length-delimited fields.
pub const LEN: u8 = 2;
/// Wire type of 32-bit fixed fields.
pub const FIXED32: u8 = 5;

/// Bytes `v` takes as a varint (1 to 10).
pub fn varint_len(v: u64) -> usize {
    // 64 - leading_zeros is the bit length; each varint byte carries 7 bits.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Appends `v` as a varint.
pub fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Writes `v` as a varint into `out` (at most 10 bytes); returns the length.
pub fn encode_varint(out: &mut [u8; 10], mut v: u64) -> usize {
    let mut n = 0;
    for slot in out.iter_mut() {
        n += 1;
        if v < 0x80 {
            *slot = v as u8;
            return n;
        }
        *slot = (v as u8) | 0x80;
        v >>= 7;
    }
    n
}

/// The tag of `field` with `wire` type.
pub fn tag(field: u32, wire: u8) -> u64 {
    (u64::from(field) << 3) | u64::from(wire)
}

/// Bytes a tag takes.
pub fn tag_len(field: u32) -> usize {
    varint_len(tag(field, 0))
}

/// Bytes a length-delimited field with a `len`-byte body takes.
pub fn len_field_len(field: u32, len: usize) -> usize {
    tag_len(field) + varint_len(len as u64) + len
}

/// Appends a length-delimited field.
pub fn put_len_field(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(buf, tag(field, LEN));
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// Appends a length-delimited field whose body is the concatenation of `parts`.
pub fn put_len_parts(buf: &mut Vec<u8>, field: u32, parts: &[&[u8]]) {
    put_varint(buf, tag(field, LEN));
    put_varint(buf, parts.iter().map(|p| p.len() as u64).sum());
    for p in parts {
        buf.extend_from_slice(p);
    }
}

/// Appends the tag and length of a length-delimited field whose body follows.
pub fn put_len_header(buf: &mut Vec<u8>, field: u32, len: usize) {
    put_varint(buf, tag(field, LEN));
    put_varint(buf, len as u64);
}

/// Appends a varint field.
pub fn put_varint_field(buf: &mut Vec<u8>, field: u32, v: u64) {
    put_varint(buf, tag(field, VARINT));
    put_varint(buf, v);
}

/// Appends a fixed64 field.
pub fn put_fixed64_field(buf: &mut Vec<u8>, field: u32, v: u64) {
    put_varint(buf, tag(field, FIXED64));
    buf.extend_from_slice(&v.to_le_bytes());
}

/// Appends a fixed32 field.
pub fn put_fixed32_field(buf: &mut Vec<u8>, field: u32, v: u32) {
    put_varint(buf, tag(field, FIXED32));
    buf.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        for (v, want) in [
            (0u64, &[0x00][..]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf, want, "{v}");
            assert_eq!(varint_len(v), want.len(), "{v}");
            let mut arr = [0u8; 10];
            let n = encode_varint(&mut arr, v);
            assert_eq!(&arr[..n], want, "{v}");
        }
    }

    #[test]
    fn fields() {
        let mut buf = Vec::new();
        put_len_parts(&mut buf, 1, &[b"ab", b"c"]);
        put_varint_field(&mut buf, 6, 2);
        put_fixed64_field(&mut buf, 7, 1);
        put_fixed32_field(&mut buf, 16, 0x301);
        assert_eq!(
            buf,
            [
                0x0a, 3, b'a', b'b', b'c', 0x30, 2, 0x39, 1, 0, 0, 0, 0, 0, 0, 0, 0x85, 0x01, 1, 3,
                0, 0
            ]
        );
        assert_eq!(len_field_len(1, 3), 5);
        assert_eq!(len_field_len(16, 200), 2 + 2 + 200);
    }
}
