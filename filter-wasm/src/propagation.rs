//! The proxy as a trace-context participant, per request: read the incoming context, decide,
//! and rewrite the outgoing headers.
//!
//! - A valid `traceparent` is continued: same trace id, a new span id written as the outgoing
//!   `parent-id`, the incoming parent remembered as the span's parent, the sampled and random
//!   flags kept (other bits cleared), `tracestate` validated, de-duplicated and size-limited.
//! - Otherwise, with B3 extraction on, B3 headers (`b3` first, then `x-b3-*`) are continued the
//!   same way; the `random` flag is not claimed for ids the proxy did not mint.
//! - Otherwise a new trace starts with random ids and the `random` flag set. An invalid
//!   `traceparent` is never forwarded and its `tracestate` is dropped unread.
//! - Requests without a decision (new traces, deferred B3) are sampled by the configured
//!   percentage from the trace id ([`Sampler`]); others keep the caller's decision.
//!
//! Header access goes through [`RequestHeaders`] so this runs, and is tested, without a host.

use std::borrow::Cow;

use crate::config::{B3Inject, Config};
use crate::ids::IdGenerator;
use crate::sampling::Sampler;
use crate::tracecontext::b3::{self, B3Context, B3Multi, B3Sampling, B3Single};
use crate::tracecontext::{
    B3Error, SpanId, TraceFlags, TraceId, TraceParent, TraceParentError, TraceState,
    TraceStateError,
};

/// `traceparent`
pub const TRACEPARENT: &str = "traceparent";
/// `tracestate`
pub const TRACESTATE: &str = "tracestate";
/// The single B3 header.
pub const B3: &str = "b3";
/// B3 multi: trace id.
pub const X_B3_TRACEID: &str = "x-b3-traceid";
/// B3 multi: span id.
pub const X_B3_SPANID: &str = "x-b3-spanid";
/// B3 multi: parent span id.
pub const X_B3_PARENTSPANID: &str = "x-b3-parentspanid";
/// B3 multi: sampling decision.
pub const X_B3_SAMPLED: &str = "x-b3-sampled";
/// B3 multi: debug flag.
pub const X_B3_FLAGS: &str = "x-b3-flags";

/// The request headers of one request, as the core needs them. Names are lowercase.
pub trait RequestHeaders {
    /// The value of `name`; when the request has several fields of that name, their values
    /// joined with `,` (RFC 9110 field combination). `None` when absent.
    fn get(&self, name: &str) -> Option<Cow<'_, [u8]>>;
    /// The value of the first field named `name`. `None` when absent.
    fn first(&self, name: &str) -> Option<&[u8]>;
    /// Replaces every field named `name` by one with `value`.
    fn set(&mut self, name: &str, value: &[u8]);
    /// Removes every field named `name`.
    fn remove(&mut self, name: &str);
}

/// Where the trace context of a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A valid `traceparent`.
    TraceContext,
    /// The single `b3` header.
    B3Single,
    /// The `x-b3-*` headers.
    B3Multi,
    /// None usable: the proxy started a new trace.
    New,
}

/// The context of the proxy's span for one request, as written to the outgoing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace id (kept from the caller, or new).
    pub trace_id: TraceId,
    /// The proxy's own span id: the outgoing `parent-id`.
    pub span_id: SpanId,
    /// The caller's span id, when the trace was continued.
    pub parent_span_id: Option<SpanId>,
    /// The outgoing flags (only the sampled and random bits).
    pub flags: TraceFlags,
    /// The outgoing `tracestate` in canonical form; empty when none is sent.
    pub tracestate: String,
    /// Where the context came from.
    pub origin: Origin,
    /// The caller asked for B3 debug (`b3: …-d`, `x-b3-flags: 1`).
    pub b3_debug: bool,
}

impl SpanContext {
    /// Whether the trace is sampled (the outgoing sampled flag).
    pub fn sampled(&self) -> bool {
        self.flags.sampled()
    }

