//! STAND-IN for `meshtrace-otlp` (branch `otlp`), to be deleted once that crate lands.
//!
//! It has exactly the agreed API (`Signal`, `Limits`, `Batch`, `validate`, `gzip`, `json`,
//! `batching`) so the collector is written against the real interface; replacing it is the
//! one-line change in `lib.rs` (`pub use meshtrace_otlp as otlp`). It decodes with `prost`
//! where the real crate walks the bytes once, so it is correct but slower.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric;
use prost::Message;

pub use opentelemetry_proto::tonic as proto;

/// The three OTLP signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metric data points.
    Metrics,
    /// Log records.
    Logs,
}

/// Limits applied while validating a payload.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most attributes on one span, resource, scope, event or link.
    pub max_attributes: usize,
    /// Longest string or bytes value.
    pub max_value_bytes: usize,
    /// Deepest nesting of array/kvlist values.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_attributes: 1024,
            max_value_bytes: 1 << 20,
            max_depth: 32,
        }
    }
}

/// Why a payload was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ValidationError {
    /// Not a well-formed protobuf message of the expected type.
    #[error("malformed protobuf: {0}")]
    Malformed(String),
    /// A trace id that is not 16 bytes.
    #[error("trace id must be 16 bytes, got {0}")]
    TraceIdLength(usize),
    /// A span id that is not 8 bytes.
    #[error("span id must be 8 bytes, got {0}")]
    SpanIdLength(usize),
    /// A limit was exceeded.
    #[error("limit exceeded: {0}")]
    Limit(String),
}

/// A validated, encoded `Export*ServiceRequest` with its item count.
#[derive(Debug, Clone)]
pub struct Batch {
    signal: Signal,
    bytes: Bytes,
    items: usize,
}

impl Batch {
    /// Validates `bytes` as a request of `signal` and wraps it.
    pub fn new_validated(
        signal: Signal,
        bytes: Bytes,
        limits: &Limits,
    ) -> Result<Self, ValidationError> {
        let items = validate(signal, &bytes, limits)?;
        Ok(Self {
            signal,
            bytes,
            items,
        })
    }
    /// An empty request of `signal`.
    pub fn empty(signal: Signal) -> Self {
        Self {
            signal,
            bytes: Bytes::new(),
            items: 0,
        }
    }
    /// The signal.
    pub fn signal(&self) -> Signal {
        self.signal
    }
    /// The encoded request.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
    /// Spans, data points or log records.
    pub fn items(&self) -> usize {
        self.items
    }
    /// The encoded request, owned.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }
    /// True when it holds no item.
    pub fn is_empty(&self) -> bool {
        self.items == 0
    }
}

fn check_kvs(kvs: &[KeyValue], limits: &Limits, depth: usize) -> Result<(), ValidationError> {
    if kvs.len() > limits.max_attributes {
        return Err(ValidationError::Limit(format!("{} attributes", kvs.len())));
    }
    for kv in kvs {
        if let Some(v) = &kv.value {
            check_value(v, limits, depth)?;
        }
    }
    Ok(())
}

fn check_value(v: &AnyValue, limits: &Limits, depth: usize) -> Result<(), ValidationError> {
    if depth > limits.max_depth {
        return Err(ValidationError::Limit("nesting too deep".into()));
    }
    match &v.value {
        Some(any_value::Value::StringValue(s)) if s.len() > limits.max_value_bytes => Err(
            ValidationError::Limit(format!("value of {} bytes", s.len())),
        ),
        Some(any_value::Value::BytesValue(b)) if b.len() > limits.max_value_bytes => Err(
            ValidationError::Limit(format!("value of {} bytes", b.len())),
        ),
        Some(any_value::Value::ArrayValue(a)) => a
            .values
            .iter()
            .try_for_each(|v| check_value(v, limits, depth + 1)),
        Some(any_value::Value::KvlistValue(l)) => check_kvs(&l.values, limits, depth + 1),
        _ => Ok(()),
    }
}

