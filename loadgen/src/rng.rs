//! A small, fast, seedable random source for building span shapes, and the bijective mixer
//! that turns counters into ids that look random yet never repeat within a run.
//!
//! Load generation needs reproducible shapes (`--seed`) and cheap ids, not cryptographic
//! randomness, so this is SplitMix64 rather than a dependency.

/// The SplitMix64 finalizer. It is a bijection on `u64` (xor-shifts and multiplications by odd
/// constants are invertible), so distinct counters always give distinct outputs.
#[must_use]
pub fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// SplitMix64: one `u64` of state, full period, good enough statistics for test data.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.state)
    }

    /// A value in `0..n` (0 when `n` is 0). The modulo bias is irrelevant for test data.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo).saturating_add(1))
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of `items`, or `None` when it is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let n = u64::try_from(items.len()).unwrap_or(u64::MAX);
        items.get(usize::try_from(self.below(n)).unwrap_or(0))
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            for (o, w) in chunk.iter_mut().zip(word) {
                *o = w;
            }
        }
    }

    /// `len` random lowercase hex digits.
    pub fn hex(&mut self, len: usize) -> String {
        self.string_of(b"0123456789abcdef", len)
    }

    /// `len` random characters from the alphabet Kubernetes uses for generated name suffixes.
    pub fn k8s_suffix(&mut self, len: usize) -> String {
        self.string_of(b"bcdfghjklmnpqrstvwxz2456789", len)
    }

    fn string_of(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .filter_map(|_| self.pick(alphabet).map(|b| char::from(*b)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn mix64_does_not_collide_on_consecutive_counters() {
        let outs: HashSet<u64> = (0..100_000u64).map(mix64).collect();
        assert_eq!(outs.len(), 100_000);
    }

    #[test]
    fn same_seed_same_stream() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..5).map(|_| r.next_u64()).collect()
        };
        let mut r = Rng::new(7);
        let b: Vec<u64> = (0..5).map(|_| r.next_u64()).collect();
        assert_eq!(a, b);
        assert_ne!(Rng::new(8).next_u64(), a[0]);
    }

    #[test]
    fn range_stays_inside_bounds() {
        let mut r = Rng::new(1);
        for _ in 0..10_000 {
            let v = r.range(3, 5);
            assert!((3..=5).contains(&v), "{v}");
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(r.pick::<u8>(&[]), None);
    }

    #[test]
    fn hex_and_suffix_have_the_requested_length_and_alphabet() {
        let mut r = Rng::new(3);
        let h = r.hex(32);
        assert_eq!(h.len(), 32);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        let s = r.k8s_suffix(5);
        assert_eq!(s.len(), 5);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
