//! JSON as OTTL's Go implementation writes it (`encoding/json`: sorted map keys, HTML-safe
//! escapes, `1e+21`-style exponents, base64 bytes) for `StringLikeGetter`, and `ParseJSON`.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::convert::{Base64Variant, base64_encode};
use super::time::rfc3339_nano;
use crate::context::AttributeMap;
use crate::error::EvalError;
use crate::eval::{Env, Eval, Val, hex};
use crate::program::Call;
use crate::value::{ListVal, MapVal, Value};

/// Appends `v` as JSON. Fails on NaN and infinities, which JSON cannot represent.
pub(crate) fn write<'a, M: AttributeMap<'a>>(
    out: &mut String,
    v: &Value<'a, M>,
) -> Result<(), String> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Double(d) => write_float(out, *d)?,
        Value::Str(s) => write_string(out, s),
        Value::Bytes(b) => {
            out.push('"');
            out.push_str(&base64_encode(b, Base64Variant::Std));
            out.push('"');
        }
        Value::TraceId(id) => write_string(out, &hex(id)),
        Value::SpanId(id) => write_string(out, &hex(id)),
        Value::Time(t) => write_string(out, &rfc3339_nano(*t)),
        Value::Duration(d) => {
            let _ = write!(out, "{d}");
        }
        Value::Map(m) => write_map(out, m)?,
        Value::List(l) => {
            out.push('[');
            let mut first = true;
            let mut result = Ok(());
            l.for_each(|item| {
                if !first {
                    out.push(',');
                }
                first = false;
                result = write(out, &item);
                result.is_ok()
            });
            result?;
            out.push(']');
        }
    }
    Ok(())
}

fn write_map<'a, M: AttributeMap<'a>>(out: &mut String, m: &MapVal<'a, M>) -> Result<(), String> {
    let mut entries: Vec<(String, Value<'a, M>)> = Vec::with_capacity(m.len());
    m.for_each(|k, v| {
        entries.push((k.to_owned(), v));
        true
    });
    // Go's encoding/json sorts map keys; a stable sort keeps the first of duplicate keys first.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    out.push('{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, k);
        out.push(':');
        write(out, v)?;
    }
    out.push('}');
    Ok(())
}

/// Go's float encoding: shortest digits, exponent form below 1e-6 and from 1e21.
pub(crate) fn write_float(out: &mut String, d: f64) -> Result<(), String> {
    if !d.is_finite() {
        return Err(format!("json: unsupported value: {}", go_float_name(d)));
    }
    let abs = d.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{d:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) => {
                out.push_str(mantissa);
                out.push('e');
                if !exp.starts_with('-') {
                    out.push('+');
                }
                out.push_str(exp);
            }
            None => out.push_str(&s),
        }
    } else {
        let s = format!("{d}");
        out.push_str(if s == "-0" { "-0" } else { &s });
    }
    Ok(())
}

fn go_float_name(d: f64) -> &'static str {
    if d.is_nan() {
        "NaN"
    } else if d > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    }
}

/// A JSON string with Go's escapes, including the HTML-safe `\u003c`, `\u003e`, `\u0026`.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A readable rendering for `Debug` and test failures (never fails).
pub(crate) fn write_debug<'a, M: AttributeMap<'a>>(out: &mut String, v: &Value<'a, M>) {
    match v {
        Value::Double(d) if !d.is_finite() => out.push_str(go_float_name(*d)),
        Value::Time(t) => {
            let _ = write!(out, "time({})", rfc3339_nano(*t));
        }
        Value::Duration(d) => {
            let _ = write!(out, "duration({d}ns)");
        }
        v => {
            if write(out, v).is_err() {
                out.push_str("<unprintable>");
            }
        }
    }
}

/// `ParseJSON(target)`: a JSON object or array into a map or list. JSON numbers become
/// float64, as in Go.
pub(crate) fn parse_json<'a, E: Env<'a>>(
    ev: &Eval<'a, E>,
    call: &'a Call,
) -> Result<Val<'a, E>, EvalError> {
    let text = ev.arg_str(call, 0)?;
    let parsed: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| EvalError::invalid("ParseJSON", e.to_string()))?;
    match parsed {
        serde_json::Value::Object(_) | serde_json::Value::Array(_) => Ok(from_json(parsed)),
        other => Err(EvalError::invalid(
            "ParseJSON",
            format!(
                "could not convert parsed value of type {} to JSON object",
                json_type(&other)
            ),
        )),
    }
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "nil",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "float64",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "[]interface {}",
        serde_json::Value::Object(_) => "map[string]interface {}",
    }
}

fn from_json<'a, M: AttributeMap<'a>>(v: serde_json::Value) -> Value<'a, M> {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Value::Str(Cow::Owned(s)),
        serde_json::Value::Array(items) => {
            Value::List(ListVal::Owned(items.into_iter().map(from_json).collect()))
        }
        serde_json::Value::Object(map) => Value::Map(MapVal::Owned(
            map.into_iter()
                .map(|(k, v)| (Cow::Owned(k), from_json(v)))
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Const, NoAttributes};

    fn json(c: &Const) -> String {
        let v: Value<'_, NoAttributes> = Value::from_const(c);
        let mut out = String::new();
        write(&mut out, &v).unwrap();
        out
    }

    #[test]
    fn matches_go_encoding_json() {
        let map = Const::Map(vec![
            (
                "b".into(),
                Const::List(vec![Const::Int(1), Const::Double(0.5), Const::Nil]),
            ),
            ("a".into(), Const::Str("<x&y>\u{1}".into())),
            ("c".into(), Const::Bytes(vec![1, 2, 3])),
        ]);
        assert_eq!(
            json(&map),
            r#"{"a":"\u003cx\u0026y\u003e\u0001","b":[1,0.5,null],"c":"AQID"}"#
        );
        for (d, want) in [
            (1.0, "1"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (-2.5e-9, "-2.5e-9"),
        ] {
            assert_eq!(json(&Const::Double(d)), want);
        }
    }
}
