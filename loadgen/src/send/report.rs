//! What a `send` run measured: counts, latency percentiles (HdrHistogram), errors by kind and
//! the generator's own CPU, as text for people and JSON for scripts.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::transport::{Ack, Failure};

/// Latencies are kept in microseconds from 1 µs to 10 minutes at 3 significant digits.
const MAX_LATENCY_US: u64 = 600_000_000;

/// Running totals, fed by every finished request.
#[derive(Debug)]
pub struct Recorder {
    latency_us: Histogram<u64>,
    requests_ok: u64,
    requests_failed: u64,
    spans_accepted: u64,
    spans_rejected: u64,
    spans_failed: u64,
    bytes_sent: u64,
    errors: BTreeMap<String, u64>,
    last_error: BTreeMap<String, String>,
}

impl Recorder {
    /// Empty totals.
    pub fn new() -> Result<Self, hdrhistogram::CreationError> {
        Ok(Self {
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?,
            requests_ok: 0,
            requests_failed: 0,
            spans_accepted: 0,
            spans_rejected: 0,
            spans_failed: 0,
            bytes_sent: 0,
            errors: BTreeMap::new(),
            last_error: BTreeMap::new(),
        })
    }

    /// Records one finished request of `spans` spans and `bytes` body bytes.
    pub fn record(
        &mut self,
        latency: Duration,
        spans: u64,
        bytes: u64,
        result: &Result<Ack, Failure>,
    ) {
        self.bytes_sent += bytes;
        match result {
            Ok(ack) => {
                self.requests_ok += 1;
                let rejected = ack.rejected_spans.min(spans);
                self.spans_rejected += rejected;
                self.spans_accepted += spans - rejected;
                let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                self.latency_us
                    .saturating_record(us.clamp(1, MAX_LATENCY_US));
            }
            Err(failure) => {
                self.requests_failed += 1;
                self.spans_failed += spans;
                let kind = failure.kind();
                self.last_error.insert(kind.clone(), failure.to_string());
                *self.errors.entry(kind).or_default() += 1;
            }
        }
    }

    /// Records a request the generator did not send (open loop, too many in flight).
    pub fn skipped(&mut self, spans: u64) {
        self.requests_failed += 1;
        self.spans_failed += spans;
        let kind = "not_sent_max_in_flight".to_owned();
        self.last_error.entry(kind.clone()).or_insert_with(|| {
            "too many requests in flight; the receiver is not keeping up with --rate".to_owned()
        });
        *self.errors.entry(kind).or_default() += 1;
    }

    /// The report, given the run's parameters and measurements.
    #[must_use]
    pub fn report(&self, run: RunInfo, elapsed: Duration, cpu: Option<Duration>) -> Report {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let h = &self.latency_us;
        let q = |quantile: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(quantile)
            }
        };
        let cpu_s = cpu.map(|c| c.as_secs_f64());
        Report {
            run,
            elapsed_s: round3(elapsed.as_secs_f64()),
            requests: self.requests_ok + self.requests_failed,
            requests_ok: self.requests_ok,
            requests_failed: self.requests_failed,
            spans_accepted: self.spans_accepted,
            spans_rejected: self.spans_rejected,
            spans_failed: self.spans_failed,
            accepted_spans_per_s: round3(self.spans_accepted as f64 / secs),
            requests_per_s: round3(self.requests_ok as f64 / secs),
            bytes_sent: self.bytes_sent,
            latency_us: Latency {
                p50: q(0.50),
                p90: q(0.90),
                p99: q(0.99),
                p999: q(0.999),
                max: h.max(),
                mean: round3(h.mean()),
            },
            errors: self.errors.clone(),
            last_error: self.last_error.clone(),
            generator_cpu_s: cpu_s.map(round3),
            generator_cpu_percent: cpu_s.map(|c| round3(100.0 * c / secs)),
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The parameters of a run, echoed in its report.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// `grpc` or `http`.
    pub protocol: &'static str,
    /// Where the load went.
    pub endpoint: String,
    /// `closed` (fixed concurrency) or `open` (fixed rate).
    pub mode: &'static str,
    /// Requests in flight (closed loop) or the cap on them (open loop).
    pub concurrency: usize,
    /// Connections used.
    pub connections: usize,
    /// Target spans per second (open loop).
    pub rate_spans_per_s: Option<f64>,
    /// Spans in each request.
    pub spans_per_request: u64,
    /// Bodies were gzip-compressed.
    pub gzip: bool,
    /// Every span of the run had its own ids (false when a gzip pool rotated).
    pub unique_ids: bool,
}

