//! The settings every queued exporter shares, with the OpenTelemetry Collector's defaults:
//! `timeout`, `retry_on_failure` and `sending_queue`.

use crate::config::{ConfigError, duration};
use serde::Deserialize;
use std::time::Duration;

/// `retry_on_failure`: exponential back-off for retryable failures.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Retry at all (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// First wait (default 5s).
    #[serde(default = "d5s", deserialize_with = "duration::de")]
    pub initial_interval: Duration,
    /// Jitter: each wait is randomized by ± this fraction (default 0.5).
    #[serde(default = "half")]
    pub randomization_factor: f64,
    /// Growth of the wait after each attempt (default 1.5).
    #[serde(default = "one_and_half")]
    pub multiplier: f64,
    /// Longest single wait (default 30s).
    #[serde(default = "d30s", deserialize_with = "duration::de")]
    pub max_interval: Duration,
    /// Give up after this long in total; 0 means never (default 5m).
    #[serde(default = "d5m", deserialize_with = "duration::de")]
    pub max_elapsed_time: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_interval: d5s(),
            randomization_factor: half(),
            multiplier: one_and_half(),
            max_interval: d30s(),
            max_elapsed_time: d5m(),
        }
    }
}

/// How the queue measures its size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sizer {
    /// Export requests (batches) — the default.
    #[default]
    Requests,
    /// Spans, data points or log records.
    Items,
    /// Encoded bytes.
    Bytes,
}

/// `sending_queue`: an in-memory queue in front of the exporter, drained by `num_consumers`
/// workers. The receiver's request is acknowledged once its data is in the queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Use a queue (default true). Without it the client waits for the export.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Concurrent senders (default 10).
    #[serde(default = "ten")]
    pub num_consumers: usize,
    /// Capacity, in units of `sizer` (default 1000).
    #[serde(default = "thousand")]
    pub queue_size: usize,
    /// `requests` (default), `items` or `bytes`.
    #[serde(default)]
    pub sizer: Sizer,
    /// When full: wait for room (true) or refuse with a retryable error (false, the default).
    #[serde(default)]
    pub block_on_overflow: bool,
    /// Deprecated name of `block_on_overflow`.
    #[serde(default)]
    pub blocking: Option<bool>,
    /// A `file_storage` extension id (`file_storage/queue`): keep the queue on disk, so it
    /// survives restarts and crashes. Without it the queue is in memory.
    #[serde(default)]
    pub storage: Option<String>,
    /// Acknowledge only after the export finished: not supported yet.
    #[serde(default)]
    pub wait_for_result: bool,
    /// Exporter-side batching: queued requests merged up to `min_size` or for `flush_timeout`.
    #[serde(default)]
    pub batch: Option<QueueBatchConfig>,
}

/// `sending_queue.batch`: what the Collector's exporter helper batches with, the successor of
/// the `batch` processor. Defaults (`batch: {}`): 200ms, 8192 items, no maximum.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueBatchConfig {
    /// Longest a batch waits to reach `min_size` after its first request (default 200ms).
    #[serde(default = "d200ms", deserialize_with = "duration::de")]
    pub flush_timeout: Duration,
    /// Size at which a batch goes at once, in units of `sizer` (default 8192).
    #[serde(default = "d8192")]
    pub min_size: usize,
    /// Largest batch, in units of `sizer`; larger requests are split; 0: no limit (default).
    #[serde(default)]
    pub max_size: usize,
    /// `items` (default) or `bytes`.
    #[serde(default)]
    pub sizer: Option<Sizer>,
}

impl Default for QueueBatchConfig {
    fn default() -> Self {
        Self {
            flush_timeout: d200ms(),
            min_size: d8192(),
            max_size: 0,
            sizer: None,
        }
    }
}

impl QueueBatchConfig {
    /// The sizer batches are measured with: items unless `bytes` is asked for.
    pub fn sizer(&self) -> Sizer {
        match self.sizer {
            Some(Sizer::Bytes) => Sizer::Bytes,
            _ => Sizer::Items,
        }
    }
}

fn d200ms() -> Duration {
    Duration::from_millis(200)
}
fn d8192() -> usize {
    8192
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            num_consumers: ten(),
            queue_size: thousand(),
            sizer: Sizer::Requests,
            block_on_overflow: false,
            blocking: None,
            storage: None,
            wait_for_result: false,
            batch: None,
        }
    }
}

impl QueueConfig {
    /// Whether a full queue blocks the caller.
    pub fn blocks(&self) -> bool {
        self.block_on_overflow || self.blocking.unwrap_or(false)
    }
}

/// The helper settings, gathered from an exporter's config.
#[derive(Debug, Clone, Default)]
pub struct HelperSettings {
    /// Per-attempt timeout; zero means none.
    pub timeout: Duration,
    /// Retries.
    pub retry: RetryConfig,
    /// Queue.
    pub queue: QueueConfig,
}

