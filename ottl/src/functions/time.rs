//! Time converters: `Now`, `Unix`, `Unix{Nano,Micro,Milli,Seconds}`, `Duration` (Go's
//! `time.ParseDuration`), duration accessors (`Seconds`, `Milliseconds`, …), calendar fields
//! (`Year` … `Weekday`, in UTC) and `TruncateTime`.
//!
//! Times are nanoseconds since the Unix epoch in UTC (span timestamps are UTC); Go's `Now()`
//! is in the collector's local zone, so calendar fields of `Now()` are read in UTC here.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Func;
use crate::error::EvalError;
use crate::eval::{Env, Eval, Val};
use crate::program::Call;
use crate::value::Value;

const NS_PER_SEC: i128 = 1_000_000_000;
/// Go's zero `time.Time` (January 1, year 1, UTC), which `Truncate` rounds relative to.
const ZERO_TIME: i128 = -62_135_596_800 * NS_PER_SEC;

pub(crate) fn call<'a, E: Env<'a>>(
    ev: &Eval<'a, E>,
    call: &'a Call,
) -> Result<Val<'a, E>, EvalError> {
    use Func::*;
    let f = call.def.func;
    match f {
        Now => Ok(Value::Time(now())),
        Unix => {
            let secs = ev.arg_int(call, 0)?;
            let nanos = if ev.has_arg(call, 1) {
                ev.arg_int(call, 1)?
            } else {
                0
            };
            Ok(Value::Time(
                i128::from(secs) * NS_PER_SEC + i128::from(nanos),
            ))
        }
        UnixNano | UnixMicro | UnixMilli | UnixSeconds => {
            let t = ev.arg_time(call, 0)?;
            let unit = match f {
                UnixNano => 1,
                UnixMicro => 1_000,
                UnixMilli => 1_000_000,
                _ => NS_PER_SEC,
            };
            Ok(Value::Int(wrap(t.div_euclid(unit))))
        }
        Duration => {
            let text = ev.arg_str(call, 0)?;
            parse_duration(&text)
                .map(Value::Duration)
                .map_err(|m| EvalError::invalid("Duration", m))
        }
        Nanoseconds => Ok(Value::Int(ev.arg_duration(call, 0)?)),
        Microseconds => Ok(Value::Int(ev.arg_duration(call, 0)? / 1_000)),
        Milliseconds => Ok(Value::Int(ev.arg_duration(call, 0)? / 1_000_000)),
        Seconds | Minutes | Hours => {
            let d = ev.arg_duration(call, 0)?;
            let unit: i64 = match f {
                Seconds => 1_000_000_000,
                Minutes => 60_000_000_000,
                _ => 3_600_000_000_000,
            };
            // Go splits whole units and the remainder to stay exact.
            Ok(Value::Double(
                (d / unit) as f64 + (d % unit) as f64 / unit as f64,
            ))
        }
        TruncateTime => {
            let t = ev.arg_time(call, 0)?;
            let d = i128::from(ev.arg_duration(call, 1)?);
            if d <= 0 {
                return Ok(Value::Time(t));
            }
            Ok(Value::Time(t - (t - ZERO_TIME).rem_euclid(d)))
        }
        _ => {
            let t = ev.arg_time(call, 0)?;
            let c = Civil::from_nanos(t);
            Ok(Value::Int(match f {
                Year => c.year,
                Month => i64::from(c.month),
                Day => i64::from(c.day),
                Hour => i64::from(c.hour),
                Minute => i64::from(c.minute),
                Second => i64::from(c.second),
                Nanosecond => i64::from(c.nanos),
                _ => i64::from(c.weekday),
            }))
        }
    }
}

fn now() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX),
    }
}

/// Go's int64 conversion of an out-of-range value wraps.
fn wrap(v: i128) -> i64 {
    v as i64
}

/// A UTC calendar breakdown of an instant.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    /// 0 = Sunday.
    weekday: u32,
}

