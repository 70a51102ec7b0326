//! OTLP trace export, hand-encoded: spans are written as protobuf straight into the export
//! buffer, and a batch becomes an `ExportTraceServiceRequest` by writing a small header in
//! front of them. No intermediate structs and no allocation per span or attribute beyond the
//! buffer itself.
//!
//! Message layout (opentelemetry-proto, `trace/v1/trace.proto`):
//!
//! ```text
//! ExportTraceServiceRequest { 1: ResourceSpans { 1: Resource { 1: KeyValue* }
//!                                               2: ScopeSpans { 1: InstrumentationScope
//!                                                               2: Span*  3: schema_url }
//!                                               3: schema_url } }
//! ```
//!
//! Every string written is valid UTF-8 (header bytes that are not are replaced with U+FFFD; a
//! collector refuses a whole request over one bad string) and at most [`MAX_VALUE_LEN`]
//! bytes, cut at a character boundary.

pub mod response;
pub mod wire;

use std::borrow::Cow;

use wire::{
    LEN, len_field_len, put_fixed32_field, put_fixed64_field, put_len_field, put_len_header,
    put_varint, put_varint_field, tag, varint_len,
};

use crate::tracecontext::{SpanId, TraceId};

/// The semantic conventions version the attributes follow (`schema_url`).
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.34.0";
/// The instrumentation scope name.
pub const SCOPE_NAME: &str = "meshtrace-filter";
/// The instrumentation scope version.
pub const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Longest attribute value or span name written, in bytes; longer ones are cut.
pub const MAX_VALUE_LEN: usize = 2048;

/// `Span.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// `SPAN_KIND_SERVER` (2).
    Server = 2,
    /// `SPAN_KIND_CLIENT` (3).
    Client = 3,
}

/// `Status.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    /// `STATUS_CODE_UNSET` (0).
    Unset = 0,
    /// `STATUS_CODE_ERROR` (2).
    Error = 2,
}

/// `text` as valid UTF-8 of at most [`MAX_VALUE_LEN`] bytes: borrowed when already so.
pub fn text(bytes: &[u8]) -> Cow<'_, str> {
    // `from_utf8` checks ASCII a word at a time; `from_utf8_lossy` walks chunk by chunk even
    // when there is nothing to replace (5 % of a span's instructions).
    truncate(match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    })
}

/// Cuts `s` to at most [`MAX_VALUE_LEN`] bytes at a character boundary.
pub fn truncate(s: Cow<'_, str>) -> Cow<'_, str> {
    if s.len() <= MAX_VALUE_LEN {
        return s;
    }
    let mut end = MAX_VALUE_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.get(..end).unwrap_or_default()),
        Cow::Owned(mut o) => {
            o.truncate(end);
            Cow::Owned(o)
        }
    }
}

/// Length of an `AnyValue { string_value }` holding `len` bytes.
fn any_string_len(len: usize) -> usize {
    len_field_len(1, len)
}

/// Appends a `KeyValue` with a string value as field `field` of the enclosing message. The
/// key is the concatenation of `key` (`["http.request.header.", name]`).
pub fn put_str_attr(buf: &mut Vec<u8>, field: u32, key: &[&str], value: &str) {
    let key_len: usize = key.iter().map(|k| k.len()).sum();
    let any = any_string_len(value.len());
    let kv = len_field_len(1, key_len) + len_field_len(2, any);
    put_len_header(buf, field, kv);
    put_key(buf, key, key_len);
    put_len_header(buf, 2, any);
    put_len_field(buf, 1, value.as_bytes());
}

/// Appends a `KeyValue` with an integer value.
pub fn put_int_attr(buf: &mut Vec<u8>, field: u32, key: &str, value: i64) {
    let any = 1 + varint_len(value as u64);
    let kv = len_field_len(1, key.len()) + len_field_len(2, any);
    put_len_header(buf, field, kv);
    put_len_field(buf, 1, key.as_bytes());
    put_len_header(buf, 2, any);
    put_varint_field(buf, 3, value as u64);
}

/// Appends a `KeyValue` whose value is an array of strings (header values, as the HTTP
/// conventions record them).
pub fn put_str_array_attr<'v>(
    buf: &mut Vec<u8>,
    field: u32,
    key: &[&str],
    values: impl Iterator<Item = &'v [u8]> + Clone,
) {
    let key_len: usize = key.iter().map(|k| k.len()).sum();
    let array: usize = values
        .clone()
        .map(|v| len_field_len(1, any_string_len(text(v).len())))
        .sum();
    let any = len_field_len(5, array);
    let kv = len_field_len(1, key_len) + len_field_len(2, any);
    put_len_header(buf, field, kv);
    put_key(buf, key, key_len);
    put_len_header(buf, 2, any);
    put_len_header(buf, 5, array);
    for v in values {
        let v = text(v);
        put_len_header(buf, 1, any_string_len(v.len()));
        put_len_field(buf, 1, v.as_bytes());
    }
}

