//! The stream properties every span needs, in one host call instead of six.
//!
//! Each `get_property` costs Envoy a protobuf arena, CEL wrappers and a call back into the
//! module to allocate the answer: about 12.7k instructions, almost half of them in its allocator.
//! Envoy's `expr_create` / `expr_evaluate` foreign functions (its CEL runtime, as Istio's stats
//! plugin used it) evaluate one expression, [`expression`], that reads all of [`BATCHED`] and
//! joins them into one string. [`Batch::parse`] turns that answer back into the bytes each
//! `get_property` would have returned, so [`tracer`](crate::tracer) reads the same values either
//! way.
//!
//! The values are joined with U+001F (the ASCII unit separator), and no value is trusted to be
//! free of it: an answer that does not split into exactly one part per property is refused,
//! and the span reads its properties one by one ([`host`](crate::host)). So does a span whose
//! evaluation fails, and every span in a host without CEL or after [`GIVE_UP_AFTER`] failures
//! in a row ([`FailureRun`]).
//!
//! A span's kind, when the configuration sets it (`span.kind`), leaves properties out of the
//! expression: the direction is only read to find the kind, and the downstream peer only goes
//! into server spans ([`batched`]). Each term costs 4–7k instructions (BENCHMARKS.md, tenth
//! pass).
//!
//! The start time is not a property: `request.time` in the batch would cost more than on its
//! own (CEL prints a timestamp with `absl::FormatTime`, about 12k instructions), and on its
//! own it costs a read; the tracer takes the clock at the request headers instead.

use crate::config::KindSetting;
use crate::fields::{Fields, parse_decimal};
use crate::tracer::{Property, StreamInfo};

/// Every property a span may take from the expression, in its order: what [`expression`]
/// reads, the span's kind found per request.
pub const BATCHED: [Property; 6] = [
    Property::ListenerDirection,
    Property::ResponseFlags,
    Property::RequestProtocol,
    Property::SourceAddress,
    Property::UpstreamAddress,
    Property::ClusterName,
];

/// What a server span reads when the configuration says every span is one: no direction.
const SERVER: [Property; 5] = [
    Property::ResponseFlags,
    Property::RequestProtocol,
    Property::SourceAddress,
    Property::UpstreamAddress,
    Property::ClusterName,
];

/// What a client span reads when the configuration says every span is one: no direction, no
/// downstream peer (the local app).
const CLIENT: [Property; 4] = [
    Property::ResponseFlags,
    Property::RequestProtocol,
    Property::UpstreamAddress,
    Property::ClusterName,
];

/// The properties the spans of a tracer with this `span.kind` read from the expression, in
/// [`BATCHED`]'s order.
pub fn batched(kind: KindSetting) -> &'static [Property] {
    match kind {
        KindSetting::Auto => &BATCHED,
        KindSetting::Server => &SERVER,
        KindSetting::Client => &CLIENT,
    }
}

/// Joins the values in the answer.
pub const SEPARATOR: u8 = 0x1f;

/// Whether a property's value is an integer, which `get_property` returns as 8 little-endian
/// bytes and CEL's `string()` prints in decimal; the others are text, the same either way.
fn is_integer(property: Property) -> bool {
    matches!(
        property,
        Property::ListenerDirection
            | Property::RequestSize
            | Property::ResponseCode
            | Property::ResponseFlags
            | Property::ResponseSize
    )
}

/// Whether a stream the filter saw the headers of may lack the property: a stream answered
/// by Envoy itself (no route, a direct response, no healthy host) has no upstream. The others
/// are set before any filter sees the headers: the listener's direction, the response flags,
/// the protocol (the codec sets it), the downstream peer.
fn may_be_missing(property: Property) -> bool {
    matches!(property, Property::UpstreamAddress | Property::ClusterName)
}

/// The CEL expression of all of [`BATCHED`]: [`expression_of`] them.
pub fn expression() -> String {
    expression_of(&BATCHED)
}

/// The CEL expression: each of `properties` as text, joined with [`SEPARATOR`]. A property the
/// stream may lack reads as `''` (`has()`: a missing key would fail the whole evaluation); the
/// others go without that guard, which costs about 2k instructions a term (BENCHMARKS.md,
/// ninth pass). Should one be missing all the same, that span's evaluation fails and it reads
/// its properties one by one.
pub fn expression_of(properties: &[Property]) -> String {
    properties
        .iter()
        .map(|&p| {
            let path = p.path().join(".");
            let text = if is_integer(p) {
                format!("string({path})")
            } else {
                path.clone()
            };
            if may_be_missing(p) {
                format!("(has({path}) ? {text} : '')")
            } else {
                text
            }
        })
        .collect::<Vec<_>>()
        .join(&format!(" + '\\x{SEPARATOR:02x}' + "))
}

