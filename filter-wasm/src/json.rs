//! A small, strict JSON reader (RFC 8259) for the plugin configuration.
//!
//! The filter parses one small document per configuration load, so speed does not matter but
//! size does: `serde_json` with derived decoders and `serde_path_to_error` took about 150 KB
//! of the `.wasm`; this reader and the hand-written decoding in [`config`](crate::config)
//! take a few. Strict: UTF-8 input, no comments, no trailing commas, no duplicate keys, no
//! lone surrogates, nesting at most [`MAX_DEPTH`]; errors give the line and column.

use std::fmt;

/// Deepest nesting accepted (the configuration needs 4).
pub const MAX_DEPTH: usize = 32;

/// A JSON value. Objects keep their members in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object.
    Object(Vec<(String, Json)>),
}

/// A number: its value, and the integer it spells when written without fraction or exponent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number {
    /// The value as the nearest `f64`.
    pub float: f64,
    /// The value, when the literal is a non-negative integer that fits in a `u64`.
    pub integer: Option<u64>,
}

impl fmt::Display for Json {
    /// How a value is named in error messages (`string "10%"`, `number 1.5`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "boolean `{b}`"),
            Json::Number(n) => match n.integer {
                Some(i) => write!(f, "number {i}"),
                None => write!(f, "number {}", crate::config::number_text(n.float)),
            },
            Json::String(s) => write!(f, "string {}", crate::config::quoted(s)),
            Json::Array(_) => f.write_str("a list"),
            Json::Object(_) => f.write_str("an object"),
        }
    }
}

/// Why a document is not JSON, and where (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// What is wrong.
    pub problem: &'static str,
    /// Line.
    pub line: usize,
    /// Column, in bytes.
    pub column: usize,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.problem, self.line, self.column
        )
    }
}

/// Parses a whole document.
pub fn parse(input: &[u8]) -> Result<Json, JsonError> {
    let mut p = Parser { input, pos: 0 };
    if std::str::from_utf8(input).is_err() {
        let valid = std::str::from_utf8(input).map_or_else(|e| e.valid_up_to(), |s| s.len());
        p.pos = valid;
        return Err(p.error("invalid UTF-8"));
    }
    p.skip_ws();
    let value = p.value(0)?;
    p.skip_ws();
    if p.pos < input.len() {
        return Err(p.error("trailing characters"));
    }
    Ok(value)
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, problem: &'static str) -> JsonError {
        let before = self.input.get(..self.pos).unwrap_or(self.input);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = self.pos
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        JsonError {
            problem,
            line,
            column,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, literal: &[u8], value: Json) -> Result<Json, JsonError> {
        if self.input.get(self.pos..self.pos + literal.len()) == Some(literal) {
            self.pos += literal.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        match self.peek() {
            None => Err(self.error("EOF while parsing a value")),
            Some(b'n') => self.expect(b"null", Json::Null),
            Some(b't') => self.expect(b"true", Json::Bool(true)),
            Some(b'f') => self.expect(b"false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'[') => self.array(depth),
            Some(b'{') => self.object(depth),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a value")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.pos += 1;
        let mut members: Vec<(String, Json)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a key"));
            }
            let key_at = self.pos;
            let key = self.string()?;
            if members.iter().any(|(k, _)| *k == key) {
                self.pos = key_at;
                return Err(self.error("duplicate key"));
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error("expected `:`"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .input
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("EOF in a \\u escape"))?;
        let mut v = 0;
        for &d in digits {
            let digit = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid \\u escape"))?;
            v = v * 16 + digit;
        }
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error("EOF while parsing a string"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    // The input is UTF-8 and escapes produce UTF-8.
                    return String::from_utf8(out).map_err(|_| self.error("invalid UTF-8"));
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.error("EOF while parsing a string"));
                    };
                    self.pos += 1;
                    let simple = match e {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(0x08),
                        b'f' => Some(0x0c),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => return Err(self.error("invalid escape")),
                    };
                    if let Some(c) = simple {
                        out.push(c);
                        continue;
                    }
                    let mut code = self.hex4()?;
                    if (0xd800..0xdc00).contains(&code) {
                        if self.input.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(self.error("lone leading surrogate"));
                        }
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xdc00..0xe000).contains(&low) {
                            return Err(self.error("invalid surrogate pair"));
                        }
                        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                    } else if (0xdc00..0xe000).contains(&code) {
                        return Err(self.error("lone trailing surrogate"));
                    }
                    let c = char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))?;
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                0..=0x1f => return Err(self.error("control character in a string")),
                _ => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.pos += 1;
            }
            p.pos - from
        };
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        let n = digits(self);
        if n == 0 {
            return Err(self.error("invalid number"));
        }
        if n > 1 && self.input.get(int_start) == Some(&b'0') {
            self.pos = int_start;
            return Err(self.error("invalid number (leading zero)"));
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            integral = false;
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            integral = false;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        let text = self
            .input
            .get(start..self.pos)
            .and_then(|t| std::str::from_utf8(t).ok())
            .unwrap_or("0");
        let float = decimal_to_f64(text).ok_or_else(|| self.error("number out of range"))?;
        if !float.is_finite() {
            return Err(self.error("number out of range"));
        }
        let integer = (integral && !negative)
            .then(|| text.parse::<u64>().ok())
            .flatten();
        // An integer converts with correct rounding; the decimal path may be a ULP off.
        let float = integer.map_or(float, |i| i as f64);
        Ok(Json::Number(Number { float, integer }))
    }
}

