//! A pool of encoded export requests, built once, from which each request to send is made by
//! copying bytes and overwriting ids and times: no protobuf encoding while load runs.
//!
//! Ids come from counters through a bijective mixer ([`mix64`]), salted per run: request
//! number `seq` owns span numbers `seq * spans_per_request ..`, so every span id and trace id
//! of a run is distinct and still looks random. Compressed pools (gzip) cannot be patched
//! after compression, so they hold `gzip_pool` requests prepared up front and rotate them:
//! ids repeat after that many requests.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use flate2::Compression;
use flate2::write::GzEncoder;
use prost::Message;

use crate::layout::{self, LayoutError, SpanOffsets};
use crate::mesh::{MESH, Pod};
use crate::rng::{Rng, mix64};
use crate::shape::{self, Parent, REQUEST_ID_KEY, SpanMeta};

/// How a request body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A gRPC message: 1 byte compressed flag, 4 bytes big-endian length, the message.
    Grpc,
    /// The bare protobuf message (OTLP/HTTP).
    Http,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Spans in every request.
    pub spans_per_request: usize,
    /// Distinct request shapes (pods and their traffic) to rotate through.
    pub templates: usize,
    /// Seed for shapes and id salts: same seed, same requests.
    pub seed: u64,
    /// Wire framing.
    pub framing: Framing,
    /// Compress bodies with gzip; then `gzip_pool` prepared requests rotate.
    pub gzip: bool,
    /// How many compressed requests to prepare when `gzip` is set.
    pub gzip_pool: usize,
}

