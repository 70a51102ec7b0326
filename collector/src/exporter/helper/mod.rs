//! The exporter helper: wraps a [`Sender`] (one attempt to send one batch) with `timeout`,
//! `retry_on_failure` and an in-memory `sending_queue`, and counts what it sent, failed to
//! send and failed to enqueue under the OpenTelemetry Collector's metric names. Every exporter
//! goes through it; issue 6's persistent queue and auth slot in here.

pub mod config;
mod queue;

pub use config::{HelperSettings, QueueConfig, RetryConfig, Sizer};

use crate::component::{ComponentError, Context, Exporter};
use crate::otlp::{Batch, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer};
use crate::telemetry::{Counter, Gauge, item_word};
use queue::{PushError, Queue};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One attempt to deliver one batch. Exporters implement this; the helper does the rest.
pub trait Sender: Send + Sync + 'static {
    /// Sends `batch` once. Classify failures: retryable (the backend may take it later,
    /// optionally saying when) or permanent.
    fn send(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>>;
    /// Flushes and releases resources at shutdown.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

struct Metrics {
    sent: Arc<Counter>,
    send_failed: Arc<Counter>,
    enqueue_failed: Arc<Counter>,
    queue_size: Arc<Gauge>,
}

struct Inner {
    sender: Arc<dyn Sender>,
    settings: HelperSettings,
    metrics: Metrics,
    label: String,
    /// Cancelled when the shutdown deadline passes: stop retrying.
    give_up: CancellationToken,
    jitter: AtomicU64,
}

/// An exporter built from a [`Sender`] and [`HelperSettings`].
pub struct ExporterHelper {
    inner: Arc<Inner>,
    queue: Option<Arc<Queue>>,
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
                &[("exporter", &id), ("data_type", crate::signal_name(signal))],
            ),
        };
        let queue = settings.queue.enabled.then(|| {
            let q = Arc::new(Queue::new(settings.queue.queue_size, settings.queue.sizer));
            t.gauge(
                "otelcol_exporter_queue_capacity",
                "Fixed capacity of the retry queue (in batches).",
                &[("exporter", &id), ("data_type", crate::signal_name(signal))],
            )
            .set(i64::try_from(q.capacity()).unwrap_or(i64::MAX));
            q
        });
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
            workers: std::sync::Mutex::new(Vec::new()),
        })
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

    async fn attempt(&self, batch: Batch) -> Result<(), ConsumeError> {
        let t = self.settings.timeout;
        if t.is_zero() {
            return self.sender.send(batch).await;
        }
        match tokio::time::timeout(t, self.sender.send(batch)).await {
            Ok(r) => r,
            Err(_) => Err(ConsumeError::retryable(format!(
                "request timed out after {}",
                crate::config::duration::format(t)
            ))),
        }
    }

    /// Sends with retries; counts the outcome.
    async fn send(&self, batch: Batch) -> Result<(), ConsumeError> {
        let items = batch.items() as u64;
        let r = &self.settings.retry;
        // tokio's clock, so that retries follow the runtime's (and tests' paused) time.
        let started = tokio::time::Instant::now();
        let mut interval = r.initial_interval;
        loop {
            let err = match self.attempt(batch.clone()).await {
                Ok(()) => {
                    self.metrics.sent.add(items);
                    return Ok(());
                }
                Err(e) => e,
            };
            let give_up = |why: &str| {
                self.metrics.send_failed.add(items);
                tracing::error!(component = %self.label, items, error = %err, "Exporting failed. Dropping data. ({why})");
            };
            let ConsumeError::Retryable { retry_after, .. } = &err else {
                give_up("permanent error");
                return Err(err);
            };
            if !r.enabled {
                give_up("retry_on_failure is disabled");
                return Err(err);
            }
            let jitter = 1.0 + r.randomization_factor * (2.0 * self.random_unit() - 1.0);
            let mut wait = interval.mul_f64(jitter.max(0.0));
            if let Some(ra) = retry_after {
                wait = wait.max(*ra);
            }
            if !r.max_elapsed_time.is_zero() && started.elapsed() + wait > r.max_elapsed_time {
                give_up("no more retries left: max_elapsed_time reached");
                return Err(err);
            }
            tracing::info!(component = %self.label, error = %err, interval = ?wait, "Exporting failed. Will retry the request after interval.");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.give_up.cancelled() => {
                    give_up("shutdown deadline reached");
                    return Err(err);
                }
            }
            interval = Duration::from_secs_f64(
                (interval.as_secs_f64() * r.multiplier).min(r.max_interval.as_secs_f64()),
            );
        }
    }
}

