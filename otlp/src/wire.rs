//! Protobuf wire format: reading fields out of a byte slice and writing tags, varints and
//! length-delimited records. Every other module goes through these few primitives, so the
//! bounds checks live in one place and nothing here can panic on any input.

use crate::validate::ErrorKind;

/// The wire type of a protobuf field, as found in its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    /// `VARINT` (0): int32, int64, uint32, uint64, sint*, bool, enum.
    Varint,
    /// `I64` (1): fixed64, sfixed64, double.
    I64,
    /// `LEN` (2): string, bytes, embedded messages, packed repeated fields.
    Len,
    /// `I32` (5): fixed32, sfixed32, float.
    I32,
}

impl std::fmt::Display for WireType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WireType::Varint => "varint",
            WireType::I64 => "64-bit",
            WireType::Len => "length-delimited",
            WireType::I32 => "32-bit",
        })
    }
}

/// The value of one field, borrowed from the buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    Varint(u64),
    I64(u64),
    I32(u32),
    Len(&'a [u8]),
}

impl Val<'_> {
    pub(crate) fn wire_type(&self) -> WireType {
        match self {
            Val::Varint(_) => WireType::Varint,
            Val::I64(_) => WireType::I64,
            Val::I32(_) => WireType::I32,
            Val::Len(_) => WireType::Len,
        }
    }
}

/// One field of a message: its number, its value, and where it sits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    pub num: u32,
    pub val: Val<'a>,
    /// Offset of the tag, relative to the slice being iterated.
    pub start: usize,
    /// Offset just past the value, relative to the slice being iterated.
    pub end: usize,
}

impl<'a> Field<'a> {
    /// Offset of the payload (after tag and length), relative to the iterated slice.
    #[inline]
    pub(crate) fn data_start(&self) -> usize {
        match self.val {
            Val::Len(b) => self.end - b.len(),
            _ => self.start,
        }
    }
}

/// A wire-level error: what went wrong and where (relative to the iterated slice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WireError {
    pub kind: ErrorKind,
    pub at: usize,
}

/// Iterates over the fields of one message. After the first error it yields that error
/// once and then stops.
#[derive(Debug, Clone)]
pub(crate) struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    #[inline]
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Fields { buf, pos: 0 }
    }

    /// Fields up to the first malformed one: for views over (normally validated) bytes.
    #[inline]
    pub(crate) fn ok(buf: &'a [u8]) -> OkFields<'a> {
        OkFields(Fields::new(buf))
    }

    /// Offset of the next field, relative to the iterated slice.
    #[inline]
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Skips the consecutive length-delimited fields whose tag is the single byte `tag`
    /// (a run of a repeated field, such as a span's attributes) and returns how many there
    /// were. One predictable loop instead of a full field decode per entry; a malformed
    /// entry ends the run and is left for [`next`](Iterator::next) to report.
    #[inline]
    pub(crate) fn skip_run(&mut self, tag: u8) -> u32 {
        let mut n = 0;
        while self.buf.get(self.pos) == Some(&tag) {
            let mut p = self.pos + 1;
            let Ok(len) = read_varint(self.buf, &mut p) else {
                break;
            };
            let Some(end) = usize::try_from(len)
                .ok()
                .and_then(|l| p.checked_add(l))
                .filter(|&e| e <= self.buf.len())
            else {
                break;
            };
            self.pos = end;
            n += 1;
        }
        n
    }

    #[inline]
    fn fail(&mut self, kind: ErrorKind, at: usize) -> Option<Result<Field<'a>, WireError>> {
        self.pos = self.buf.len();
        Some(Err(WireError { kind, at }))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, WireError>;

    // Always inlined: returning the field through memory from an out-of-line call was the
    // largest single cost of validation (store-forwarding of the 48-byte result).
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let start = self.pos;
        if start >= self.buf.len() {
            return None;
        }
        let mut pos = start;
        let key = match read_varint(self.buf, &mut pos) {
            Ok(k) => k,
            Err(kind) => return self.fail(kind, start),
        };
        let num = key >> 3;
        if num == 0 || num > MAX_FIELD_NUMBER {
            return self.fail(ErrorKind::InvalidTag, start);
        }
        let num = num as u32;
        let val = match key & 7 {
            0 => match read_varint(self.buf, &mut pos) {
                Ok(v) => Val::Varint(v),
                Err(kind) => return self.fail(kind, pos),
            },
            1 => match self.buf.get(pos..pos + 8) {
                Some(b) => {
                    pos += 8;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    Val::I64(u64::from_le_bytes(a))
                }
                None => return self.fail(ErrorKind::Truncated, pos),
            },
            2 => {
                let len_at = pos;
                let len = match read_varint(self.buf, &mut pos) {
                    Ok(v) => v,
                    Err(kind) => return self.fail(kind, len_at),
                };
                let remaining = (self.buf.len() - pos) as u64;
                if len > remaining {
                    return self.fail(ErrorKind::Truncated, len_at);
                }
                let end = pos + len as usize;
                let Some(b) = self.buf.get(pos..end) else {
                    return self.fail(ErrorKind::Truncated, len_at);
                };
                pos = end;
                Val::Len(b)
            }
            5 => match self.buf.get(pos..pos + 4) {
                Some(b) => {
                    pos += 4;
                    let mut a = [0u8; 4];
                    a.copy_from_slice(b);
                    Val::I32(u32::from_le_bytes(a))
                }
                None => return self.fail(ErrorKind::Truncated, pos),
            },
            3 | 4 => return self.fail(ErrorKind::Group, start),
            wt => return self.fail(ErrorKind::InvalidWireType(wt as u8), start),
        };
        self.pos = pos;
        Some(Ok(Field {
            num,
            val,
            start,
            end: pos,
        }))
    }
}