/// Failed evaluations in a row after which spans stop evaluating the expression: one failure
/// is one stream's (a property it lacks), a run of them is the expression's (this Envoy
/// answers it differently), and each costs about 17k instructions for nothing.
pub const GIVE_UP_AFTER: u8 = 8;

/// Counts failed evaluations in a row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureRun(u8);

impl FailureRun {
    /// Records one evaluation; `true` once [`GIVE_UP_AFTER`] have failed in a row.
    pub fn record(&mut self, failed: bool) -> bool {
        self.0 = if failed { self.0.saturating_add(1) } else { 0 };
        self.0 >= GIVE_UP_AFTER
    }

    /// The failures in the current run.
    pub fn failures(self) -> u8 {
        self.0
    }
}

/// One evaluation's values, each in `get_property`'s encoding, by [`BATCHED`] position: `None`
/// where the expression did not read the property, `Some(None)` where the stream has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch([Option<Option<Vec<u8>>>; BATCHED.len()]);

impl Batch {
    /// The values of an answer to [`expression`]: [`Batch::parse_of`] all of [`BATCHED`].
    pub fn parse(answer: &[u8]) -> Option<Batch> {
        Batch::parse_of(answer, &BATCHED)
    }

    /// The values of an answer to [`expression_of`] `properties`. `None` when the answer is not
    /// one: another number of parts, or an integer that does not parse.
    pub fn parse_of(answer: &[u8], properties: &[Property]) -> Option<Batch> {
        let mut parts = answer.split(|&b| b == SEPARATOR);
        let mut batch = Batch::default();
        for &property in properties {
            let part = parts.next()?;
            let value = if part.is_empty() {
                None
            } else if is_integer(property) {
                Some(parse_decimal(part)?.to_le_bytes().to_vec())
            } else {
                Some(part.to_vec())
            };
            let i = BATCHED.iter().position(|&p| p == property)?;
            *batch.0.get_mut(i)? = Some(value);
        }
        match parts.next() {
            Some(_) => None,
            None => Some(batch),
        }
    }

    /// `Some` for a property the expression read: its value, moved out (a span reads each
    /// once). `None`: not read, ask the host.
    pub fn take(&mut self, property: Property) -> Option<Option<Vec<u8>>> {
        let i = BATCHED.iter().position(|&p| p == property)?;
        self.0.get_mut(i)?.as_mut().map(Option::take)
    }
}

/// A [`StreamInfo`] whose [`BATCHED`] properties come from one evaluation, made at the first
/// property read (so a span the full buffer refuses costs none), and the others from `inner`.
/// Without a batch (`evaluate` gave none), every property comes from `inner`.
#[derive(Debug)]
pub struct BatchedStream<S, E> {
    inner: S,
    evaluate: Option<E>,
    batch: Option<Batch>,
}

impl<S, E> BatchedStream<S, E>
where
    S: StreamInfo,
    E: FnOnce() -> Option<Batch>,
{
    /// `inner`, with `evaluate` for the batched properties.
    pub fn new(inner: S, evaluate: E) -> Self {
        BatchedStream {
            inner,
            evaluate: Some(evaluate),
            batch: None,
        }
    }

    /// The stream the other properties come from.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S, E> StreamInfo for BatchedStream<S, E>
where
    S: StreamInfo,
    E: FnOnce() -> Option<Batch>,
{
    fn property(&mut self, property: Property) -> Option<Vec<u8>> {
        if let Some(evaluate) = self.evaluate.take() {
            self.batch = evaluate();
        }
        match self.batch.as_mut().and_then(|b| b.take(property)) {
            Some(value) => value,
            None => self.inner.property(property),
        }
    }

    fn response_headers(&mut self) -> Fields {
        self.inner.response_headers()
    }

    fn response_trailers(&mut self) -> Fields {
        self.inner.response_trailers()
    }

    fn now_ns(&mut self) -> u64 {
        self.inner.now_ns()
    }
}

#[cfg(test)]
mod tests;