fn check_trace_id(id: &[u8]) -> Result<(), ValidationError> {
    if id.len() == 16 {
        Ok(())
    } else {
        Err(ValidationError::TraceIdLength(id.len()))
    }
}

fn check_span_id(id: &[u8], optional: bool) -> Result<(), ValidationError> {
    if id.len() == 8 || (optional && id.is_empty()) {
        Ok(())
    } else {
        Err(ValidationError::SpanIdLength(id.len()))
    }
}

/// Validates an encoded request and returns its item count.
pub fn validate(signal: Signal, bytes: &[u8], limits: &Limits) -> Result<usize, ValidationError> {
    let malformed = |e: prost::DecodeError| ValidationError::Malformed(e.to_string());
    match signal {
        Signal::Traces => {
            let req = ExportTraceServiceRequest::decode(bytes).map_err(malformed)?;
            let mut n = 0;
            for rs in &req.resource_spans {
                if let Some(r) = &rs.resource {
                    check_kvs(&r.attributes, limits, 0)?;
                }
                for ss in &rs.scope_spans {
                    for s in &ss.spans {
                        check_trace_id(&s.trace_id)?;
                        check_span_id(&s.span_id, false)?;
                        check_span_id(&s.parent_span_id, true)?;
                        check_kvs(&s.attributes, limits, 0)?;
                        for l in &s.links {
                            check_trace_id(&l.trace_id)?;
                            check_span_id(&l.span_id, false)?;
                        }
                        n += 1;
                    }
                }
            }
            Ok(n)
        }
        Signal::Metrics => {
            let req = ExportMetricsServiceRequest::decode(bytes).map_err(malformed)?;
            Ok(req
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(|m| match &m.data {
                    Some(metric::Data::Gauge(g)) => g.data_points.len(),
                    Some(metric::Data::Sum(g)) => g.data_points.len(),
                    Some(metric::Data::Histogram(g)) => g.data_points.len(),
                    Some(metric::Data::ExponentialHistogram(g)) => g.data_points.len(),
                    Some(metric::Data::Summary(g)) => g.data_points.len(),
                    None => 0,
                })
                .sum())
        }
        Signal::Logs => {
            let req = ExportLogsServiceRequest::decode(bytes).map_err(malformed)?;
            for l in req
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .flat_map(|s| &s.log_records)
            {
                if !l.trace_id.is_empty() {
                    check_trace_id(&l.trace_id)?;
                }
                check_span_id(&l.span_id, true)?;
                check_kvs(&l.attributes, limits, 0)?;
            }
            Ok(req
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum())
        }
    }
}

/// gzip with an output cap.
pub mod gzip {
    use std::io::{Read, Write};

    /// Why a gzip body was refused.
    #[derive(Debug, thiserror::Error)]
    pub enum GzipError {
        /// Not valid gzip.
        #[error("invalid gzip data: {0}")]
        Invalid(String),
        /// Decompresses to more than the cap.
        #[error("decompressed size exceeds {0} bytes")]
        TooLarge(usize),
    }

    /// Decompresses `input`, refusing more than `max_output` bytes of output.
    pub fn decompress(input: &[u8], max_output: usize) -> Result<Vec<u8>, GzipError> {
        let mut out = Vec::new();
        let limit = u64::try_from(max_output)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        flate2::read::MultiGzDecoder::new(input)
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|e| GzipError::Invalid(e.to_string()))?;
        if out.len() > max_output {
            return Err(GzipError::TooLarge(max_output));
        }
        Ok(out)
    }

    /// Compresses `input` at `level` (0-9).
    pub fn compress(input: &[u8], level: u32) -> Vec<u8> {
        let mut enc =
            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level.min(9)));
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(input);
        enc.finish().unwrap_or_default()
    }
}

/// The OTLP/JSON mapping.
pub mod json {
    use super::Signal;
    use opentelemetry_proto::tonic::collector::{
        logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
        trace::v1::ExportTraceServiceRequest,
    };
    use prost::Message;