fn put_key(buf: &mut Vec<u8>, key: &[&str], key_len: usize) {
    put_len_header(buf, 1, key_len);
    for k in key {
        buf.extend_from_slice(k.as_bytes());
    }
}

/// Writes one `Span` (as `ScopeSpans.spans`, field 2) into a buffer. The length is patched in
/// [`SpanWriter::finish`], so fields are appended as they are known.
pub struct SpanWriter<'b> {
    buf: &'b mut Vec<u8>,
    /// Where the 5 bytes reserved for the length start.
    len_at: usize,
}

/// Bytes reserved for a span's length: a `u32` varint at most.
const LEN_RESERVED: usize = 5;

impl<'b> SpanWriter<'b> {
    /// Starts a span at the end of `buf`.
    pub fn begin(buf: &'b mut Vec<u8>) -> Self {
        put_varint(buf, tag(2, LEN));
        let len_at = buf.len();
        buf.extend_from_slice(&[0; LEN_RESERVED]);
        SpanWriter { buf, len_at }
    }

    /// Trace id, span id, `tracestate` and parent (fields 1–4).
    pub fn ids(
        &mut self,
        trace_id: &TraceId,
        span_id: &SpanId,
        tracestate: &str,
        parent: Option<&SpanId>,
    ) {
        put_len_field(self.buf, 1, &trace_id.0);
        put_len_field(self.buf, 2, &span_id.0);
        if !tracestate.is_empty() {
            put_len_field(self.buf, 3, tracestate.as_bytes());
        }
        if let Some(parent) = parent {
            put_len_field(self.buf, 4, &parent.0);
        }
    }

    /// The name (field 5), the concatenation of `parts`, cut to [`MAX_VALUE_LEN`].
    pub fn name(&mut self, parts: &[&str]) {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total <= MAX_VALUE_LEN {
            put_len_header(self.buf, 5, total);
            for p in parts {
                self.buf.extend_from_slice(p.as_bytes());
            }
        } else {
            let joined = parts.concat();
            put_len_field(self.buf, 5, truncate(Cow::Owned(joined)).as_bytes());
        }
    }

    /// The kind (field 6).
    pub fn kind(&mut self, kind: SpanKind) {
        put_varint_field(self.buf, 6, kind as u64);
    }

    /// Start and end, Unix nanoseconds (fields 7, 8).
    pub fn times(&mut self, start_ns: u64, end_ns: u64) {
        put_fixed64_field(self.buf, 7, start_ns);
        put_fixed64_field(self.buf, 8, end_ns.max(start_ns));
    }

    /// A string attribute; the value is made valid UTF-8 and cut to size.
    pub fn attr(&mut self, key: &str, value: &[u8]) {
        put_str_attr(self.buf, 9, &[key], &text(value));
    }

    /// A string attribute from `&str`.
    pub fn attr_str(&mut self, key: &str, value: &str) {
        put_str_attr(self.buf, 9, &[key], &truncate(Cow::Borrowed(value)));
    }

    /// An integer attribute.
    pub fn attr_int(&mut self, key: &str, value: i64) {
        put_int_attr(self.buf, 9, key, value);
    }

    /// A string-array attribute whose key is `prefix` + `name`.
    pub fn attr_array<'v>(
        &mut self,
        prefix: &str,
        name: &str,
        values: impl Iterator<Item = &'v [u8]> + Clone,
    ) {
        put_str_array_attr(self.buf, 9, &[prefix, name], values);
    }

    /// The status (field 15).
    pub fn status(&mut self, code: StatusCode, message: &str) {
        let message = truncate(Cow::Borrowed(message));
        let mut len = 0;
        if !message.is_empty() {
            len += len_field_len(2, message.len());
        }
        if code != StatusCode::Unset {
            len += 1 + varint_len(code as u64);
        }
        if len == 0 {
            return;
        }
        put_len_header(self.buf, 15, len);
        if !message.is_empty() {
            put_len_field(self.buf, 2, message.as_bytes());
        }
        if code != StatusCode::Unset {
            put_varint_field(self.buf, 3, code as u64);
        }
    }

    /// `Span.flags` (field 16): the W3C trace flags, and whether the parent is remote.
    pub fn flags(&mut self, trace_flags: u8, parent_is_remote: bool) {
        // SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE (0x100) | SPAN_FLAGS_CONTEXT_IS_REMOTE (0x200)
        let remote = if parent_is_remote { 0x300 } else { 0x100 };
        put_fixed32_field(self.buf, 16, u32::from(trace_flags) | remote);
    }

    /// Writes the length and closes the gap left for it.
    pub fn finish(self) {
        let body_start = self.len_at + LEN_RESERVED;
        let body_len = self.buf.len().saturating_sub(body_start);
        let mut len = [0u8; 10];
        let n = wire::encode_varint(&mut len, body_len as u64).min(LEN_RESERVED);
        if let (Some(dst), Some(src)) =
            (self.buf.get_mut(self.len_at..self.len_at + n), len.get(..n))
        {
            dst.copy_from_slice(src);
        }
        self.buf.copy_within(body_start.., self.len_at + n);
        let new_len = self.buf.len() - (LEN_RESERVED - n);
        self.buf.truncate(new_len);
    }
}

