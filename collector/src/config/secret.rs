//! [`Secret`]: a config string that must never be shown — tokens, passwords, header values.
//! `Debug` and `Display` print `[REDACTED]`, so a secret cannot reach a log line, an error
//! message, `validate` output or a `{:?}` of a config by accident; code that needs the value
//! calls [`Secret::expose`].

use serde::{Deserialize, Deserializer};
use std::fmt;

/// A string that is redacted whenever it is formatted.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `s`.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The value itself, for the one place that sends or checks it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Compares two byte strings in time that depends only on their lengths, so a client cannot
/// learn a token byte by byte from response times.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formatted() {
        let s = Secret::new("hunter2");
        assert_eq!(
            format!("{s} {s:?} {:?}", Some(&s)),
            "[REDACTED] [REDACTED] Some([REDACTED])"
        );
        assert_eq!(s.expose(), "hunter2");
        let v: crate::config::Value = crate::config::value::from_yaml("token: abc").unwrap();
        #[derive(Debug, Deserialize)]
        struct C {
            #[allow(dead_code)]
            token: Secret,
        }
        let c: C = crate::registry::parse_typed(&v).unwrap();
        assert_eq!(format!("{c:?}"), "C { token: [REDACTED] }");
        assert_eq!(c.token.expose(), "abc");
    }

    #[test]
    fn constant_time() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