    /// The outgoing `traceparent` value.
    pub fn traceparent(&self) -> [u8; crate::tracecontext::traceparent::TRACEPARENT_LEN] {
        TraceParent {
            version: 0,
            trace_id: self.trace_id,
            parent_id: self.span_id,
            flags: self.flags,
        }
        .encode()
    }
}

/// What was wrong with the incoming headers (for debug logs and, later, metrics). None of it
/// fails the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    /// `traceparent` was present but invalid (a new trace was started).
    pub traceparent: Option<TraceParentError>,
    /// `tracestate` was present but invalid (it was dropped).
    pub tracestate: Option<TraceStateError>,
    /// Members cut from `tracestate` to fit the configured length.
    pub tracestate_truncated: usize,
    /// Members dropped from `tracestate` for repeating an earlier key.
    pub tracestate_duplicates: usize,
    /// B3 headers were present but invalid (ignored).
    pub b3: Option<B3Error>,
}

/// The outcome of [`Propagator::propagate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Propagated {
    /// The proxy's span.
    pub span: SpanContext,
    /// Problems found in the incoming headers.
    pub notes: Notes,
}

/// Per-request propagation, configured once per plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct Propagator {
    sampler: Sampler,
    b3_extract: bool,
    b3_inject: B3Inject,
    tracestate_max_length: usize,
}

/// The incoming context, before the proxy adds its span.
enum Incoming {
    TraceContext {
        parent: TraceParent,
        tracestate: String,
    },
    B3 {
        context: B3Context,
        origin: Origin,
    },
    None {
        decision: Option<B3Sampling>,
    },
}

impl Propagator {
    /// The propagator for a (validated) configuration.
    pub fn new(config: &Config) -> Self {
        Propagator {
            sampler: Sampler::from_percentage(config.sampling.percentage),
            b3_extract: config.propagation.b3.extract,
            b3_inject: config.propagation.b3.inject,
            tracestate_max_length: config.propagation.tracestate_max_length,
        }
    }

    /// The sampler for new traces.
    pub fn sampler(&self) -> &Sampler {
        &self.sampler
    }

    /// Reads the incoming context from `headers`, mints the proxy's span and rewrites the
    /// outgoing trace headers. Never fails: bad input only shows in [`Propagated::notes`].
    pub fn propagate<H, G>(&self, headers: &mut H, ids: &mut G) -> Propagated
    where
        H: RequestHeaders + ?Sized,
        G: IdGenerator + ?Sized,
    {
        let mut notes = Notes::default();
        let incoming = self.extract(headers, &mut notes);
        let span_id = ids.span_id();
        let span = match incoming {
            Incoming::TraceContext { parent, tracestate } => SpanContext {
                trace_id: parent.trace_id,
                span_id,
                parent_span_id: Some(parent.parent_id),
                flags: TraceFlags(parent.flags.0 & TraceFlags::KNOWN),
                tracestate,
                origin: Origin::TraceContext,
                b3_debug: false,
            },
            Incoming::B3 { context, origin } => {
                let sampled = context
                    .sampling
                    .sampled()
                    .unwrap_or_else(|| self.sampler.should_sample(&context.trace_id));
                SpanContext {
                    trace_id: context.trace_id,
                    span_id,
                    parent_span_id: Some(context.span_id),
                    flags: TraceFlags::new(sampled, false),
                    tracestate: String::new(),
                    origin,
                    b3_debug: context.sampling == B3Sampling::Debug,
                }
            }
            Incoming::None { decision } => {
                let trace_id = ids.trace_id();
                let sampled = decision
                    .and_then(B3Sampling::sampled)
                    .unwrap_or_else(|| self.sampler.should_sample(&trace_id));
                SpanContext {
                    trace_id,
                    span_id,
                    parent_span_id: None,
                    flags: TraceFlags::new(sampled, true),
                    tracestate: String::new(),
                    origin: Origin::New,
                    b3_debug: decision == Some(B3Sampling::Debug),
                }
            }
        };
        self.inject(headers, &span);
        Propagated { span, notes }
    }

