//! The per-VM export buffer: encoded spans in batches, bounded, flushed on the root context's
//! tick by size or age, with the exported / dropped / failed accounting.
//!
//! A request never waits here: adding a span is an append to the open batch (or a counted
//! drop when the buffer is full); sending happens on the tick, from the root context. Each
//! batch buffer starts with the gap [`Framing`] needs, so framing a batch as an
//! `ExportTraceServiceRequest` copies no span. Buffers are recycled, so steady state
//! allocates nothing.
//!
//! Memory is bounded by `max_buffered_spans` (spans waiting) plus at most
//! [`MAX_IN_FLIGHT`] requests that Envoy holds while they are sent (Envoy copies the body,
//! so their buffers are reused at once).

use std::collections::VecDeque;

use crate::config::{ExportConfig, WhenFull};
use crate::otlp::Framing;

/// Export requests outstanding at once per VM; more batches wait (bounded) in the buffer.
pub const MAX_IN_FLIGHT: usize = 4;
/// A batch is also closed once its spans take this many bytes.
pub const MAX_BATCH_BYTES: usize = 1 << 20;
/// Spare buffers kept for reuse.
const SPARE_BUFFERS: usize = 2;

/// Counter increments not yet reported to the host's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Spans the collector accepted.
    pub exported: u64,
    /// Spans dropped because the buffer was full.
    pub dropped: u64,
    /// Spans whose export failed (error status, timeout, no cluster, partial rejection).
    pub failed: u64,
    /// Spans not recorded because a drop rule matched.
    pub filtered: u64,
    /// Export requests sent.
    pub requests: u64,
    /// Export requests that failed.
    pub failed_requests: u64,
}

impl Counts {
    /// Whether every count is zero.
    pub fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
}

/// What [`ExportQueue::push`] did with a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Buffered.
    Accepted,
    /// Dropped (buffer full, `drop_newest`).
    Dropped,
}

/// How an export request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx; `rejected` spans refused by the collector's `partial_success`.
    Success {
        /// Spans refused.
        rejected: u64,
    },
    /// Any other status, a timeout or a reset.
    Failure,
}

/// A framed batch ready to send; give it back with [`ExportQueue::sent`] or
/// [`ExportQueue::send_failed`].
#[derive(Debug)]
pub struct Outgoing {
    buf: Vec<u8>,
    start: usize,
    spans: usize,
}

impl Outgoing {
    /// The `ExportTraceServiceRequest` bytes.
    pub fn body(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Spans in it.
    pub fn spans(&self) -> usize {
        self.spans
    }
}

#[derive(Debug)]
struct Batch {
    buf: Vec<u8>,
    spans: usize,
    /// When its first span arrived (ms).
    first_ms: u64,
}

/// Buffer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// Spans per request.
    pub batch_size: usize,
    /// Spans buffered at most.
    pub max_spans: usize,
    /// Policy when full.
    pub when_full: WhenFull,
    /// Longest wait of a span, ms.
    pub flush_interval_ms: u64,
}

impl QueueSettings {
    /// From the `export` section.
    pub fn new(config: &ExportConfig) -> Self {
        QueueSettings {
            batch_size: config.batch_size.max(1),
            max_spans: config.max_buffered_spans.max(config.batch_size).max(1),
            when_full: config.when_full,
            flush_interval_ms: config.flush_interval_ms,
        }
    }
}

/// The buffer of one root context (one per worker VM).
#[derive(Debug)]
pub struct ExportQueue {
    settings: QueueSettings,
    framing: Framing,
    batches: VecDeque<Batch>,
    spare: Vec<Vec<u8>>,
    buffered: usize,
    in_flight: Vec<(u32, usize)>,
    counts: Counts,
    high_water: usize,
}

impl ExportQueue {
    /// An empty queue.
    pub fn new(settings: QueueSettings, framing: Framing) -> Self {
        ExportQueue {
            settings,
            framing,
            batches: VecDeque::new(),
            spare: Vec::new(),
            buffered: 0,
            in_flight: Vec::new(),
            counts: Counts::default(),
            high_water: 0,
        }
    }

    /// Spans buffered now.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// The most spans ever buffered at once.
    pub fn high_water(&self) -> usize {
        self.high_water
    }

