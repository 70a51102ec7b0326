//! Summaries of the collector's own operations for the `zpages` extension's `/debug/tracez`:
//! per operation name, how many run now, how many ended in each latency bucket, how many
//! failed, and the latest few of each kind as samples.
//!
//! The names are the Collector's (`receiver/otlp/TraceDataReceived`, `exporter/otlp/traces`),
//! so a page read side by side with an OpenTelemetry Collector's shows the same rows.
//! Recording is per request or per export, never per span, and only once a `zpages`
//! extension has asked for it: otherwise components hold no [`Operation`] and pay one
//! branch.

use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Latency bucket lower bounds, as Go's zpages draws them (`>0s` … `>100s`).
pub const BUCKETS: [Duration; 9] = [
    Duration::ZERO,
    Duration::from_micros(10),
    Duration::from_micros(100),
    Duration::from_millis(1),
    Duration::from_millis(10),
    Duration::from_millis(100),
    Duration::from_secs(1),
    Duration::from_secs(10),
    Duration::from_secs(100),
];

/// Column titles for [`BUCKETS`].
pub const BUCKET_LABELS: [&str; 9] = [
    ">0s", ">10µs", ">100µs", ">1ms", ">10ms", ">100ms", ">1s", ">10s", ">100s",
];

/// Samples kept per latency bucket and for errors: the latest ones, as in Go's zpages.
pub const SAMPLES: usize = 5;

/// The bucket a duration falls in.
pub fn bucket(d: Duration) -> usize {
    BUCKETS.partition_point(|b| *b <= d).saturating_sub(1)
}

/// One finished operation, kept as a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// When it started (wall clock).
    pub start: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// Items (spans, data points, log records) it carried.
    pub items: u64,
    /// The transport (`grpc`, `http`) or signal, whichever names it better.
    pub detail: &'static str,
    /// Why it failed.
    pub error: Option<String>,
}

#[derive(Debug, Default)]
struct Samples {
    latency: [VecDeque<Sample>; 9],
    errors: VecDeque<Sample>,
}

fn keep(q: &mut VecDeque<Sample>, s: Sample) {
    if q.len() == SAMPLES {
        q.pop_front();
    }
    q.push_back(s);
}

/// The record of one operation name.
#[derive(Debug, Default)]
pub struct Operation {
    running: AtomicI64,
    latency: [AtomicU64; 9],
    errors: AtomicU64,
    samples: Mutex<Samples>,
}

/// A started operation; [`Running::end`] records it. Dropped without `end` (a cancelled
/// request), it only stops counting as running.
#[must_use = "an operation is recorded when it ends"]
pub struct Running<'a> {
    op: &'a Operation,
    start: Instant,
    wall: SystemTime,
}

