//! The typed getters of `pkg/ottl/expression.go`: what a converter receives when it asks for a
//! string, a "string-like" value, an int, a float-like value, and so on.

use std::borrow::Cow;

use super::json;
use crate::context::AttributeMap;
use crate::error::EvalError;
use crate::eval::hex;
use crate::value::Value;

/// `StringGetter`: the value must be a string.
pub(crate) fn string<'a, M: AttributeMap<'a>>(
    v: Value<'a, M>,
    f: &'static str,
) -> Result<Cow<'a, str>, EvalError> {
    match v {
        Value::Str(s) => Ok(s),
        v => Err(EvalError::ty(
            f,
            format!("expected string but got {}", v.type_name()),
        )),
    }
}

/// `StringLikeGetter`: strings as they are, bytes as hex, everything else as its JSON text;
/// `nil` stays `nil`.
pub(crate) fn string_like<'a, M: AttributeMap<'a>>(
    v: Value<'a, M>,
    f: &'static str,
) -> Result<Option<Cow<'a, str>>, EvalError> {
    Ok(Some(match v {
        Value::Nil => return Ok(None),
        Value::Str(s) => s,
        Value::Bytes(b) => Cow::Owned(hex(&b)),
        other => {
            let mut out = String::new();
            json::write(&mut out, &other).map_err(|m| EvalError::ty(f, m))?;
            Cow::Owned(out)
        }
    }))
}

/// `IntGetter`: the value must be an int.
pub(crate) fn int<'a, M: AttributeMap<'a>>(
    v: Value<'a, M>,
    f: &'static str,
) -> Result<i64, EvalError> {
    match v {
        Value::Int(i) => Ok(i),
        v => Err(EvalError::ty(
            f,
            format!("expected int64 but got {}", v.type_name()),
        )),
    }
}

/// `IntLikeGetter`: floats truncate, booleans are 0/1, strings parse in base 10 (a string that
/// does not parse gives `nil`, as in Go).
pub(crate) fn int_like<'a, M: AttributeMap<'a>>(
    v: Value<'a, M>,
    f: &'static str,
) -> Result<Option<i64>, EvalError> {
    Ok(match v {
        Value::Nil => None,
        Value::Int(i) => Some(i),
        Value::Double(d) => Some(go_float_to_int(d)),
        Value::Bool(b) => Some(i64::from(b)),
        Value::Str(s) => s.parse::<i64>().ok(),
        v => {
            return Err(EvalError::ty(
                f,
                format!("unsupported type: {}", v.type_name()),
            ));
        }
    })
}

/// `FloatLikeGetter`: ints widen, booleans are 0/1, strings must parse.
pub(crate) fn float_like<'a, M: AttributeMap<'a>>(
    v: Value<'a, M>,
    f: &'static str,
) -> Result<Option<f64>, EvalError> {
    Ok(match v {
        Value::Nil => None,
        Value::Double(d) => Some(d),
        Value::Int(i) => Some(i as f64),
        Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
        Value::Str(s) => Some(parse_go_float(&s).ok_or_else(|| {
            EvalError::invalid(
                f,
                format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"),
            )
        })?),
        v => {
            return Err(EvalError::ty(
                f,
                format!("unsupported type: {}", v.type_name()),
            ));
        }
    })
}

/// `BoolLikeGetter`: numbers are true when non-zero, strings parse like `strconv.ParseBool`.
pub(crate) fn bool_like<'a, M: AttributeMap<'a>>(
    v: Value<'a, M>,
    f: &'static str,
) -> Result<Option<bool>, EvalError> {
    Ok(match v {
        Value::Nil => None,
        Value::Bool(b) => Some(b),
        Value::Int(i) => Some(i != 0),
        Value::Double(d) => Some(d != 0.0),
        Value::Str(s) => Some(parse_go_bool(&s).ok_or_else(|| {
            EvalError::invalid(
                f,
                format!("strconv.ParseBool: parsing {s:?}: invalid syntax"),
            )
        })?),
        v => {
            return Err(EvalError::ty(
                f,
                format!("unsupported type: {}", v.type_name()),
            ));
        }
    })
}

