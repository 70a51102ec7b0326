//! `Format(format, vals)`: Go's `fmt.Sprintf` for the verbs telemetry needs — `%v %s %q %d %x %X
//! %o %b %c %f %F %e %E %g %G %t %T %%` with flags `+ - # 0 space`, width and precision — and
//! Go's in-band error text (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA …)`).

use std::fmt::Write as _;

use crate::context::AttributeMap;
use crate::error::EvalError;
use crate::eval::{Env, Eval, Val};
use crate::program::Call;
use crate::value::Value;

pub(crate) fn call<'a, E: Env<'a>>(
    ev: &Eval<'a, E>,
    call: &'a Call,
) -> Result<Val<'a, E>, EvalError> {
    let format = ev.arg_str(call, 0)?;
    let mut args = Vec::new();
    ev.for_each_item(call, 1, |v| {
        args.push(v);
        Ok(true)
    })?;
    Ok(Value::Str(std::borrow::Cow::Owned(sprintf(&format, &args))))
}

#[derive(Default)]
struct Spec {
    plus: bool,
    minus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf` over OTTL values.
pub(crate) fn sprintf<'a, M: AttributeMap<'a>>(format: &str, args: &[Value<'a, M>]) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '+' => spec.plus = true,
                '-' => spec.minus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = read_number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(read_number(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        format_one(&mut out, &spec, verb, arg);
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args.iter().skip(next).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}=", go_type(a));
            out.push_str(&plain(a));
        }
        out.push(')');
    }
    out
}

fn read_number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        chars.next();
        // Go caps widths at 1e6; so do we, to keep output bounded.
        n = Some((n.unwrap_or(0) * 10 + d as usize).min(1_000_000));
    }
    n
}

/// Go's name of the value's dynamic type, as `%T` and error texts print it.
fn go_type<'a, M: AttributeMap<'a>>(v: &Value<'a, M>) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int64",
        Value::Double(_) => "float64",
        Value::Str(_) => "string",
        Value::Bytes(_) => "[]uint8",
        Value::Map(_) => "map[string]interface {}",
        Value::List(_) => "[]interface {}",
        Value::TraceId(_) => "pcommon.TraceID",
        Value::SpanId(_) => "pcommon.SpanID",
        Value::Time(_) => "time.Time",
        Value::Duration(_) => "time.Duration",
    }
}

/// `%v` without flags.
fn plain<'a, M: AttributeMap<'a>>(v: &Value<'a, M>) -> String {
    let mut s = String::new();
    write_v(&mut s, v);
    s
}

fn write_v<'a, M: AttributeMap<'a>>(out: &mut String, v: &Value<'a, M>) {
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Double(d) => out.push_str(&go_g(*d, None, false)),
        Value::Str(s) => out.push_str(s),
        Value::Bytes(b) => {
            out.push('[');
            for (i, x) in b.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{x}");
            }
            out.push(']');
        }
        Value::Map(m) => {
            let mut entries = Vec::new();
            m.for_each(|k, v| {
                entries.push((k.to_owned(), plain(&v)));
                true
            });
            entries.sort();
            out.push_str("map[");
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{k}:{v}");
            }
            out.push(']');
        }
        Value::List(l) => {
            out.push('[');
            let mut first = true;
            l.for_each(|v| {
                if !first {
                    out.push(' ');
                }
                first = false;
                write_v(out, &v);
                true
            });
            out.push(']');
        }
        Value::TraceId(id) => out.push_str(&crate::eval::hex(id)),
        Value::SpanId(id) => out.push_str(&crate::eval::hex(id)),
        Value::Time(t) => out.push_str(&super::time::rfc3339_nano(*t)),
        Value::Duration(d) => {
            let _ = write!(out, "{d}ns");
        }
    }
}

fn format_one<'a, M: AttributeMap<'a>>(
    out: &mut String,
    spec: &Spec,
    verb: char,
    v: &Value<'a, M>,
) {
    let body: Option<(String, bool)> = match (verb, v) {
        ('T', v) => Some((go_type(v).to_owned(), false)),
        ('v', Value::Int(i)) | ('d', Value::Int(i)) => Some(int_body(*i, 10, spec, false)),
        ('v', Value::Double(d)) => Some(float_body(*d, 'g', spec)),
        ('v', v) => Some((truncate(&plain(v), spec.prec), false)),
        ('s', Value::Str(s)) => Some((truncate(s, spec.prec), false)),
        ('s', Value::Bytes(b)) => Some((truncate(&String::from_utf8_lossy(b), spec.prec), false)),
        ('q', Value::Str(s)) => Some((go_quote(s), false)),
        ('t', Value::Bool(b)) => Some(((if *b { "true" } else { "false" }).to_owned(), false)),
        ('x' | 'X', Value::Int(i)) => Some(int_body(*i, 16, spec, verb == 'X')),
        ('o', Value::Int(i)) => Some(int_body(*i, 8, spec, false)),
        ('b', Value::Int(i)) => Some(int_body(*i, 2, spec, false)),
        ('c', Value::Int(i)) => Some((
            char::from_u32(u32::try_from(*i).unwrap_or(0xfffd))
                .unwrap_or('\u{fffd}')
                .to_string(),
            false,
        )),
        ('x' | 'X', Value::Str(s)) => Some((hex_of(s.as_bytes(), verb == 'X'), false)),
        ('x' | 'X', Value::Bytes(b)) => Some((hex_of(b, verb == 'X'), false)),
        ('f' | 'F' | 'e' | 'E' | 'g' | 'G', Value::Double(d)) => Some(float_body(*d, verb, spec)),
        _ => None,
    };
    match body {
        Some((text, numeric)) => pad(out, spec, &text, numeric),
        None => {
            let _ = write!(out, "%!{verb}(");
            match v {
                Value::Nil => out.push_str("<nil>"),
                v => {
                    let _ = write!(out, "{}=", go_type(v));
                    write_v(out, v);
                }
            }
            out.push(')');
        }
    }
}

fn truncate(s: &str, prec: Option<usize>) -> String {
    match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_owned(),
    }
}

fn hex_of(b: &[u8], upper: bool) -> String {
    let h = crate::eval::hex(b);
    if upper { h.to_ascii_uppercase() } else { h }
}

/// Integer digits with sign, `#` prefix and precision (minimum digits); `true` = numeric.
fn int_body(i: i64, radix: u32, spec: &Spec, upper: bool) -> (String, bool) {
    let mag = i.unsigned_abs();
    let mut digits = match radix {
        16 if upper => format!("{mag:X}"),
        16 => format!("{mag:x}"),
        8 => format!("{mag:o}"),
        2 => format!("{mag:b}"),
        _ => mag.to_string(),
    };
    if let Some(p) = spec.prec {
        if p == 0 && mag == 0 {
            digits.clear();
        }
        while digits.len() < p {
            digits.insert(0, '0');
        }
    }
    let prefix = match (spec.sharp, radix) {
        (true, 16) if upper => "0X",
        (true, 16) => "0x",
        (true, 8) if !digits.starts_with('0') => "0",
        (true, 2) => "0b",
        _ => "",
    };
    let sign = if i < 0 {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    (format!("{sign}{prefix}{digits}"), true)
}

fn float_body(d: f64, verb: char, spec: &Spec) -> (String, bool) {
    if d.is_nan() {
        return ((if spec.plus { "+NaN" } else { "NaN" }).to_owned(), false);
    }
    if d.is_infinite() {
        return ((if d < 0.0 { "-Inf" } else { "+Inf" }).to_owned(), false);
    }
    let mut s = match verb {
        'f' | 'F' => format!("{:.*}", spec.prec.unwrap_or(6), d),
        'e' | 'E' => go_exp(format!("{:.*e}", spec.prec.unwrap_or(6), d)),
        _ => go_g(d, spec.prec, spec.sharp),
    };
    if verb.is_ascii_uppercase() {
        s = s.to_ascii_uppercase();
    }
    if !s.starts_with('-') {
        if spec.plus {
            s.insert(0, '+');
        } else if spec.space {
            s.insert(0, ' ');
        }
    }
    (s, true)
}

/// Rust's `1.5e3` / `1.5e-7` to Go's `1.5e+03` / `1.5e-07`.
fn go_exp(s: String) -> String {
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// `%g`: shortest representation (or `prec` significant digits), exponent form when the
/// exponent is below -4 or at least the precision (6 for the shortest form, as Go decides).
fn go_g(d: f64, prec: Option<usize>, sharp: bool) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let (digits_exp, significant) = match prec {
        None => (format!("{d:e}"), None),
        Some(p) => {
            let p = p.max(1);
            (format!("{:.*e}", p - 1, d), Some(p))
        }
    };
    let Some((mantissa, exp)) = digits_exp.split_once('e') else {
        return digits_exp;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let eprec = significant.map_or(6, |p| p as i32);
    let mut mantissa = mantissa.to_owned();
    if significant.is_some() && !sharp && mantissa.contains('.') {
        mantissa = mantissa
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned();
    }
    if exp < -4 || exp >= eprec {
        return go_exp(format!("{mantissa}e{exp}"));
    }
    // Fixed notation with the same significant digits.
    let neg = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let point = exp + 1;
    let body = if point <= 0 {
        format!("0.{}{}", "0".repeat(point.unsigned_abs() as usize), digits)
    } else if (point as usize) >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    };
    if neg { format!("-{body}") } else { body }
}

/// Go's `strconv.Quote`.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn pad(out: &mut String, spec: &Spec, text: &str, numeric: bool) {
    let len = text.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        out.push_str(text);
        return;
    }
    let fill = width - len;
    if spec.minus {
        out.push_str(text);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero && numeric {
        // Zeros go after the sign.
        let (sign, rest) = match text.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (Some(c), text.get(1..).unwrap_or_default()),
            _ => (None, text),
        };
        if let Some(c) = sign {
            out.push(c);
        }
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(rest);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::value::NoAttributes;

    type V = Value<'static, NoAttributes>;

    #[test]
    fn sprintf_matches_go() {
        let s = |x: &'static str| V::Str(Cow::Borrowed(x));
        let cases: Vec<(&str, Vec<V>, &str)> = vec![
            ("%02d", vec![V::Int(7)], "07"),
            (
                "%04d-%02d-%02d",
                vec![V::Int(2024), V::Int(3), V::Int(9)],
                "2024-03-09",
            ),
            ("%s/%s", vec![s("a"), s("b")], "a/b"),
            (
                "%v %v %v",
                vec![V::Int(1), V::Double(1.5), V::Bool(true)],
                "1 1.5 true",
            ),
            ("%v", vec![V::Double(1e6)], "1e+06"),
            ("%v", vec![V::Double(123456.0)], "123456"),
            ("%v", vec![V::Double(0.0001)], "0.0001"),
            ("%v", vec![V::Double(0.00001)], "1e-05"),
            ("%.2f", vec![V::Double(1.23456)], "1.23"),
            ("%8.3f|", vec![V::Double(-1.23456)], "  -1.235|"),
            ("%e", vec![V::Double(1234.5678)], "1.234568e+03"),
            ("%g", vec![V::Double(100000000.0)], "1e+08"),
            ("%.3g", vec![V::Double(1.23456)], "1.23"),
            ("%-5s|", vec![s("ab")], "ab   |"),
            ("%5s|", vec![s("ab")], "   ab|"),
            (
                "%x %X %#x",
                vec![V::Int(255), V::Int(255), V::Int(255)],
                "ff FF 0xff",
            ),
            ("%x", vec![s("hi")], "6869"),
            ("%q", vec![s("a\"b")], "\"a\\\"b\""),
            ("%+d", vec![V::Int(5)], "+5"),
            ("%d", vec![s("x")], "%!d(string=x)"),
            ("%s", vec![V::Int(5)], "%!s(int64=5)"),
            ("%s %s", vec![s("a")], "a %!s(MISSING)"),
            ("%s", vec![s("a"), V::Int(2)], "a%!(EXTRA int64=2)"),
            ("%v", vec![V::Nil], "<nil>"),
            ("%s", vec![V::Nil], "%!s(<nil>)"),
            ("100%%", vec![], "100%"),
            ("%T", vec![V::Double(1.0)], "float64"),
        ];
        for (f, args, want) in cases {
            assert_eq!(sprintf(f, &args), want, "{f}");
        }
    }
}
