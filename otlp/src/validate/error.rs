//! The validation error: what is wrong, where in the bytes, and which field.

use crate::wire::WireType;

/// Why a payload was rejected. Stable enough to match on in tests and metrics labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The data ends in the middle of a field.
    #[error("truncated data")]
    Truncated,
    /// A varint longer than 10 bytes or overflowing 64 bits.
    #[error("malformed varint")]
    MalformedVarint,
    /// A field tag with field number 0 or above 2^29-1.
    #[error("invalid field tag")]
    InvalidTag,
    /// Wire type 3 or 4 (groups): not used by OTLP, refused like the collector does.
    #[error("groups are not supported")]
    Group,
    /// Wire type 6 or 7, which protobuf does not define.
    #[error("invalid wire type {0}")]
    InvalidWireType(u8),
    /// A known field encoded with another wire type than its declared type.
    #[error("wire type {got}, want {want}")]
    WrongWireType {
        /// Wire type found.
        got: WireType,
        /// Wire type of the field's declared type.
        want: WireType,
    },
    /// A packed repeated fixed-width field whose length is not a multiple of the width.
    #[error("packed length {len} is not a multiple of {width}")]
    PackedLength {
        /// Payload length.
        len: usize,
        /// Element width in bytes.
        width: usize,
    },
    /// A string field that is not valid UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// A trace id that is not 16 bytes or a span id that is not 8 bytes (empty is allowed).
    #[error("length {got}, want {want}")]
    IdLength {
        /// Length found.
        got: usize,
        /// 16 for trace ids, 8 for span ids.
        want: usize,
    },
    /// AnyValue arrays / key-value lists nested deeper than [`crate::Limits::max_depth`].
    #[error("values nested deeper than {limit}")]
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// More entries in one attribute list than [`crate::Limits::max_attributes`].
    #[error("more than {limit} attributes")]
    TooManyAttributes {
        /// The limit in force.
        limit: usize,
    },
    /// A string or bytes value (or attribute key) longer than [`crate::Limits::max_value_bytes`].
    #[error("value of {len} bytes exceeds the limit of {limit}")]
    ValueTooLong {
        /// Length found.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
}

/// A rejected payload. `Display` gives a message fit for an HTTP 400 body or a gRPC
/// `INVALID_ARGUMENT` status, e.g.
/// `resource_spans[0].scope_spans[1].spans[3].trace_id: length 6, want 16 (at byte 211)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind} (at byte {offset})", if path.is_empty() { "request" } else { path.as_str() })]
pub struct ValidationError {
    kind: ErrorKind,
    offset: usize,
    path: String,
}

impl ValidationError {
    pub(crate) fn new(kind: ErrorKind, offset: usize, path: String) -> Self {
        ValidationError { kind, offset, path }
    }

    /// What is wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Byte offset in the request where the offending field (or the broken byte) starts.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Field path from the request root, e.g. `resource_spans[0].resource.attributes[2].value`;
    /// empty at the root.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// A field path built on the stack while descending; turned into a string only on error.
#[derive(Clone, Copy)]
pub(crate) struct Path<'p> {
    parent: Option<&'p Path<'p>>,
    name: &'static str,
    index: Option<usize>,
}

impl<'p> Path<'p> {
    pub(crate) const ROOT: Path<'static> = Path {
        parent: None,
        name: "",
        index: None,
    };

    #[inline]
    pub(crate) fn field(&'p self, name: &'static str) -> Path<'p> {
        Path {
            parent: Some(self),
            name,
            index: None,
        }
    }

    #[inline]
    pub(crate) fn item(&'p self, name: &'static str, index: usize) -> Path<'p> {
        Path {
            parent: Some(self),
            name,
            index: Some(index),
        }
    }

    #[cold]
    pub(crate) fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(p) = cur {
            if !p.name.is_empty() {
                segs.push(p);
            }
            cur = p.parent;
        }
        let mut out = String::new();
        for (i, p) in segs.iter().rev().enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push_str(p.name);
            if let Some(ix) = p.index {
                out.push('[');
                out.push_str(&ix.to_string());
                out.push(']');
            }
        }
        out
    }

    #[cold]
    pub(crate) fn error(&self, kind: ErrorKind, offset: usize) -> ValidationError {
        ValidationError::new(kind, offset, self.render())
    }
}
