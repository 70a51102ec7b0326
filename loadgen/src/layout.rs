//! Where each span's ids, times and request id sit inside an encoded
//! `ExportTraceServiceRequest`, so copies can be given fresh values by overwriting bytes
//! instead of encoding again.
//!
//! Only fixed-width fields are rewritten (16/8-byte ids, `fixed64` times, a 36-character
//! UUID), so no length prefix ever changes.

/// Byte offsets (into the encoded request) of the rewritable fields of one span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanOffsets {
    /// `trace_id` (16 bytes).
    pub trace_id: usize,
    /// `span_id` (8 bytes).
    pub span_id: usize,
    /// `parent_span_id` (8 bytes), when the span has one.
    pub parent_span_id: Option<usize>,
    /// `start_time_unix_nano` (fixed64, little-endian).
    pub start_time: usize,
    /// `end_time_unix_nano` (fixed64, little-endian).
    pub end_time: usize,
    /// The string value of the `guid:x-request-id` attribute (36 bytes), when present.
    pub request_id: Option<usize>,
}

/// Why an encoded request could not be mapped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LayoutError {
    /// A length or varint runs past the end of its message.
    #[error("truncated protobuf at byte {0}")]
    Truncated(usize),
    /// A wire type that OTLP trace messages never use (groups, or reserved values).
    #[error("unsupported wire type {wire_type} at byte {at}")]
    WireType {
        /// The wire type found.
        wire_type: u64,
        /// Where its tag starts.
        at: usize,
    },
    /// A span lacks a field the pool must rewrite, or has it with the wrong length.
    #[error("span at byte {at}: {field} missing or not {len} bytes long")]
    Field {
        /// The span's first byte.
        at: usize,
        /// The field's name.
        field: &'static str,
        /// The length it must have.
        len: usize,
    },
}

/// Maps every span of an encoded `ExportTraceServiceRequest`, in encoding order.
pub fn map_spans(buf: &[u8], request_id_key: &str) -> Result<Vec<SpanOffsets>, LayoutError> {
    let mut spans = Vec::new();
    for_each_len_field(buf, 0, buf.len(), 1, &mut |rs_start, rs_end| {
        // ResourceSpans.scope_spans = 2; ScopeSpans.spans = 2.
        for_each_len_field(buf, rs_start, rs_end, 2, &mut |ss_start, ss_end| {
            for_each_len_field(buf, ss_start, ss_end, 2, &mut |start, end| {
                spans.push(map_span(buf, start, end, request_id_key)?);
                Ok(())
            })
        })
    })?;
    Ok(spans)
}

/// Span fields: 1 trace_id, 2 span_id, 4 parent_span_id, 7/8 times, 9 attributes.
fn map_span(buf: &[u8], start: usize, end: usize, key: &str) -> Result<SpanOffsets, LayoutError> {
    let (mut trace_id, mut span_id, mut parent, mut start_time, mut end_time, mut request_id) =
        (None, None, None, None, None, None);
    let mut r = Reader {
        buf,
        pos: start,
        end,
    };
    while r.pos < r.end {
        let at = r.pos;
        let tag = r.varint()?;
        let (field, wire_type) = (tag >> 3, tag & 7);
        match wire_type {
            2 => {
                let (vstart, vend) = r.len_delimited()?;
                let len = vend - vstart;
                match field {
                    1 if len == 16 => trace_id = Some(vstart),
                    2 if len == 8 => span_id = Some(vstart),
                    4 if len == 8 => parent = Some(vstart),
                    9 => {
                        if let Some(off) = string_attribute(buf, vstart, vend, key)? {
                            request_id = Some(off);
                        }
                    }
                    _ => {}
                }
            }
            1 => {
                let off = r.fixed(8)?;
                match field {
                    7 => start_time = Some(off),
                    8 => end_time = Some(off),
                    _ => {}
                }
            }
            _ => r.skip(wire_type, at)?,
        }
    }
    let missing = |field, len| LayoutError::Field {
        at: start,
        field,
        len,
    };
    Ok(SpanOffsets {
        trace_id: trace_id.ok_or_else(|| missing("trace_id", 16))?,
        span_id: span_id.ok_or_else(|| missing("span_id", 8))?,
        parent_span_id: parent,
        start_time: start_time.ok_or_else(|| missing("start_time_unix_nano", 8))?,
        end_time: end_time.ok_or_else(|| missing("end_time_unix_nano", 8))?,
        request_id,
    })
}

