//! OTLP payloads kept as protobuf bytes: the collector's data plane.
//!
//! The collector never decodes OTLP into structs on the hot path. A receiver calls
//! [`Batch::new_validated`] (one pass over the bytes: protobuf structure, wire types, UTF-8,
//! 16-byte trace ids / 8-byte span ids, [`Limits`]) and gets a [`Batch`]: the signal, the
//! bytes (`bytes::Bytes`, shared, never copied again) and the item count. Then:
//!
//! - [`batching`]: because `Export*ServiceRequest` is `repeated Resource* = 1`, concatenating
//!   encoded requests yields a valid merged request; [`batching::concat`] is a copy and
//!   [`batching::split`] cuts a batch into batches of at most N items (spans, log records,
//!   metric data points), keeping each item's resource and scope.
//! - [`views`]: zero-copy read access (resource attributes, scopes, spans, events, links,
//!   attribute lookup by key) for processors and the OTTL evaluator.
//! - [`rewrite`]: a visitor pass that copies unchanged spans as raw bytes and re-encodes only
//!   edited parts (attributes, trace state, events, status), dropping spans, scopes and
//!   resources; also resource-attribute edits for metrics and logs.
//! - [`json`]: OTLP/JSON in and out; [`gzip`]: capped decompression.
//!
//! Exporters send [`Batch::bytes`] as they are. Only JSON output and debugging decode,
//! through the prost types re-exported as [`proto`].
//!
//! Nothing in this crate panics on any input: invalid bytes give a [`ValidationError`], and
//! views over invalid bytes yield nothing rather than fail.
//!
//! ```
//! use bytes::Bytes;
//! use meshtrace_otlp::{batching, Batch, Limits, Signal};
//!
//! let body = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/otlp-examples/trace.pb"))
//!     .unwrap_or_default();
//! # if body.is_empty() { return; }
//! let batch = Batch::new_validated(Signal::Traces, Bytes::from(body), &Limits::default()).unwrap();
//! assert_eq!(batch.items(), 1);
//! let merged = batching::concat(Signal::Traces, &[batch.clone(), batch.clone()]);
//! assert_eq!(merged.items(), 2);
//! assert_eq!(batching::split(&merged, 1).len(), 2);
//! ```

#![forbid(unsafe_code)]

mod batch;
pub mod batching;
pub mod gzip;
pub mod json;
pub mod rewrite;
mod signal;
mod validate;
pub mod views;
mod wire;

pub use batch::Batch;
pub use opentelemetry_proto::tonic as proto;
pub use signal::{Limits, Signal};
pub use validate::{ErrorKind, ValidationError, validate};
pub use wire::WireType;
