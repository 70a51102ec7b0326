//! One-pass validation and item counting of encoded `Export*ServiceRequest`s.
//!
//! Rejects what a strict protobuf decoder (prost) plus the OpenTelemetry Collector's OTLP
//! receiver would reject, and enforces [`Limits`]. Walks the bytes once, recursing into every
//! message, without allocating (the error path builds its message lazily). Unknown fields
//! are skipped, as protobuf requires for forward compatibility.

mod common;
mod error;
mod logs;
mod metrics;
mod traces;

pub(crate) use error::Path;
pub use error::{ErrorKind, ValidationError};

use crate::wire::{Field, Fields, Val, WireType};
use crate::{Limits, Signal};

/// Validates an encoded `Export{Trace,Metrics,Logs}ServiceRequest` and returns its item count:
/// spans, metric data points (as the OpenTelemetry Collector counts them) or log records.
///
/// ```
/// use meshtrace_otlp::{validate, Limits, Signal};
/// assert_eq!(validate(Signal::Traces, &[], &Limits::default()), Ok(0));
/// let err = validate(Signal::Traces, &[0x0a, 0x05], &Limits::default()).unwrap_err();
/// assert_eq!(err.kind(), meshtrace_otlp::ErrorKind::Truncated);
/// ```
pub fn validate(signal: Signal, buf: &[u8], limits: &Limits) -> Result<usize, ValidationError> {
    let c = Ctx { limits };
    let root = Path::ROOT;
    let (name, f): (&'static str, ResourceFn) = match signal {
        Signal::Traces => ("resource_spans", traces::resource_spans),
        Signal::Metrics => ("resource_metrics", metrics::resource_metrics),
        Signal::Logs => ("resource_logs", logs::resource_logs),
    };
    let mut items = 0usize;
    let mut index = 0usize;
    each_field(buf, 0, &root, |fd| {
        if fd.num == 1 {
            let p = root.item(name, index);
            index += 1;
            let body = c.len(&fd, 0, &p)?;
            items += f(&c, body, fd.data_start(), &p)?;
        }
        Ok(())
    })?;
    Ok(items)
}

/// What [`salvage_traces`] kept of a traces request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Salvage {
    /// The request without its invalid spans (everything else as it came).
    pub bytes: Vec<u8>,
    /// Spans kept.
    pub kept: usize,
    /// Spans dropped because they are invalid on their own.
    pub rejected: usize,
    /// Why the first dropped span was invalid.
    pub first: Option<ValidationError>,
}

/// Partial acceptance of a traces request that [`validate`] refused: when every problem lies
/// inside individual spans (an id of the wrong length, invalid UTF-8, an attribute over the
/// limits), those spans are dropped and the rest kept, for an OTLP partial-success answer
/// (`rejected_spans`). A problem outside spans (the framing, a resource, a scope) refuses the
/// whole request, with that error.
///
/// ```
/// use meshtrace_otlp::{salvage_traces, validate, Limits, Signal};
/// // resource_spans { scope_spans { spans { trace_id: 3 bytes } spans { name: "ok" } } }
/// let req = [0x0a, 0x0f, 0x12, 0x0d, 0x12, 0x05, 0x0a, 0x03, 1, 2, 3, 0x12, 0x04, 0x2a, 0x02, b'o', b'k'];
/// assert!(validate(Signal::Traces, &req, &Limits::default()).is_err());
/// let s = salvage_traces(&req, &Limits::default()).unwrap();
/// assert_eq!((s.kept, s.rejected), (1, 1));
/// assert_eq!(validate(Signal::Traces, &s.bytes, &Limits::default()), Ok(1));
/// ```
pub fn salvage_traces(buf: &[u8], limits: &Limits) -> Result<Salvage, ValidationError> {
    traces::salvage(&Ctx { limits }, buf)
}

type ResourceFn = fn(&Ctx<'_>, &[u8], usize, &Path<'_>) -> Result<usize, ValidationError>;

/// Validation context: the limits in force.
pub(crate) struct Ctx<'l> {
    pub limits: &'l Limits,
}

/// Calls `f` on each field of `buf` (a message starting at absolute offset `base`), turning
/// wire errors into [`ValidationError`]s at `path`.
#[inline]
pub(crate) fn each_field<'a>(
    buf: &'a [u8],
    base: usize,
    path: &Path<'_>,
    mut f: impl FnMut(Field<'a>) -> Result<(), ValidationError>,
) -> Result<(), ValidationError> {
    for r in Fields::new(buf) {
        match r {
            Ok(fd) => f(fd)?,
            Err(e) => return Err(path.error(e.kind, base + e.at)),
        }
    }
    Ok(())
}