/// If the `KeyValue` in `start..end` has key `key` and a 36-byte string value, the offset of
/// that value.
fn string_attribute(
    buf: &[u8],
    start: usize,
    end: usize,
    key: &str,
) -> Result<Option<usize>, LayoutError> {
    let mut r = Reader {
        buf,
        pos: start,
        end,
    };
    let mut key_matches = false;
    let mut value = None;
    while r.pos < r.end {
        let at = r.pos;
        let tag = r.varint()?;
        match (tag >> 3, tag & 7) {
            (1, 2) => {
                let (s, e) = r.len_delimited()?;
                key_matches = buf.get(s..e) == Some(key.as_bytes());
            }
            (2, 2) => {
                let (s, e) = r.len_delimited()?;
                // AnyValue.string_value = 1
                let mut v = Reader {
                    buf,
                    pos: s,
                    end: e,
                };
                while v.pos < v.end {
                    let vat = v.pos;
                    let vtag = v.varint()?;
                    if vtag == (1 << 3 | 2) {
                        let (vs, ve) = v.len_delimited()?;
                        if ve - vs == 36 {
                            value = Some(vs);
                        }
                    } else {
                        v.skip(vtag & 7, vat)?;
                    }
                }
            }
            (_, wire_type) => r.skip(wire_type, at)?,
        }
    }
    Ok(if key_matches { value } else { None })
}

