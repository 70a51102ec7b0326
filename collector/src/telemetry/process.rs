//! Process metrics read from `/proc/self` (Linux); zero elsewhere.

use std::time::Instant;

/// One sample.
pub struct ProcessSample {
    /// User and system CPU time.
    pub cpu_seconds: f64,
    /// Resident set size.
    pub rss_bytes: f64,
    /// Seconds since the collector started.
    pub uptime_seconds: f64,
}

/// Clock ticks per second for `/proc/self/stat` times; 100 on every mainstream Linux.
const CLK_TCK: f64 = 100.0;
const PAGE_SIZE: f64 = 4096.0;

/// Reads the sample now; `started` is when the collector started.
pub fn sample(started: Instant) -> ProcessSample {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the full line: 12 and 13 after the name.
    let num = |i: usize| {
        fields
            .get(i)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let cpu_seconds = (num(11) + num(12)) / CLK_TCK;
    let rss_pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<f64>().ok())
        })
        .unwrap_or(0.0);
    ProcessSample {
        cpu_seconds,
        rss_bytes: rss_pages * PAGE_SIZE,
        uptime_seconds: started.elapsed().as_secs_f64(),
    }
}