impl Consumer for ExporterHelper {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let Some(q) = &self.queue else {
                return self.inner.send(batch).await;
            };
            let items = batch.items() as u64;
            match q.push(batch, self.inner.settings.queue.blocks()).await {
                Ok(()) => {
                    self.inner
                        .metrics
                        .queue_size
                        .set(i64::try_from(q.size()).unwrap_or(i64::MAX));
                    Ok(())
                }
                Err(e) => {
                    self.inner.metrics.enqueue_failed.add(items);
                    let reason = match e {
                        PushError::Full => "sending queue is full",
                        PushError::Closed => "exporter is shutting down",
                    };
                    tracing::warn!(component = %self.inner.label, items, "{reason}: data refused");
                    Err(ConsumeError::retryable(reason))
                }
            }
        })
    }
}

impl Exporter for ExporterHelper {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let Some(q) = &self.queue else { return Ok(()) };
            let mut workers = self
                .workers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for _ in 0..self.inner.settings.queue.num_consumers {
                let q = q.clone();
                let inner = self.inner.clone();
                workers.push(tokio::spawn(async move {
                    while let Some(b) = q.pop().await {
                        inner
                            .metrics
                            .queue_size
                            .set(i64::try_from(q.size()).unwrap_or(i64::MAX));
                        // Failures are counted and logged inside; the data was acknowledged.
                        let _ = inner.send(b).await;
                    }
                }));
            }
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(q) = &self.queue {
                q.close();
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
            }
            self.inner.sender.shutdown().await;
        })
    }
}

