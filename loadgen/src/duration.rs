//! Human durations on the command line: `250ms`, `20s`, `2m`, `1h`, or a bare number of seconds.

use std::time::Duration;

/// Why a duration argument was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid duration {input:?}: expected a number with a unit (ms, s, m, h), e.g. 20s or 250ms"
)]
pub struct DurationError {
    input: String,
}

/// Parses `20s`, `250ms`, `1.5s`, `2m`, `1h` or `20` (seconds).
pub fn parse(input: &str) -> Result<Duration, DurationError> {
    let err = || DurationError {
        input: input.to_owned(),
    };
    let s = input.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number.parse().map_err(|_| err())?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "us" | "µs" => value / 1_000_000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(err()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let cases = [
            ("20s", Duration::from_secs(20)),
            ("20", Duration::from_secs(20)),
            ("250ms", Duration::from_millis(250)),
            ("1.5s", Duration::from_millis(1500)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("100us", Duration::from_micros(100)),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn refuses_garbage() {
        for input in ["", "s", "10x", "-1s", "1..2s", "ten seconds"] {
            assert!(parse(input).is_err(), "{input}");
        }
    }
}