    fn extract<H: RequestHeaders + ?Sized>(&self, headers: &H, notes: &mut Notes) -> Incoming {
        if let Some(value) = headers.get(TRACEPARENT) {
            // The joined value of two fields can parse when the first is a future version
            // (anything may follow its flags after a `-`); the spec wants a restart.
            let parsed = match TraceParent::parse(&value) {
                // Version 00 joined with anything is already too long; only a higher version
                // needs the fields counted, and it is rare enough to pay for the second look.
                Ok(parent)
                    if parent.version != 0
                        && headers.first(TRACEPARENT).map(<[u8]>::len) != Some(value.len()) =>
                {
                    Err(TraceParentError::Repeated)
                }
                parsed => parsed,
            };
            match parsed {
                Ok(parent) => {
                    // Only now may tracestate be read: the spec forbids parsing it otherwise.
                    let tracestate = headers
                        .get(TRACESTATE)
                        .map(|raw| self.canonical_tracestate(raw, notes))
                        .unwrap_or_default();
                    return Incoming::TraceContext { parent, tracestate };
                }
                Err(e) => notes.traceparent = Some(e),
            }
        }
        if !self.b3_extract {
            return Incoming::None { decision: None };
        }
        if let Some(value) = headers.get(B3) {
            match b3::parse_single(first_value(&value)) {
                Ok(B3Single::Context(context)) => {
                    return Incoming::B3 {
                        context,
                        origin: Origin::B3Single,
                    };
                }
                Ok(B3Single::SamplingOnly(s)) => return Incoming::None { decision: Some(s) },
                Err(e) => notes.b3 = Some(e),
            }
        }
        let trace_id = headers.get(X_B3_TRACEID);
        // Without a trace id the span id alone is useless: do not fetch it.
        let span_id = trace_id.as_ref().and_then(|_| headers.get(X_B3_SPANID));
        let sampled = headers.get(X_B3_SAMPLED);
        let flags = headers.get(X_B3_FLAGS);
        let multi = B3Multi {
            trace_id: trace_id.as_deref().map(first_value),
            span_id: span_id.as_deref().map(first_value),
            sampled: sampled.as_deref().map(first_value),
            flags: flags.as_deref().map(first_value),
        };
        match multi.parse() {
            Ok(Some(B3Single::Context(context))) => Incoming::B3 {
                context,
                origin: Origin::B3Multi,
            },
            Ok(Some(B3Single::SamplingOnly(s))) => Incoming::None { decision: Some(s) },
            Ok(None) => Incoming::None { decision: None },
            Err(e) => {
                // A complete B3 set from the single header may have failed above; keep the
                // first error, it is the one that decided.
                notes.b3.get_or_insert(e);
                Incoming::None { decision: None }
            }
        }
    }

    /// The outgoing `tracestate` for an incoming one; empty when it must not be sent.
    fn canonical_tracestate(&self, raw: Cow<'_, [u8]>, notes: &mut Notes) -> String {
        let unchanged = match TraceState::parse(&raw) {
            Ok(mut state) => {
                notes.tracestate_truncated = state.truncate(self.tracestate_max_length);
                notes.tracestate_duplicates = state.duplicates_dropped();
                if state.encoded_len() != raw.len() {
                    // Something was dropped (OWS, empty members, duplicates, truncation).
                    return state.to_header_value();
                }
                true
            }
            Err(e) => {
                notes.tracestate = Some(e);
                false
            }
        };
        // Already canonical: members are contiguous in the input, so equal lengths mean
        // equal text, and the host's buffer is reused as is.
        match unchanged {
            true => std::str::from_utf8(&raw)
                .map(str::to_owned)
                .unwrap_or_default(),
            false => String::new(),
        }
    }