    /// Requests outstanding.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether a span pushed now would be kept. With `drop_newest` and a full buffer the
    /// caller can skip building the span; the drop is counted here.
    pub fn reserve(&mut self) -> bool {
        if self.buffered < self.settings.max_spans
            || self.settings.when_full == WhenFull::DropOldest
        {
            true
        } else {
            self.counts.dropped += 1;
            false
        }
    }

    /// Counts a span not recorded because of a drop rule.
    pub fn count_filtered(&mut self) {
        self.counts.filtered += 1;
    }

    /// Adds a span: `write` appends exactly one encoded `Span` field to the buffer it gets.
    /// `now_ms` dates the batch (for the flush interval).
    pub fn push(&mut self, now_ms: u64, write: impl FnOnce(&mut Vec<u8>)) -> Pushed {
        if self.buffered >= self.settings.max_spans {
            match self.settings.when_full {
                WhenFull::DropNewest => {
                    self.counts.dropped += 1;
                    return Pushed::Dropped;
                }
                WhenFull::DropOldest => {
                    if let Some(oldest) = self.batches.pop_front() {
                        self.counts.dropped += oldest.spans as u64;
                        self.buffered -= oldest.spans;
                        self.recycle(oldest.buf);
                    }
                }
            }
        }
        let open = match self.batches.back() {
            Some(b) => !self.is_full(b),
            None => false,
        };
        if !open {
            let buf = self.fresh_buffer();
            self.batches.push_back(Batch {
                buf,
                spans: 0,
                first_ms: now_ms,
            });
        }
        if let Some(batch) = self.batches.back_mut() {
            write(&mut batch.buf);
            batch.spans += 1;
            self.buffered += 1;
            self.high_water = self.high_water.max(self.buffered);
        }
        Pushed::Accepted
    }

    fn is_full(&self, b: &Batch) -> bool {
        b.spans >= self.settings.batch_size
            || b.buf.len().saturating_sub(self.framing.reserved()) >= MAX_BATCH_BYTES
    }

    fn fresh_buffer(&mut self) -> Vec<u8> {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.resize(self.framing.reserved(), 0);
        buf
    }

    fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS {
            self.spare.push(buf);
        }
    }

    /// The next batch due at `now_ms`: a full one, or the oldest once it waited
    /// `flush_interval_ms` (any non-empty one when `force`), unless [`MAX_IN_FLIGHT`]
    /// requests are outstanding.
    pub fn next_batch(&mut self, now_ms: u64, force: bool) -> Option<Outgoing> {
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            return None;
        }
        let front = self.batches.front()?;
        let due = force
            || self.is_full(front)
            || self.batches.len() > 1
            || now_ms.saturating_sub(front.first_ms) >= self.settings.flush_interval_ms;
        if !due || front.spans == 0 {
            return None;
        }
        let mut batch = self.batches.pop_front()?;
        self.buffered -= batch.spans;
        let start = self.framing.frame(&mut batch.buf);
        Some(Outgoing {
            buf: batch.buf,
            start,
            spans: batch.spans,
        })
    }

    /// The host accepted the request (`token` identifies its response).
    pub fn sent(&mut self, out: Outgoing, token: u32) {
        self.counts.requests += 1;
        self.in_flight.push((token, out.spans));
        self.recycle(out.buf);
    }

    /// The host refused to send (no such cluster, bad argument): the spans are lost.
    pub fn send_failed(&mut self, out: Outgoing) {
        self.counts.requests += 1;
        self.counts.failed_requests += 1;
        self.counts.failed += out.spans as u64;
        self.recycle(out.buf);
    }

    /// A response arrived for `token`. Returns the spans it carried (`None`: unknown token).
    pub fn on_response(&mut self, token: u32, outcome: Outcome) -> Option<usize> {
        let i = self.in_flight.iter().position(|(t, _)| *t == token)?;
        let (_, spans) = self.in_flight.swap_remove(i);
        match outcome {
            Outcome::Success { rejected } => {
                let rejected = rejected.min(spans as u64);
                self.counts.exported += spans as u64 - rejected;
                self.counts.failed += rejected;
            }
            Outcome::Failure => {
                self.counts.failed_requests += 1;
                self.counts.failed += spans as u64;
            }
        }
        Some(spans)
    }

    /// Takes the counts accumulated since the last call.
    pub fn take_counts(&mut self) -> Counts {
        std::mem::take(&mut self.counts)
    }

    #[cfg(test)]
    fn unframed_len(&self) -> usize {
        self.framing.reserved()
    }
}

#[cfg(test)]
mod tests;