    /// Why a JSON body could not be converted.
    #[derive(Debug, thiserror::Error)]
    pub enum JsonError {
        /// Not valid OTLP/JSON.
        #[error("invalid OTLP JSON: {0}")]
        Invalid(String),
        /// The protobuf side could not be decoded.
        #[error("invalid protobuf: {0}")]
        Protobuf(String),
    }

    /// OTLP/JSON → protobuf bytes.
    pub fn to_protobuf(signal: Signal, json: &[u8]) -> Result<Vec<u8>, JsonError> {
        let inv = |e: serde_json::Error| JsonError::Invalid(e.to_string());
        Ok(match signal {
            Signal::Traces => serde_json::from_slice::<ExportTraceServiceRequest>(json)
                .map_err(inv)?
                .encode_to_vec(),
            Signal::Metrics => serde_json::from_slice::<ExportMetricsServiceRequest>(json)
                .map_err(inv)?
                .encode_to_vec(),
            Signal::Logs => serde_json::from_slice::<ExportLogsServiceRequest>(json)
                .map_err(inv)?
                .encode_to_vec(),
        })
    }

    /// Protobuf bytes → OTLP/JSON.
    pub fn from_protobuf(signal: Signal, pb: &[u8]) -> Result<Vec<u8>, JsonError> {
        let pbe = |e: prost::DecodeError| JsonError::Protobuf(e.to_string());
        let inv = |e: serde_json::Error| JsonError::Invalid(e.to_string());
        match signal {
            Signal::Traces => {
                serde_json::to_vec(&ExportTraceServiceRequest::decode(pb).map_err(pbe)?)
                    .map_err(inv)
            }
            Signal::Metrics => {
                serde_json::to_vec(&ExportMetricsServiceRequest::decode(pb).map_err(pbe)?)
                    .map_err(inv)
            }
            Signal::Logs => {
                serde_json::to_vec(&ExportLogsServiceRequest::decode(pb).map_err(pbe)?).map_err(inv)
            }
        }
    }
}

/// Concatenation and splitting of encoded requests.
pub mod batching {
    use super::{Batch, Signal};
    use bytes::{Bytes, BytesMut};
    use opentelemetry_proto::tonic::collector::{
        logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
        trace::v1::ExportTraceServiceRequest,
    };
    use opentelemetry_proto::tonic::metrics::v1::metric;
    use prost::Message;

    /// One request holding every part (the bytes, concatenated).
    pub fn concat(signal: Signal, parts: &[Batch]) -> Batch {
        let len = parts.iter().map(|p| p.bytes.len()).sum();
        let mut out = BytesMut::with_capacity(len);
        for p in parts {
            out.extend_from_slice(&p.bytes);
        }
        Batch {
            signal,
            bytes: out.freeze(),
            items: parts.iter().map(|p| p.items).sum(),
        }
    }

    /// Splits `batch` into requests of at most `max_items` items each (in order).
    pub fn split(batch: &Batch, max_items: usize) -> Vec<Batch> {
        if max_items == 0 || batch.items <= max_items {
            return vec![batch.clone()];
        }
        match batch.signal {
            Signal::Traces => split_traces(batch, max_items),
            Signal::Logs => split_logs(batch, max_items),
            Signal::Metrics => split_metrics(batch, max_items),
        }
    }

    fn out(signal: Signal, m: &impl Message, items: usize) -> Batch {
        Batch {
            signal,
            bytes: Bytes::from(m.encode_to_vec()),
            items,
        }
    }

