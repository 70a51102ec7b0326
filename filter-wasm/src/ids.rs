//! Minting trace and span ids from a random source.
//!
//! Ids come from the host's randomness (WASI `random_get` inside Envoy), drawn in blocks so
//! that a request costs no host call most of the time. A new trace id is random in all 16
//! bytes, which is what lets the filter set the Level 2 `random` flag.

use crate::tracecontext::{SpanId, TraceId};

/// Fills buffers with random bytes. Implementations must not fail: a host without randomness
/// falls back to a weaker generator rather than stopping requests.
pub trait RandomSource {
    /// Fills `buf` entirely.
    fn fill(&mut self, buf: &mut [u8]);
}

/// Produces ids for new traces and spans. Never returns an all-zero id.
pub trait IdGenerator {
    /// A new random trace id.
    fn trace_id(&mut self) -> TraceId;
    /// A new random span id.
    fn span_id(&mut self) -> SpanId;
}

/// Bytes fetched from the source at a time: enough for 10 new traces or 32 spans.
const POOL: usize = 256;

/// An [`IdGenerator`] drawing from a [`RandomSource`] through a small pool.
pub struct RandomIds<S> {
    source: S,
    pool: [u8; POOL],
    used: usize,
}

impl<S: RandomSource> RandomIds<S> {
    /// A generator over `source`; the pool is filled on first use.
    pub fn new(source: S) -> Self {
        RandomIds {
            source,
            pool: [0; POOL],
            used: POOL,
        }
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        if self.used + N > POOL {
            self.source.fill(&mut self.pool);
            self.used = 0;
        }
        if let Some(bytes) = self.pool.get(self.used..self.used + N) {
            out.copy_from_slice(bytes);
            self.used += N;
        } else {
            // Only reachable if N > POOL: draw directly.
            self.source.fill(&mut out);
        }
        out
    }
}

impl<S: RandomSource> IdGenerator for RandomIds<S> {
    fn trace_id(&mut self) -> TraceId {
        let mut id = TraceId(self.take());
        if id.is_zero() {
            // 2^-128 with a working source; a broken one must still yield a valid id.
            id.0 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        }
        id
    }

    fn span_id(&mut self) -> SpanId {
        let mut id = SpanId(self.take());
        if id.is_zero() {
            id.0 = [0, 0, 0, 0, 0, 0, 0, 1];
        }
        id
    }
}

/// splitmix64: a fast, non-cryptographic generator, used when the host has no randomness
/// (and as a deterministic source in tests).
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl RandomSource for SplitMix64 {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            for (dst, src) in chunk.iter_mut().zip(z.to_le_bytes()) {
                *dst = src;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Counts calls, to check the pooling.
    struct Counting(SplitMix64, usize);
    impl RandomSource for Counting {
        fn fill(&mut self, buf: &mut [u8]) {
            self.1 += 1;
            self.0.fill(buf);
        }
    }

    struct Zeros;
    impl RandomSource for Zeros {
        fn fill(&mut self, buf: &mut [u8]) {
            buf.fill(0);
        }
    }

    #[test]
    fn ids_are_distinct_and_pooled() {
        let mut ids = RandomIds::new(Counting(SplitMix64(7), 0));
        let mut traces = HashSet::new();
        let mut spans = HashSet::new();
        for _ in 0..100 {
            assert!(traces.insert(ids.trace_id()));
            assert!(spans.insert(ids.span_id()));
        }
        // 100 * 24 bytes drawn from 256-byte blocks: 10 host calls, not 200.
        assert_eq!(ids.source.1, 10);
    }

    #[test]
    fn a_zero_source_still_yields_valid_ids() {
        let mut ids = RandomIds::new(Zeros);
        assert!(!ids.trace_id().is_zero());
        assert!(!ids.span_id().is_zero());
    }

    #[test]
    fn splitmix_fills_odd_lengths() {
        let mut a = [0u8; 13];
        SplitMix64(1).fill(&mut a);
        let mut b = [0u8; 16];
        SplitMix64(1).fill(&mut b);
        assert_eq!(a[..], b[..13]);
        assert_ne!(a, [0; 13]);
    }
}