impl HelperSettings {
    /// No queue, no retry, no timeout: for exporters that write locally (debug, file).
    pub fn direct() -> Self {
        Self {
            timeout: Duration::ZERO,
            retry: RetryConfig {
                enabled: false,
                ..RetryConfig::default()
            },
            queue: QueueConfig {
                enabled: false,
                ..QueueConfig::default()
            },
        }
    }

    /// Problems with these settings (field paths relative to the exporter).
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut e = Vec::new();
        let r = &self.retry;
        if r.enabled {
            if !(0.0..=1.0).contains(&r.randomization_factor) {
                e.push(
                    ConfigError::new("must be between 0 and 1")
                        .field("retry_on_failure.randomization_factor"),
                );
            }
            if r.multiplier < 1.0 {
                e.push(ConfigError::new("must be at least 1").field("retry_on_failure.multiplier"));
            }
            if r.initial_interval.is_zero() {
                e.push(
                    ConfigError::new("must be positive").field("retry_on_failure.initial_interval"),
                );
            }
            if r.max_interval < r.initial_interval {
                e.push(
                    ConfigError::new("must not be less than initial_interval")
                        .field("retry_on_failure.max_interval"),
                );
            }
        }
        let q = &self.queue;
        if q.enabled {
            if q.num_consumers == 0 {
                e.push(ConfigError::new("must be positive").field("sending_queue.num_consumers"));
            }
            if q.queue_size == 0 {
                e.push(ConfigError::new("must be positive").field("sending_queue.queue_size"));
            }
        }
        if q.storage.is_some() && !q.enabled {
            e.push(
                ConfigError::new("a persistent queue needs sending_queue.enabled: true")
                    .field("sending_queue.storage"),
            );
        }
        if q.wait_for_result {
            e.push(
                ConfigError::new("wait_for_result is not supported yet")
                    .field("sending_queue.wait_for_result"),
            );
        }
        if let Some(b) = &q.batch {
            if !q.enabled {
                e.push(
                    ConfigError::new("batching needs sending_queue.enabled: true")
                        .field("sending_queue.batch"),
                );
            }
            if b.sizer == Some(Sizer::Requests) {
                e.push(
                    ConfigError::new("batches are measured in items or bytes, not requests")
                        .field("sending_queue.batch.sizer"),
                );
            }
            if b.flush_timeout.is_zero() {
                e.push(
                    ConfigError::new("must be positive").field("sending_queue.batch.flush_timeout"),
                );
            }
            if b.max_size > 0 && b.min_size > b.max_size {
                e.push(
                    ConfigError::new(format!("must not be more than max_size ({})", b.max_size))
                        .field("sending_queue.batch.min_size"),
                );
            }
        }
        e
    }

    /// Deprecation notes.
    pub fn warnings(&self) -> Vec<String> {
        if self.queue.blocking.is_some() {
            vec![
                "`sending_queue.blocking` is deprecated; use `sending_queue.block_on_overflow`"
                    .into(),
            ]
        } else {
            Vec::new()
        }
    }
}

fn yes() -> bool {
    true
}
fn ten() -> usize {
    10
}
fn thousand() -> usize {
    1000
}
fn half() -> f64 {
    0.5
}
fn one_and_half() -> f64 {
    1.5
}
fn d5s() -> Duration {
    Duration::from_secs(5)
}
fn d30s() -> Duration {
    Duration::from_secs(30)
}
fn d5m() -> Duration {
    Duration::from_secs(300)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(queue_yaml: &str) -> HelperSettings {
        let v = crate::config::value::from_yaml(queue_yaml).unwrap();
        HelperSettings {
            queue: crate::registry::parse_typed(&v).unwrap(),
            ..HelperSettings::default()
        }
    }

    #[test]
    fn queue_batching_as_the_collector_reads_it() {
        let b = |y: &str| settings(y).queue.batch;
        assert_eq!(b("{}"), None);
        assert_eq!(b("batch: {}"), Some(QueueBatchConfig::default()));
        assert_eq!(
            b("batch: {flush_timeout: 1s, min_size: 100, max_size: 1000, sizer: bytes}"),
            Some(QueueBatchConfig {
                flush_timeout: Duration::from_secs(1),
                min_size: 100,
                max_size: 1000,
                sizer: Some(Sizer::Bytes),
            })
        );
        assert_eq!(QueueBatchConfig::default().sizer(), Sizer::Items);
        // (queue section, the problems it has)
        let cases: [(&str, &[&str]); 4] = [
            ("batch: {min_size: 10, max_size: 100}", &[]),
            (
                "batch: {min_size: 200, max_size: 100}",
                &["field `sending_queue.batch.min_size`: must not be more than max_size (100)"],
            ),
            (
                "batch: {sizer: requests, flush_timeout: 0s}",
                &[
                    "field `sending_queue.batch.sizer`: batches are measured in items or bytes, not requests",
                    "field `sending_queue.batch.flush_timeout`: must be positive",
                ],
            ),
            (
                "enabled: false\nbatch: {}",
                &["field `sending_queue.batch`: batching needs sending_queue.enabled: true"],
            ),
        ];
        for (yaml, want) in cases {
            let got: Vec<String> = settings(yaml)
                .validate()
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(got, want, "{yaml}");
        }
    }
}
