//! `batch`: groups data into larger requests, with the OpenTelemetry Collector's semantics.
//!
//! - When `send_batch_size` items have accumulated, they are sent at once (size trigger).
//! - `send_batch_max_size` (when non-zero) caps every request sent: bigger ones are split.
//!   What is left below `send_batch_size` after a split waits for more data or the timer.
//! - `timeout` after the last send, whatever has accumulated is sent (timeout trigger);
//!   `timeout: 0` sends every incoming request at once (still split by the max size).
//! - At shutdown everything held is sent.
//!
//! Batching concatenates encoded requests (see `docs/ARCHITECTURE.md`): no decode, no encode,
//! except to split a request that is over the max size.

use crate::background::Background;
use crate::component::{ComponentError, Context, Processor, ProcessorConfig, Validate};
use crate::config::{ConfigError, duration};
use crate::otlp::batching::{self, BatchBuilder};
use crate::otlp::{Batch, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer};
use crate::telemetry::{BATCH_SIZE_BUCKETS, Counter, Histogram};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// `processors: batch:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Items (spans, data points, log records) that trigger a send (default 8192).
    #[serde(default = "default_size")]
    pub send_batch_size: usize,
    /// Upper bound on the items in one request; 0 means no bound (default 0).
    #[serde(default)]
    pub send_batch_max_size: usize,
    /// Send whatever has accumulated after this long (default 200ms).
    #[serde(default = "default_timeout", deserialize_with = "duration::de")]
    pub timeout: Duration,
    /// Batching per client metadata value: not supported; must be empty.
    #[serde(default)]
    pub metadata_keys: Vec<String>,
    /// Limit on distinct metadata combinations; accepted, unused without `metadata_keys`.
    #[serde(default)]
    pub metadata_cardinality_limit: Option<u32>,
}

fn default_size() -> usize {
    8192
}
fn default_timeout() -> Duration {
    Duration::from_millis(200)
}

impl Validate for BatchConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        if self.send_batch_max_size > 0 && self.send_batch_max_size < self.send_batch_size {
            e.push(
                ConfigError::new("send_batch_max_size must be greater or equal to send_batch_size")
                    .field("send_batch_max_size"),
            );
        }
        if !self.metadata_keys.is_empty() {
            e.push(
                ConfigError::new("batching by metadata keys is not supported")
                    .field("metadata_keys"),
            );
        }
        e
    }
}

impl ProcessorConfig for BatchConfig {
    fn build(
        &self,
        ctx: &Context,
        signal: Signal,
        next: Arc<dyn Consumer>,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        Ok(BatchProcessor::spawn(self.clone(), ctx, signal, next))
    }
}

struct Metrics {
    incoming: Arc<Counter>,
    outgoing: Arc<Counter>,
    size_trigger: Arc<Counter>,
    timeout_trigger: Arc<Counter>,
    send_size: Arc<Histogram>,
}

/// A running batch processor: a task owning the buffer, fed through a channel.
pub struct BatchProcessor {
    tx: mpsc::Sender<Batch>,
    task: Background,
    incoming: Arc<Counter>,
}

