//! OTLP/JSON (the OTLP specification's JSON mapping of the protobuf messages).
//!
//! - [`to_protobuf`] reads a JSON request body straight into its protobuf encoding (lowerCamelCase
//!   keys or the proto field names, hex trace/span ids in either case, integers as numbers or
//!   strings, enums as integers or names, every `AnyValue` variant with `bytesValue` in
//!   base64; what is accepted is listed in `read`). Unknown keys are ignored, as the
//!   specification requires. The result still has to pass [`crate::validate`] (ids of the
//!   wrong length, limits): [`to_batch`] does both.
//! - [`from_protobuf`] writes compact JSON in the form the specification shows: default and
//!   empty values omitted, ids as lowercase hex, 64-bit integers as strings, enums as integers.
//!   Used by the file exporter and for JSON responses.

mod read;
mod schema;
mod write;

use bytes::Bytes;
use prost::Message;

use crate::proto::collector::logs::v1::ExportLogsServiceRequest;
use crate::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::{Batch, Limits, Signal, ValidationError};

/// Why a JSON conversion failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The body is not OTLP/JSON (syntax, or a value of the wrong type); says where.
    #[error("invalid OTLP/JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    /// The protobuf input could not be decoded.
    #[error("invalid protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// The JSON decoded but the request is invalid (e.g. a trace id that is not 16 bytes).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

/// Converts an OTLP/JSON request body into the protobuf encoding of the same request.
///
/// ```
/// use meshtrace_otlp::{json, Signal};
/// let pb = json::to_protobuf(Signal::Logs, br#"{"resourceLogs":[]}"#).unwrap();
/// assert!(pb.is_empty());
/// ```
pub fn to_protobuf(signal: Signal, json: &[u8]) -> Result<Vec<u8>, JsonError> {
    Ok(read::to_protobuf(signal, json)?)
}

/// [`to_protobuf`] then [`Batch::new_validated`]: what an OTLP/HTTP receiver does with
/// `Content-Type: application/json`.
pub fn to_batch(signal: Signal, json: &[u8], limits: &Limits) -> Result<Batch, JsonError> {
    let pb = to_protobuf(signal, json)?;
    Ok(Batch::new_validated(signal, Bytes::from(pb), limits)?)
}

/// Converts an encoded request into compact OTLP/JSON.
///
/// ```
/// use meshtrace_otlp::{json, Signal};
/// assert_eq!(json::from_protobuf(Signal::Traces, &[]).unwrap(), b"{}");
/// ```
pub fn from_protobuf(signal: Signal, pb: &[u8]) -> Result<Vec<u8>, JsonError> {
    let mut out = String::with_capacity(pb.len() * 2);
    match signal {
        Signal::Traces => write::traces(&mut out, &ExportTraceServiceRequest::decode(pb)?),
        Signal::Metrics => write::metrics(&mut out, &ExportMetricsServiceRequest::decode(pb)?),
        Signal::Logs => write::logs(&mut out, &ExportLogsServiceRequest::decode(pb)?),
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests;
