//! Type tests (`IsString`, `IsEmpty`, …) and conversions (`Int`, `Double`, `Bool`, `String`,
//! `Hex`, `ParseInt`, `Base64Encode`, `Decode`, `TraceID`, `SpanID`, `Log`), plus `IsRootSpan`.

use std::borrow::Cow;

use super::{Data, Func, getters};
use crate::context::SpanContext;
use crate::error::EvalError;
use crate::eval::{Env, Eval, Val, hex};
use crate::program::Call;
use crate::value::Value;

pub(crate) fn is_type<'a, E: Env<'a>>(
    ev: &Eval<'a, E>,
    call: &'a Call,
) -> Result<Val<'a, E>, EvalError> {
    let v = ev.arg(call, 0)?;
    Ok(Value::Bool(match call.def.func {
        Func::IsBool => matches!(v, Value::Bool(_)),
        Func::IsDouble => matches!(v, Value::Double(_)),
        Func::IsInt => matches!(v, Value::Int(_)),
        Func::IsString => matches!(v, Value::Str(_)),
        Func::IsMap => matches!(v, Value::Map(_)),
        Func::IsList => matches!(v, Value::List(_)),
        _ => is_empty(&v),
    }))
}

/// `IsEmpty`: nil, zero values, and empty strings, bytes, maps and lists.
fn is_empty<'a, M: crate::context::AttributeMap<'a>>(v: &Value<'a, M>) -> bool {
    match v {
        Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(i) => *i == 0,
        Value::Double(d) => *d == 0.0,
        Value::Str(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::Map(m) => m.len() == 0,
        Value::List(l) => l.len() == 0,
        Value::TraceId(id) => id.iter().all(|&b| b == 0),
        Value::SpanId(id) => id.iter().all(|&b| b == 0),
        // Go's zero time.Time is 0001-01-01T00:00:00Z.
        Value::Time(t) => *t == ZERO_TIME_NANOS,
        Value::Duration(d) => *d == 0,
    }
}

/// `time.Time{}` as nanoseconds since the Unix epoch.
const ZERO_TIME_NANOS: i128 = -62_135_596_800 * 1_000_000_000;

pub(crate) fn call<'a, E: Env<'a>>(
    ev: &Eval<'a, E>,
    call: &'a Call,
) -> Result<Val<'a, E>, EvalError> {
    let name = call.def.name;
    match call.def.func {
        // As the Go converters: nil stays nil, a string that is not a number gives nil for Int
        // (IntLikeGetter) but an error for Double and Bool (FloatLike/BoolLikeGetter), and an
        // unsupported type (map, list, bytes…) is an error.
        Func::Int => Ok(getters::int_like(ev.arg(call, 0)?, name)?.map_or(Value::Nil, Value::Int)),
        Func::Double => {
            Ok(getters::float_like(ev.arg(call, 0)?, name)?.map_or(Value::Nil, Value::Double))
        }
        Func::Bool => {
            Ok(getters::bool_like(ev.arg(call, 0)?, name)?.map_or(Value::Nil, Value::Bool))
        }
        Func::String => Ok(ev.arg_str_like(call, 0)?.map_or(Value::Nil, Value::Str)),
        Func::Hex => Ok(getters::bytes_like(ev.arg(call, 0)?, name)?
            .map_or(Value::Nil, |b| Value::Str(Cow::Owned(hex(&b))))),
        Func::ParseInt => {
            let text = ev.arg_str(call, 0)?;
            let base = ev.arg_int(call, 1)?;
            parse_int(&text, base).map(Value::Int)
        }
        Func::Base64Encode => {
            let text = ev.arg_str(call, 0)?;
            let variant = match call.data {
                Data::Base64(v) => v,
                _ => Base64Variant::Std,
            };
            Ok(Value::Str(Cow::Owned(base64_encode(
                text.as_bytes(),
                variant,
            ))))
        }
        Func::Decode => decode(ev, call),
        Func::TraceId => id_bytes::<16, _>(ev.arg(call, 0)?, name).map(Value::TraceId),
        Func::SpanId => id_bytes::<8, _>(ev.arg(call, 0)?, name).map(Value::SpanId),
        Func::IsRootSpan => Ok(Value::Bool(ev.env.ctx().parent_span_id() == [0; 8])),
        _ => log(ev, call),
    }
}

