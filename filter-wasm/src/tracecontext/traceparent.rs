//! The W3C `traceparent` header: `version "-" trace-id "-" parent-id "-" trace-flags`.
//!
//! Version `00` is parsed strictly (exactly 55 characters). Higher versions follow the spec's
//! forward-compatibility rule: the first 55 characters must have the `00` shape and be either
//! the whole value or followed by `-`; whatever comes after is ignored. Version `ff` is invalid.
//! Every invalid form is reported as an error, which callers treat as "no traceparent".

use super::{SpanId, TraceFlags, TraceId, decode_hex, encode_hex, trim_ows};

/// Length of a version-00 value: `2 + 1 + 32 + 1 + 16 + 1 + 2`.
pub const TRACEPARENT_LEN: usize = 55;

/// A parsed `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The version the sender used; the filter always writes `00`.
    pub version: u8,
    /// The trace id, never all zeros.
    pub trace_id: TraceId,
    /// The caller's span id (`parent-id`), never all zeros.
    pub parent_id: SpanId,
    /// The flags as received, unknown bits included.
    pub flags: TraceFlags,
}

/// Why a `traceparent` value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TraceParentError {
    /// Not two lowercase hex digits followed by `-`.
    #[error("version is not two lowercase hex digits followed by '-'")]
    Version,
    /// Version `ff` is forbidden.
    #[error("version ff is forbidden")]
    VersionForbidden,
    /// Shorter than the 55 characters every version needs.
    #[error("shorter than 55 characters")]
    TooShort,
    /// A `-` is missing where a field should end.
    #[error("field separator missing or misplaced")]
    Separator,
    /// The trace id is not 32 lowercase hex digits.
    #[error("trace-id is not 32 lowercase hex digits")]
    TraceIdHex,
    /// The trace id is all zeros.
    #[error("trace-id is all zeros")]
    TraceIdZero,
    /// The parent id is not 16 lowercase hex digits.
    #[error("parent-id is not 16 lowercase hex digits")]
    ParentIdHex,
    /// The parent id is all zeros.
    #[error("parent-id is all zeros")]
    ParentIdZero,
    /// The flags are not 2 lowercase hex digits.
    #[error("trace-flags is not 2 lowercase hex digits")]
    FlagsHex,
    /// Version 00 with more than 55 characters, or a higher version whose flags are followed
    /// by something other than `-`.
    #[error("unexpected data after trace-flags")]
    TrailingData,
    /// The request has more than one `traceparent` field.
    #[error("more than one traceparent field")]
    Repeated,
}

impl TraceParent {
    /// Parses a header value (leading and trailing SP/HTAB are ignored, as HTTP does).
    pub fn parse(value: &[u8]) -> Result<Self, TraceParentError> {
        let value = trim_ows(value);
        let mut version = [0u8; 1];
        match value.get(..3) {
            Some([v0, v1, b'-']) => decode_hex(&[*v0, *v1], &mut version),
            _ => None,
        }
        .ok_or(TraceParentError::Version)?;
        let [version] = version;
        if version == 0xff {
            return Err(TraceParentError::VersionForbidden);
        }
        let head = value
            .get(..TRACEPARENT_LEN)
            .ok_or(TraceParentError::TooShort)?;
        let fields = Fields::split(head)?;

        let mut trace_id = TraceId::default();
        decode_hex(fields.trace, &mut trace_id.0).ok_or(TraceParentError::TraceIdHex)?;
        let mut parent_id = SpanId::default();
        decode_hex(fields.parent, &mut parent_id.0).ok_or(TraceParentError::ParentIdHex)?;
        let mut flags = [0u8; 1];
        decode_hex(fields.flags, &mut flags).ok_or(TraceParentError::FlagsHex)?;
        let [flags] = flags;

        match value.get(TRACEPARENT_LEN..) {
            None | Some([]) => {}
            Some([b'-', ..]) if version != 0 => {}
            Some(_) => return Err(TraceParentError::TrailingData),
        }
        if trace_id.is_zero() {
            return Err(TraceParentError::TraceIdZero);
        }
        if parent_id.is_zero() {
            return Err(TraceParentError::ParentIdZero);
        }
        Ok(TraceParent {
            version,
            trace_id,
            parent_id,
            flags: TraceFlags(flags),
        })
    }

    /// The version-00 encoding, exactly as written on the wire.
    pub fn encode(&self) -> [u8; TRACEPARENT_LEN] {
        let mut out = [b'-'; TRACEPARENT_LEN];
        if let Some(v) = out.get_mut(0..2) {
            v.copy_from_slice(b"00");
        }
        if let Some(t) = out.get_mut(3..35) {
            encode_hex(&self.trace_id.0, t);
        }
        if let Some(p) = out.get_mut(36..52) {
            encode_hex(&self.parent_id.0, p);
        }
        if let Some(f) = out.get_mut(53..55) {
            encode_hex(&[self.flags.0], f);
        }
        out
    }
}

/// The hex fields of the 55-character head.
struct Fields<'a> {
    trace: &'a [u8],
    parent: &'a [u8],
    flags: &'a [u8],
}

impl<'a> Fields<'a> {
    /// Splits the head, checking the separators.
    fn split(head: &'a [u8]) -> Result<Self, TraceParentError> {
        let trace = head.get(3..35).ok_or(TraceParentError::TooShort)?;
        let parent = head.get(36..52).ok_or(TraceParentError::TooShort)?;
        let flags = head.get(53..55).ok_or(TraceParentError::TooShort)?;
        match (head.get(35), head.get(52)) {
            (Some(b'-'), Some(b'-')) => Ok(Fields {
                trace,
                parent,
                flags,
            }),
            _ => Err(TraceParentError::Separator),
        }
    }
}

#[cfg(test)]
mod tests;
