//! String converters: `IsMatch`, `Concat`, `ConvertCase` and the `To…Case` family,
//! `HasPrefix`/`HasSuffix`, `Substring`, `Split`, `Trim`/`TrimPrefix`/`TrimSuffix`,
//! `ExtractPatterns`.

use std::borrow::Cow;

use regex::Regex;

use super::{Data, Func};
use crate::error::EvalError;
use crate::eval::{Env, Eval, Val};
use crate::program::Call;
use crate::value::{ListVal, MapVal, Value};

pub(crate) fn call<'a, E: Env<'a>>(
    ev: &Eval<'a, E>,
    call: &'a Call,
) -> Result<Val<'a, E>, EvalError> {
    let name = call.def.name;
    let owned = |s: String| Ok(Value::Str(Cow::Owned(s)));
    match call.def.func {
        Func::IsMatch => is_match(ev, call),
        Func::Concat => {
            let delimiter = ev.arg_str(call, 1)?;
            let mut out = String::new();
            let mut first = true;
            ev.for_each_item(call, 0, |v| {
                if !first {
                    out.push_str(&delimiter);
                }
                first = false;
                match super::getters::string_like(v, name)? {
                    Some(s) => out.push_str(&s),
                    None => out.push_str("<nil>"),
                }
                Ok(true)
            })?;
            owned(out)
        }
        Func::ConvertCase => {
            let s = ev.arg_str(call, 0)?;
            let case = match call.data {
                Data::Case(c) => c,
                _ => Case::Lower,
            };
            owned(case.apply(&s))
        }
        Func::ToLowerCase => owned(Case::Lower.apply(&ev.arg_str(call, 0)?)),
        Func::ToUpperCase => owned(Case::Upper.apply(&ev.arg_str(call, 0)?)),
        Func::ToSnakeCase => owned(Case::Snake.apply(&ev.arg_str(call, 0)?)),
        Func::ToCamelCase => owned(Case::Camel.apply(&ev.arg_str(call, 0)?)),
        Func::HasPrefix => Ok(Value::Bool(
            ev.arg_str(call, 0)?
                .starts_with(ev.arg_str(call, 1)?.as_ref()),
        )),
        Func::HasSuffix => Ok(Value::Bool(
            ev.arg_str(call, 0)?
                .ends_with(ev.arg_str(call, 1)?.as_ref()),
        )),
        Func::Substring => {
            let s = ev.arg_str(call, 0)?;
            let start = ev.arg_int(call, 1)?;
            let length = ev.arg_int(call, 2)?;
            let utf8_safe = ev.arg_lit_bool(call, 3, false)?;
            substring(s, start, length, utf8_safe).map(Value::Str)
        }
        Func::Split => {
            let s = ev.arg_str(call, 0)?;
            let sep = ev.arg_str(call, 1)?;
            let parts: Vec<Val<'a, E>> = split(&s, &sep)
                .map(|p| Value::Str(Cow::Owned(p.to_owned())))
                .collect();
            Ok(Value::List(ListVal::Owned(parts)))
        }
        Func::Trim => {
            let s = ev.arg_str(call, 0)?;
            let cutset = if ev.has_arg(call, 1) {
                ev.arg_str(call, 1)?
            } else {
                Cow::Borrowed(" ")
            };
            Ok(Value::Str(trim_cow(s, |t| {
                t.trim_matches(|c| cutset.contains(c))
            })))
        }
        Func::TrimPrefix => {
            let prefix = ev.arg_str(call, 1)?;
            let s = ev.arg_str(call, 0)?;
            Ok(Value::Str(trim_cow(s, |t| {
                t.strip_prefix(prefix.as_ref()).unwrap_or(t)
            })))
        }
        Func::TrimSuffix => {
            let suffix = ev.arg_str(call, 1)?;
            let s = ev.arg_str(call, 0)?;
            Ok(Value::Str(trim_cow(s, |t| {
                t.strip_suffix(suffix.as_ref()).unwrap_or(t)
            })))
        }
        _ => extract_patterns(ev, call),
    }
}

/// Narrows a string without copying when it is borrowed.
fn trim_cow<'a>(s: Cow<'a, str>, f: impl for<'x> Fn(&'x str) -> &'x str) -> Cow<'a, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(f(b)),
        Cow::Owned(o) => Cow::Owned(f(&o).to_owned()),
    }
}

