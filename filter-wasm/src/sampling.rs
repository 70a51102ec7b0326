//! Sampling decisions for traces the proxy starts (or receives without a decision).
//!
//! The decision is a pure function of the trace id, so every proxy on a path with the same
//! percentage decides the same way, and proxies with a higher percentage sample a superset.
//! As in OpenTelemetry's consistent probability sampling (`TraceIdRatioBased`, and the
//! `th` threshold of `tracestate`'s `ot` entry), the right-most 7 bytes of the trace id are
//! read as a number R in `[0, 2^56)` and the trace is sampled when `R >= T`, with the
//! rejection threshold `T = round((1 - percentage / 100) * 2^56)`.

use crate::tracecontext::TraceId;

/// `2^56`: the size of the randomness space and the threshold that samples nothing.
pub const MAX_THRESHOLD: u64 = 1 << 56;

/// A percentage-based, trace-id-consistent sampler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampler {
    threshold: u64,
}

impl Sampler {
    /// A sampler keeping `percentage` percent of new traces. Values outside `[0, 100]` (and
    /// NaN) are clamped; the configuration refuses them before they get here.
    pub fn from_percentage(percentage: f64) -> Self {
        let p = if percentage.is_nan() {
            0.0
        } else {
            percentage.clamp(0.0, 100.0)
        };
        let rejected = (100.0 - p) / 100.0;
        // f64 holds 2^56 exactly; the product is within [0, 2^56] so the cast is exact.
        let threshold = (rejected * MAX_THRESHOLD as f64).round() as u64;
        Sampler {
            threshold: threshold.min(MAX_THRESHOLD),
        }
    }

    /// Samples every trace.
    pub fn always() -> Self {
        Sampler { threshold: 0 }
    }

    /// The rejection threshold `T` in `[0, 2^56]`.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }

    /// Whether a trace with this id is sampled.
    pub fn should_sample(&self, trace_id: &TraceId) -> bool {
        trace_id.randomness() >= self.threshold
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::always()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id_with_randomness(r: u64) -> TraceId {
        let mut id = [0xab; 16];
        let be = r.to_be_bytes();
        id[9..].copy_from_slice(&be[1..]);
        TraceId(id)
    }

    #[test]
    fn thresholds() {
        assert_eq!(Sampler::from_percentage(100.0).threshold(), 0);
        assert_eq!(Sampler::from_percentage(0.0).threshold(), MAX_THRESHOLD);
        assert_eq!(Sampler::from_percentage(50.0).threshold(), 1 << 55);
        assert_eq!(Sampler::from_percentage(75.0).threshold(), 1 << 54);
        assert_eq!(Sampler::from_percentage(150.0).threshold(), 0);
        assert_eq!(Sampler::from_percentage(-1.0).threshold(), MAX_THRESHOLD);
        assert_eq!(
            Sampler::from_percentage(f64::NAN).threshold(),
            MAX_THRESHOLD
        );
        assert_eq!(Sampler::default(), Sampler::always());
    }

    #[test]
    fn decisions_at_the_boundaries() {
        let half = Sampler::from_percentage(50.0);
        assert!(!half.should_sample(&id_with_randomness((1 << 55) - 1)));
        assert!(half.should_sample(&id_with_randomness(1 << 55)));
        let all = Sampler::from_percentage(100.0);
        assert!(all.should_sample(&id_with_randomness(0)));
        let none = Sampler::from_percentage(0.0);
        assert!(!none.should_sample(&id_with_randomness(MAX_THRESHOLD - 1)));
        // Only the right-most 7 bytes count: the left 9 bytes do not change the decision.
        let mut id = id_with_randomness(1 << 55);
        id.0[..9].copy_from_slice(&[0; 9]);
        assert!(half.should_sample(&id));
        id.0[8] = 0xff;
        assert!(half.should_sample(&id));
    }

    #[test]
    fn a_tiny_percentage_is_not_zero() {
        let s = Sampler::from_percentage(0.01);
        assert!(s.threshold() < MAX_THRESHOLD);
        assert!(s.should_sample(&id_with_randomness(MAX_THRESHOLD - 1)));
    }

    #[test]
    fn sampled_fraction_matches_the_percentage() {
        // A deterministic stream of ids (splitmix64): the kept fraction is within 1.5 points.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        for pct in [1.0, 10.0, 25.0, 50.0, 90.0] {
            let s = Sampler::from_percentage(pct);
            let n = 20_000;
            let kept = (0..n)
                .filter(|_| {
                    let mut id = [0u8; 16];
                    id[..8].copy_from_slice(&next().to_be_bytes());
                    id[8..].copy_from_slice(&next().to_be_bytes());
                    s.should_sample(&TraceId(id))
                })
                .count();
            let got = kept as f64 * 100.0 / n as f64;
            assert!((got - pct).abs() < 1.5, "{pct}% configured, {got}% kept");
        }
    }

    proptest! {
        #[test]
        fn consistent_and_monotonic(id in any::<[u8; 16]>(), a in 0.0f64..=100.0, b in 0.0f64..=100.0) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let id = TraceId(id);
            let (lo, hi) = (Sampler::from_percentage(lo), Sampler::from_percentage(hi));
            // A trace sampled at a lower percentage is sampled at every higher one.
            if lo.should_sample(&id) {
                prop_assert!(hi.should_sample(&id));
            }
            prop_assert!(lo.threshold() >= hi.threshold());
        }
    }
}