impl Operation {
    /// Starts one.
    pub fn start(&self) -> Running<'_> {
        self.running.fetch_add(1, Ordering::Relaxed);
        Running {
            op: self,
            start: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// How many run now.
    pub fn running(&self) -> i64 {
        self.running.load(Ordering::Relaxed).max(0)
    }

    /// Finished ones per latency bucket (failed ones included, as in Go's zpages).
    pub fn latency_counts(&self) -> [u64; 9] {
        self.latency.each_ref().map(|c| c.load(Ordering::Relaxed))
    }

    /// Failed ones.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The latest samples of latency bucket `b`, or of errors when `b` is `None`; oldest first.
    pub fn samples(&self, b: Option<usize>) -> Vec<Sample> {
        let s = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match b {
            None => s.errors.iter().cloned().collect(),
            Some(b) => s
                .latency
                .get(b)
                .map(|q| q.iter().cloned().collect())
                .unwrap_or_default(),
        }
    }
}

impl Running<'_> {
    /// Records the operation as finished, with the items it carried and its error, if any.
    pub fn end(self, items: u64, detail: &'static str, error: Option<&dyn std::fmt::Display>) {
        let duration = self.start.elapsed();
        let b = bucket(duration);
        // A sample of a success is a nicety: when another request holds the lock, it is not
        // kept rather than made to wait. A failure is rare and what the page is read for: it
        // waits its turn. Samples go in before the counts, so a page that counts a failure
        // lists it.
        let samples = if error.is_some() {
            Some(
                self.op
                    .samples
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            )
        } else {
            self.op.samples.try_lock().ok()
        };
        if let Some(mut s) = samples {
            let sample = Sample {
                start: self.wall,
                duration,
                items,
                detail,
                error: error.map(ToString::to_string),
            };
            if sample.error.is_some() {
                keep(&mut s.errors, sample.clone());
            }
            if let Some(q) = s.latency.get_mut(b) {
                keep(q, sample);
            }
        }
        if let Some(c) = self.op.latency.get(b) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if error.is_some() {
            self.op.errors.fetch_add(1, Ordering::Relaxed);
        }
        // `drop` takes the operation off the running count.
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.op.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Every operation name, once recording is on.
#[derive(Debug, Default)]
pub struct Tracez {
    enabled: AtomicBool,
    ops: Mutex<BTreeMap<String, Arc<Operation>>>,
}

impl Tracez {
    /// Turns recording on for operations registered from now on (the `zpages` extension is
    /// built before the components it watches).
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// The record for `name` (the same one when asked twice), or `None` while recording is
    /// off.
    pub fn operation(&self, name: &str) -> Option<Arc<Operation>> {
        if !self.enabled.load(Ordering::Relaxed) {
            return None;
        }
        let mut ops = self
            .ops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(ops.entry(name.to_owned()).or_default().clone())
    }

    /// Every operation, by name.
    pub fn operations(&self) -> Vec<(String, Arc<Operation>)> {
        let ops = self
            .ops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ops.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_the_lower_bounds() {
        let table = [
            (Duration::ZERO, 0),
            (Duration::from_micros(9), 0),
            (Duration::from_micros(10), 1),
            (Duration::from_micros(99), 1),
            (Duration::from_micros(100), 2),
            (Duration::from_millis(1), 3),
            (Duration::from_millis(10), 4),
            (Duration::from_millis(150), 5),
            (Duration::from_millis(999), 5),
            (Duration::from_secs(1), 6),
            (Duration::from_secs(10), 7),
            (Duration::from_secs(99), 7),
            (Duration::from_secs(100), 8),
            (Duration::from_secs(100_000), 8),
        ];
        for (d, want) in table {
            assert_eq!(bucket(d), want, "{d:?}");
        }
    }

    #[test]
    fn a_failure_waits_for_the_lock_and_a_success_under_contention_is_not_kept() {
        let op = Arc::new(Operation::default());
        let held = op.samples.lock().unwrap();
        // A success finds the lock taken: counted, its sample not kept.
        op.start().end(1, "grpc", None);
        let failing = std::thread::spawn({
            let op = op.clone();
            move || op.start().end(2, "grpc", Some(&"refused"))
        });
        std::thread::sleep(Duration::from_millis(20));
        // The failure waits for the lock: not counted before its sample is in.
        assert_eq!(op.errors(), 0);
        drop(held);
        failing.join().unwrap();
        assert_eq!(op.errors(), 1);
        let errors = op.samples(None);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].error.as_deref(), Some("refused"));
        assert_eq!(op.latency_counts().iter().sum::<u64>(), 2);
        let kept: usize = (0..9).map(|b| op.samples(Some(b)).len()).sum();
        assert_eq!(kept, 1, "only the failure's sample");
    }

    #[test]
    fn off_until_enabled() {
        let t = Tracez::default();
        assert!(t.operation("exporter/otlp/traces").is_none());
        t.enable();
        let a = t.operation("exporter/otlp/traces").unwrap();
        let b = t.operation("exporter/otlp/traces").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(t.operations().len(), 1);
    }

    #[test]
    fn counts_running_finished_and_failed() {
        let op = Operation::default();
        let r1 = op.start();
        let r2 = op.start();
        assert_eq!(op.running(), 2);
        r1.end(10, "grpc", None);
        assert_eq!(op.running(), 1);
        r2.end(3, "http", Some(&"backend unavailable"));
        assert_eq!(op.running(), 0);
        let dropped = op.start();
        drop(dropped);
        assert_eq!(op.running(), 0);
        assert_eq!(op.latency_counts().iter().sum::<u64>(), 2);
        assert_eq!(op.errors(), 1);
        let errs = op.samples(None);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].items, 3);
        assert_eq!(errs[0].detail, "http");
        assert_eq!(errs[0].error.as_deref(), Some("backend unavailable"));
        let fast: Vec<u64> = (0..9)
            .flat_map(|b| op.samples(Some(b)))
            .map(|s| s.items)
            .collect();
        assert_eq!(fast, vec![10, 3], "both kept as latency samples, in order");
        assert!(op.samples(Some(42)).is_empty());
    }

    #[test]
    fn keeps_the_latest_samples() {
        let op = Operation::default();
        for i in 0..(SAMPLES as u64 + 3) {
            op.start().end(i, "grpc", Some(&format!("failure {i}")));
        }
        let errs: Vec<u64> = op.samples(None).iter().map(|s| s.items).collect();
        assert_eq!(errs, vec![3, 4, 5, 6, 7]);
        assert_eq!(op.errors(), 8);
    }
}
