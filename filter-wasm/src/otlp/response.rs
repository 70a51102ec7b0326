//! The collector's answer to an export: `ExportTraceServiceResponse`, whose optional
//! `partial_success` says how many spans were refused and why. Read with a minimal,
//! panic-free protobuf reader; unknown fields are skipped, malformed bytes mean "no
//! information" (the HTTP status already said the request succeeded).

/// `ExportTracePartialSuccess`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartialSuccess {
    /// `rejected_spans`.
    pub rejected_spans: u64,
    /// `error_message` (lossy UTF-8, cut to 256 bytes).
    pub error_message: String,
}

/// Parses an `ExportTraceServiceResponse` body. `None` when the body is empty, malformed or
/// has no `partial_success`.
pub fn parse_partial_success(body: &[u8]) -> Option<PartialSuccess> {
    let mut out = None;
    for_each_field(body, |num, value| {
        if let (1, Value::Len(inner)) = (num, value) {
            let mut ps = PartialSuccess::default();
            let ok = for_each_field(inner, |num, value| match (num, value) {
                (1, Value::Varint(v)) => ps.rejected_spans = v,
                (2, Value::Len(msg)) => {
                    let msg = msg.get(..msg.len().min(256)).unwrap_or_default();
                    ps.error_message = String::from_utf8_lossy(msg).into_owned();
                }
                _ => {}
            });
            if ok {
                out = Some(ps);
            }
        }
    })
    .then_some(())?;
    out
}

enum Value<'a> {
    Varint(u64),
    Len(&'a [u8]),
    Fixed,
}

/// Calls `f` for each field; false if the bytes are malformed.
fn for_each_field<'a>(mut buf: &'a [u8], mut f: impl FnMut(u64, Value<'a>)) -> bool {
    while !buf.is_empty() {
        let Some(key) = read_varint(&mut buf) else {
            return false;
        };
        let num = key >> 3;
        let value = match key & 7 {
            0 => match read_varint(&mut buf) {
                Some(v) => Value::Varint(v),
                None => return false,
            },
            1 | 5 => {
                let n = if key & 7 == 1 { 8 } else { 4 };
                match buf.get(n..) {
                    Some(rest) => {
                        buf = rest;
                        Value::Fixed
                    }
                    None => return false,
                }
            }
            2 => {
                let Some(len) = read_varint(&mut buf) else {
                    return false;
                };
                let Ok(len) = usize::try_from(len) else {
                    return false;
                };
                match (buf.get(..len), buf.get(len..)) {
                    (Some(v), Some(rest)) => {
                        buf = rest;
                        Value::Len(v)
                    }
                    _ => return false,
                }
            }
            _ => return false,
        };
        f(num, value);
    }
    true
}

fn read_varint(buf: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        // partial_success { rejected_spans: 3, error_message: "bad" }
        let full = [0x0a, 0x07, 0x08, 0x03, 0x12, 0x03, b'b', b'a', b'd'];
        assert_eq!(
            parse_partial_success(&full),
            Some(PartialSuccess {
                rejected_spans: 3,
                error_message: "bad".into()
            })
        );
        assert_eq!(parse_partial_success(&[]), None);
        // An empty partial_success: present, nothing rejected.
        assert_eq!(
            parse_partial_success(&[0x0a, 0x00]),
            Some(PartialSuccess::default())
        );
        // Unknown fields around it are skipped.
        let mut with_unknown = vec![0x10, 0x01, 0x19, 0, 0, 0, 0, 0, 0, 0, 0];
        with_unknown.extend_from_slice(&full);
        assert_eq!(
            parse_partial_success(&with_unknown).unwrap().rejected_spans,
            3
        );
        // Truncated or malformed: nothing.
        assert_eq!(parse_partial_success(&full[..5]), None);
        assert_eq!(parse_partial_success(&[0x0f]), None);
        assert_eq!(parse_partial_success(&[0x80; 11]), None);
        // JSON bodies (a collector answering in JSON) are not protobuf.
        assert_eq!(parse_partial_success(b"{}"), None);
    }
}