fn log<'a, E: Env<'a>>(ev: &Eval<'a, E>, call: &'a Call) -> Result<Val<'a, E>, EvalError> {
    let x = getters::float_like(ev.arg(call, 0)?, "Log")?
        .ok_or_else(|| EvalError::ty("Log", "expected a number but got nil"))?;
    if x <= 0.0 {
        return Err(EvalError::invalid(
            "Log",
            format!("value must be greater than zero, got {x}"),
        ));
    }
    Ok(Value::Double(x.ln()))
}

/// `TraceID`/`SpanID`: exactly N bytes, or a string of 2N hex digits.
fn id_bytes<'a, const N: usize, M: crate::context::AttributeMap<'a>>(
    v: Value<'a, M>,
    f: &'static str,
) -> Result<[u8; N], EvalError> {
    let bytes: Vec<u8> = match v {
        Value::Bytes(b) => b.into_owned(),
        Value::Str(s) => {
            if s.len() != 2 * N {
                return Err(EvalError::invalid(
                    f,
                    format!(
                        "id string must be {} hex characters, got {}",
                        2 * N,
                        s.len()
                    ),
                ));
            }
            decode_hex(&s).ok_or_else(|| {
                EvalError::invalid(f, format!("id string {s:?} is not hexadecimal"))
            })?
        }
        v => {
            return Err(EvalError::ty(
                f,
                format!("expected bytes or a hex string but got {}", v.type_name()),
            ));
        }
    };
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| EvalError::invalid(f, format!("ids must be {N} bytes, got {}", bytes.len())))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    s.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        })
        .collect()
}

/// Go's `strconv.ParseInt(s, base, 64)`, including base 0 (prefix-detected, `_` separators).
pub(crate) fn parse_int(s: &str, base: i64) -> Result<i64, EvalError> {
    let fail = |why: &str| {
        EvalError::invalid(
            "ParseInt",
            format!("strconv.ParseInt: parsing {s:?}: {why}"),
        )
    };
    if base < 0 || base == 1 || base > 36 {
        return Err(EvalError::invalid(
            "ParseInt",
            format!("strconv.ParseInt: parsing {s:?}: invalid base {base}"),
        ));
    }
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or_default()),
        Some(b'+') => (false, s.get(1..).unwrap_or_default()),
        _ => (false, s),
    };
    let (radix, digits, underscores) = if base == 0 {
        let lower = body.get(..2).map(str::to_ascii_lowercase);
        match lower.as_deref() {
            Some("0x") => (16, body.get(2..).unwrap_or_default(), true),
            Some("0b") => (2, body.get(2..).unwrap_or_default(), true),
            Some("0o") => (8, body.get(2..).unwrap_or_default(), true),
            _ if body.len() > 1 && body.starts_with('0') => {
                (8, body.get(1..).unwrap_or_default(), true)
            }
            _ => (10, body, true),
        }
    } else {
        (u32::try_from(base).unwrap_or(10), body, false)
    };
    let cleaned: Cow<'_, str> = if underscores && digits.contains('_') {
        if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
            return Err(fail("invalid syntax"));
        }
        Cow::Owned(digits.replace('_', ""))
    } else {
        Cow::Borrowed(digits)
    };
    if cleaned.is_empty() || cleaned.starts_with(['+', '-']) {
        return Err(fail("invalid syntax"));
    }
    let magnitude = u64::from_str_radix(&cleaned, radix).map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => fail("value out of range"),
        _ => fail("invalid syntax"),
    })?;
    if neg {
        0i64.checked_sub_unsigned(magnitude)
            .ok_or_else(|| fail("value out of range"))
    } else {
        i64::try_from(magnitude).map_err(|_| fail("value out of range"))
    }
}

/// The encodings `Base64Encode` and `Decode` accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base64Variant {
    Std,
    Raw,
    Url,
    RawUrl,
    /// `Decode` only: the bytes are already UTF-8 text.
    Utf8,
}

impl Base64Variant {
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        match s {
            "base64" => Ok(Self::Std),
            "base64-raw" => Ok(Self::Raw),
            "base64-url" => Ok(Self::Url),
            "base64-raw-url" => Ok(Self::RawUrl),
            _ => Err(format!(
                "unsupported base64 variant {s:?}: use \"base64\", \"base64-raw\", \"base64-url\" or \"base64-raw-url\""
            )),
        }
    }

    pub(crate) fn parse_encoding(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" | "us-ascii" | "ascii" => Ok(Self::Utf8),
            lower => Self::parse(lower).map_err(|_| {
                format!("unsupported encoding {s:?}: this collector decodes base64 variants, utf-8 and us-ascii")
            }),
        }
    }

    fn alphabet(self) -> &'static [u8; 64] {
        match self {
            Self::Url | Self::RawUrl => {
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            }
            _ => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        }
    }

    fn padded(self) -> bool {
        matches!(self, Self::Std | Self::Url)
    }
}

