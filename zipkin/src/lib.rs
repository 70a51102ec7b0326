//! Zipkin v2 spans translated to OTLP, as the OpenTelemetry Collector's `zipkin` receiver
//! does (`pkg/translator/zipkin/zipkinv2` of opentelemetry-collector-contrib), so a Zipkin
//! client pointed at meshtrace produces the spans it would produce through the Collector.
//!
//! | step | API |
//! |------|-----|
//! | `application/json` body → spans | [`decode`] with [`Format::Json`] (`[{"traceId": …}, …]`) |
//! | `application/x-protobuf` body → spans | [`decode`] with [`Format::Proto`] (`zipkin.proto3.ListOfSpans`) |
//! | spans → OTLP request | [`translate`] |
//! | body → validated [`Batch`] | [`to_batch`] (the three above, then `Batch::new_validated`) |
//!
//! The translation, rule by rule (all covered by tests):
//! - spans are grouped by `localEndpoint.serviceName` into resources (`service.name`, or the
//!   key named by the `otlp.service.name.source` tag; no resource attribute when the service
//!   is unknown) and by the `otel.library.name` / `otel.library.version` tags into scopes;
//!   tags that are resource semantic conventions (`host.name`, `k8s.pod.name`, …) move to the
//!   resource of the first span of each service;
//! - `kind` `CLIENT`/`SERVER`/`PRODUCER`/`CONSUMER` map to the OTLP kinds, a `span.kind` tag
//!   `internal` to `SPAN_KIND_INTERNAL`, anything else to unspecified. Shared spans
//!   (`"shared": true`, the server half of a span id reused by client and server) keep their
//!   ids like any other span;
//! - `otel.status_code` / `otel.status_description` tags set the status; any `error` tag sets
//!   `STATUS_CODE_ERROR` (the tag is removed when it is `"true"`, kept as an attribute when it
//!   carries a message);
//! - other tags become string attributes (typed with `parse_string_tags`: `"12"` → int,
//!   `"1.5"` → double, `"true"` → bool); `w3c.tracestate` becomes `trace_state`;
//!   `otlp.link.N` tags become links;
//! - `localEndpoint` ip/port → `net.host.ip` / `net.host.port`, `remoteEndpoint` service,
//!   ip and port → `peer.service` / `net.peer.ip` / `net.peer.port` (the Collector's default
//!   semantic conventions, v1.12);
//! - annotations become events (`name|{json attributes}|dropped count` is decoded back);
//! - microsecond `timestamp`/`duration` become nanosecond start/end times; a span without
//!   a timestamp starts at 0 and gets `otel.zipkin.absentField.startTime: true`.
//!
//! Nothing here panics on any input (fuzzed in `fuzz/fuzz_targets/zipkin.rs`).

#![forbid(unsafe_code)]

mod json;
mod model;
pub mod proto;
mod translate;

use bytes::Bytes;
use meshtrace_otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use meshtrace_otlp::{Batch, Limits, Signal, ValidationError};
use prost::Message;

pub use model::{Annotation, Endpoint, Kind, Span};
pub use translate::translate;

/// The encoding of a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`: a JSON array of Zipkin v2 spans.
    Json,
    /// `application/x-protobuf`: a `zipkin.proto3.ListOfSpans`.
    Proto,
}

/// Translation options (the receiver's config).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Type tag values that look like numbers or booleans (`parse_string_tags`).
    pub parse_string_tags: bool,
}

/// Why a body could not be translated; the message suits an HTTP 400 answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZipkinError {
    /// Not a JSON array of Zipkin v2 spans (says where).
    #[error("invalid Zipkin v2 JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Not a `ListOfSpans` protobuf message.
    #[error("invalid Zipkin protobuf: {0}")]
    Proto(#[from] prost::DecodeError),
    /// A span that decoded but is not valid (an id of the wrong length, a bad IP, …).
    #[error("invalid span {index}: {reason}")]
    Span {
        /// Position of the span in the request (0-based).
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The translated request failed OTLP validation (limits).
    #[error(transparent)]
    Otlp(#[from] ValidationError),
}

/// Decodes a request body into spans.
pub fn decode(body: &[u8], format: Format) -> Result<Vec<Span>, ZipkinError> {
    match format {
        Format::Json => json::decode(body),
        Format::Proto => proto::decode(body),
    }
}

/// Decodes `body` and translates it into an OTLP request.
pub fn to_otlp(
    body: &[u8],
    format: Format,
    options: Options,
) -> Result<ExportTraceServiceRequest, ZipkinError> {
    let spans = decode(body, format)?;
    translate(&spans, options)
}

/// Decodes, translates and validates `body`: what the `zipkin` receiver hands down the
/// pipeline.
pub fn to_batch(
    body: &[u8],
    format: Format,
    options: Options,
    limits: &Limits,
) -> Result<Batch, ZipkinError> {
    let req = to_otlp(body, format, options)?;
    Ok(Batch::new_validated(
        Signal::Traces,
        Bytes::from(req.encode_to_vec()),
        limits,
    )?)
}

#[cfg(test)]
mod tests;
