use super::*;
use crate::processor::testspans::*;
use crate::testutil::Recorder;

/// Memory usage the test sets, and how often it was read.
#[derive(Default)]
struct FakeMemory {
    used: AtomicU64,
    reads: AtomicU64,
}

impl MemoryReader for FakeMemory {
    fn used_bytes(&self) -> u64 {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.used.load(Ordering::Relaxed)
    }
}

fn cfg(yaml: &str) -> MemoryLimiterConfig {
    config(yaml)
}

#[test]
fn limits_fixed_and_percentage() {
    let mib = |m: u64| m * MIB;
    for (yaml, total, want) in [
        (
            "check_interval: 1s\nlimit_mib: 4000\nspike_limit_mib: 800",
            None,
            (mib(3200), mib(4000)),
        ),
        // Default spike: 20 % of the limit.
        (
            "check_interval: 1s\nlimit_mib: 1000",
            None,
            (mib(800), mib(1000)),
        ),
        // The Collector's README example: 80 % / 15 % of 1000 MiB.
        (
            "check_interval: 1s\nlimit_percentage: 80\nspike_limit_percentage: 15",
            Some(mib(1000)),
            (mib(650), mib(800)),
        ),
        (
            "check_interval: 1s\nlimit_percentage: 50",
            Some(mib(1000)),
            (mib(400), mib(500)),
        ),
        // The fixed limit wins.
        (
            "check_interval: 1s\nlimit_mib: 100\nlimit_percentage: 50",
            Some(mib(1000)),
            (mib(80), mib(100)),
        ),
        // The Collector's GC settings change nothing here; 0 turns its backoff off.
        (
            "check_interval: 1s\nlimit_mib: 100\nmax_gc_interval_when_soft_limited: 1m\nmax_gc_interval_when_hard_limited: 0s",
            None,
            (mib(80), mib(100)),
        ),
    ] {
        let c = cfg(yaml);
        assert!(c.validate().is_empty(), "{yaml}");
        let l = c.limits(total).unwrap();
        assert_eq!((l.soft, l.hard), want, "{yaml}");
    }
    assert!(
        cfg("check_interval: 1s\nlimit_percentage: 50")
            .limits(None)
            .is_err()
    );
}

#[test]
fn invalid_configs() {
    for (yaml, want) in [
        (
            "limit_mib: 100",
            "'check_interval' must be greater than zero",
        ),
        (
            "check_interval: 0s\nlimit_mib: 100",
            "'check_interval' must be greater than zero",
        ),
        (
            "check_interval: 1s",
            "'limit_mib' or 'limit_percentage' must be greater than zero",
        ),
        (
            "check_interval: 1s\nlimit_mib: 100\nspike_limit_mib: 100",
            "'spike_limit_mib' must be smaller than 'limit_mib'",
        ),
        (
            "check_interval: 1s\nlimit_percentage: 101",
            "less than or equal to hundred",
        ),
        (
            "check_interval: 1s\nlimit_percentage: 50\nspike_limit_percentage: 60",
            "'spike_limit_percentage' must be smaller than 'limit_percentage'",
        ),
        (
            "check_interval: 1s\nlimit_mib: 100\nmin_gc_interval_when_soft_limited: 1s\nmin_gc_interval_when_hard_limited: 5s",
            "should be larger than",
        ),
        // The Collector's backoff caps (v0.156): accepted, and checked as it checks them.
        (
            "check_interval: 1s\nlimit_mib: 100\nmax_gc_interval_when_soft_limited: 5s",
            "'max_gc_interval_when_soft_limited' must be greater than or equal to 'min_gc_interval_when_soft_limited' (or 0 to disable)",
        ),
        (
            "check_interval: 1s\nlimit_mib: 100\nmin_gc_interval_when_hard_limited: 5s\nmax_gc_interval_when_hard_limited: 2s",
            "'max_gc_interval_when_hard_limited' must be greater than or equal to 'min_gc_interval_when_hard_limited' (or 0 to disable)",
        ),
        (
            "check_interval: 1s\nlimit_mib: 100\nmax_gc_interval_when_soft_limited: 20s\nmax_gc_interval_when_hard_limited: 25s",
            "should be larger than or equal to 'max_gc_interval_when_hard_limited' (when both are set)",
        ),
    ] {
        let e: Vec<String> = cfg(yaml)
            .validate()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(e.iter().any(|m| m.contains(want)), "{yaml}: {e:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn refuses_above_the_soft_limit_and_recovers() {
    let mem = Arc::new(FakeMemory::default());
    mem.used.store(100 * MIB, Ordering::Relaxed);
    let rec = Arc::new(Recorder::default());
    let l = MemoryLimiter::start(
        &ctx("memory_limiter"),
        Signal::Traces,
        Limits {
            soft: 800 * MIB,
            hard: 1000 * MIB,
        },
        Duration::from_secs(1),
        mem.clone(),
        rec.clone(),
    );
    let tick = || async {
        tokio::time::advance(Duration::from_secs(1)).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    };
    tick().await;
    l.consume(batch(vec![group(vec![], "e", vec![span(1, "a", vec![])])]))
        .await
        .unwrap();

    // Between checks nothing changes, and requests do not read memory.
    mem.used.store(900 * MIB, Ordering::Relaxed);
    let reads = mem.reads.load(Ordering::Relaxed);
    for n in 2..12 {
        l.consume(batch(vec![group(vec![], "e", vec![span(n, "b", vec![])])]))
            .await
            .unwrap();
    }
    assert_eq!(
        mem.reads.load(Ordering::Relaxed),
        reads,
        "memory is read on the timer only"
    );

    tick().await;
    assert!(l.is_refusing());
    let e = l
        .consume(batch(vec![group(
            vec![],
            "e",
            vec![span(20, "refused", vec![])],
        )]))
        .await
        .unwrap_err();
    // Clients are told to come back after the next check.
    assert_eq!(
        e,
        ConsumeError::unavailable_for(
            "data refused due to high memory usage",
            Duration::from_secs(1)
        )
    );

    // Exactly at the soft limit still refuses; below it recovers.
    mem.used.store(800 * MIB, Ordering::Relaxed);
    tick().await;
    assert!(l.is_refusing());
    mem.used.store(799 * MIB, Ordering::Relaxed);
    tick().await;
    assert!(!l.is_refusing());
    l.consume(batch(vec![group(
        vec![],
        "e",
        vec![span(21, "after", vec![])],
    )]))
    .await
    .unwrap();
    assert_eq!(
        rec.sizes().len(),
        12,
        "everything but the refused request went on"
    );
    assert!(
        rec.0
            .lock()
            .unwrap()
            .iter()
            .all(|b| names(b) != ["refused"])
    );

    l.shutdown().await;
    let reads = mem.reads.load(Ordering::Relaxed);
    tick().await;
    assert_eq!(
        mem.reads.load(Ordering::Relaxed),
        reads,
        "no checks after shutdown"
    );
}