fn is_match<'a, E: Env<'a>>(ev: &Eval<'a, E>, call: &'a Call) -> Result<Val<'a, E>, EvalError> {
    let compiled;
    let re: &Regex = match &call.data {
        Data::Regex(re) => re,
        _ => {
            let pattern = ev.arg_str(call, 1)?;
            compiled = crate::regex_go::compile(&pattern).map_err(|e| {
                EvalError::invalid(
                    "IsMatch",
                    format!("the pattern supplied to IsMatch is not a valid regexp pattern: {e}"),
                )
            })?;
            &compiled
        }
    };
    Ok(Value::Bool(match ev.arg_str_like(call, 0)? {
        Some(target) => re.is_match(&target),
        None => false,
    }))
}

fn extract_patterns<'a, E: Env<'a>>(
    ev: &Eval<'a, E>,
    call: &'a Call,
) -> Result<Val<'a, E>, EvalError> {
    let Data::Regex(re) = &call.data else {
        return Err(EvalError::invalid(
            "ExtractPatterns",
            "pattern was not compiled",
        ));
    };
    let target = ev.arg_str(call, 0)?;
    let mut out = Vec::new();
    if let Some(caps) = re.captures(&target) {
        for (i, name) in re.capture_names().enumerate().skip(1) {
            if let Some(name) = name.filter(|n| !n.is_empty()) {
                let text = caps.get(i).map_or("", |m| m.as_str());
                out.push((Cow::Borrowed(name), Value::Str(Cow::Owned(text.to_owned()))));
            }
        }
    }
    Ok(Value::Map(MapVal::Owned(out)))
}

/// Go's `strings.Split`: an empty separator splits into characters.
fn split<'s>(s: &'s str, sep: &'s str) -> Box<dyn Iterator<Item = &'s str> + 's> {
    if sep.is_empty() {
        Box::new(
            s.char_indices()
                .map(move |(i, c)| s.get(i..i + c.len_utf8()).unwrap_or_default()),
        )
    } else {
        Box::new(s.split(sep))
    }
}

/// `Substring` with byte offsets; `utf8_safe` moves a mid-character start forward and a
/// mid-character end backward to character boundaries.
fn substring(
    s: Cow<'_, str>,
    start: i64,
    length: i64,
    utf8_safe: bool,
) -> Result<Cow<'_, str>, EvalError> {
    if start < 0 {
        return Err(EvalError::invalid(
            "Substring",
            format!("invalid start for substring function, {start} cannot be negative"),
        ));
    }
    if length <= 0 {
        return Err(EvalError::invalid(
            "Substring",
            format!("invalid length for substring function, {length} cannot be negative or zero"),
        ));
    }
    let len = s.len() as i64;
    if start > len || length > len - start {
        return Err(EvalError::invalid(
            "Substring",
            format!(
                "invalid range for substring function, start({start})+length({length}) cannot be greater than the length of target string({len})"
            ),
        ));
    }
    let (mut from, mut to) = (start as usize, (start + length) as usize);
    if utf8_safe {
        while from < s.len() && !s.is_char_boundary(from) {
            from += 1;
        }
        while to > from && !s.is_char_boundary(to) {
            to -= 1;
        }
    } else if !s.is_char_boundary(from) || !s.is_char_boundary(to) {
        // Go would cut the bytes; OTTL strings are UTF-8 here, so say so instead.
        return Err(EvalError::invalid(
            "Substring",
            "range splits a multi-byte character; pass utf8_safe = true to cut at character boundaries",
        ));
    }
    Ok(match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.get(from..to).unwrap_or_default()),
        Cow::Owned(o) => Cow::Owned(o.get(from..to).unwrap_or_default().to_owned()),
    })
}

/// The cases `ConvertCase` (and the `To…Case` converters) produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    Lower,
    Upper,
    Snake,
    Camel,
}

impl Case {
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        match s {
            "lower" => Ok(Case::Lower),
            "upper" => Ok(Case::Upper),
            "snake" => Ok(Case::Snake),
            "camel" => Ok(Case::Camel),
            _ => Err(format!(
                "invalid case: {s}, allowed cases are: lower, upper, snake, camel"
            )),
        }
    }

    pub(crate) fn apply(self, s: &str) -> String {
        match self {
            Case::Lower => s.chars().flat_map(char::to_lowercase).collect(),
            Case::Upper => s.chars().flat_map(char::to_uppercase).collect(),
            Case::Snake => to_snake(s),
            Case::Camel => to_camel(s),
        }
    }
}