/// `ByteSliceLikeGetter`: bytes as they are, strings as UTF-8, numbers and booleans as their
/// big-endian binary encoding.
pub(crate) fn bytes_like<'a, M: AttributeMap<'a>>(
    v: Value<'a, M>,
    f: &'static str,
) -> Result<Option<Cow<'a, [u8]>>, EvalError> {
    Ok(Some(match v {
        Value::Nil => return Ok(None),
        Value::Bytes(b) => b,
        Value::Str(Cow::Borrowed(s)) => Cow::Borrowed(s.as_bytes()),
        Value::Str(Cow::Owned(s)) => Cow::Owned(s.into_bytes()),
        Value::Int(i) => Cow::Owned(i.to_be_bytes().to_vec()),
        Value::Double(d) => Cow::Owned(d.to_bits().to_be_bytes().to_vec()),
        Value::Bool(b) => Cow::Owned(vec![u8::from(b)]),
        v => {
            return Err(EvalError::ty(
                f,
                format!("unsupported type: {}", v.type_name()),
            ));
        }
    }))
}

/// Go's `int64(f)`: truncation toward zero; out-of-range and NaN give the minimum int64 on amd64.
pub fn go_float_to_int(d: f64) -> i64 {
    // 2^63 is exactly representable; every float in [-2^63, 2^63) converts.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if d.is_nan() || !(-LIMIT..LIMIT).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// `strconv.ParseFloat(s, 64)` for the forms telemetry contains: decimal, exponent, `inf`, `nan`.
/// A number too large for a double is an error in Go (`ErrRange`), not an infinity.
pub fn parse_go_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return s.parse().ok();
    }
    // Rust accepts forms Go rejects ("1e", "e1" are rejected by both; "1_0" only by Go syntax).
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|d| d.is_finite())
}

/// `strconv.ParseBool`.
pub(crate) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::NoAttributes;

    type V = Value<'static, NoAttributes>;

    #[test]
    fn string_like_conversions() {
        let conv = |v: V| string_like(v, "t").unwrap().map(|s| s.into_owned());
        assert_eq!(conv(Value::Nil), None);
        assert_eq!(conv(Value::Int(-3)).as_deref(), Some("-3"));
        assert_eq!(conv(Value::Double(1.5)).as_deref(), Some("1.5"));
        assert_eq!(conv(Value::Double(1e21)).as_deref(), Some("1e+21"));
        assert_eq!(conv(Value::Bool(true)).as_deref(), Some("true"));
        assert_eq!(
            conv(Value::Bytes(Cow::Borrowed(&[0xab, 0x01]))).as_deref(),
            Some("ab01")
        );
        assert!(string_like(V::Double(f64::NAN), "t").is_err());
    }

    #[test]
    fn like_getters() {
        assert_eq!(
            int_like(V::Str(Cow::Borrowed("12")), "t").unwrap(),
            Some(12)
        );
        assert_eq!(int_like(V::Str(Cow::Borrowed("1.5")), "t").unwrap(), None);
        assert_eq!(int_like(V::Double(-2.9), "t").unwrap(), Some(-2));
        assert_eq!(
            float_like(V::Str(Cow::Borrowed("2.5e1")), "t").unwrap(),
            Some(25.0)
        );
        assert!(float_like(V::Str(Cow::Borrowed("abc")), "t").is_err());
        // Too large for a double: an error in Go (ErrRange), so `Double("1e400") > 100` is
        // an evaluation error, not true.
        assert!(float_like(V::Str(Cow::Borrowed("1e400")), "t").is_err());
        assert_eq!(
            float_like(V::Str(Cow::Borrowed("-Inf")), "t").unwrap(),
            Some(f64::NEG_INFINITY)
        );
        assert_eq!(
            bool_like(V::Str(Cow::Borrowed("T")), "t").unwrap(),
            Some(true)
        );
        assert!(bool_like(V::Str(Cow::Borrowed("yes")), "t").is_err());
        assert_eq!(
            bytes_like(V::Int(1), "t").unwrap().unwrap().as_ref(),
            &[0, 0, 0, 0, 0, 0, 0, 1]
        );
        assert_eq!(
            bytes_like(V::Bool(true), "t").unwrap().unwrap().as_ref(),
            &[1]
        );
    }
}