/// The value of a JSON number literal (already validated). Exact for integers up to 2^53
/// and for decimals whose digits fit in 2^53 and have at most 22 fraction digits (every
/// configuration value); otherwise within a few units in the last place. (Not
/// `str::parse::<f64>`: its tables cost about 15 KB of `.wasm`.)
fn decimal_to_f64(text: &str) -> Option<f64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa_text, exponent_text) = match rest.find(['e', 'E']) {
        Some(i) => (rest.get(..i)?, rest.get(i + 1..)?),
        None => (rest, "0"),
    };
    let mut mantissa: u64 = 0;
    let mut exponent: i64 = 0;
    let mut after_point = false;
    for c in mantissa_text.bytes() {
        match c {
            b'.' => after_point = true,
            b'0'..=b'9' => {
                if mantissa < 1_000_000_000_000_000_000 {
                    mantissa = mantissa * 10 + u64::from(c - b'0');
                    if after_point {
                        exponent -= 1;
                    }
                } else if !after_point {
                    // Digits beyond u64 precision still scale an integer part.
                    exponent += 1;
                }
            }
            _ => return None,
        }
    }
    let e: i64 = exponent_text
        .trim_start_matches('+')
        .parse::<i64>()
        .ok()
        .map(|e| e.clamp(-10_000, 10_000))?;
    exponent += e;
    let mut value = mantissa as f64;
    if mantissa != 0 {
        if exponent < 0 {
            let mut k = -exponent;
            while k > 22 {
                value /= 1e22;
                k -= 22;
            }
            value /= pow10(k);
        } else {
            let mut k = exponent;
            while k > 22 {
                value *= 1e22;
                k -= 22;
            }
            value *= pow10(k);
        }
    }
    if !value.is_finite() {
        return None;
    }
    Some(if negative { -value } else { value })
}