/// Latency percentiles of successful requests, in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Slowest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The run's parameters.
    #[serde(flatten)]
    pub run: RunInfo,
    /// Wall time from the first request sent to the last answer.
    pub elapsed_s: f64,
    /// Requests attempted (answered, failed, or not sent in an open loop).
    pub requests: u64,
    /// Requests the receiver accepted.
    pub requests_ok: u64,
    /// Requests that failed or were not sent.
    pub requests_failed: u64,
    /// Spans in accepted requests, minus those reported rejected.
    pub spans_accepted: u64,
    /// Spans the receiver reported rejecting in partial successes.
    pub spans_rejected: u64,
    /// Spans in failed requests.
    pub spans_failed: u64,
    /// `spans_accepted` per second of `elapsed_s`.
    pub accepted_spans_per_s: f64,
    /// `requests_ok` per second of `elapsed_s`.
    pub requests_per_s: f64,
    /// Body bytes put on the wire (compressed when gzip).
    pub bytes_sent: u64,
    /// Latency of successful requests (open loop: from when it was due, so queueing counts).
    pub latency_us: Latency,
    /// Failed requests by kind (`grpc_unavailable`, `http_503`, `connect`, `timeout`, …).
    pub errors: BTreeMap<String, u64>,
    /// The last message seen for each error kind.
    pub last_error: BTreeMap<String, String>,
    /// CPU seconds the generator used (all threads).
    pub generator_cpu_s: Option<f64>,
    /// That CPU as a percentage of one core over the run.
    pub generator_cpu_percent: Option<f64>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.run;
        let load = match r.rate_spans_per_s {
            Some(rate) => format!(
                "open loop at {rate} spans/s (max {} in flight)",
                r.concurrency
            ),
            None => format!("closed loop, {} in flight", r.concurrency),
        };
        writeln!(
            f,
            "OTLP/{} -> {}: {} spans/request{}, {load}, {} connection(s)",
            r.protocol.to_uppercase(),
            r.endpoint,
            r.spans_per_request,
            if r.gzip { ", gzip" } else { "" },
            r.connections
        )?;
        writeln!(
            f,
            "  {:.1} s: {} requests ok, {} failed; {} spans accepted, {} rejected, {} in failed requests",
            self.elapsed_s,
            self.requests_ok,
            self.requests_failed,
            self.spans_accepted,
            self.spans_rejected,
            self.spans_failed
        )?;
        writeln!(
            f,
            "  throughput: {:.0} spans/s accepted, {:.0} requests/s, {:.1} MiB/s sent",
            self.accepted_spans_per_s,
            self.requests_per_s,
            self.bytes_sent as f64 / self.elapsed_s.max(1e-9) / 1_048_576.0
        )?;
        let l = &self.latency_us;
        writeln!(
            f,
            "  latency: p50 {} µs, p90 {} µs, p99 {} µs, p99.9 {} µs, max {} µs",
            l.p50, l.p90, l.p99, l.p999, l.max
        )?;
        for (kind, n) in &self.errors {
            let last = self
                .last_error
                .get(kind)
                .map(String::as_str)
                .unwrap_or_default();
            writeln!(f, "  error {kind}: {n} (last: {last})")?;
        }
        if let (Some(cpu), Some(pct)) = (self.generator_cpu_s, self.generator_cpu_percent) {
            writeln!(f, "  generator CPU: {cpu:.2} s ({pct:.1} % of one core)")?;
        }
        if !r.unique_ids {
            writeln!(
                f,
                "  note: gzip bodies come from a rotating pool; span ids repeat"
            )?;
        }
        Ok(())
    }
}