/// [`Fields`] up to the first malformed field, yielding fields without the `Result`.
///
/// Its own type rather than `map_while(Result::ok)`: the adapter's `next` was not inlined
/// into the span views and rewriters, and those out-of-line calls (each returning a field
/// through memory) were a third of the `attributes` processor's time.
#[derive(Debug, Clone)]
pub(crate) struct OkFields<'a>(Fields<'a>);

impl OkFields<'_> {
    /// See [`Fields::skip_run`].
    #[inline]
    pub(crate) fn skip_run(&mut self, tag: u8) -> u32 {
        self.0.skip_run(tag)
    }

    /// See [`Fields::position`].
    #[inline]
    pub(crate) fn position(&self) -> usize {
        self.0.position()
    }
}

impl<'a> Iterator for OkFields<'a> {
    type Item = Field<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Field<'a>> {
        match self.0.next() {
            Some(Ok(f)) => Some(f),
            _ => None,
        }
    }
}

/// The largest field number protobuf allows (2^29 - 1).
const MAX_FIELD_NUMBER: u64 = (1 << 29) - 1;

/// Reads a base-128 varint at `*pos`, advancing `pos`. At most 10 bytes; the 10th may only
/// carry the top bit of a u64 (as prost and the Go runtime require).
#[inline(always)]
pub(crate) fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, ErrorKind> {
    // Tags and most lengths fit in one byte.
    if let Some(&b) = buf.get(*pos)
        && b < 0x80
    {
        *pos += 1;
        return Ok(u64::from(b));
    }
    read_varint_slow(buf, pos)
}

#[inline(never)]
fn read_varint_slow(buf: &[u8], pos: &mut usize) -> Result<u64, ErrorKind> {
    let mut result = 0u64;
    for i in 0..10 {
        let Some(&b) = buf.get(*pos + i) else {
            return Err(ErrorKind::Truncated);
        };
        if i == 9 && b > 1 {
            return Err(ErrorKind::MalformedVarint);
        }
        result |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            *pos += i + 1;
            return Ok(result);
        }
    }
    Err(ErrorKind::MalformedVarint)
}

/// Number of bytes `v` takes as a varint.
#[inline]
pub(crate) fn varint_len(v: u64) -> usize {
    // 1 + floor(bits / 7), with 0 taking one byte.
    ((64 - (v | 1).leading_zeros() as usize) * 9 + 64) / 64
}

#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
pub(crate) fn tag(num: u32, wt: WireType) -> u64 {
    let w = match wt {
        WireType::Varint => 0,
        WireType::I64 => 1,
        WireType::Len => 2,
        WireType::I32 => 5,
    };
    (u64::from(num) << 3) | w
}

/// Bytes a length-delimited field of `len` payload bytes takes, tag and length included.
#[inline]
pub(crate) fn len_field_size(num: u32, len: usize) -> usize {
    varint_len(tag(num, WireType::Len)) + varint_len(len as u64) + len
}

/// Writes the tag and length of a length-delimited field; the payload follows.
#[inline]
pub(crate) fn put_len_header(out: &mut Vec<u8>, num: u32, len: usize) {
    put_varint(out, tag(num, WireType::Len));
    put_varint(out, len as u64);
}

#[inline]
pub(crate) fn put_len_field(out: &mut Vec<u8>, num: u32, payload: &[u8]) {
    put_len_header(out, num, payload.len());
    out.extend_from_slice(payload);
}

#[inline]
pub(crate) fn put_varint_field(out: &mut Vec<u8>, num: u32, v: u64) {
    put_varint(out, tag(num, WireType::Varint));
    put_varint(out, v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_len_matches_encoding() {
        for v in [0u64, 1, 127, 128, 16383, 16384, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            let mut pos = 0;
            assert_eq!(read_varint(&out, &mut pos), Ok(v));
            assert_eq!(pos, out.len());
        }
    }

    #[test]
    fn overlong_varints_are_rejected() {
        let mut pos = 0;
        assert_eq!(
            read_varint(&[0xff; 11], &mut pos),
            Err(ErrorKind::MalformedVarint)
        );
        let mut pos = 0;
        let ten = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(read_varint(&ten, &mut pos), Err(ErrorKind::MalformedVarint));
        let mut pos = 0;
        assert_eq!(read_varint(&[0x80], &mut pos), Err(ErrorKind::Truncated));
    }
}