impl BatchProcessor {
    fn spawn(
        cfg: BatchConfig,
        ctx: &Context,
        signal: Signal,
        next: Arc<dyn Consumer>,
    ) -> Arc<Self> {
        let id = ctx.id.to_string();
        let sig = crate::signal_name(signal);
        let t = &ctx.telemetry;
        let items_labels: &[(&'static str, &str)] = &[("otel_signal", sig), ("processor", &id)];
        let m = Metrics {
            incoming: t.counter(
                "otelcol_processor_incoming_items_total",
                "Number of items passed to the processor.",
                items_labels,
            ),
            outgoing: t.counter(
                "otelcol_processor_outgoing_items_total",
                "Number of items emitted from the processor.",
                items_labels,
            ),
            size_trigger: t.counter(
                "otelcol_processor_batch_batch_size_trigger_send_total",
                "Number of times the batch was sent due to a size trigger",
                &[("processor", &id)],
            ),
            timeout_trigger: t.counter(
                "otelcol_processor_batch_timeout_trigger_send_total",
                "Number of times the batch was sent due to a timeout trigger",
                &[("processor", &id)],
            ),
            send_size: t.histogram(
                "otelcol_processor_batch_batch_send_size",
                "Number of units in the batch",
                &[("processor", &id)],
                BATCH_SIZE_BUCKETS,
            ),
        };
        t.gauge(
            "otelcol_processor_batch_metadata_cardinality",
            "Number of distinct metadata value combinations being processed",
            &[("processor", &id)],
        )
        .set(1);
        let incoming = m.incoming.clone();
        // A small channel: the processor task is the buffer; this only decouples the caller.
        let (tx, rx) = mpsc::channel(64);
        let label = ctx.label();
        let task = Background::spawn(|stop| run(cfg, signal, rx, stop, next, m, label));
        Arc::new(Self { tx, task, incoming })
    }
}

async fn emit(next: &dyn Consumer, m: &Metrics, label: &str, b: Batch) {
    let n = b.items();
    m.send_size.observe(n as u64);
    m.outgoing.add(n as u64);
    if let Err(e) = next.consume(b).await {
        // Like the Collector's batch processor: the data was acknowledged upstream, so the
        // failure can only be logged (and counted by the exporter).
        tracing::warn!(component = label, items = n, error = %e, "sender failed");
    }
}

/// Sends what the buffer holds: all of it (`all`) or only full `send_batch_size` requests.
async fn flush(
    cfg: &BatchConfig,
    buf: &mut BatchBuilder,
    next: &dyn Consumer,
    m: &Metrics,
    label: &str,
    all: bool,
) {
    if buf.is_empty() || (!all && buf.items() < cfg.send_batch_size) {
        return;
    }
    let whole = buf.take();
    if cfg.send_batch_max_size == 0 || whole.items() <= cfg.send_batch_max_size {
        emit(next, m, label, whole).await;
        return;
    }
    let chunks = batching::split(&whole, cfg.send_batch_max_size);
    let last = chunks.len().saturating_sub(1);
    for (i, c) in chunks.into_iter().enumerate() {
        // A short tail goes back into the buffer unless everything must go.
        if i == last && !all && c.items() < cfg.send_batch_size {
            // Same signal by construction: push cannot fail.
            let _ = buf.push(&c);
        } else {
            emit(next, m, label, c).await;
        }
    }
}

async fn run(
    cfg: BatchConfig,
    signal: Signal,
    mut rx: mpsc::Receiver<Batch>,
    stop: CancellationToken,
    next: Arc<dyn Consumer>,
    m: Metrics,
    label: String,
) {
    let mut buf = BatchBuilder::new(signal);
    let timeout = cfg.timeout;
    let mut deadline = tokio::time::Instant::now() + timeout;
    loop {
        let timer = tokio::time::sleep_until(deadline);
        tokio::select! {
            () = stop.cancelled() => {
                // Refuse new data; take what was already handed over.
                rx.close();
                while let Some(b) = rx.recv().await {
                    if let Err(e) = buf.push(&b) {
                        tracing::error!(component = %label, error = %e, "dropped a batch of the wrong signal");
                    }
                }
                break;
            }
            msg = rx.recv() => match msg {
                Some(b) => {
                    if let Err(e) = buf.push(&b) {
                        tracing::error!(component = %label, error = %e, "dropped a batch of the wrong signal");
                    }
                    if timeout.is_zero() {
                        flush(&cfg, &mut buf, next.as_ref(), &m, &label, true).await;
                    } else if buf.items() >= cfg.send_batch_size {
                        m.size_trigger.add(1);
                        flush(&cfg, &mut buf, next.as_ref(), &m, &label, false).await;
                        deadline = tokio::time::Instant::now() + timeout;
                    }
                }
                None => break,
            },
            () = timer, if !timeout.is_zero() => {
                if !buf.is_empty() {
                    m.timeout_trigger.add(1);
                    flush(&cfg, &mut buf, next.as_ref(), &m, &label, true).await;
                }
                deadline = tokio::time::Instant::now() + timeout;
            }
        }
    }
    // Shutdown (or every sender gone): send everything left.
    flush(&cfg, &mut buf, next.as_ref(), &m, &label, true).await;
}

impl Consumer for BatchProcessor {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let n = batch.items() as u64;
            // Ok means the processor task owns the data: it is flushed at shutdown at the latest.
            match self.tx.send(batch).await {
                Ok(()) => {
                    self.incoming.add(n);
                    Ok(())
                }
                Err(_) => Err(ConsumeError::retryable(
                    "the batch processor is shutting down",
                )),
            }
        })
    }
}

impl Processor for BatchProcessor {
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.task.stop().await;
        })
    }
}

#[cfg(test)]
mod tests;
