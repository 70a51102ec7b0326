//! An explicit-bucket histogram of durations, as the span-to-metrics connectors keep one per
//! series between flushes.

use crate::config::{ConfigError, duration};
use crate::otlp::proto::metrics::v1::HistogramDataPoint;
use serde::Deserialize;
use std::time::Duration;

/// One bucket bound in a config, a duration (`2ms`, `1s`).
#[derive(Debug, Clone, Copy)]
pub struct BucketBound(pub Duration);

impl<'de> Deserialize<'de> for BucketBound {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        duration::de(d).map(BucketBound)
    }
}

/// Refuses bounds that do not increase, naming the first bad one under `field`.
pub fn check_bounds(bounds: &[BucketBound], field: &str) -> Vec<ConfigError> {
    bounds
        .windows(2)
        .enumerate()
        .filter_map(|(i, w)| match w {
            [a, c] if a.0 >= c.0 => Some(
                ConfigError::new(format!(
                    "buckets must increase: {} is not above {}",
                    duration::format(c.0),
                    duration::format(a.0)
                ))
                .field(format!("{field}.{}", i + 1)),
            ),
            _ => None,
        })
        .collect()
}

/// Counts per bucket, count, sum, min and max of the values observed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hist {
    counts: Vec<u64>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Hist {
    /// Adds `v`; `bounds` are the buckets' upper bounds, increasing.
    pub fn observe(&mut self, bounds: &[f64], v: f64) {
        if self.counts.len() != bounds.len() + 1 {
            self.counts = vec![0; bounds.len() + 1];
        }
        // Upper bounds are inclusive: v lands in the first bucket whose bound is >= v.
        let i = bounds.partition_point(|b| *b < v);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        self.sum += v;
    }

    /// Values observed.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The data point (no attributes, no exemplars) for `[start, now]`.
    pub fn point(&self, bounds: &[f64], start: u64, now: u64) -> HistogramDataPoint {
        let seen = self.count > 0;
        HistogramDataPoint {
            start_time_unix_nano: start,
            time_unix_nano: now,
            count: self.count,
            sum: Some(self.sum),
            bucket_counts: if self.counts.is_empty() {
                vec![0; bounds.len() + 1]
            } else {
                self.counts.clone()
            },
            explicit_bounds: bounds.to_vec(),
            min: seen.then_some(self.min),
            max: seen.then_some(self.max),
            ..Default::default()
        }
    }
}