/// 10^k for 0 <= k <= 22, exactly.
fn pow10(k: i64) -> f64 {
    let mut v = 1.0;
    for _ in 0..k {
        v *= 10.0;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for (text, want) in [
            ("0", 0.0),
            ("12.5", 12.5),
            ("0.1", 0.1),
            ("0.01", 0.01),
            ("100", 100.0),
            ("1e1", 10.0),
            ("1E-2", 0.01),
            ("-3.25", -3.25),
            ("99.999", 99.999),
            ("9007199254740993", 9007199254740992.0),
        ] {
            assert_eq!(decimal_to_f64(text), Some(want), "{text}");
        }
        assert_eq!(decimal_to_f64("1e400"), None);
        assert_eq!(decimal_to_f64("1e-400"), Some(0.0));
    }

    fn num(float: f64, integer: Option<u64>) -> Json {
        Json::Number(Number { float, integer })
    }

    #[test]
    fn values() {
        let cases: &[(&str, Json)] = &[
            ("null", Json::Null),
            (" true ", Json::Bool(true)),
            ("false", Json::Bool(false)),
            ("0", num(0.0, Some(0))),
            ("-0", num(-0.0, None)),
            ("12.5", num(12.5, None)),
            ("1e1", num(10.0, None)),
            ("1E+2", num(100.0, None)),
            ("18446744073709551616", num(18446744073709551616.0, None)),
            (
                "\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
                Json::String("a\"\\/\u{8}\u{c}\n\r\t".into()),
            ),
            (
                "\"\\u00e9\\ud83d\\ude00\"",
                Json::String("\u{e9}\u{1f600}".into()),
            ),
            ("\"caf\u{e9}\"", Json::String("caf\u{e9}".into())),
            ("[]", Json::Array(vec![])),
            (
                "[1, [true]]",
                Json::Array(vec![num(1.0, Some(1)), Json::Array(vec![Json::Bool(true)])]),
            ),
            (
                "{\"b\": 1, \"a\": {}}",
                Json::Object(vec![
                    ("b".into(), num(1.0, Some(1))),
                    ("a".into(), Json::Object(vec![])),
                ]),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text.as_bytes()).as_ref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn errors_with_positions() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "EOF while parsing a value at line 1 column 1"),
            (b"{", "expected a key at line 1 column 2"),
            (b"{\"a\" 1}", "expected `:` at line 1 column 6"),
            (b"{\"a\": 1,}", "expected a key at line 1 column 9"),
            (b"[1,]", "expected a value at line 1 column 4"),
            (b"{\"a\": 1}\n x", "trailing characters at line 2 column 2"),
            (b"{\"a\": 1, \"a\": 2}", "duplicate key at line 1 column 10"),
            (b"01", "invalid number (leading zero) at line 1 column 1"),
            (b"1.", "invalid number at line 1 column 3"),
            (b"-", "invalid number at line 1 column 2"),
            (b"1e999", "number out of range at line 1 column 6"),
            (b"\"\\x\"", "invalid escape at line 1 column 4"),
            (b"\"\\ud800\"", "lone leading surrogate at line 1 column 8"),
            (b"\"\\udc00\"", "lone trailing surrogate at line 1 column 8"),
            (
                b"\"a\nb\"",
                "control character in a string at line 1 column 3",
            ),
            (b"\"\xff\"", "invalid UTF-8 at line 1 column 2"),
            (b"nul", "expected a value at line 1 column 1"),
            (b"// c\n{}", "expected a value at line 1 column 1"),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(
                err.to_string(),
                *want,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn depth_is_limited() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
        let deep = "[".repeat(10_000);
        assert_eq!(
            parse(deep.as_bytes()).unwrap_err().problem,
            "nested too deeply"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = parse(&bytes);
            }

            #[test]
            fn strings_round_trip(s in "\\PC{0,40}") {
                // Rust's Debug escapes are a subset of JSON's for printable text.
                let encoded = format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
                prop_assert_eq!(parse(encoded.as_bytes()), Ok(Json::String(s)));
            }

            #[test]
            fn integers_round_trip(n in any::<u64>()) {
                let parsed = parse(n.to_string().as_bytes()).unwrap();
                prop_assert_eq!(parsed, Json::Number(Number { float: n as f64, integer: Some(n) }));
            }
        }
    }
}
