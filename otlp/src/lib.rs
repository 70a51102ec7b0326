//! OTLP payloads kept as protobuf bytes: the collector's data plane.
//!
//! The collector never decodes OTLP into structs on the hot path. A receiver turns a request
//! body into a [`Batch`] and everything downstream works on its bytes:
//!
//! | step | API | cost |
//! |------|-----|------|
//! | body (gzip, zstd, snappy, …) → bytes | [`encoding::decompress`] (with a cap: 413 on bombs) | inflate |
//! | OTLP/JSON → bytes | [`json::to_protobuf`], [`json::to_batch`] | one pass, JSON to protobuf |
//! | bytes → [`Batch`] | [`Batch::new_validated`] / [`validate`] | one pass, no allocation |
//! | merge for sending | [`batching::concat`], [`batching::BatchBuilder`] | a memcpy |
//! | cap per request | [`batching::split`] | one copy per item |
//! | look inside | [`views`] (`TracesView`, `SpanView`, `Attributes::get`, …) | no allocation |
//! | change | [`rewrite::rewrite_traces`], [`rewrite::rewrite_resources`] | re-encodes only edits |
//! | bytes → JSON | [`json::from_protobuf`] (file exporter, debug) | prost decode |
//!
//! Exporters send [`Batch::bytes`] as they are: the gRPC body of `Export` or the OTLP/HTTP
//! `application/x-protobuf` body.
//!
//! # What validation guarantees
//! [`validate`] rejects what a strict protobuf decoder (prost) plus the OpenTelemetry
//! Collector's OTLP receiver would reject: truncated data, malformed varints, invalid tags,
//! groups, wrong wire types for known fields, invalid UTF-8 in string fields, trace ids that
//! are not 16 bytes and span ids that are not 8 bytes (empty ids are accepted, as pdata reads
//! them as the zero id), and [`Limits`] (attributes per list, value length, `AnyValue` depth).
//! Unknown fields are skipped. A [`ValidationError`] carries an [`ErrorKind`], the byte offset
//! and a field path, and its `Display` is a ready HTTP 400 / `INVALID_ARGUMENT` message:
//! `resource_spans[0].scope_spans[1].spans[3].trace_id: length 6, want 16 (at byte 211)`.
//!
//! # Items
//! [`Batch::items`] counts what the OpenTelemetry Collector counts for its
//! `otelcol_receiver_accepted_*` metrics and batch sizes: spans for traces, log records for
//! logs, data points (gauge, sum, histogram, exponential histogram, summary) for metrics.
//!
//! # Safety net
//! Nothing in this crate panics on any input (the workspace denies `unwrap`, `expect`,
//! indexing; fuzz targets in `fuzz/` exercise every entry point). Views over invalid bytes
//! yield nothing rather than fail, and the byte-level operations only ever read through the
//! same bounds-checked field reader.
//!
//! ```
//! use bytes::Bytes;
//! use meshtrace_otlp::{batching, views::TracesView, Batch, Limits, Signal};
//!
//! let body = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/otlp-examples/trace.pb"))
//!     .unwrap_or_default();
//! # if body.is_empty() { return Ok(()); }
//! let batch = Batch::new_validated(Signal::Traces, Bytes::from(body), &Limits::default())?;
//! assert_eq!(batch.items(), 1);
//! for (resource, _scope, span) in TracesView::new(batch.bytes()).spans() {
//!     let service = resource.resource().attributes().get("service.name");
//!     assert_eq!(service.and_then(|v| v.as_str()), Some("my.service"));
//!     assert_eq!(span.name(), "I'm a server span");
//! }
//! let merged = batching::concat(Signal::Traces, &[batch.clone(), batch.clone()]);
//! assert_eq!(merged.items(), 2);
//! assert_eq!(batching::split(&merged, 1).len(), 2);
//! # Ok::<(), meshtrace_otlp::ValidationError>(())
//! ```

#![forbid(unsafe_code)]

mod batch;
pub mod batching;
pub mod encoding;
pub mod gzip;
pub mod json;
pub mod rewrite;
pub mod scan;
mod signal;
mod validate;
pub mod views;
mod wire;

pub use batch::Batch;
pub use opentelemetry_proto::tonic as proto;
pub use signal::{Limits, Signal};
pub use validate::{ErrorKind, Salvage, ValidationError, salvage_traces, validate};
pub use wire::WireType;
