//! Zero-copy, read-only views over encoded (validated) requests.
//!
//! A view is a borrowed slice plus a few decoded scalars: creating one costs a scan of the
//! message's own fields (sub-messages are skipped by length), never an allocation. Strings
//! come out as `&str` borrowed from the request, ids as `[u8; 16]` / `[u8; 8]` (all zeros when
//! absent, like the collector's pdata), attributes are looked up by key without decoding the
//! others ([`Attributes::get`]).
//!
//! ```
//! use meshtrace_otlp::views::{AnyValueRef, TracesView};
//! # let bytes: &[u8] = &[];
//! for rs in TracesView::new(bytes).resource_spans() {
//!     let service = rs.resource().attributes().get("service.name").and_then(|v| v.as_str());
//!     for ss in rs.scope_spans() {
//!         for span in ss.spans() {
//!             let status = span.attributes().get("http.response.status_code");
//!             if let Some(AnyValueRef::Int(code)) = status { let _ = (service, span.name(), code); }
//!         }
//!     }
//! }
//! ```
//!
//! Views are meant for bytes that passed [`crate::validate`]. Over anything else they never
//! panic: iteration stops at the first malformed field, and a field of the wrong type or an
//! id of the wrong length reads as absent. When a singular field occurs more than once the
//! last occurrence wins, as in protobuf decoders.

mod common;
mod group;
mod logs;
mod metrics;
mod traces;

pub use common::{
    AnyValueRef, ArrayIter, ArrayRef, Attributes, AttributesIter, KeyValueRef, KvListRef,
    ResourceView, ScopeView,
};
pub(crate) use common::{key_of, last_len_opt};
pub use group::{Item, ResourceGroup, ScopeGroup, group_resource};
pub use logs::{LogRecordView, LogsView, ResourceLogsView, ScopeLogsView};
pub use metrics::{MetricView, MetricsView, ResourceMetricsView, ScopeMetricsView};
pub use traces::{
    EventView, LinkView, ResourceSpansView, STATUS_CODE_ERROR, STATUS_CODE_OK, STATUS_CODE_UNSET,
    ScopeSpansView, SpanView, TracesView,
};

/// A `&str` from raw bytes: empty when not UTF-8 (validated bytes always are).
#[inline]
pub(crate) fn utf8(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}

/// A fixed-size id: the bytes when exactly `N` long, zeros otherwise (absent or invalid).
#[inline]
pub(crate) fn id<const N: usize>(b: &[u8]) -> [u8; N] {
    <[u8; N]>::try_from(b).unwrap_or([0; N])
}

#[cfg(test)]
mod tests;
