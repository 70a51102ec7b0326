//! What the sink counts, the optional id bookkeeping for loss checks, and the switch that
//! makes it refuse data for a while (to play an outage).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde::Serialize;

use crate::pool::unix_nanos;

/// The protocol a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP.
    Http,
}

/// Counters shared by the sink's servers.
#[derive(Debug)]
pub struct SinkStats {
    started: Instant,
    grpc_requests: AtomicU64,
    http_requests: AtomicU64,
    refused_requests: AtomicU64,
    bad_requests: AtomicU64,
    spans: AtomicU64,
    resource_spans: AtomicU64,
    invalid_ids: AtomicU64,
    http_body_bytes: AtomicU64,
    first_span_unix_ms: AtomicU64,
    last_span_unix_ms: AtomicU64,
    /// Milliseconds since `started` until which requests are refused (0: not refusing).
    refuse_until_ms: AtomicU64,
    /// Requests still to print as OTLP JSON on stderr.
    print_remaining: AtomicU64,
    ids: Option<Mutex<IdSummary>>,
    recorder: Option<Mutex<BufWriter<File>>>,
}

#[derive(Debug, Default)]
struct IdSummary {
    seen: HashSet<u64>,
    duplicates: u64,
}

/// A point-in-time copy of the counters, as `/stats` and the exit report show it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Snapshot {
    /// Milliseconds since the sink started.
    pub uptime_ms: u64,
    /// Wall clock when the snapshot was taken.
    pub now_unix_ms: u64,
    /// Export requests accepted over gRPC.
    pub grpc_requests: u64,
    /// Export requests accepted over HTTP.
    pub http_requests: u64,
    /// Requests answered UNAVAILABLE / 503 while refusing.
    pub refused_requests: u64,
    /// Requests that could not be decoded (bad protobuf/JSON/gzip, too large).
    pub bad_requests: u64,
    /// Spans decoded in accepted requests.
    pub spans: u64,
    /// `ResourceSpans` decoded in accepted requests.
    pub resource_spans: u64,
    /// Spans whose trace id is not 16 bytes or span id not 8 bytes.
    pub invalid_ids: u64,
    /// Bytes of OTLP/HTTP bodies as received (compressed if they were).
    pub http_body_bytes: u64,
    /// When the first span arrived (0: none yet).
    pub first_span_unix_ms: u64,
    /// When the latest span arrived (0: none yet).
    pub last_span_unix_ms: u64,
    /// Distinct span ids seen, when `--distinct` or `--record-ids` is on.
    pub distinct_span_ids: Option<u64>,
    /// Spans whose id had been seen before, when `--distinct` or `--record-ids` is on.
    pub duplicate_span_ids: Option<u64>,
    /// CPU seconds the sink process has used.
    pub cpu_s: Option<f64>,
}

impl SinkStats {
    /// Counters starting now; `distinct` keeps a set of span ids; `record` appends every
    /// span's ids to a file.
    pub fn new(distinct: bool, record: Option<&Path>, print: u64) -> std::io::Result<Self> {
        let recorder = match record {
            Some(path) => Some(Mutex::new(BufWriter::with_capacity(
                1 << 20,
                File::create(path)?,
            ))),
            None => None,
        };
        Ok(Self {
            started: Instant::now(),
            grpc_requests: AtomicU64::new(0),
            http_requests: AtomicU64::new(0),
            refused_requests: AtomicU64::new(0),
            bad_requests: AtomicU64::new(0),
            spans: AtomicU64::new(0),
            resource_spans: AtomicU64::new(0),
            invalid_ids: AtomicU64::new(0),
            http_body_bytes: AtomicU64::new(0),
            first_span_unix_ms: AtomicU64::new(0),
            last_span_unix_ms: AtomicU64::new(0),
            refuse_until_ms: AtomicU64::new(0),
            print_remaining: AtomicU64::new(print),
            ids: (distinct || recorder.is_some()).then(|| Mutex::new(IdSummary::default())),
            recorder,
        })
    }