    fn inject<H: RequestHeaders + ?Sized>(&self, headers: &mut H, span: &SpanContext) {
        headers.set(TRACEPARENT, &span.traceparent());
        if span.tracestate.is_empty() {
            // Unconditionally: Envoy reads an empty `tracestate:` field as absent, and an
            // empty header should not be sent on.
            headers.remove(TRACESTATE);
        } else {
            headers.set(TRACESTATE, span.tracestate.as_bytes());
        }
        let (single, multi) = match self.b3_inject {
            B3Inject::None => return,
            B3Inject::Single => (true, false),
            B3Inject::Multi => (false, true),
            B3Inject::SingleAndMulti => (true, true),
        };
        let sampling = match (span.b3_debug, span.sampled()) {
            (true, _) => B3Sampling::Debug,
            (false, true) => B3Sampling::Accept,
            (false, false) => B3Sampling::Deny,
        };
        if single {
            let context = B3Context {
                trace_id: span.trace_id,
                span_id: span.span_id,
                parent_span_id: span.parent_span_id,
                sampling,
            };
            headers.set(B3, b3::encode_single(&context).as_bytes());
        } else {
            headers.remove(B3);
        }
        if multi {
            headers.set(X_B3_TRACEID, &span.trace_id.to_hex());
            headers.set(X_B3_SPANID, &span.span_id.to_hex());
            match span.parent_span_id {
                Some(parent) => headers.set(X_B3_PARENTSPANID, &parent.to_hex()),
                None => headers.remove(X_B3_PARENTSPANID),
            }
            // Debug implies accept; B3 says not to send both.
            if sampling == B3Sampling::Debug {
                headers.set(X_B3_FLAGS, b"1");
                headers.remove(X_B3_SAMPLED);
            } else {
                headers.set(X_B3_SAMPLED, if span.sampled() { b"1" } else { b"0" });
                headers.remove(X_B3_FLAGS);
            }
        } else {
            for name in [
                X_B3_TRACEID,
                X_B3_SPANID,
                X_B3_PARENTSPANID,
                X_B3_SAMPLED,
                X_B3_FLAGS,
            ] {
                headers.remove(name);
            }
        }
    }
}

/// A B3 header's value as B3 reads it: "the first value wins" when a request repeats it. The
/// repeats arrive joined with `,` (by [`RequestHeaders::get`], or by Envoy for headers it keeps
/// in O(1) slots), and no B3 value contains one: the first value ends at the first `,`.
fn first_value(joined: &[u8]) -> &[u8] {
    match joined.iter().position(|&b| b == b',') {
        Some(comma) => joined.get(..comma).unwrap_or(joined),
        None => joined,
    }
}

/// An in-memory [`RequestHeaders`], for tests and fuzzing: keeps fields in order, matches
/// names case-insensitively and joins repeated fields with `,` like Envoy does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryHeaders {
    /// The fields, in order.
    pub fields: Vec<(String, Vec<u8>)>,
}

impl MemoryHeaders {
    /// Headers from `(name, value)` pairs.
    pub fn new<'a>(fields: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        MemoryHeaders {
            fields: fields
                .into_iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_vec()))
                .collect(),
        }
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&[u8]> {
        self.fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .collect()
    }
}

impl RequestHeaders for MemoryHeaders {
    fn get(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        let values = self.all(name);
        (!values.is_empty()).then(|| Cow::Owned(values.join(&b',')))
    }

    fn first(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    fn set(&mut self, name: &str, value: &[u8]) {
        self.remove(name);
        self.fields.push((name.to_owned(), value.to_vec()));
    }

    fn remove(&mut self, name: &str) {
        self.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

impl Default for Propagator {
    fn default() -> Self {
        Propagator::new(&Config::default())
    }
}

#[cfg(test)]
mod tests;