impl Civil {
    fn from_nanos(t: i128) -> Civil {
        let secs = t.div_euclid(NS_PER_SEC);
        let nanos = t.rem_euclid(NS_PER_SEC) as u32;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
            nanos,
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i128) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year as i64, month, day)
}

/// `time.RFC3339Nano` in UTC, as Go's JSON encoding of `time.Time` writes it.
pub(crate) fn rfc3339_nano(t: i128) -> String {
    let c = Civil::from_nanos(t);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
    if c.nanos != 0 {
        let frac = format!("{:09}", c.nanos);
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with units ns, us (µs, μs),
/// ms, s, m, h.
pub(crate) fn parse_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {orig:?}");
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c @ (b'-' | b'+')) = s.first() {
        neg = c == b'-';
        s = s.get(1..).unwrap_or_default();
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !matches!(s.first(), Some(b'.' | b'0'..=b'9')) {
            return Err(invalid());
        }
        let int_len = s.iter().take_while(|b| b.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in s.get(..int_len).unwrap_or_default() {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(c - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
        }
        s = s.get(int_len..).unwrap_or_default();
        let (mut frac, mut scale, mut post) = (0u64, 1f64, false);
        if s.first() == Some(&b'.') {
            s = s.get(1..).unwrap_or_default();
            let frac_len = s.iter().take_while(|b| b.is_ascii_digit()).count();
            post = frac_len > 0;
            let mut overflow = false;
            for &c in s.get(..frac_len).unwrap_or_default() {
                if overflow || frac > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                frac = frac * 10 + u64::from(c - b'0');
                scale *= 10.0;
            }
            s = s.get(frac_len..).unwrap_or_default();
        }
        if int_len == 0 && !post {
            return Err(invalid());
        }
        let unit_len = s
            .iter()
            .take_while(|&&b| b != b'.' && !b.is_ascii_digit())
            .count();
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {orig:?}"));
        }
        let unit_text = s.get(..unit_len).unwrap_or_default();
        s = s.get(unit_len..).unwrap_or_default();
        let unit: u64 = match unit_text {
            b"ns" => 1,
            b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            other => {
                return Err(format!(
                    "time: unknown unit {:?} in duration {orig:?}",
                    String::from_utf8_lossy(other)
                ));
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if frac > 0 {
            v += (frac as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total += v;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok(0i64.wrapping_sub_unsigned(total));
    }
    i64::try_from(total).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        for (s, want) in [
            ("0", 0),
            ("3s", 3_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("-1.5h", -5_400_000_000_000),
            ("+.5s", 500_000_000),
            ("1µs", 1_000),
            ("1μs", 1_000),
            ("2562047h47m16.854775807s", i64::MAX),
            ("-2562047h47m16.854775808s", i64::MIN),
        ] {
            assert_eq!(parse_duration(s), Ok(want), "{s}");
        }
        for s in [
            "",
            "1",
            "s",
            "1x",
            "1.s.",
            ".s",
            "2562047h47m16.854775808s",
            "-",
            "1h-5m",
        ] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
    }

    #[test]
    fn calendar_fields_in_utc() {
        // 2024-02-29T23:59:58.5Z, a Thursday.
        let t = 1_709_251_198_500_000_000i128;
        let c = Civil::from_nanos(t);
        assert_eq!(
            (
                c.year, c.month, c.day, c.hour, c.minute, c.second, c.nanos, c.weekday
            ),
            (2024, 2, 29, 23, 59, 58, 500_000_000, 4)
        );
        assert_eq!(rfc3339_nano(t), "2024-02-29T23:59:58.5Z");
        assert_eq!(rfc3339_nano(0), "1970-01-01T00:00:00Z");
        let before = Civil::from_nanos(-1);
        assert_eq!(
            (before.year, before.month, before.day, before.second),
            (1969, 12, 31, 59)
        );
        assert_eq!(rfc3339_nano(ZERO_TIME), "0001-01-01T00:00:00Z");
    }
}