/// iancoleman/strcase `ToSnake`, which the Go converters use: word breaks at case changes and
/// digits, acronyms kept together, ` `, `_`, `-`, `.` become `_`.
fn to_snake(s: &str) -> String {
    let b = s.trim().as_bytes();
    let mut out = Vec::with_capacity(b.len() + 2);
    for (i, &orig) in b.iter().enumerate() {
        let v_cap = orig.is_ascii_uppercase();
        let v_low = orig.is_ascii_lowercase();
        let v = orig.to_ascii_lowercase();
        if let Some(&next) = b.get(i + 1) {
            let v_num = v.is_ascii_digit();
            let (n_cap, n_low, n_num) = (
                next.is_ascii_uppercase(),
                next.is_ascii_lowercase(),
                next.is_ascii_digit(),
            );
            if (v_cap && (n_low || n_num))
                || (v_low && (n_cap || n_num))
                || (v_num && (n_cap || n_low))
            {
                if v_cap && n_low && i > 0 && b.get(i - 1).is_some_and(u8::is_ascii_uppercase) {
                    out.push(b'_');
                }
                out.push(v);
                if v_low || v_num || n_num {
                    out.push(b'_');
                }
                continue;
            }
        }
        out.push(if matches!(v, b' ' | b'_' | b'-' | b'.') {
            b'_'
        } else {
            v
        });
    }
    String::from_utf8(out).unwrap_or_default()
}

/// iancoleman/strcase `ToCamel`: words joined with their first letter capitalised; characters
/// other than ASCII letters, digits and separators are dropped.
fn to_camel(s: &str) -> String {
    let b = s.trim().as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut cap_next = true;
    let mut prev_cap = false;
    for (i, &orig) in b.iter().enumerate() {
        let v_cap = orig.is_ascii_uppercase();
        let v_low = orig.is_ascii_lowercase();
        let mut v = orig;
        if cap_next {
            v = v.to_ascii_uppercase();
        } else if i == 0 || (prev_cap && v_cap) {
            v = v.to_ascii_lowercase();
        }
        prev_cap = v_cap;
        if v_cap || v_low {
            out.push(char::from(v));
            cap_next = false;
        } else if v.is_ascii_digit() {
            out.push(char::from(v));
            cap_next = true;
        } else {
            cap_next = matches!(v, b'_' | b' ' | b'-' | b'.');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strcase_compatible() {
        for (input, snake, camel) in [
            ("MyMetricName", "my_metric_name", "MyMetricName"),
            ("my_metric_name", "my_metric_name", "MyMetricName"),
            ("JSONData", "json_data", "Jsondata"),
            (
                "http.server.duration",
                "http_server_duration",
                "HttpServerDuration",
            ),
            ("version 1.2", "version_1_2", "Version12"),
            ("AnyKind of_string", "any_kind_of_string", "AnyKindOfString"),
        ] {
            assert_eq!(to_snake(input), snake, "snake {input}");
            assert_eq!(to_camel(input), camel, "camel {input}");
        }
    }

    #[test]
    fn substring_bounds() {
        let s = |x: &'static str| Cow::Borrowed(x);
        assert_eq!(substring(s("123456789"), 0, 3, false).unwrap(), "123");
        assert_eq!(substring(s("一二三"), 0, 4, true).unwrap(), "一");
        assert_eq!(substring(s("一二三"), 1, 5, true).unwrap(), "二");
        assert!(substring(s("abc"), 2, 2, false).is_err());
        assert!(substring(s("abc"), -1, 1, false).is_err());
        assert!(substring(s("abc"), 0, 0, false).is_err());
        assert!(substring(s("一二三"), 0, 4, false).is_err());
    }

    #[test]
    fn split_like_go() {
        assert_eq!(
            split("a,b,,c", ",").collect::<Vec<_>>(),
            ["a", "b", "", "c"]
        );
        assert_eq!(split("", ",").collect::<Vec<_>>(), [""]);
        assert_eq!(split("héj", "").collect::<Vec<_>>(), ["h", "é", "j"]);
    }
}
