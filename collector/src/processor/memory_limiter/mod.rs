//! `memory_limiter`: refuses data while the collector uses too much memory, so receivers
//! answer "retry later" (HTTP 503, gRPC `UNAVAILABLE`) and clients back off instead of the
//! collector being OOM-killed — the OpenTelemetry Collector's processor.
//!
//! Memory is measured every `check_interval` (not per request): the resident set size from
//! `/proc/self/status`. Above the soft limit (`limit - spike_limit`) every request is refused
//! with a retryable error; once a check finds usage back below it, data flows again. Limits
//! are fixed (`limit_mib`, `spike_limit_mib`, default spike 20 % of the limit) or a share of
//! the memory available (`limit_percentage`, `spike_limit_percentage`: of the cgroup limit,
//! else of the machine). Place it first in the pipeline.
//!
//! Differences: the Collector compares the Go heap, this the resident set (which includes
//! code and buffers: more conservative); there is no garbage collector to force, so the
//! `min_gc_interval_*` settings are accepted and have no effect.

mod memory;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;

use crate::background::{Background, FirstCall};
use crate::component::{ComponentError, Context, Processor, ProcessorConfig, Validate};
use crate::config::{ConfigError, duration};
use crate::otlp::{Batch, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer};
use crate::processor::ItemCounters;

pub use memory::{MemoryReader, ProcessRss, total_memory};

const MIB: u64 = 1024 * 1024;

/// `processors: memory_limiter:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryLimiterConfig {
    /// Time between measurements (required, > 0; 1s is recommended).
    #[serde(default, deserialize_with = "duration::de")]
    pub check_interval: Duration,
    /// Hard limit in MiB. Takes precedence over `limit_percentage`.
    #[serde(default)]
    pub limit_mib: u32,
    /// Expected spike between checks, in MiB; the soft limit is `limit_mib - spike_limit_mib`
    /// (default: 20 % of `limit_mib`).
    #[serde(default)]
    pub spike_limit_mib: u32,
    /// Hard limit as a percentage of the available memory (cgroup limit, else total).
    #[serde(default)]
    pub limit_percentage: u32,
    /// Spike as a percentage of the available memory (default: 20 % of the limit).
    #[serde(default)]
    pub spike_limit_percentage: u32,
    /// Accepted for compatibility; there is no garbage collector to force.
    #[serde(default = "default_soft_gc", deserialize_with = "duration::de")]
    pub min_gc_interval_when_soft_limited: Duration,
    /// Accepted for compatibility; there is no garbage collector to force.
    #[serde(default, deserialize_with = "duration::de")]
    pub min_gc_interval_when_hard_limited: Duration,
    /// Accepted for compatibility (the Collector's cap on its forced-GC backoff, v0.156).
    #[serde(default = "default_max_gc", deserialize_with = "duration::de")]
    pub max_gc_interval_when_soft_limited: Duration,
    /// Accepted for compatibility, as above.
    #[serde(default = "default_max_gc", deserialize_with = "duration::de")]
    pub max_gc_interval_when_hard_limited: Duration,
}

fn default_soft_gc() -> Duration {
    Duration::from_secs(10)
}

fn default_max_gc() -> Duration {
    Duration::from_secs(30)
}

impl Validate for MemoryLimiterConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let err = |m: &str| vec![ConfigError::new(m)];
        if self.check_interval.is_zero() {
            return err("'check_interval' must be greater than zero");
        }
        if self.min_gc_interval_when_soft_limited < self.min_gc_interval_when_hard_limited {
            return err(
                "'min_gc_interval_when_soft_limited' should be larger than 'min_gc_interval_when_hard_limited'",
            );
        }
        // A cap of 0 turns the Collector's backoff off; otherwise it may not undercut the
        // minimum, and the soft path's cap may not undercut the hard path's.
        let (max_soft, max_hard) = (
            self.max_gc_interval_when_soft_limited,
            self.max_gc_interval_when_hard_limited,
        );
        if !max_soft.is_zero() && max_soft < self.min_gc_interval_when_soft_limited {
            return err(
                "'max_gc_interval_when_soft_limited' must be greater than or equal to 'min_gc_interval_when_soft_limited' (or 0 to disable)",
            );
        }
        if !max_hard.is_zero() && max_hard < self.min_gc_interval_when_hard_limited {
            return err(
                "'max_gc_interval_when_hard_limited' must be greater than or equal to 'min_gc_interval_when_hard_limited' (or 0 to disable)",
            );
        }
        if !max_soft.is_zero() && !max_hard.is_zero() && max_soft < max_hard {
            return err(
                "'max_gc_interval_when_soft_limited' should be larger than or equal to 'max_gc_interval_when_hard_limited' (when both are set)",
            );
        }
        if self.limit_mib == 0 && self.limit_percentage == 0 {
            return err("'limit_mib' or 'limit_percentage' must be greater than zero");
        }
        if self.limit_percentage > 100 || self.spike_limit_percentage > 100 {
            return err(
                "'limit_percentage' and 'spike_limit_percentage' must be greater than zero and less than or equal to hundred",
            );
        }
        if self.limit_mib > 0 && self.limit_mib <= self.spike_limit_mib {
            return err("'spike_limit_mib' must be smaller than 'limit_mib'");
        }
        if self.limit_percentage > 0 && self.limit_percentage <= self.spike_limit_percentage {
            return err("'spike_limit_percentage' must be smaller than 'limit_percentage'");
        }
        Vec::new()
    }
}