/// Why the pool could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// `spans_per_request` or `templates` is zero.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// An encoded template could not be mapped (a bug in the shapes).
    #[error("encoded template: {0}")]
    Layout(#[from] LayoutError),
    /// The template mapped to a different number of spans than it was built with.
    #[error("template has {found} spans where {expected} were built")]
    SpanCount {
        /// Spans built.
        expected: usize,
        /// Spans found in the encoding.
        found: usize,
    },
    /// gzip failed (it writes to memory, so this would be an allocation failure).
    #[error("gzip: {0}")]
    Gzip(#[from] std::io::Error),
    /// A message longer than gRPC's 4-byte length prefix allows.
    #[error("message of {0} bytes is too large to frame")]
    TooLarge(usize),
}

struct Template {
    encoded: Bytes,
    spans: Vec<(SpanOffsets, SpanMeta)>,
}

/// Ready-to-send request bodies.
pub struct RequestPool {
    templates: Vec<Template>,
    spans_per_request: u64,
    salts: [u64; 4],
    framing: Framing,
    compressed: Option<Vec<Bytes>>,
}

impl std::fmt::Debug for RequestPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestPool")
            .field("templates", &self.templates.len())
            .field("spans_per_request", &self.spans_per_request)
            .field("framing", &self.framing)
            .field("compressed", &self.compressed.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

impl RequestPool {
    /// Builds the templates (and the compressed requests when `gzip` is set).
    pub fn new(config: &PoolConfig) -> Result<Self, PoolError> {
        if config.spans_per_request == 0 {
            return Err(PoolError::Zero("spans per request"));
        }
        if config.templates == 0 {
            return Err(PoolError::Zero("templates"));
        }
        let mut rng = Rng::new(config.seed);
        let salts = [
            rng.next_u64(),
            rng.next_u64(),
            rng.next_u64(),
            rng.next_u64(),
        ];
        let mut templates = Vec::with_capacity(config.templates);
        // Every workload in turn: each request is one proxy's export.
        for workload in MESH.iter().cycle().take(config.templates) {
            let pod = Pod::new(workload, &mut rng);
            let shaped = shape::build(&pod, config.spans_per_request, &mut rng);
            let encoded = Bytes::from(shaped.request.encode_to_vec());
            let offsets = layout::map_spans(&encoded, REQUEST_ID_KEY)?;
            if offsets.len() != shaped.spans.len() {
                return Err(PoolError::SpanCount {
                    expected: shaped.spans.len(),
                    found: offsets.len(),
                });
            }
            templates.push(Template {
                encoded,
                spans: offsets.into_iter().zip(shaped.spans).collect(),
            });
        }
        let mut pool = Self {
            templates,
            spans_per_request: u64::try_from(config.spans_per_request).unwrap_or(u64::MAX),
            salts,
            framing: config.framing,
            compressed: None,
        };
        if config.gzip {
            let now = unix_nanos();
            let mut compressed = Vec::with_capacity(config.gzip_pool.max(1));
            for seq in 0..config.gzip_pool.max(1) {
                let message = pool.render_message(u64::try_from(seq).unwrap_or(0), now);
                let mut gz = GzEncoder::new(
                    Vec::with_capacity(message.len() / 4),
                    Compression::default(),
                );
                gz.write_all(&message)?;
                compressed.push(pool.frame(&gz.finish()?, true)?);
            }
            pool.compressed = Some(compressed);
        }
        Ok(pool)
    }

    /// Spans in every request.
    #[must_use]
    pub fn spans_per_request(&self) -> u64 {
        self.spans_per_request
    }

    /// Whether every request of a run carries distinct ids (false for rotated gzip pools).
    #[must_use]
    pub fn unique_ids(&self) -> bool {
        self.compressed.is_none()
    }

    /// The body of request number `seq` of the run, timed at `now_unix_nanos`.
    pub fn body(&self, seq: u64, now_unix_nanos: u64) -> Bytes {
        if let Some(compressed) = &self.compressed {
            let n = u64::try_from(compressed.len()).unwrap_or(1).max(1);
            let i = usize::try_from(seq % n).unwrap_or(0);
            return compressed.get(i).cloned().unwrap_or_default();
        }
        let header = if self.framing == Framing::Grpc { 5 } else { 0 };
        let Some(template) = self.template(seq) else {
            return Bytes::new();
        };
        let len = template.encoded.len();
        let mut out = BytesMut::with_capacity(header + len);
        if self.framing == Framing::Grpc {
            out.put_u8(0);
            out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
        }
        out.extend_from_slice(&template.encoded);
        if let Some(message) = out.get_mut(header..) {
            self.patch(template, message, seq, now_unix_nanos);
        }
        out.freeze()
    }

    /// Template `seq mod n`; `new` refuses zero templates, so this is always `Some`.
    fn template(&self, seq: u64) -> Option<&Template> {
        let n = u64::try_from(self.templates.len()).unwrap_or(1).max(1);
        self.templates.get(usize::try_from(seq % n).unwrap_or(0))
    }

    /// The bare message of request `seq` (no framing, no compression).
    fn render_message(&self, seq: u64, now: u64) -> Vec<u8> {
        let Some(template) = self.template(seq) else {
            return Vec::new();
        };
        let mut message = template.encoded.to_vec();
        self.patch(template, &mut message, seq, now);
        message
    }

    fn frame(&self, message: &[u8], compressed: bool) -> Result<Bytes, PoolError> {
        match self.framing {
            Framing::Http => Ok(Bytes::copy_from_slice(message)),
            Framing::Grpc => {
                let len =
                    u32::try_from(message.len()).map_err(|_| PoolError::TooLarge(message.len()))?;
                let mut out = BytesMut::with_capacity(5 + message.len());
                out.put_u8(u8::from(compressed));
                out.put_u32(len);
                out.extend_from_slice(message);
                Ok(out.freeze())
            }
        }
    }

    /// Writes the ids and times of request `seq` into `message` (a copy of its template).
    fn patch(&self, template: &Template, message: &mut [u8], seq: u64, now: u64) {
        let [span_salt, trace_hi_salt, trace_lo_salt, remote_salt] = self.salts;
        let base = seq.wrapping_mul(self.spans_per_request);
        for (i, (off, meta)) in (0u64..).zip(&template.spans) {
            let trace = base.wrapping_add(meta.trace as u64);
            let mut trace_id = [0u8; 16];
            trace_id[..8].copy_from_slice(&mix64(trace_hi_salt ^ trace).to_be_bytes());
            trace_id[8..].copy_from_slice(&mix64(trace_lo_salt ^ trace).to_be_bytes());
            put(message, off.trace_id, &trace_id);
            let span_id = mix64(span_salt ^ base.wrapping_add(i)).to_be_bytes();
            put(message, off.span_id, &span_id);
            if let Some(at) = off.parent_span_id {
                let parent = match meta.parent {
                    Parent::Local(p) => mix64(span_salt ^ base.wrapping_add(p as u64)),
                    Parent::Remote | Parent::Root => mix64(remote_salt ^ base.wrapping_add(i)),
                };
                put(message, at, &parent.to_be_bytes());
            }
            let start = now.saturating_sub(meta.start_ago_ns);
            put(message, off.start_time, &start.to_le_bytes());
            put(
                message,
                off.end_time,
                &start.saturating_add(meta.duration_ns).to_le_bytes(),
            );
            if let Some(at) = off.request_id {
                put(message, at, &shape::format_uuid(&trace_id));
            }
        }
    }
}

/// Overwrites `message[at..at + value.len()]`; offsets come from mapping this very template,
/// so they are always in bounds.
fn put(message: &mut [u8], at: usize, value: &[u8]) {
    if let Some(dst) = message.get_mut(at..at.saturating_add(value.len())) {
        dst.copy_from_slice(value);
    }
}

/// Nanoseconds since the Unix epoch (0 if the clock is before it).
#[must_use]
pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
