//! CPU time of this process, read from `/proc/self/stat`, so each tool can report what it cost
//! the machine it shares with the system under test.

use std::time::Duration;

/// Linux reports `utime`/`stime` in `USER_HZ` ticks, which the kernel ABI fixes at 100 on every
/// architecture (the value `getconf CLK_TCK` prints), whatever `CONFIG_HZ` is.
const USER_HZ: u64 = 100;

/// User + system CPU time consumed so far by every thread of this process, or `None` when
/// `/proc` is unavailable (non-Linux systems).
#[must_use]
pub fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat(&stat)
}

/// Parses `utime + stime` out of a `/proc/<pid>/stat` line. The command name (field 2) may
/// hold spaces and parentheses, so fields are counted from the last `)`.
#[must_use]
pub fn parse_stat(stat: &str) -> Option<Duration> {
    let after_comm = stat.get(stat.rfind(')')? + 1..)?;
    // After the command come field 3 (state) … ; utime and stime are fields 14 and 15.
    let mut fields = after_comm.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime.checked_add(stime)?;
    Some(Duration::from_millis(ticks.saturating_mul(1000 / USER_HZ)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_and_stime_after_an_awkward_command_name() {
        let line = "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 3 0 100 0 0";
        assert_eq!(parse_stat(line), Some(Duration::from_millis(3250)));
    }

    #[test]
    fn rejects_truncated_lines() {
        assert_eq!(parse_stat("4242 (x) S 1 2 3"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn reads_this_process() {
        assert!(process_cpu_time().is_some());
    }
}
