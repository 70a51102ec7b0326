//! The consistent-hash ring of the `loadbalancing` exporter, position for position the
//! OpenTelemetry Collector's: each backend holds 100 points on a circle of 36,000, the CRC-32
//! (IEEE) of its name followed by the point's number, modulo 36,000, a point already taken
//! being skipped; a routing key goes to the first point at or after the CRC-32 of its bytes
//! modulo 36,000, wrapping around. Backends are placed in sorted order, as the Collector's
//! resolvers sort them.
//!
//! Being the same ring matters when meshtrace and OpenTelemetry Collector agents feed the same
//! gateways (during a migration, or a mixed fleet): both send a trace to the same gateway, so
//! a tail sampler or `servicegraph` there still sees all of it.

/// Points on the circle: 360 degrees with two decimals, as in the Collector.
const CIRCLE: u32 = 36_000;
/// Points per backend.
const WEIGHT: u8 = 100;

/// Which backend each stretch of the circle belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ring {
    /// (position, backend index), sorted by position.
    points: Vec<(u32, usize)>,
}

impl Ring {
    /// The ring of `names`, which must be sorted and distinct (the backends' indices are
    /// their places in `names`).
    pub fn new<S: AsRef<str>>(names: &[S]) -> Ring {
        let mut taken = std::collections::HashSet::new();
        let mut points = Vec::with_capacity(names.len() * usize::from(WEIGHT));
        for (backend, name) in names.iter().enumerate() {
            for i in 0..WEIGHT {
                let mut h = crc32fast::Hasher::new();
                h.update(name.as_ref().as_bytes());
                h.update(&[i]);
                let pos = h.finalize() % CIRCLE;
                if taken.insert(pos) {
                    points.push((pos, backend));
                }
            }
        }
        points.sort_unstable();
        Ring { points }
    }

    /// The backend for a routing key (a trace id's 16 bytes, a service name); `None` on an
    /// empty ring.
    pub fn backend(&self, key: &[u8]) -> Option<usize> {
        let pos = crc32fast::hash(key) % CIRCLE;
        let at = self.points.partition_point(|&(p, _)| p < pos);
        self.points
            .get(at)
            .or_else(|| self.points.first())
            .map(|&(_, b)| b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Expected backends computed outside this code, by a transcription of the Collector's
    /// `consistent_hashing.go` in Python (`ring_golden.py`, which wrote `ring_golden.rs`).
    #[test]
    fn keys_go_where_the_collectors_ring_sends_them() {
        let names = [
            "backend-1:4317",
            "backend-2:4317",
            "backend-3:4317",
            "backend-4:4317",
        ];
        let ring = Ring::new(&names);
        for (key, want) in GOLDEN_TRACE_IDS {
            let got = ring.backend(&hex(key)).map(|b| names[b]);
            assert_eq!(got, Some(*want), "trace id {key}");
        }
        for (key, want) in GOLDEN_SERVICES {
            let got = ring.backend(key.as_bytes()).map(|b| names[b]);
            assert_eq!(got, Some(*want), "service {key}");
        }
        assert_eq!(ring.points.len(), POINTS_OF_FOUR);
    }

    #[test]
    fn an_empty_ring_has_no_backend_and_one_backend_takes_everything() {
        assert_eq!(Ring::new::<&str>(&[]).backend(b"x"), None);
        let one = Ring::new(&["10.0.0.1:4317"]);
        for i in 0u32..1000 {
            assert_eq!(one.backend(&i.to_be_bytes()), Some(0));
        }
    }

    #[test]
    fn adding_a_backend_moves_only_keys_to_the_new_one() {
        let three = Ring::new(&["a:4317", "b:4317", "c:4317"]);
        let four = Ring::new(&["a:4317", "b:4317", "c:4317", "d:4317"]);
        let (mut moved, mut counts) = (0, [0usize; 4]);
        for i in 0u64..20_000 {
            let key = [i.to_be_bytes(), (!i).to_be_bytes()].concat();
            let (before, after) = (three.backend(&key).unwrap(), four.backend(&key).unwrap());
            counts[after] += 1;
            if before != after {
                assert_eq!(after, 3, "key {i} moved between old backends");
                moved += 1;
            }
        }
        // About a quarter of the keys go to the new backend, and each backend gets a share.
        assert!((3_000..7_000).contains(&moved), "{moved} moved");
        assert!(counts.iter().all(|&c| c > 2_500), "{counts:?}");
    }

    include!("ring_golden.rs");
}