pub(crate) fn base64_encode(bytes: &[u8], variant: Base64Variant) -> String {
    let alphabet = variant.alphabet();
    let sym = |i: u32| char::from(alphabet.get((i & 63) as usize).copied().unwrap_or(b'='));
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b =
            [chunk.first(), chunk.get(1), chunk.get(2)].map(|b| u32::from(b.copied().unwrap_or(0)));
        let n = (b[0] << 16) | (b[1] << 8) | b[2];
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        if chunk.len() > 1 {
            out.push(sym(n >> 6));
        } else if variant.padded() {
            out.push('=');
        }
        if chunk.len() > 2 {
            out.push(sym(n));
        } else if variant.padded() {
            out.push('=');
        }
    }
    out
}

fn base64_decode(text: &[u8], variant: Base64Variant) -> Option<Vec<u8>> {
    let alphabet = variant.alphabet();
    let body = if variant.padded() {
        if !text.len().is_multiple_of(4) {
            return None;
        }
        text.strip_suffix(b"==")
            .or_else(|| text.strip_suffix(b"="))
            .unwrap_or(text)
    } else {
        text
    };
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let mut n: u32 = 0;
        for (i, &c) in chunk.iter().enumerate() {
            let v = alphabet.iter().position(|&a| a == c)? as u32;
            n |= v << (18 - 6 * i as u32);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(bytes.get(..chunk.len() - 1)?);
    }
    Some(out)
}

fn decode<'a, E: Env<'a>>(ev: &Eval<'a, E>, call: &'a Call) -> Result<Val<'a, E>, EvalError> {
    let input: Cow<'a, [u8]> = match ev.arg(call, 0)? {
        Value::Str(Cow::Borrowed(s)) => Cow::Borrowed(s.as_bytes()),
        Value::Str(Cow::Owned(s)) => Cow::Owned(s.into_bytes()),
        Value::Bytes(b) => b,
        v => {
            return Err(EvalError::ty(
                "Decode",
                format!(
                    "unsupported type provided to Decode function: {}",
                    v.type_name()
                ),
            ));
        }
    };
    let variant = match call.data {
        Data::Base64(v) => v,
        _ => Base64Variant::Utf8,
    };
    let bytes = if variant == Base64Variant::Utf8 {
        input.into_owned()
    } else {
        base64_decode(&input, variant)
            .ok_or_else(|| EvalError::invalid("Decode", "illegal base64 data"))?
    };
    String::from_utf8(bytes)
        .map(|s| Value::Str(Cow::Owned(s)))
        .map_err(|_| EvalError::invalid("Decode", "decoded bytes are not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_like_go() {
        assert_eq!(parse_int("0xFF", 0).unwrap(), 255);
        assert_eq!(parse_int("-0o123", 0).unwrap(), -83);
        assert_eq!(parse_int("0b1111_0000", 0).unwrap(), 240);
        assert_eq!(parse_int("010", 0).unwrap(), 8);
        assert_eq!(parse_int("AA", 16).unwrap(), 170);
        assert_eq!(parse_int("-20", 8).unwrap(), -16);
        assert!(parse_int("1_000", 10).is_err());
        assert!(parse_int("9223372036854775808", 10).is_err());
        assert_eq!(parse_int("-9223372036854775808", 10).unwrap(), i64::MIN);
        assert!(parse_int("12", 1).is_err());
        assert!(parse_int("", 10).is_err());
    }

    #[test]
    fn base64_round_trips() {
        for v in [
            Base64Variant::Std,
            Base64Variant::Raw,
            Base64Variant::Url,
            Base64Variant::RawUrl,
        ] {
            for input in [&b""[..], b"f", b"fo", b"foo", b"foob", b"\xff\xfe\xfd"] {
                let enc = base64_encode(input, v);
                assert_eq!(
                    base64_decode(enc.as_bytes(), v).as_deref(),
                    Some(input),
                    "{v:?} {enc}"
                );
            }
        }
        assert_eq!(
            base64_encode(b"hello world", Base64Variant::Std),
            "aGVsbG8gd29ybGQ="
        );
        assert_eq!(base64_encode(b"\xfb\xff", Base64Variant::RawUrl), "-_8");
        assert_eq!(base64_decode(b"aGVsbG8=", Base64Variant::Raw), None);
    }
}
