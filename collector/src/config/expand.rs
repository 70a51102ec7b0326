//! `${...}` expansion in configuration values, as the OpenTelemetry Collector's confmap does it.
//!
//! - `${env:VAR}`, `${VAR}` (env is the default scheme), `${env:VAR:-default}`;
//! - `${file:PATH}` (the file's content; for secrets mounted from Kubernetes Secrets);
//! - `$$` is a literal `$` (so `$${env:X}` stays `${env:X}`); a bare `$VAR` is left as it is;
//! - a value that is exactly one reference takes the referenced text's YAML type
//!   (`port: ${env:PORT}` is an integer) while a string field still gets the text as written;
//!   a reference embedded in a longer string is substituted as text.
//!
//! Unset variables expand to the empty string with a warning, like the Collector. Keys are
//! not expanded. Resolved text is not expanded again (a secret containing `${` stays intact).

use super::error::ConfigError;
use super::value::Value;

/// Where references resolve; swapped out in tests.
pub trait Lookup {
    /// The environment variable `name`, if set.
    fn env(&self, name: &str) -> Option<String>;
    /// The content of the file at `path`.
    fn file(&self, path: &str) -> std::io::Result<String>;
}

/// The process environment and the file system.
#[derive(Debug, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn file(&self, path: &str) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Expands every string value in `v`. `path` names the position for errors and warnings.
pub fn expand(
    v: &mut Value,
    path: &mut Vec<String>,
    lookup: &dyn Lookup,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    match v {
        Value::String(s) => {
            if let Some(new) = expand_str(s, lookup, warnings).map_err(|e| error_at(path, e))? {
                *v = new;
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(i.to_string());
                let r = expand(item, path, lookup, warnings);
                path.pop();
                r?;
            }
        }
        Value::Map(entries) => {
            for (k, item) in entries.iter_mut() {
                path.push(k.clone());
                let r = expand(item, path, lookup, warnings);
                path.pop();
                r?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn error_at(path: &[String], reason: String) -> ConfigError {
    ConfigError::new(reason).field(path.join("."))
}

/// A reference found in a string: the byte range it covers and its body (inside `${}`).
enum Piece<'a> {
    Text(&'a str),
    Dollar,
    Ref(&'a str),
}

fn pieces(s: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        let (before, at) = rest.split_at(i);
        if !before.is_empty() {
            out.push(Piece::Text(before));
        }
        if let Some(after) = at.strip_prefix("$$") {
            out.push(Piece::Dollar);
            rest = after;
        } else if let Some(after) = at.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or_else(|| format!("unterminated reference in {s:?}"))?;
            let (body, tail) = after.split_at(end);
            out.push(Piece::Ref(body));
            rest = tail.get(1..).unwrap_or("");
        } else {
            out.push(Piece::Text("$"));
            rest = at.get(1..).unwrap_or("");
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn resolve(body: &str, lookup: &dyn Lookup, warnings: &mut Vec<String>) -> Result<String, String> {
    let (scheme, rest) = match body.split_once(':') {
        Some((scheme, rest)) if scheme.chars().all(|c| c.is_ascii_alphanumeric()) => (scheme, rest),
        _ => ("env", body),
    };
    match scheme {
        "env" => {
            let (name, default) = match rest.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (rest, None),
            };
            if !is_env_name(name) {
                return Err(format!(
                    "invalid environment variable name {name:?} in ${{{body}}}"
                ));
            }
            match (lookup.env(name), default) {
                (Some(v), _) => Ok(v),
                (None, Some(d)) => Ok(d.to_owned()),
                (None, None) => {
                    warnings.push(format!(
                        "configuration references unset environment variable {name}; it expands to an empty string"
                    ));
                    Ok(String::new())
                }
            }
        }
        "file" => {
            let mut text = lookup
                .file(rest)
                .map_err(|e| format!("cannot read ${{{body}}}: {e}"))?;
            // A Secret mounted as a file usually ends with a newline that is not part of it.
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            Ok(text)
        }
        other => Err(format!(
            "unsupported scheme {other:?} in ${{{body}}} (supported: env, file)"
        )),
    }
}

/// The YAML reading of a whole-value reference's text.
fn typed(text: &str) -> Value {
    if text.is_empty() {
        return Value::String(String::new());
    }
    match crate::config::value::from_yaml(text) {
        Ok(Value::Null) | Err(_) => Value::String(text.to_owned()),
        Ok(v) => v,
    }
}

/// The expanded value of `s`, or `None` when it holds nothing to expand.
fn expand_str(
    s: &str,
    lookup: &dyn Lookup,
    warnings: &mut Vec<String>,
) -> Result<Option<Value>, String> {
    if !s.contains('$') {
        return Ok(None);
    }
    let parts = pieces(s)?;
    if let [Piece::Ref(body)] = parts.as_slice() {
        let text = resolve(body, lookup, warnings)?;
        let typed = typed(&text);
        return Ok(Some(match typed {
            Value::String(_) => Value::String(text),
            t => Value::Expanded {
                typed: Box::new(t),
                original: text,
            },
        }));
    }
    let mut out = String::with_capacity(s.len());
    for p in parts {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Dollar => out.push('$'),
            Piece::Ref(body) => out.push_str(&resolve(body, lookup, warnings)?),
        }
    }
    Ok(Some(Value::String(out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake(HashMap<&'static str, &'static str>);

    impl Lookup for Fake {
        fn env(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| (*s).to_owned())
        }
        fn file(&self, path: &str) -> std::io::Result<String> {
            match path {
                "/secrets/key" => Ok("s3cr3t\n".into()),
                _ => Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file",
                )),
            }
        }
    }

    fn fake() -> Fake {
        Fake(HashMap::from([
            ("HOST", "10.0.0.1"),
            ("PORT", "4317"),
            ("KEY", "0123"),
            ("ON", "true"),
        ]))
    }

    fn run(input: &str) -> (Result<Value, String>, Vec<String>) {
        let mut v = Value::String(input.into());
        let mut w = Vec::new();
        let r = expand(&mut v, &mut vec![], &fake(), &mut w)
            .map(|()| v)
            .map_err(|e| e.reason);
        (r, w)
    }

    fn s(x: &str) -> Value {
        Value::String(x.into())
    }

    fn exp(t: Value, o: &str) -> Value {
        Value::Expanded {
            typed: Box::new(t),
            original: o.into(),
        }
    }

    #[test]
    fn table() {
        let cases: Vec<(&str, Result<Value, String>)> = vec![
            ("plain", Ok(s("plain"))),
            ("${env:HOST}:4317", Ok(s("10.0.0.1:4317"))),
            ("${HOST}:${PORT}", Ok(s("10.0.0.1:4317"))),
            ("${env:PORT}", Ok(exp(Value::Int(4317), "4317"))),
            ("${env:KEY}", Ok(s("0123"))),
            ("${ON}", Ok(exp(Value::Bool(true), "true"))),
            ("${env:HOST}", Ok(s("10.0.0.1"))),
            ("${env:MISSING:-localhost}:1", Ok(s("localhost:1"))),
            ("${env:HOST:-localhost}", Ok(s("10.0.0.1"))),
            ("$${env:HOST}", Ok(s("${env:HOST}"))),
            ("a$$b", Ok(s("a$b"))),
            ("$HOST", Ok(s("$HOST"))),
            ("price: 5$", Ok(s("price: 5$"))),
            ("Bearer ${file:/secrets/key}", Ok(s("Bearer s3cr3t"))),
            ("${file:/secrets/key}", Ok(s("s3cr3t"))),
            ("${env:MISSING}", Ok(s(""))),
            (
                "${env:1BAD}",
                Err("invalid environment variable name \"1BAD\" in ${env:1BAD}".into()),
            ),
            (
                "${http:x}",
                Err("unsupported scheme \"http\" in ${http:x} (supported: env, file)".into()),
            ),
            (
                "${env:HOST",
                Err("unterminated reference in \"${env:HOST\"".into()),
            ),
            (
                "${file:/nope}",
                Err("cannot read ${file:/nope}: no such file".into()),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(run(input).0, want, "input {input:?}");
        }
    }

    #[test]
    fn unset_variables_warn() {
        let (_, w) = run("${env:MISSING}");
        assert_eq!(
            w,
            vec![
                "configuration references unset environment variable MISSING; it expands to an empty string"
            ]
        );
    }

    #[test]
    fn errors_name_the_path() {
        let mut v: Value =
            crate::config::value::from_yaml("exporters:\n  otlp:\n    endpoint: ${bad:x}\n")
                .unwrap();
        let e = expand(&mut v, &mut vec![], &fake(), &mut vec![]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("exporters.otlp.endpoint"));
    }

    #[test]
    fn keys_are_not_expanded() {
        let mut v: Value = crate::config::value::from_yaml("${env:HOST}: ${env:HOST}\n").unwrap();
        expand(&mut v, &mut vec![], &fake(), &mut vec![]).unwrap();
        assert_eq!(v, Value::Map(vec![("${env:HOST}".into(), s("10.0.0.1"))]));
    }
}
