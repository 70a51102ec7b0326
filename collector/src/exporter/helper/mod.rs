//! The exporter helper: wraps a [`Sender`] (one attempt to send one batch) with `timeout`,
//! `retry_on_failure` and a `sending_queue` — in memory, or on disk through a `file_storage`
//! extension ([`persistent`]) — and counts what it sent, failed to send and failed to enqueue
//! under the OpenTelemetry Collector's metric names. Every exporter goes through it.
//!
//! Contract: `consume` returning `Ok` means the data is owned by the queue (in memory, or
//! written to disk — and synced with `fsync` — for a persistent queue); a full queue refuses
//! with a retryable, throttling error carrying a retry delay, which receivers turn into HTTP
//! 429 + `Retry-After` or gRPC `UNAVAILABLE` + `RetryInfo`.

mod batcher;
pub mod config;
pub mod persistent;
mod queue;

pub use config::{HelperSettings, QueueConfig, RetryConfig, Sizer};

use crate::component::{ComponentError, Context, Exporter};
use crate::otlp::{Batch, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer};
use crate::telemetry::{Counter, Gauge, item_word};
use persistent::PersistentQueue;
use queue::Queue;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The delay suggested to clients when the queue is full: long enough for workers to make
/// room, short enough not to stall a healthy pipeline.
pub const QUEUE_FULL_RETRY_AFTER: Duration = Duration::from_secs(1);

/// One attempt to deliver one batch. Exporters implement this; the helper does the rest.
pub trait Sender: Send + Sync + 'static {
    /// Makes what the attempts of one delivery send, once per batch. An exporter that compresses
    /// does it here: retries resend the same bytes, and the uncompressed batch (ten times the
    /// size) is freed before the first attempt instead of being held by every request in flight.
    /// Failures here are permanent. The default sends the batch as it is.
    fn encode(&self, batch: Batch) -> Result<Payload, ConsumeError> {
        Ok(Payload::Batch(batch))
    }
    /// Sends `payload` (made by this sender's [`Sender::encode`]) once. Classify failures:
    /// retryable (the backend may take it later, optionally saying when) or permanent.
    fn send(&self, payload: Payload) -> BoxFuture<'_, Result<(), ConsumeError>>;
    /// Flushes and releases resources at shutdown.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// What an attempt sends: cheap to clone for every retry.
#[derive(Debug, Clone)]
pub enum Payload {
    /// The batch itself.
    Batch(Batch),
    /// The request body the sender's `encode` made of the batch.
    Encoded(bytes::Bytes),
}

impl Payload {
    /// The batch, for a sender that keeps the default [`Sender::encode`].
    pub fn into_batch(self) -> Result<Batch, ConsumeError> {
        match self {
            Payload::Batch(b) => Ok(b),
            Payload::Encoded(_) => Err(ConsumeError::permanent(
                "an encoded payload reached an exporter that sends batches as they are",
            )),
        }
    }
}

struct Metrics {
    sent: Arc<Counter>,
    send_failed: Arc<Counter>,
    enqueue_failed: Arc<Counter>,
    queue_size: Arc<Gauge>,
    queue_capacity: Arc<Gauge>,
    corrupt: Arc<Counter>,
    truncated: Arc<Counter>,
    /// The `/debug/tracez` record of deliveries, when a `zpages` extension runs.
    op: Option<Arc<crate::telemetry::tracez::Operation>>,
}

/// How a delivery ended.
enum Outcome {
    /// The backend took it.
    Delivered,
    /// Given up for good (permanent error, retries exhausted): counted and logged.
    Dropped,
    /// Stopped by shutdown before it was delivered.
    Interrupted,
}

struct Inner {
    sender: Arc<dyn Sender>,
    settings: HelperSettings,
    metrics: Metrics,
    label: String,
    /// Cancelled when in-flight retries must stop (the shutdown deadline, or at once for a
    /// persistent queue, whose data waits on disk for the next start).
    give_up: CancellationToken,
    jitter: AtomicU64,
}

