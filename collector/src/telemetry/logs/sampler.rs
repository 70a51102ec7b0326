//! `logs.sampling`: a flood of one log message thinned out, as the Collector's zap sampler
//! thins it. A backend that is down, or `level: debug` under load, would otherwise write a line
//! per batch; the first lines of each message still show in every window, and the rest at a
//! rate that keeps the log readable and its volume bounded.
//!
//! Counting is per level and message text (fields left out, as zap's), in a fixed table of
//! atomic counters: no lock and no allocation per line, and two messages that share a slot
//! share their count, as in zap.

use super::super::config::SamplingConfig;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Counters per level; enough that the collector's few hundred messages rarely share one.
const SLOTS_PER_LEVEL: usize = 1024;
const LEVELS: usize = 5;

/// A [`Layer`] that turns off the lines sampling leaves out, for every layer after it.
#[derive(Debug)]
pub struct Sampler {
    window: Window,
    epoch: Instant,
    counters: Box<[Counter]>,
}

/// What a count within a window lets through.
#[derive(Debug, Clone, Copy)]
struct Window {
    tick_ns: u64,
    initial: u64,
    thereafter: u64,
}

impl Window {
    fn new(tick: Duration, initial: u64, thereafter: u64) -> Self {
        Self {
            tick_ns: u64::try_from(tick.as_nanos()).unwrap_or(u64::MAX),
            initial,
            thereafter,
        }
    }

    /// Counts one line on `counter` at `now`; whether it is written.
    fn admits(&self, counter: &Counter, now: u64) -> bool {
        let n = counter.hit(now, self.tick_ns);
        // `is_multiple_of(0)` holds for 0 only, and past `initial` the difference is at least 1:
        // `thereafter: 0` lets none through.
        n <= self.initial || (n - self.initial).is_multiple_of(self.thereafter)
    }
}

#[derive(Debug, Default)]
struct Counter {
    /// Nanoseconds since the epoch at which the count starts again.
    reset_at: AtomicU64,
    count: AtomicU64,
}

impl Counter {
    /// Counts one line at `now`; returns its number within the current window (from 1).
    fn hit(&self, now: u64, tick: u64) -> u64 {
        let reset_at = self.reset_at.load(Relaxed);
        if now < reset_at {
            return self.count.fetch_add(1, Relaxed) + 1;
        }
        self.count.store(1, Relaxed);
        if self
            .reset_at
            .compare_exchange(reset_at, now.saturating_add(tick), Relaxed, Relaxed)
            .is_err()
        {
            // Another thread opened the window at the same moment, and also counted its own
            // line as the first: this one comes after it.
            return self.count.fetch_add(1, Relaxed) + 1;
        }
        1
    }
}

fn since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl Sampler {
    /// A sampler with the configured window and rates.
    pub fn new(cfg: &SamplingConfig) -> Self {
        Self {
            window: Window::new(cfg.tick, cfg.initial, cfg.thereafter),
            epoch: Instant::now(),
            counters: (0..LEVELS * SLOTS_PER_LEVEL)
                .map(|_| Counter::default())
                .collect(),
        }
    }

    /// Whether the line of `level` whose message hashes to `hash` is written, at `now`
    /// nanoseconds after the sampler was made.
    fn admit(&self, level: &Level, hash: u32, now: u64) -> bool {
        let slot = level_index(level) * SLOTS_PER_LEVEL + hash as usize % SLOTS_PER_LEVEL;
        self.counters
            .get(slot)
            .is_none_or(|counter| self.window.admits(counter, now))
    }
}

/// One stream of output sampled as a whole: the `debug` exporter's `sampling_initial` and
/// `sampling_thereafter`, counted per exported batch in windows of a second, as the Collector's
/// debug exporter counts them.
#[derive(Debug)]
pub struct Thinning {
    window: Window,
    epoch: Instant,
    counter: Counter,
}

impl Thinning {
    /// The first `initial` in each second, then every `thereafter`-th (none when 0).
    pub fn new(initial: u64, thereafter: u64) -> Self {
        Self {
            window: Window::new(Duration::from_secs(1), initial, thereafter),
            epoch: Instant::now(),
            counter: Counter::default(),
        }
    }

    /// Counts one; whether it is written.
    pub fn admit(&self) -> bool {
        self.admit_at(since(self.epoch))
    }

    fn admit_at(&self, now: u64) -> bool {
        self.window.admits(&self.counter, now)
    }
}

fn level_index(level: &Level) -> usize {
    match *level {
        Level::TRACE => 0,
        Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN => 3,
        Level::ERROR => 4,
    }
}

impl<S: Subscriber> Layer<S> for Sampler {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        let mut hash = MessageHash::default();
        event.record(&mut hash);
        self.admit(event.metadata().level(), hash.0, since(self.epoch))
    }
}

/// FNV-1a over the message text, fed as it is formatted: nothing is allocated.
struct MessageHash(u32);

impl Default for MessageHash {
    fn default() -> Self {
        Self(0x811c_9dc5)
    }
}