    /// Counts an accepted request and its spans.
    pub fn record(&self, request: &ExportTraceServiceRequest, via: Via) {
        match via {
            Via::Grpc => self.grpc_requests.fetch_add(1, Relaxed),
            Via::Http => self.http_requests.fetch_add(1, Relaxed),
        };
        self.maybe_print(request);
        let mut spans = 0u64;
        let mut invalid = 0u64;
        for rs in &request.resource_spans {
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    spans += 1;
                    if span.trace_id.len() != 16 || span.span_id.len() != 8 {
                        invalid += 1;
                    }
                }
            }
        }
        self.resource_spans
            .fetch_add(request.resource_spans.len() as u64, Relaxed);
        self.invalid_ids.fetch_add(invalid, Relaxed);
        if spans > 0 {
            let now = unix_nanos() / 1_000_000;
            let _ = self
                .first_span_unix_ms
                .compare_exchange(0, now, Relaxed, Relaxed);
            self.last_span_unix_ms.fetch_max(now, Relaxed);
        }
        if self.ids.is_some() || self.recorder.is_some() {
            self.record_ids(request);
        }
        // Last, so a reader that sees the spans also sees their ids.
        self.spans.fetch_add(spans, Relaxed);
    }

    fn record_ids(&self, request: &ExportTraceServiceRequest) {
        let spans = request.resource_spans.iter().flat_map(|rs| &rs.scope_spans);
        let spans: Vec<_> = spans.flat_map(|ss| &ss.spans).collect();
        if let Some(ids) = &self.ids
            && let Ok(mut ids) = ids.lock()
        {
            for span in &spans {
                if let Ok(id) = <[u8; 8]>::try_from(span.span_id.as_slice())
                    && !ids.seen.insert(u64::from_be_bytes(id))
                {
                    ids.duplicates += 1;
                }
            }
        }
        if let Some(recorder) = &self.recorder {
            let mut lines = String::with_capacity(spans.len() * 50);
            for span in &spans {
                hex(&mut lines, &span.trace_id);
                lines.push(' ');
                hex(&mut lines, &span.span_id);
                lines.push('\n');
            }
            if let Ok(mut out) = recorder.lock() {
                // A full disk loses the id log, not the count: the counters stay right.
                let _ = out.write_all(lines.as_bytes());
            }
        }
    }

    fn maybe_print(&self, request: &ExportTraceServiceRequest) {
        let take = self
            .print_remaining
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if take && let Ok(json) = serde_json::to_string_pretty(request) {
            eprintln!("{json}");
        }
    }

    /// Counts a request that could not be decoded.
    pub fn bad_request(&self) {
        self.bad_requests.fetch_add(1, Relaxed);
    }

    /// Counts the bytes of an OTLP/HTTP body as received.
    pub fn http_body(&self, bytes: usize) {
        self.http_body_bytes.fetch_add(bytes as u64, Relaxed);
    }

    /// If the sink is refusing data, counts one refused request and says for how much longer.
    pub fn refusing(&self) -> Option<Duration> {
        let until = self.refuse_until_ms.load(Relaxed);
        let now = self.elapsed_ms();
        if until > now {
            self.refused_requests.fetch_add(1, Relaxed);
            Some(Duration::from_millis(until - now))
        } else {
            None
        }
    }

    /// Refuse every request for `duration` from now (zero: stop refusing).
    pub fn refuse_for(&self, duration: Duration) {
        let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        let until = if ms == 0 {
            0
        } else {
            self.elapsed_ms().saturating_add(ms)
        };
        self.refuse_until_ms.store(until, Relaxed);
    }

    /// Zeroes the counters and forgets the ids seen (the id file is kept).
    pub fn reset(&self) {
        for counter in [
            &self.grpc_requests,
            &self.http_requests,
            &self.refused_requests,
            &self.bad_requests,
            &self.spans,
            &self.resource_spans,
            &self.invalid_ids,
            &self.http_body_bytes,
            &self.first_span_unix_ms,
            &self.last_span_unix_ms,
        ] {
            counter.store(0, Relaxed);
        }
        if let Some(ids) = &self.ids
            && let Ok(mut ids) = ids.lock()
        {
            *ids = IdSummary::default();
        }
    }

    /// Flushes the id file.
    pub fn flush(&self) -> std::io::Result<()> {
        match &self.recorder {
            Some(recorder) => match recorder.lock() {
                Ok(mut out) => out.flush(),
                Err(_) => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        let (distinct, duplicates) = match self.ids.as_ref().map(Mutex::lock) {
            Some(Ok(ids)) => (Some(ids.seen.len() as u64), Some(ids.duplicates)),
            _ => (None, None),
        };
        Snapshot {
            uptime_ms: self.elapsed_ms(),
            now_unix_ms: unix_nanos() / 1_000_000,
            grpc_requests: self.grpc_requests.load(Relaxed),
            http_requests: self.http_requests.load(Relaxed),
            refused_requests: self.refused_requests.load(Relaxed),
            bad_requests: self.bad_requests.load(Relaxed),
            spans: self.spans.load(Relaxed),
            resource_spans: self.resource_spans.load(Relaxed),
            invalid_ids: self.invalid_ids.load(Relaxed),
            http_body_bytes: self.http_body_bytes.load(Relaxed),
            first_span_unix_ms: self.first_span_unix_ms.load(Relaxed),
            last_span_unix_ms: self.last_span_unix_ms.load(Relaxed),
            distinct_span_ids: distinct,
            duplicate_span_ids: duplicates,
            cpu_s: crate::cpu::process_cpu_time().map(|d| d.as_secs_f64()),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

fn hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn request(ids: &[(&[u8], &[u8])]) -> ExportTraceServiceRequest {
        let spans = ids
            .iter()
            .map(|(t, s)| Span {
                trace_id: t.to_vec(),
                span_id: s.to_vec(),
                ..Span::default()
            })
            .collect();
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    #[test]
    fn counts_spans_ids_and_duplicates() {
        let dir = std::env::temp_dir().join(format!("sink-stats-{}", std::process::id()));
        let stats = SinkStats::new(true, Some(&dir), 0).unwrap();
        let t = [1u8; 16];
        stats.record(&request(&[(&t, &[1; 8]), (&t, &[2; 8])]), Via::Grpc);
        stats.record(&request(&[(&t, &[2; 8]), (&[1; 6], &[3; 8])]), Via::Http);
        let s = stats.snapshot();
        assert_eq!(
            (s.grpc_requests, s.http_requests, s.spans, s.resource_spans),
            (1, 1, 4, 2)
        );
        assert_eq!(
            (s.distinct_span_ids, s.duplicate_span_ids, s.invalid_ids),
            (Some(3), Some(1), 1)
        );
        stats.flush().unwrap();
        let lines = std::fs::read_to_string(&dir).unwrap();
        let _ = std::fs::remove_file(&dir);
        assert_eq!(lines.lines().count(), 4);
        assert_eq!(
            lines.lines().next(),
            Some("01010101010101010101010101010101 0101010101010101")
        );
        stats.reset();
        let s = stats.snapshot();
        assert_eq!(
            (s.spans, s.distinct_span_ids, s.first_span_unix_ms),
            (0, Some(0), 0)
        );
    }

    #[test]
    fn refuses_for_a_while_then_accepts() {
        let stats = SinkStats::new(false, None, 0).unwrap();
        assert_eq!(stats.refusing(), None);
        stats.refuse_for(Duration::from_secs(60));
        assert!(
            stats
                .refusing()
                .is_some_and(|left| left > Duration::from_secs(50))
        );
        stats.refuse_for(Duration::ZERO);
        assert_eq!(stats.refusing(), None);
        assert_eq!(stats.snapshot().refused_requests, 1);
        assert_eq!(stats.snapshot().distinct_span_ids, None);
    }
}