impl Ctx<'_> {
    #[inline]
    fn want(
        &self,
        fd: &Field<'_>,
        want: WireType,
        base: usize,
        p: &Path<'_>,
    ) -> Result<(), ValidationError> {
        let got = fd.val.wire_type();
        if got == want {
            Ok(())
        } else {
            Err(p.error(ErrorKind::WrongWireType { got, want }, base + fd.start))
        }
    }

    /// A length-delimited field (message, bytes): its payload.
    #[inline]
    pub(crate) fn len<'a>(
        &self,
        fd: &Field<'a>,
        base: usize,
        p: &Path<'_>,
    ) -> Result<&'a [u8], ValidationError> {
        match fd.val {
            Val::Len(b) => Ok(b),
            _ => Err(p.error(
                ErrorKind::WrongWireType {
                    got: fd.val.wire_type(),
                    want: WireType::Len,
                },
                base + fd.start,
            )),
        }
    }

    /// A string field: length-delimited and valid UTF-8.
    #[inline]
    pub(crate) fn string(
        &self,
        fd: &Field<'_>,
        base: usize,
        p: &Path<'_>,
    ) -> Result<usize, ValidationError> {
        let b = self.len(fd, base, p)?;
        // Most OTLP strings are ASCII; `is_ascii` checks a word at a time.
        if !b.is_ascii() && std::str::from_utf8(b).is_err() {
            return Err(p.error(ErrorKind::InvalidUtf8, base + fd.data_start()));
        }
        Ok(b.len())
    }

    /// A string field inside bytes already known to be ASCII (`ascii`), or checked here.
    #[inline]
    pub(crate) fn string_in(
        &self,
        fd: &Field<'_>,
        base: usize,
        p: &Path<'_>,
        ascii: bool,
    ) -> Result<usize, ValidationError> {
        if ascii {
            self.len(fd, base, p).map(<[u8]>::len)
        } else {
            self.string(fd, base, p)
        }
    }

    /// A trace id (16) or span id (8): empty (the "invalid id" of the collector's pdata) or exact.
    #[inline]
    pub(crate) fn id(
        &self,
        fd: &Field<'_>,
        base: usize,
        p: &Path<'_>,
        want: usize,
    ) -> Result<(), ValidationError> {
        let b = self.len(fd, base, p)?;
        if b.is_empty() || b.len() == want {
            Ok(())
        } else {
            Err(p.error(ErrorKind::IdLength { got: b.len(), want }, base + fd.start))
        }
    }

    #[inline]
    pub(crate) fn varint(
        &self,
        fd: &Field<'_>,
        base: usize,
        p: &Path<'_>,
    ) -> Result<(), ValidationError> {
        self.want(fd, WireType::Varint, base, p)
    }

    #[inline]
    pub(crate) fn fixed64(
        &self,
        fd: &Field<'_>,
        base: usize,
        p: &Path<'_>,
    ) -> Result<(), ValidationError> {
        self.want(fd, WireType::I64, base, p)
    }

    #[inline]
    pub(crate) fn fixed32(
        &self,
        fd: &Field<'_>,
        base: usize,
        p: &Path<'_>,
    ) -> Result<(), ValidationError> {
        self.want(fd, WireType::I32, base, p)
    }

    /// A repeated fixed64/double field: unpacked (one I64) or packed (LEN, multiple of 8).
    pub(crate) fn packed_fixed64(
        &self,
        fd: &Field<'_>,
        base: usize,
        p: &Path<'_>,
    ) -> Result<(), ValidationError> {
        match fd.val {
            Val::I64(_) => Ok(()),
            Val::Len(b) if b.len() % 8 == 0 => Ok(()),
            Val::Len(b) => Err(p.error(
                ErrorKind::PackedLength {
                    len: b.len(),
                    width: 8,
                },
                base + fd.start,
            )),
            _ => self.want(fd, WireType::Len, base, p),
        }
    }

    /// A repeated varint field: unpacked (one varint) or packed (LEN of whole varints).
    pub(crate) fn packed_varint(
        &self,
        fd: &Field<'_>,
        base: usize,
        p: &Path<'_>,
    ) -> Result<(), ValidationError> {
        match fd.val {
            Val::Varint(_) => Ok(()),
            Val::Len(b) => {
                let mut pos = 0;
                while pos < b.len() {
                    let at = pos;
                    crate::wire::read_varint(b, &mut pos)
                        .map_err(|k| p.error(k, base + fd.data_start() + at))?;
                }
                Ok(())
            }
            _ => self.want(fd, WireType::Len, base, p),
        }
    }
}

#[cfg(test)]
mod tests;
