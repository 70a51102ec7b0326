//! Zipkin B3 propagation (<https://github.com/openzipkin/b3-propagation>): the single `b3`
//! header and the multi `x-b3-*` headers, for apps that do not speak W3C Trace Context.
//!
//! Ids are lower-hex like W3C ones; a 64-bit trace id is widened to 128 bits with leading
//! zeros. The sampling state `d` (debug) implies accept. The sampling-only forms (`b3: 0`, or
//! only `x-b3-sampled`) carry a decision without ids.

use super::{SpanId, TraceId, decode_hex, trim_ows};

/// The B3 sampling state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum B3Sampling {
    /// `1`: sample.
    Accept,
    /// `0`: do not sample.
    Deny,
    /// `d` / `X-B3-Flags: 1`: sample, and the caller asked for debug.
    Debug,
    /// No decision: the receiver decides.
    Defer,
}

impl B3Sampling {
    /// The decision as a sampled bit, or `None` when deferred.
    pub fn sampled(self) -> Option<bool> {
        match self {
            B3Sampling::Accept | B3Sampling::Debug => Some(true),
            B3Sampling::Deny => Some(false),
            B3Sampling::Defer => None,
        }
    }
}

/// Ids and sampling state from B3 headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct B3Context {
    /// The trace id (64-bit ids are zero-extended).
    pub trace_id: TraceId,
    /// The caller's span id.
    pub span_id: SpanId,
    /// The parent of the caller's span, when the single header carried one.
    pub parent_span_id: Option<SpanId>,
    /// The sampling state.
    pub sampling: B3Sampling,
}

/// What a B3 header set carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum B3Single {
    /// Trace and span ids, with a sampling state.
    Context(B3Context),
    /// Only a sampling decision (never [`B3Sampling::Defer`]).
    SamplingOnly(B3Sampling),
}

/// Why B3 headers were rejected (they are then treated as absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum B3Error {
    /// Not `{trace}-{span}[-{sampling}[-{parent}]]` nor a lone sampling state.
    #[error("not of the form {{trace}}-{{span}}[-{{sampling}}[-{{parent}}]]")]
    Structure,
    /// The trace id is not 16 or 32 lower-hex digits, or is zero.
    #[error("invalid trace id")]
    TraceId,
    /// The span id is not 16 lower-hex digits, or is zero.
    #[error("invalid span id")]
    SpanId,
    /// The parent span id is not 16 lower-hex digits, or is zero.
    #[error("invalid parent span id")]
    ParentSpanId,
    /// The sampling state is not `0`, `1` or `d`.
    #[error("invalid sampling state")]
    Sampling,
    /// Only one of `x-b3-traceid` and `x-b3-spanid` is present.
    #[error("x-b3-traceid and x-b3-spanid must come together")]
    Incomplete,
}

/// Parses the single `b3` header.
pub fn parse_single(value: &[u8]) -> Result<B3Single, B3Error> {
    let value = trim_ows(value);
    if let [state] = value {
        return match single_sampling(*state) {
            Some(B3Sampling::Defer) | None => Err(B3Error::Sampling),
            Some(s) => Ok(B3Single::SamplingOnly(s)),
        };
    }
    let mut fields = value.split(|&b| b == b'-');
    let trace = fields.next().ok_or(B3Error::Structure)?;
    let span = fields.next().ok_or(B3Error::Structure)?;
    let sampling = fields.next();
    let parent = fields.next();
    if fields.next().is_some() {
        return Err(B3Error::Structure);
    }
    let trace_id = parse_trace_id(trace)?;
    let span_id = parse_span_id(span).ok_or(B3Error::SpanId)?;
    let sampling = match sampling {
        None => B3Sampling::Defer,
        Some([state]) => single_sampling(*state).ok_or(B3Error::Sampling)?,
        Some(_) => return Err(B3Error::Sampling),
    };
    let parent_span_id = match parent {
        None => None,
        Some(p) => Some(parse_span_id(p).ok_or(B3Error::ParentSpanId)?),
    };
    Ok(B3Single::Context(B3Context {
        trace_id,
        span_id,
        parent_span_id,
        sampling,
    }))
}