/// Soft and hard limits in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Refuse data at or above this.
    pub soft: u64,
    /// The configured limit.
    pub hard: u64,
}

impl MemoryLimiterConfig {
    /// The limits, given the memory available (needed for the percentage forms only).
    pub fn limits(&self, total: Option<u64>) -> Result<Limits, String> {
        let (hard, spike) = if self.limit_mib != 0 {
            (
                u64::from(self.limit_mib) * MIB,
                u64::from(self.spike_limit_mib) * MIB,
            )
        } else {
            let total =
                total.ok_or("failed to get total memory, use fixed memory settings (limit_mib)")?;
            (
                u64::from(self.limit_percentage) * total / 100,
                u64::from(self.spike_limit_percentage) * total / 100,
            )
        };
        let spike = if spike == 0 { hard / 5 } else { spike };
        Ok(Limits {
            soft: hard.saturating_sub(spike),
            hard,
        })
    }
}

impl ProcessorConfig for MemoryLimiterConfig {
    fn build(
        &self,
        ctx: &Context,
        signal: Signal,
        next: Arc<dyn Consumer>,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        let total = if self.limit_mib == 0 {
            total_memory(std::path::Path::new("/"))
        } else {
            None
        };
        let limits = self.limits(total).map_err(|e| ctx.error(e))?;
        Ok(MemoryLimiter::start(
            ctx,
            signal,
            limits,
            self.check_interval,
            Arc::new(ProcessRss),
            next,
        ))
    }
}

/// The shortest delay refused clients are asked to wait (`Retry-After` counts in seconds).
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A running `memory_limiter`.
pub struct MemoryLimiter {
    limits: Limits,
    /// What refused clients are told to wait: the next check may let data in again.
    retry_after: Duration,
    refusing: AtomicBool,
    /// The last measurement, for logs.
    last_used: AtomicU64,
    reader: Arc<dyn MemoryReader>,
    next: Arc<dyn Consumer>,
    counters: ItemCounters,
    label: String,
    task: Background,
}

impl MemoryLimiter {
    /// Starts the checker (its first check runs at once) and returns the processor.
    pub fn start(
        ctx: &Context,
        signal: Signal,
        limits: Limits,
        check_interval: Duration,
        reader: Arc<dyn MemoryReader>,
        next: Arc<dyn Consumer>,
    ) -> Arc<Self> {
        let label = ctx.label();
        tracing::info!(
            component = %label,
            limit_mib = limits.hard / MIB,
            spike_limit_mib = (limits.hard - limits.soft) / MIB,
            check_interval = %duration::format(check_interval),
            "Memory limiter configured"
        );
        let limiter = Arc::new(Self {
            limits,
            retry_after: check_interval.max(MIN_RETRY_AFTER),
            refusing: AtomicBool::new(false),
            last_used: AtomicU64::new(0),
            reader,
            next,
            counters: ItemCounters::new(ctx, signal),
            label,
            task: Background::default(),
        });
        let weak = Arc::downgrade(&limiter);
        limiter.task.every(check_interval, FirstCall::Now, move || {
            // The limiter gone, so is the reason to measure.
            let Some(limiter) = weak.upgrade() else {
                return std::future::ready(false);
            };
            limiter.check();
            std::future::ready(true)
        });
        limiter
    }

    /// Measures memory once and updates the refusing state.
    pub fn check(&self) {
        let used = self.reader.used_bytes();
        self.last_used.store(used, Ordering::Relaxed);
        let above = used >= self.limits.soft;
        let was = self.refusing.swap(above, Ordering::Relaxed);
        match (was, above) {
            (false, true) => tracing::warn!(
                component = %self.label,
                cur_mem_mib = used / MIB,
                soft_limit_mib = self.limits.soft / MIB,
                hard_limit_mib = self.limits.hard / MIB,
                "Memory usage is above soft limit. Refusing data."
            ),
            (true, false) => tracing::info!(
                component = %self.label,
                cur_mem_mib = used / MIB,
                "Memory usage back within limits. Resuming normal operation."
            ),
            _ => {
                tracing::debug!(component = %self.label, cur_mem_mib = used / MIB, "Currently used memory.")
            }
        }
    }

    /// True while data is refused.
    pub fn is_refusing(&self) -> bool {
        self.refusing.load(Ordering::Relaxed)
    }
}

impl Consumer for MemoryLimiter {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let n = batch.items() as u64;
            self.counters.incoming.add(n);
            if self.is_refusing() {
                return Err(ConsumeError::unavailable_for(
                    "data refused due to high memory usage",
                    self.retry_after,
                ));
            }
            self.counters.outgoing.add(n);
            self.next.consume(batch).await
        })
    }
}

impl Processor for MemoryLimiter {
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.task.stop().await;
        })
    }
}

#[cfg(test)]
mod tests;
