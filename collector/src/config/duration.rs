//! Durations in Go syntax (`"200ms"`, `"1m30s"`, `"1.5h"`), as the Collector's YAML writes them.

use serde::{Deserialize, Deserializer, de};
use std::time::Duration;

/// Parses a Go duration string. Negative durations are refused.
pub fn parse(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?} (expected e.g. \"5s\", \"200ms\", \"1m30s\")");
    let t = s.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.starts_with('-') {
        return Err(format!("duration {s:?} must not be negative"));
    }
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return Err(bad());
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = next;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Formats like Go's `time.Duration.String` for whole units (`5s`, `1m30s`, `200ms`).
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return if d.is_zero() {
            "0s".into()
        } else {
            format!("{}µs", d.as_micros())
        };
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Text(String),
    Int(i64),
    /// A reference that resolved to nothing (`timeout: ${env:UNSET}`): Go's zero duration, as
    /// the Collector gives it. A literal null reads the same.
    Empty(()),
}

/// `#[serde(deserialize_with = "duration::de")]` for a `Duration` field.
pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match Raw::deserialize(d)? {
        Raw::Text(s) => parse(&s).map_err(de::Error::custom),
        Raw::Int(0) | Raw::Empty(()) => Ok(Duration::ZERO),
        Raw::Int(n) => Err(de::Error::custom(format!(
            "invalid duration {n} (write it with a unit, e.g. \"{n}s\" or \"{n}ms\")"
        ))),
    }
}

/// Deserializes an optional duration (`#[serde(default, deserialize_with = "de_opt")]`).
pub fn de_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_syntax() {
        let ok = [
            ("0", 0.0),
            ("5s", 5.0),
            ("200ms", 0.2),
            ("1m30s", 90.0),
            ("1.5h", 5400.0),
            ("300us", 0.0003),
            ("1h2m3s4ms", 3723.004),
            ("10ns", 1e-8),
        ];
        for (s, secs) in ok {
            let d = parse(s).unwrap();
            assert!((d.as_secs_f64() - secs).abs() < 1e-9, "{s}");
        }
        for bad in ["", "5", "s", "5x", "1..5s", "-1s", "5 s"] {
            assert!(parse(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn formats_round_trip() {
        for s in ["5s", "200ms", "1m30s", "2h", "0s"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