fn single_sampling(state: u8) -> Option<B3Sampling> {
    match state {
        b'1' => Some(B3Sampling::Accept),
        b'0' => Some(B3Sampling::Deny),
        b'd' => Some(B3Sampling::Debug),
        _ => None,
    }
}

/// The multi-header form, as raw header values (`None` when the header is absent).
/// `x-b3-parentspanid` is not needed: the proxy's own span is the child of `x-b3-spanid`.
#[derive(Debug, Clone, Copy, Default)]
pub struct B3Multi<'a> {
    /// `x-b3-traceid`
    pub trace_id: Option<&'a [u8]>,
    /// `x-b3-spanid`
    pub span_id: Option<&'a [u8]>,
    /// `x-b3-sampled`: `1`/`0` (and the legacy `true`/`false`).
    pub sampled: Option<&'a [u8]>,
    /// `x-b3-flags`: `1` means debug.
    pub flags: Option<&'a [u8]>,
}

impl B3Multi<'_> {
    /// `Ok(None)` when no B3 header is present. An unrecognised `x-b3-sampled` or
    /// `x-b3-flags` value counts as no decision rather than invalidating valid ids.
    pub fn parse(&self) -> Result<Option<B3Single>, B3Error> {
        let debug = self.flags.map(trim_ows) == Some(b"1");
        let sampling = match (debug, self.sampled.map(trim_ows)) {
            (true, _) => B3Sampling::Debug,
            (false, Some(b"1" | b"true")) => B3Sampling::Accept,
            (false, Some(b"0" | b"false")) => B3Sampling::Deny,
            (false, _) => B3Sampling::Defer,
        };
        match (self.trace_id, self.span_id) {
            (Some(trace), Some(span)) => Ok(Some(B3Single::Context(B3Context {
                trace_id: parse_trace_id(trim_ows(trace))?,
                span_id: parse_span_id(trim_ows(span)).ok_or(B3Error::SpanId)?,
                parent_span_id: None,
                sampling,
            }))),
            (None, None) if sampling == B3Sampling::Defer => Ok(None),
            (None, None) => Ok(Some(B3Single::SamplingOnly(sampling))),
            _ => Err(B3Error::Incomplete),
        }
    }
}

fn parse_trace_id(hex: &[u8]) -> Result<TraceId, B3Error> {
    let mut id = TraceId::default();
    let ok = match hex.len() {
        32 => decode_hex(hex, &mut id.0),
        16 => id.0.get_mut(8..).and_then(|low| decode_hex(hex, low)),
        _ => None,
    };
    match ok {
        Some(()) if !id.is_zero() => Ok(id),
        _ => Err(B3Error::TraceId),
    }
}

fn parse_span_id(hex: &[u8]) -> Option<SpanId> {
    let mut id = SpanId::default();
    decode_hex(hex, &mut id.0)?;
    (!id.is_zero()).then_some(id)
}

/// Longest single value: 32 + 1 + 16 + 1 + 1 + 1 + 16.
const SINGLE_MAX: usize = 68;

/// An encoded `b3` header value, kept on the stack.
#[derive(Clone, Copy)]
pub struct B3SingleValue {
    buf: [u8; SINGLE_MAX],
    len: usize,
}

impl B3SingleValue {
    /// The header value.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl std::fmt::Debug for B3SingleValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// Encodes `{trace32}-{span}[-{sampling}][-{parent}]` (a deferred state with a parent is
/// written without the parent, which the format cannot express).
pub fn encode_single(ctx: &B3Context) -> B3SingleValue {
    let mut out = B3SingleValue {
        buf: [0; SINGLE_MAX],
        len: 0,
    };
    out.push(&ctx.trace_id.to_hex());
    out.push(b"-");
    out.push(&ctx.span_id.to_hex());
    let state: &[u8] = match ctx.sampling {
        B3Sampling::Accept => b"-1",
        B3Sampling::Deny => b"-0",
        B3Sampling::Debug => b"-d",
        B3Sampling::Defer => return out,
    };
    out.push(state);
    if let Some(parent) = ctx.parent_span_id {
        out.push(b"-");
        out.push(&parent.to_hex());
    }
    out
}

impl B3SingleValue {
    fn push(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }
}

#[cfg(test)]
mod tests;