impl fmt::Write for MessageHash {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            self.0 = (self.0 ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        Ok(())
    }
}

impl Visit for MessageHash {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = self.write_str(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self, "{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Lines;
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    fn sampler(tick_s: u64, initial: u64, thereafter: u64) -> Sampler {
        Sampler::new(&SamplingConfig {
            enabled: true,
            tick: Duration::from_secs(tick_s),
            initial,
            thereafter,
        })
    }

    const S: u64 = 1_000_000_000;

    /// Which of `count` lines of one message, all within one window, are written.
    fn written(s: &Sampler, count: u64, at: u64) -> Vec<u64> {
        (1..=count)
            .filter(|_| s.admit(&Level::WARN, 7, at))
            .collect()
    }

    #[test]
    fn the_first_lines_then_every_nth() {
        // (initial, thereafter, lines) → line numbers written
        let cases: &[(u64, u64, u64, &[u64])] = &[
            (10, 100, 9, &[1, 2, 3, 4, 5, 6, 7, 8, 9]),
            (10, 100, 250, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 110, 210]),
            (2, 3, 12, &[1, 2, 5, 8, 11]),
            (0, 1, 4, &[1, 2, 3, 4]),
            (3, 0, 50, &[1, 2, 3]),
            (0, 0, 5, &[]),
        ];
        for &(initial, thereafter, lines, want) in cases {
            let s = sampler(10, initial, thereafter);
            assert_eq!(
                written(&s, lines, 5 * S),
                want,
                "initial {initial}, thereafter {thereafter}"
            );
        }
    }

    #[test]
    fn each_window_starts_the_count_again() {
        let s = sampler(10, 2, 0);
        assert_eq!(written(&s, 5, 0), [1, 2]);
        // Still the first window (it ends 10 s after its first line).
        assert_eq!(written(&s, 5, 9 * S), Vec::<u64>::new());
        assert_eq!(written(&s, 5, 10 * S), [1, 2]);
        // A window opens at its first line, not on a fixed grid.
        assert_eq!(written(&s, 1, 25 * S), [1]);
        assert_eq!(written(&s, 2, 34 * S), [1]);
        assert_eq!(written(&s, 1, 35 * S), [1]);
    }

    #[test]
    fn levels_and_messages_count_apart() {
        let s = sampler(10, 1, 0);
        assert!(s.admit(&Level::WARN, 1, 0));
        assert!(!s.admit(&Level::WARN, 1, 0));
        assert!(s.admit(&Level::ERROR, 1, 0));
        assert!(s.admit(&Level::WARN, 2, 0));
        assert!(s.admit(&Level::TRACE, u32::MAX, 0));
    }

    #[test]
    fn a_thinned_stream_counts_as_one_message() {
        let t = Thinning::new(2, 3);
        // Within a second: the 1st, 2nd, 5th and 8th.
        let written: Vec<u64> = (1..=9).filter(|&i| t.admit_at(i * 1000)).collect();
        assert_eq!(written, [1, 2, 5, 8]);
        // The window opened at the first (1 µs): a second later the count starts again.
        assert!(!t.admit_at(S + 999));
        assert!(t.admit_at(S + 1000));
        assert!(t.admit_at(S + 1001));
        assert!(!t.admit_at(S + 1002));
        let everything = Thinning::new(2, 1);
        assert!((0..50).all(|i| everything.admit_at(i)));
    }

    #[test]
    fn a_zero_tick_writes_every_line() {
        let s = sampler(0, 1, 0);
        assert!((0..20).all(|i| s.admit(&Level::INFO, 3, i)));
    }

    #[test]
    fn in_a_subscriber_a_flood_of_one_message_is_thinned_and_others_pass() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::registry()
            .with(sampler(3600, 10, 100))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(writer),
            );
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..250 {
                // Fields are not part of the message: one message, 250 times.
                tracing::warn!(
                    attempt = i,
                    "Exporting failed. Will retry the request after interval."
                );
            }
            for i in 0..20 {
                // Twenty different texts from one call site: each is its own message.
                tracing::warn!("config warning {i}");
            }
            // Levels count apart.
            for _ in 0..12 {
                tracing::error!("Exporting failed. Will retry the request after interval.");
            }
        });
        let text = lines.text();
        let retried: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(" WARN ") && l.contains("Will retry"))
            .collect();
        assert_eq!(retried.len(), 12, "{text}");
        assert!(retried[9].ends_with("attempt=9"), "{}", retried[9]);
        assert!(retried[10].ends_with("attempt=109"), "{}", retried[10]);
        assert!(retried[11].ends_with("attempt=209"), "{}", retried[11]);
        for i in 0..20 {
            assert!(
                text.contains(&format!("config warning {i}\n")),
                "{i}: {text}"
            );
        }
        assert_eq!(
            text.lines()
                .filter(|l| l.contains("ERROR") && l.contains("Will retry"))
                .count(),
            10
        );
    }
}