impl Drop for ExporterHelper {
    fn drop(&mut self) {
        if let Some(q) = &self.queue {
            let left = q.queued_items();
            if left > 0 {
                tracing::error!(component = %self.inner.label, items = left, "data still queued at exit was dropped");
            }
        }
        self.inner.give_up.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::{ComponentId, Kind};
    use crate::extension::health_check::Health;
    use crate::telemetry::Telemetry;
    use crate::testutil::traces;
    use std::sync::Mutex;

    /// Fails the first `fail` attempts with `err`, then succeeds; records what it delivered.
    struct Flaky {
        fail: Mutex<usize>,
        err: ConsumeError,
        attempts: Mutex<usize>,
        delivered: Mutex<Vec<u64>>,
    }

    impl Sender for Flaky {
        fn send(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
            Box::pin(async move {
                *self.attempts.lock().unwrap() += 1;
                let mut f = self.fail.lock().unwrap();
                if *f > 0 {
                    *f -= 1;
                    return Err(self.err.clone());
                }
                self.delivered
                    .lock()
                    .unwrap()
                    .extend(crate::testutil::span_numbers(&batch));
                Ok(())
            })
        }
    }

    fn flaky(fail: usize, err: ConsumeError) -> Arc<Flaky> {
        Arc::new(Flaky {
            fail: Mutex::new(fail),
            err,
            attempts: Mutex::new(0),
            delivered: Mutex::new(Vec::new()),
        })
    }

    fn setup(
        sender: Arc<Flaky>,
        settings: HelperSettings,
    ) -> (Arc<ExporterHelper>, Arc<Telemetry>) {
        let telemetry = Arc::new(Telemetry::new("t", "i"));
        let ctx = Context {
            id: ComponentId::parse("otlp_grpc").unwrap(),
            kind: Kind::Exporter,
            telemetry: telemetry.clone(),
            health: Arc::new(Health::default()),
        };
        (
            ExporterHelper::new(&ctx, Signal::Traces, sender, settings),
            telemetry,
        )
    }

    fn metric(t: &Telemetry, name: &str) -> u64 {
        t.counter(name, "", &[("exporter", "otlp_grpc")]).get()
    }

    fn direct_with_retry() -> HelperSettings {
        HelperSettings {
            retry: RetryConfig::default(),
            ..HelperSettings::direct()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retryable_failures_are_retried_until_they_succeed() {
        let s = flaky(3, ConsumeError::retryable("backend down"));
        let (h, t) = setup(s.clone(), direct_with_retry());
        h.consume(traces(0, 4)).await.unwrap();
        assert_eq!(*s.attempts.lock().unwrap(), 4);
        assert_eq!(*s.delivered.lock().unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(metric(&t, "otelcol_exporter_sent_spans_total"), 4);
        assert_eq!(metric(&t, "otelcol_exporter_send_failed_spans_total"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_are_not_retried() {
        let s = flaky(1, ConsumeError::permanent("400"));
        let (h, t) = setup(s.clone(), direct_with_retry());
        assert_eq!(
            h.consume(traces(0, 2)).await.unwrap_err(),
            ConsumeError::permanent("400")
        );
        assert_eq!(*s.attempts.lock().unwrap(), 1);
        assert_eq!(metric(&t, "otelcol_exporter_send_failed_spans_total"), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_at_max_elapsed_time() {
        let s = flaky(usize::MAX, ConsumeError::retryable("down"));
        let mut settings = direct_with_retry();
        settings.retry.max_elapsed_time = Duration::from_secs(60);
        let (h, t) = setup(s.clone(), settings);
        assert!(h.consume(traces(0, 1)).await.unwrap_err().is_retryable());
        // 5s, 7.5s, 11.25s, ... with ±50% jitter: a handful of attempts within a minute.
        let n = *s.attempts.lock().unwrap();
        assert!((3..=12).contains(&n), "{n} attempts");
        assert_eq!(metric(&t, "otelcol_exporter_send_failed_spans_total"), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured() {
        let s = flaky(
            1,
            ConsumeError::Retryable {
                reason: "slow down".into(),
                retry_after: Some(Duration::from_secs(40)),
            },
        );
        let (h, _) = setup(s.clone(), direct_with_retry());
        let t0 = tokio::time::Instant::now();
        h.consume(traces(0, 1)).await.unwrap();
        assert!(
            t0.elapsed() >= Duration::from_secs(40),
            "{:?}",
            t0.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_refuses_with_a_retryable_error_and_shutdown_drains_it() {
        let s = flaky(0, ConsumeError::permanent("unused"));
        let settings = HelperSettings {
            queue: QueueConfig {
                queue_size: 2,
                ..QueueConfig::default()
            },
            ..HelperSettings::default()
        };
        let (h, t) = setup(s.clone(), settings);
        // Not started: nothing drains the queue yet.
        h.consume(traces(0, 1)).await.unwrap();
        h.consume(traces(1, 1)).await.unwrap();
        let e = h.consume(traces(2, 5)).await.unwrap_err();
        assert_eq!(e, ConsumeError::retryable("sending queue is full"));
        assert_eq!(metric(&t, "otelcol_exporter_enqueue_failed_spans_total"), 5);
        h.start().await.unwrap();
        h.shutdown().await;
        let mut got = s.delivered.lock().unwrap().clone();
        got.sort_unstable();
        assert_eq!(got, vec![0, 1]);
        assert!(
            h.consume(traces(9, 1)).await.unwrap_err().is_retryable(),
            "closed after shutdown"
        );
    }
}