/// Calls `f(start, end)` for every length-delimited field number `field` in `start..end`.
fn for_each_len_field(
    buf: &[u8],
    start: usize,
    end: usize,
    field: u64,
    f: &mut dyn FnMut(usize, usize) -> Result<(), LayoutError>,
) -> Result<(), LayoutError> {
    let mut r = Reader {
        buf,
        pos: start,
        end,
    };
    while r.pos < r.end {
        let at = r.pos;
        let tag = r.varint()?;
        if tag == (field << 3 | 2) {
            let (s, e) = r.len_delimited()?;
            f(s, e)?;
        } else {
            r.skip(tag & 7, at)?;
        }
    }
    Ok(())
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl Reader<'_> {
    fn varint(&mut self) -> Result<u64, LayoutError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .buf
                .get(self.pos)
                .filter(|_| self.pos < self.end)
                .ok_or(LayoutError::Truncated(self.pos))?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(LayoutError::Truncated(self.pos))
    }

    fn len_delimited(&mut self) -> Result<(usize, usize), LayoutError> {
        let len = usize::try_from(self.varint()?).map_err(|_| LayoutError::Truncated(self.pos))?;
        let start = self.pos;
        let end = start
            .checked_add(len)
            .filter(|e| *e <= self.end)
            .ok_or(LayoutError::Truncated(start))?;
        self.pos = end;
        Ok((start, end))
    }

    fn fixed(&mut self, len: usize) -> Result<usize, LayoutError> {
        let start = self.pos;
        let end = start
            .checked_add(len)
            .filter(|e| *e <= self.end)
            .ok_or(LayoutError::Truncated(start))?;
        self.pos = end;
        Ok(start)
    }

    fn skip(&mut self, wire_type: u64, at: usize) -> Result<(), LayoutError> {
        match wire_type {
            0 => self.varint().map(drop),
            1 => self.fixed(8).map(drop),
            2 => self.len_delimited().map(drop),
            5 => self.fixed(4).map(drop),
            _ => Err(LayoutError::WireType { wire_type, at }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::{MESH, Pod};
    use crate::rng::Rng;
    use crate::shape::{self, REQUEST_ID_KEY};
    use prost::Message;

    #[test]
    fn offsets_point_at_the_values_prost_encoded() {
        let mut rng = Rng::new(11);
        for workload in MESH {
            let pod = Pod::new(workload, &mut rng);
            let shaped = shape::build(&pod, 37, &mut rng);
            let buf = shaped.request.encode_to_vec();
            let offsets = map_spans(&buf, REQUEST_ID_KEY).unwrap();
            let spans = &shaped.request.resource_spans[0].scope_spans[0].spans;
            assert_eq!(offsets.len(), spans.len());
            for (o, s) in offsets.iter().zip(spans) {
                assert_eq!(&buf[o.trace_id..o.trace_id + 16], s.trace_id.as_slice());
                assert_eq!(&buf[o.span_id..o.span_id + 8], s.span_id.as_slice());
                match o.parent_span_id {
                    Some(p) => assert_eq!(&buf[p..p + 8], s.parent_span_id.as_slice()),
                    None => assert!(s.parent_span_id.is_empty()),
                }
                let start =
                    u64::from_le_bytes(buf[o.start_time..o.start_time + 8].try_into().unwrap());
                let end = u64::from_le_bytes(buf[o.end_time..o.end_time + 8].try_into().unwrap());
                assert_eq!((start, end), (s.start_time_unix_nano, s.end_time_unix_nano));
                let rid = o
                    .request_id
                    .expect("every Envoy span has guid:x-request-id");
                let want = s
                    .attributes
                    .iter()
                    .find(|kv| kv.key == REQUEST_ID_KEY)
                    .unwrap();
                let got = std::str::from_utf8(&buf[rid..rid + 36]).unwrap();
                assert_eq!(
                    format!("{:?}", want.value.as_ref().unwrap().value),
                    format!("Some(StringValue({got:?}))")
                );
            }
        }
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let mut rng = Rng::new(2);
        let pod = Pod::new(&MESH[1], &mut rng);
        let buf = shape::build(&pod, 5, &mut rng).request.encode_to_vec();
        for cut in [1, 2, 10, buf.len() / 2, buf.len() - 1] {
            assert!(
                map_spans(&buf[..cut], REQUEST_ID_KEY).is_err(),
                "cut at {cut}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = map_spans(&bytes, REQUEST_ID_KEY);
        }

        #[test]
        fn every_reported_offset_is_in_bounds(seed in 0u64..1000, flip in 0usize..4000, byte in proptest::num::u8::ANY) {
            // A real request with one byte changed: whatever the walker accepts must be in bounds.
            let mut rng = Rng::new(seed);
            let pod = Pod::new(&MESH[usize::try_from(seed).unwrap() % MESH.len()], &mut rng);
            let mut buf = shape::build(&pod, 3, &mut rng).request.encode_to_vec();
            let i = flip % buf.len();
            buf[i] = byte;
            if let Ok(spans) = map_spans(&buf, REQUEST_ID_KEY) {
                for o in spans {
                    proptest::prop_assert!(o.trace_id + 16 <= buf.len() && o.span_id + 8 <= buf.len());
                    proptest::prop_assert!(o.start_time + 8 <= buf.len() && o.end_time + 8 <= buf.len());
                    proptest::prop_assert!(o.parent_span_id.is_none_or(|p| p + 8 <= buf.len()));
                    proptest::prop_assert!(o.request_id.is_none_or(|r| r + 36 <= buf.len()));
                }
            }
        }
    }

    #[test]
    fn groups_are_refused() {
        // Field 1, wire type 3 (start group).
        assert_eq!(
            map_spans(&[0x0b], REQUEST_ID_KEY),
            Err(LayoutError::WireType {
                wire_type: 3,
                at: 0
            })
        );
    }

    #[test]
    fn a_span_without_ids_is_named() {
        // ResourceSpans { ScopeSpans { Span { name: "x" } } }
        let span = [0x2a, 0x01, b'x'];
        let scope = [&[0x12, 3][..], &span].concat();
        let rs = [&[0x12, 5][..], &scope].concat();
        let req = [&[0x0a, 7][..], &rs].concat();
        assert_eq!(
            map_spans(&req, REQUEST_ID_KEY),
            Err(LayoutError::Field {
                at: 6,
                field: "trace_id",
                len: 16
            })
        );
    }
}
