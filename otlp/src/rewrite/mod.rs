//! Rewriting requests without decoding them: a visitor decides, per resource and per span,
//! to keep, drop or edit; unchanged spans (and whole unchanged resources) are copied as raw
//! bytes, and only edited messages are re-encoded.
//!
//! - [`rewrite_traces`] with a [`TracesEditor`]: per resource keep/drop/edit attributes; per
//!   span keep/drop/edit ([`SpanEdit`]: attribute list, `trace_state`, drop events by index,
//!   status). Scopes and resources left without spans by dropped spans are removed, as the
//!   OpenTelemetry Collector's filter processor does.
//! - [`rewrite_resources`] for any signal: per resource keep/drop/edit attributes (the
//!   `resource` processor, and routing-by-resource decisions).
//!
//! Edits borrow from the request (`Cow`), so processors express changes without copying
//! what they do not change.
//!
//! ```
//! use meshtrace_otlp::rewrite::{rewrite_traces, Action, SpanEdit, TracesEditor};
//! use meshtrace_otlp::views::{ResourceSpansView, ScopeSpansView, SpanView};
//! use meshtrace_otlp::{Batch, Signal};
//!
//! /// Drops health checks, tags everything else.
//! struct Tagger;
//! impl<'a> TracesEditor<'a> for Tagger {
//!     fn span(&mut self, _: &ResourceSpansView<'a>, _: &ScopeSpansView<'a>, span: &SpanView<'a>,
//!             edit: &mut SpanEdit<'a>) -> Action {
//!         if span.name() == "health" { return Action::Drop; }
//!         edit.attributes.upsert("mesh", "istio");
//!         Action::Keep
//!     }
//! }
//! let out = rewrite_traces(&Batch::empty(Signal::Traces), &mut Tagger);
//! assert_eq!(out.items(), 0);
//! ```

mod attributes;
mod resource;
mod traces;
mod value;

pub use attributes::AttributeEdits;
pub use resource::rewrite_resources;
pub use traces::{SpanEdit, TracesEditor, rewrite_traces};
pub use value::{KeyValue, Value};

/// What to do with a resource or a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Keep it, with whatever edits were recorded.
    Keep,
    /// Remove it (for a resource: with all its items).
    Drop,
}

/// One piece of output: a byte range of the source request or of the scratch buffer.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Src(std::ops::Range<usize>),
    Scratch(std::ops::Range<usize>),
}

impl Piece {
    fn len(&self) -> usize {
        match self {
            Piece::Src(r) | Piece::Scratch(r) => r.len(),
        }
    }

    fn write(&self, src: &[u8], scratch: &[u8], out: &mut Vec<u8>) {
        let b = match self {
            Piece::Src(r) => src.get(r.clone()),
            Piece::Scratch(r) => scratch.get(r.clone()),
        };
        out.extend_from_slice(b.unwrap_or(&[]));
    }
}

#[cfg(test)]
mod tests;