    fn split_traces(batch: &Batch, max: usize) -> Vec<Batch> {
        let Ok(req) = ExportTraceServiceRequest::decode(batch.bytes.as_ref()) else {
            return vec![batch.clone()];
        };
        let mut result = Vec::new();
        let mut cur = ExportTraceServiceRequest::default();
        let mut n = 0;
        for mut rs in req.resource_spans {
            for mut ss in std::mem::take(&mut rs.scope_spans) {
                for span in std::mem::take(&mut ss.spans) {
                    if n == max {
                        result.push(out(Signal::Traces, &cur, n));
                        cur = ExportTraceServiceRequest::default();
                        n = 0;
                    }
                    let need_rs = cur
                        .resource_spans
                        .last()
                        .is_none_or(|r| r.resource != rs.resource || r.schema_url != rs.schema_url);
                    if need_rs {
                        let mut r = rs.clone();
                        r.scope_spans.clear();
                        cur.resource_spans.push(r);
                    }
                    if let Some(r) = cur.resource_spans.last_mut() {
                        let need_ss = r
                            .scope_spans
                            .last()
                            .is_none_or(|s| s.scope != ss.scope || s.schema_url != ss.schema_url);
                        if need_ss {
                            let mut s = ss.clone();
                            s.spans.clear();
                            r.scope_spans.push(s);
                        }
                        if let Some(s) = r.scope_spans.last_mut() {
                            s.spans.push(span);
                        }
                    }
                    n += 1;
                }
            }
        }
        if n > 0 {
            result.push(out(Signal::Traces, &cur, n));
        }
        result
    }

    fn split_logs(batch: &Batch, max: usize) -> Vec<Batch> {
        let Ok(req) = ExportLogsServiceRequest::decode(batch.bytes.as_ref()) else {
            return vec![batch.clone()];
        };
        let mut result = Vec::new();
        let mut cur = ExportLogsServiceRequest::default();
        let mut n = 0;
        for mut rl in req.resource_logs {
            for mut sl in std::mem::take(&mut rl.scope_logs) {
                for rec in std::mem::take(&mut sl.log_records) {
                    if n == max {
                        result.push(out(Signal::Logs, &cur, n));
                        cur = ExportLogsServiceRequest::default();
                        n = 0;
                    }
                    let mut r = rl.clone();
                    r.scope_logs.clear();
                    let mut s = sl.clone();
                    s.log_records = vec![rec];
                    r.scope_logs.push(s);
                    cur.resource_logs.push(r);
                    n += 1;
                }
            }
        }
        if n > 0 {
            result.push(out(Signal::Logs, &cur, n));
        }
        result
    }

    fn points(m: &opentelemetry_proto::tonic::metrics::v1::Metric) -> usize {
        match &m.data {
            Some(metric::Data::Gauge(g)) => g.data_points.len(),
            Some(metric::Data::Sum(g)) => g.data_points.len(),
            Some(metric::Data::Histogram(g)) => g.data_points.len(),
            Some(metric::Data::ExponentialHistogram(g)) => g.data_points.len(),
            Some(metric::Data::Summary(g)) => g.data_points.len(),
            None => 0,
        }
    }

    /// Splits at metric granularity (a stand-in simplification).
    fn split_metrics(batch: &Batch, max: usize) -> Vec<Batch> {
        let Ok(req) = ExportMetricsServiceRequest::decode(batch.bytes.as_ref()) else {
            return vec![batch.clone()];
        };
        let mut result = Vec::new();
        let mut cur = ExportMetricsServiceRequest::default();
        let mut n = 0;
        for mut rm in req.resource_metrics {
            for mut sm in std::mem::take(&mut rm.scope_metrics) {
                for m in std::mem::take(&mut sm.metrics) {
                    let p = points(&m);
                    if n > 0 && n + p > max {
                        result.push(out(Signal::Metrics, &cur, n));
                        cur = ExportMetricsServiceRequest::default();
                        n = 0;
                    }
                    let mut r = rm.clone();
                    r.scope_metrics.clear();
                    let mut s = sm.clone();
                    s.metrics = vec![m];
                    r.scope_metrics.push(s);
                    cur.resource_metrics.push(r);
                    n += p;
                }
            }
        }
        if !cur.resource_metrics.is_empty() {
            result.push(out(Signal::Metrics, &cur, n));
        }
        result
    }
}