/// The parts of an export request that are the same for every batch of a VM: the encoded
/// `Resource` and `InstrumentationScope` fields and the schema URLs. A batch buffer starts
/// with [`Framing::reserved`] free bytes; [`Framing::frame`] writes the request header into
/// the end of that gap and appends the trailing fields, so the spans are never copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framing {
    /// `ResourceSpans.resource` (field 1), tag and length included.
    resource: Vec<u8>,
    /// `ScopeSpans.scope` (field 1), tag and length included.
    scope: Vec<u8>,
    /// `ScopeSpans.schema_url` (field 3).
    scope_suffix: Vec<u8>,
    /// `ResourceSpans.schema_url` (field 3).
    resource_suffix: Vec<u8>,
}

impl Framing {
    /// Framing for a resource with `attributes` (key, value), in order.
    pub fn new(attributes: &[(String, String)]) -> Self {
        let mut body = Vec::new();
        for (k, v) in attributes {
            put_str_attr(
                &mut body,
                1,
                &[k.as_str()],
                &truncate(Cow::Borrowed(v.as_str())),
            );
        }
        let mut resource = Vec::with_capacity(body.len() + 6);
        put_len_field(&mut resource, 1, &body);
        let mut scope_body = Vec::new();
        put_len_field(&mut scope_body, 1, SCOPE_NAME.as_bytes());
        put_len_field(&mut scope_body, 2, SCOPE_VERSION.as_bytes());
        let mut scope = Vec::new();
        put_len_field(&mut scope, 1, &scope_body);
        let mut suffix = Vec::new();
        put_len_field(&mut suffix, 3, SCHEMA_URL.as_bytes());
        Framing {
            resource,
            scope,
            scope_suffix: suffix.clone(),
            resource_suffix: suffix,
        }
    }

    /// Free bytes a batch buffer must start with.
    pub fn reserved(&self) -> usize {
        // Request tag + length, resource, scope-spans tag + length, scope.
        1 + 5 + self.resource.len() + 1 + 5 + self.scope.len()
    }

    /// Turns `buf` (the [`reserved`](Self::reserved) gap, then encoded spans) into an
    /// `ExportTraceServiceRequest`; returns where the request starts in `buf`. Appends the
    /// schema URLs, so `buf` must be cut back to the spans with [`Framing::unframe`] before
    /// more spans are added.
    pub fn frame(&self, buf: &mut Vec<u8>) -> usize {
        let reserved = self.reserved();
        let spans_len = buf.len().saturating_sub(reserved);
        buf.extend_from_slice(&self.scope_suffix);
        buf.extend_from_slice(&self.resource_suffix);
        let ss_len = self.scope.len() + spans_len + self.scope_suffix.len();
        let rs_len = self.resource.len()
            + 1
            + varint_len(ss_len as u64)
            + ss_len
            + self.resource_suffix.len();
        let mut header = Vec::with_capacity(reserved);
        put_len_header(&mut header, 1, rs_len);
        header.extend_from_slice(&self.resource);
        put_len_header(&mut header, 2, ss_len);
        header.extend_from_slice(&self.scope);
        let start = reserved.saturating_sub(header.len());
        if let Some(dst) = buf.get_mut(start..reserved) {
            dst.copy_from_slice(&header);
        }
        start
    }

    /// Cuts a framed buffer back to the gap and its spans.
    pub fn unframe(&self, buf: &mut Vec<u8>) {
        let suffix = self.scope_suffix.len() + self.resource_suffix.len();
        let len = buf.len().saturating_sub(suffix).max(self.reserved());
        buf.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_repairs_and_cuts() {
        assert!(matches!(text(b"ok"), Cow::Borrowed("ok")));
        assert_eq!(text(b"a\xffb"), "a\u{fffd}b");
        let long = "\u{e9}".repeat(MAX_VALUE_LEN); // 2 bytes each
        let cut = text(long.as_bytes());
        assert_eq!(cut.len(), MAX_VALUE_LEN);
        let odd = format!("x{long}");
        assert_eq!(text(odd.as_bytes()).len(), MAX_VALUE_LEN - 1);
    }

    #[test]
    fn span_length_is_patched_for_every_size() {
        // Bodies of 1-byte, 2-byte and 3-byte length varints.
        for n in [1usize, 120, 200, 20_000] {
            let mut buf = vec![0xaa];
            let mut w = SpanWriter::begin(&mut buf);
            w.attr("k", &vec![b'v'; n]);
            w.finish();
            assert_eq!(buf[0], 0xaa);
            assert_eq!(buf[1], 0x12);
            let mut pos = 2;
            let mut len = 0u64;
            let mut shift = 0;
            loop {
                let b = buf[pos];
                pos += 1;
                len |= u64::from(b & 0x7f) << shift;
                shift += 7;
                if b < 0x80 {
                    break;
                }
            }
            assert_eq!(buf.len() - pos, len as usize, "{n}");
        }
    }
}