enum AnyQueue {
    Memory(Queue),
    Persistent(Arc<PersistentQueue>),
}

impl AnyQueue {
    fn size(&self) -> usize {
        match self {
            AnyQueue::Memory(q) => q.size(),
            AnyQueue::Persistent(q) => q.size(),
        }
    }
    fn capacity(&self) -> usize {
        match self {
            AnyQueue::Memory(q) => q.capacity(),
            AnyQueue::Persistent(q) => q.capacity(),
        }
    }
    fn queued_items(&self) -> usize {
        match self {
            AnyQueue::Memory(q) => q.queued_items(),
            AnyQueue::Persistent(q) => q.queued_items(),
        }
    }
    fn close(&self) {
        match self {
            AnyQueue::Memory(q) => q.close(),
            AnyQueue::Persistent(q) => q.close(),
        }
    }
}

/// Where a persistent queue goes, found at build time.
struct Storage {
    dir: std::path::PathBuf,
    handle: Arc<crate::extension::file_storage::FileStorage>,
}

/// An exporter built from a [`Sender`] and [`HelperSettings`].
pub struct ExporterHelper {
    inner: Arc<Inner>,
    /// Set at build time (memory) or at start (persistent: the files are opened then).
    queue: OnceLock<Arc<AnyQueue>>,
    signal: Signal,
    storage: Option<Result<Storage, String>>,
    workers: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl ExporterHelper {
    /// Wraps `sender` for `signal`.
    pub fn new(
        ctx: &Context,
        signal: Signal,
        sender: Arc<dyn Sender>,
        settings: HelperSettings,
    ) -> Arc<Self> {
        let id = ctx.id.to_string();
        let word = item_word(signal);
        let t = &ctx.telemetry;
        let l: &[(&'static str, &str)] = &[("exporter", &id)];
        let ql: &[(&'static str, &str)] =
            &[("exporter", &id), ("data_type", crate::signal_name(signal))];
        let metrics = Metrics {
            sent: t.counter(
                &format!("otelcol_exporter_sent_{word}_total"),
                "Number of items successfully sent to destination.",
                l,
            ),
            send_failed: t.counter(
                &format!("otelcol_exporter_send_failed_{word}_total"),
                "Number of items in failed attempts to send to destination.",
                l,
            ),
            enqueue_failed: t.counter(
                &format!("otelcol_exporter_enqueue_failed_{word}_total"),
                "Number of items failed to be added to the sending queue.",
                l,
            ),
            queue_size: t.gauge(
                "otelcol_exporter_queue_size",
                "Current size of the retry queue (in batches).",
                ql,
            ),
            queue_capacity: t.gauge(
                "otelcol_exporter_queue_capacity",
                "Fixed capacity of the retry queue (in batches).",
                ql,
            ),
            corrupt: t.counter(
                "meshtrace_exporter_queue_corrupt_records_total",
                "Persistent queue records found corrupt and skipped (their data is lost).",
                ql,
            ),
            truncated: t.counter(
                "meshtrace_exporter_queue_truncated_records_total",
                "Incomplete records at the end of a persistent queue segment, skipped at start (writes cut short by a crash, never acknowledged).",
                ql,
            ),
            // The Collector's name for an export (its obsreport span).
            op: t
                .tracez
                .operation(&format!("exporter/{id}/{}", crate::signal_name(signal))),
        };
        let queue = OnceLock::new();
        let storage = match (&settings.queue.enabled, &settings.queue.storage) {
            (true, Some(ext)) => Some(ctx.host.storage(ext).map(|handle| Storage {
                dir: handle.dir_for("exporter", &ctx.id, crate::signal_name(signal)),
                handle,
            })),
            (true, None) => {
                let q = Queue::new(settings.queue.queue_size, settings.queue.sizer);
                metrics
                    .queue_capacity
                    .set(i64::try_from(q.capacity()).unwrap_or(i64::MAX));
                let _ = queue.set(Arc::new(AnyQueue::Memory(q)));
                None
            }
            (false, _) => None,
        };
        let seed = u64::from(std::process::id())
            ^ SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos() as u64
            ^ 0x9E37_79B9_7F4A_7C15;
        Arc::new(Self {
            inner: Arc::new(Inner {
                sender,
                settings,
                metrics,
                label: ctx.label(),
                give_up: CancellationToken::new(),
                jitter: AtomicU64::new(seed | 1),
            }),
            queue,
            signal,
            storage,
            workers: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn open_persistent(&self) -> Result<Option<Arc<AnyQueue>>, String> {
        let Some(storage) = &self.storage else {
            return Ok(None);
        };
        let st = storage.as_ref().map_err(Clone::clone)?;
        if st.handle.recreate && st.dir.exists() {
            tracing::warn!(component = %self.inner.label, dir = %st.dir.display(), "file_storage recreate: dropping what the persistent queue held");
            std::fs::remove_dir_all(&st.dir)
                .map_err(|e| format!("cannot remove {}: {e}", st.dir.display()))?;
        }
        let q = &self.inner.settings.queue;
        let (pq, rec) = PersistentQueue::open(persistent::Options {
            dir: st.dir.clone(),
            fsync: st.handle.fsync,
            lock_timeout: st.handle.timeout,
            capacity: q.queue_size,
            sizer: q.sizer,
            signal: self.signal,
            label: self.inner.label.clone(),
            corrupt: self.inner.metrics.corrupt.clone(),
            truncated: self.inner.metrics.truncated.clone(),
            segment_bytes: persistent::SEGMENT_TARGET_BYTES,
        })?;
        tracing::info!(component = %self.inner.label, dir = %st.dir.display(), records = rec.records, items = rec.items, corrupt = rec.corrupt, truncated = rec.truncated, "persistent queue opened");
        Ok(Some(Arc::new(AnyQueue::Persistent(pq))))
    }
}

impl Inner {
    fn random_unit(&self) -> f64 {
        // xorshift64: jitter only, not security.
        let mut x = self.jitter.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    async fn attempt(&self, payload: Payload) -> Result<(), ConsumeError> {
        let t = self.settings.timeout;
        if t.is_zero() {
            return self.sender.send(payload).await;
        }
        match tokio::time::timeout(t, self.sender.send(payload)).await {
            Ok(r) => r,
            Err(_) => Err(ConsumeError::retryable(format!(
                "request timed out after {}",
                crate::config::duration::format(t)
            ))),
        }
    }

    /// Sends with retries as `retry_on_failure` says; counts and logs the outcome, and
    /// records it for `/debug/tracez` (one operation from first attempt to outcome).
    async fn send(&self, batch: Batch, persistent: bool) -> (Outcome, Option<ConsumeError>) {
        let Some(op) = &self.metrics.op else {
            return self.deliver(batch, persistent).await;
        };
        let items = batch.items() as u64;
        let running = op.start();
        let (outcome, err) = self.deliver(batch, persistent).await;
        let failed = match (&outcome, &err) {
            (Outcome::Dropped, Some(e)) => Some(e as &dyn std::fmt::Display),
            (Outcome::Dropped, None) => Some(&"dropped" as _),
            _ => None,
        };
        running.end(items, "", failed);
        (outcome, err)
    }

    /// [`Inner::send`] without the record. `persistent` is what stopping at shutdown means
    /// for this data (dropped from memory, or kept on disk).
    async fn deliver(&self, batch: Batch, persistent: bool) -> (Outcome, Option<ConsumeError>) {
        let items = batch.items() as u64;
        // Compressing a batch of thousands of spans takes milliseconds: on a thread of its own,
        // so that the receivers sharing this worker keep answering meanwhile.
        let sender = self.sender.clone();
        let encoded = tokio::task::spawn_blocking(move || sender.encode(batch))
            .await
            .unwrap_or_else(|e| Err(ConsumeError::permanent(format!("encoding failed: {e}"))));
        let payload = match encoded {
            Ok(p) => p,
            Err(err) => {
                self.metrics.send_failed.add(items);
                tracing::error!(component = %self.label, items, error = %err, "Exporting failed. Dropping data. (permanent error)");
                return (Outcome::Dropped, Some(err));
            }
        };
        let r = &self.settings.retry;
        // tokio's clock, so that retries follow the runtime's (and tests' paused) time.
        let started = tokio::time::Instant::now();
        let mut interval = r.initial_interval;
        loop {
            let attempt = tokio::select! {
                r = self.attempt(payload.clone()) => Some(r),
                () = self.give_up.cancelled(), if persistent => None,
            };
            let err = match attempt {
                Some(Ok(())) => {
                    self.metrics.sent.add(items);
                    return (Outcome::Delivered, None);
                }
                Some(Err(e)) => e,
                None => {
                    tracing::info!(component = %self.label, items, "shutting down: the batch stays in the persistent queue for the next start");
                    return (Outcome::Interrupted, None);
                }
            };
            let give_up = |why: &str| {
                self.metrics.send_failed.add(items);
                tracing::error!(component = %self.label, items, error = %err, "Exporting failed. Dropping data. ({why})");
            };
            let ConsumeError::Retryable { retry_after, .. } = &err else {
                give_up("permanent error");
                return (Outcome::Dropped, Some(err));
            };
            if !r.enabled {
                give_up("retry_on_failure is disabled");
                return (Outcome::Dropped, Some(err));
            }
            let jitter = 1.0 + r.randomization_factor * (2.0 * self.random_unit() - 1.0);
            let mut wait = interval.mul_f64(jitter.max(0.0));
            // The server's Retry-After / RetryInfo wins when it asks for longer.
            if let Some(ra) = retry_after {
                wait = wait.max(*ra);
            }
            if !r.max_elapsed_time.is_zero() && started.elapsed() + wait > r.max_elapsed_time {
                give_up("no more retries left: max_elapsed_time reached");
                return (Outcome::Dropped, Some(err));
            }
            tracing::info!(component = %self.label, error = %err, interval = ?wait, "Exporting failed. Will retry the request after interval.");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.give_up.cancelled() => {
                    if persistent {
                        tracing::info!(component = %self.label, items, "shutting down: the batch stays in the persistent queue for the next start");
                        return (Outcome::Interrupted, Some(err));
                    }
                    give_up("shutdown deadline reached");
                    return (Outcome::Interrupted, Some(err));
                }
            }
            interval = Duration::from_secs_f64(
                (interval.as_secs_f64() * r.multiplier).min(r.max_interval.as_secs_f64()),
            );
        }
    }

    fn set_queue_size(&self, q: &AnyQueue) {
        self.metrics
            .queue_size
            .set(i64::try_from(q.size()).unwrap_or(i64::MAX));
    }
}

impl Consumer for ExporterHelper {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let q = match (self.queue.get(), self.inner.settings.queue.enabled) {
                (Some(q), _) => q,
                (None, true) => {
                    return Err(ConsumeError::retryable("the sending queue is not open yet"));
                }
                (None, false) => {
                    return match self.inner.send(batch, false).await {
                        (Outcome::Delivered, _) => Ok(()),
                        (_, e) => Err(e.unwrap_or_else(|| {
                            ConsumeError::retryable("the exporter is shutting down")
                        })),
                    };
                }
            };
            let items = batch.items() as u64;
            let block = self.inner.settings.queue.blocks();
            let pushed = match q.as_ref() {
                AnyQueue::Memory(m) => m.push(batch, block).await.map_err(|e| match e {
                    queue::PushError::Full => persistent::PushError::Full,
                    queue::PushError::Closed => persistent::PushError::Closed,
                }),
                AnyQueue::Persistent(p) => p.push(batch, block).await,
            };
            self.inner.set_queue_size(q);
            let (reason, retry_after, throttled) = match pushed {
                Ok(()) => return Ok(()),
                Err(persistent::PushError::Full) => (
                    "sending queue is full".to_owned(),
                    Some(QUEUE_FULL_RETRY_AFTER),
                    true,
                ),
                Err(persistent::PushError::Closed) => {
                    ("the exporter is shutting down".into(), None, false)
                }
                Err(persistent::PushError::Io(e)) => (e, Some(QUEUE_FULL_RETRY_AFTER), true),
            };
            self.inner.metrics.enqueue_failed.add(items);
            tracing::warn!(component = %self.inner.label, items, "{reason}: data refused");
            Err(ConsumeError::Retryable {
                reason,
                retry_after,
                throttled,
            })
        })
    }
}

impl ExporterHelper {
    fn spawn_workers(&self, q: &Arc<AnyQueue>) {
        let mut workers = self
            .workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(b) = &self.inner.settings.queue.batch {
            workers.extend(batcher::spawn(
                q.clone(),
                self.inner.clone(),
                b.clone(),
                self.inner.settings.queue.num_consumers,
                self.signal,
            ));
            return;
        }
        for _ in 0..self.inner.settings.queue.num_consumers {
            let q = q.clone();
            let inner = self.inner.clone();
            workers.push(tokio::spawn(async move {
                match q.as_ref() {
                    AnyQueue::Memory(m) => {
                        while let Some(b) = m.pop().await {
                            inner.set_queue_size(&q);
                            // Failures are counted and logged inside; the data was acknowledged.
                            let _ = inner.send(b, false).await;
                        }
                    }
                    AnyQueue::Persistent(p) => {
                        while let Some(item) = p.pop().await {
                            match inner.send(item.batch, true).await.0 {
                                Outcome::Delivered | Outcome::Dropped => p.done(item.seq),
                                // Not marked done: sent again after the next start.
                                Outcome::Interrupted => {}
                            }
                            inner.set_queue_size(&q);
                        }
                    }
                }
            }));
        }
    }
}

impl Exporter for ExporterHelper {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            if let Some(pq) = self.open_persistent().map_err(|e| ComponentError {
                component: self.inner.label.clone(),
                reason: e,
            })? {
                self.inner
                    .metrics
                    .queue_capacity
                    .set(i64::try_from(pq.capacity()).unwrap_or(i64::MAX));
                self.inner.set_queue_size(&pq);
                let _ = self.queue.set(pq);
            }
            if let Some(q) = self.queue.get() {
                self.spawn_workers(q);
            }
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(q) = self.queue.get() {
                q.close();
                // A persistent queue keeps what is left on disk: stop at once.
                if matches!(q.as_ref(), AnyQueue::Persistent(_)) {
                    self.inner.give_up.cancel();
                }
                let workers = std::mem::take(
                    &mut *self
                        .workers
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                );
                // A guard: if this future is dropped at the shutdown deadline, stop retrying.
                let guard = self.inner.give_up.clone().drop_guard();
                for w in workers {
                    let _ = w.await;
                }
                guard.disarm();
                if let AnyQueue::Persistent(p) = q.as_ref() {
                    let p = p.clone();
                    let _ = tokio::task::spawn_blocking(move || p.stop_writer()).await;
                    let left = q.queued_items();
                    if left > 0 {
                        tracing::info!(component = %self.inner.label, items = left, "data left in the persistent queue will be sent after the next start");
                    }
                }
            }
            self.inner.sender.shutdown().await;
        })
    }
}

impl Drop for ExporterHelper {
    fn drop(&mut self) {
        if let Some(q) = self.queue.get()
            && let AnyQueue::Memory(_) = q.as_ref()
        {
            let left = q.queued_items();
            if left > 0 {
                tracing::error!(component = %self.inner.label, items = left, "data still queued at exit was dropped");
            }
        }
        self.inner.give_up.cancel();
    }
}

#[cfg(test)]
mod tests;
