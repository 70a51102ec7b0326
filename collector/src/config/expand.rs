//! `${...}` expansion in configuration values, as the OpenTelemetry Collector's confmap does it.
//!
//! - `${env:VAR}`, `${VAR}` (env is the default scheme), `${env:VAR:-default}`;
//! - `${file:PATH}` (the file's content; for secrets mounted from Kubernetes Secrets);
//! - references nest: `${env:A:-${env:B}}`, `${file:${env:BASE}/key}` (the inner one first);
//! - what a variable or a file holds is expanded in turn (a variable holding `${env:B}` gives
//!   B's value; `$$` in it is a `$`), up to [`MAX_DEPTH`] levels; a reference that comes back
//!   to itself is an error naming the chain;
//! - `$$` is a literal `$` (so `$${env:X}` stays `${env:X}`); a bare `$VAR` is left as it is; a
//!   reference holding an escaped `$$` is not a reference (`${env:A:-$${env:B}}` stays as
//!   written, as in the Collector, which refuses `$` inside a reference);
//! - a value that is exactly one reference takes the referenced text's YAML type
//!   (`port: ${env:PORT}` is an integer) while a string field still gets the text as written;
//!   a reference embedded in a longer string is substituted as text.
//!
//! Unset variables expand to the empty string with a warning, like the Collector. Keys are
//! not expanded.

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

/// How many levels of references-within-referenced-text are followed. The Collector stops after
/// 1000 expansion passes; real configs use one or two levels, and a deeper chain is far more
/// likely a mistake than a design.
pub const MAX_DEPTH: usize = 10;

/// Expands every string value in `v`. `path` names the position for errors and warnings.
pub fn expand(
    v: &mut Value,
    path: &mut Vec<String>,
    lookup: &dyn Lookup,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    expand_recording(v, path, lookup, warnings).map(|_| ())
}

/// [`expand`], returning what each `env:` or `file:` reference of six characters or more
/// resolved to, with the reference (`${env:NAME}`): messages show the reference instead
/// ([`Scrub`]), since an expanded value may be a credential whatever field it lands in.
pub fn expand_recording(
    v: &mut Value,
    path: &mut Vec<String>,
    lookup: &dyn Lookup,
    warnings: &mut Vec<String>,
) -> Result<Scrub, ConfigError> {
    let mut x = Expander {
        lookup,
        warnings,
        chain: Vec::new(),
        seen: Vec::new(),
    };
    x.tree(v, path)?;
    Ok(Scrub::new(x.seen))
}

/// Values that came from references, and the references that stand for them in messages.
#[derive(Debug, Clone, Default)]
pub struct Scrub(Vec<(String, String)>);

impl Scrub {
    /// Shorter values are left alone: ports, booleans and short words (`4317`, `false`,
    /// `grpc`) would turn unrelated parts of messages into references; credentials are longer.
    const MIN_LEN: usize = 6;

    fn new(mut seen: Vec<(String, String)>) -> Self {
        seen.retain(|(value, _)| value.chars().count() >= Self::MIN_LEN);
        // Longest first: a value that contains another is replaced whole.
        seen.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        seen.dedup_by(|a, b| a.0 == b.0);
        Self(seen)
    }

    /// `text` with every recorded value replaced by its reference.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (value, reference) in &self.0 {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), reference);
            }
            // Messages quote values with `{:?}`, which escapes some characters.
            let quoted = format!("{value:?}");
            let quoted = quoted.trim_matches('"');
            if quoted != value && out.contains(quoted) {
                out = out.replace(quoted, reference);
            }
        }
        out
    }
}

fn error_at(path: &[String], reason: String) -> ConfigError {
    ConfigError::new(reason).field(path.join("."))
}

/// A piece of a string, as far as expansion is concerned.
enum Piece<'a> {
    Text(&'a str),
    /// `$$`.
    Dollar,
    /// `${BODY}`; the body may hold nested references.
    Ref(&'a str),
    /// `${BODY}` where the body holds an escaped `$$`: text, not a reference.
    NotRef(&'a str),
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
            let (end, escaped) =
                closing_brace(after).ok_or_else(|| format!("unterminated reference in {s:?}"))?;
            let (body, tail) = after.split_at(end);
            out.push(if escaped {
                Piece::NotRef(body)
            } else {
                Piece::Ref(body)
            });
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

/// The index of the `}` closing a reference whose body starts `s` (nested `${` counted), and
/// whether the body holds an escaped `$$`.
fn closing_brace(s: &str) -> Option<(usize, bool)> {
    let bytes = s.as_bytes();
    let (mut i, mut depth, mut escaped) = (0, 0usize, false);
    while let Some(&b) = bytes.get(i) {
        match (b, bytes.get(i + 1)) {
            (b'$', Some(b'$')) => {
                escaped = true;
                i += 2;
            }
            (b'$', Some(b'{')) => {
                depth += 1;
                i += 2;
            }
            (b'}', _) if depth == 0 => return Some((i, escaped)),
            (b'}', _) => {
                depth -= 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What a reference resolved to.
struct Resolved {
    text: String,
    /// `env:NAME` or `file:PATH` when the text came from outside the config and is expanded in
    /// turn; `None` for a `:-default`, which is config text already expanded.
    source: Option<String>,
}

/// The YAML reading of a whole-value reference's text: `Null` for an empty text (an unset or
/// empty variable) or a YAML null, which typed fields read as their zero value.
fn typed(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Null;
    }
    crate::config::value::from_yaml(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// One expansion run: where references resolve, the warnings so far, and the references whose
/// text is being expanded (outermost first), to refuse cycles.
struct Expander<'a> {
    lookup: &'a dyn Lookup,
    warnings: &'a mut Vec<String>,
    chain: Vec<String>,
    /// What `env:` and `file:` references resolved to, and the references.
    seen: Vec<(String, String)>,
}

impl Expander<'_> {
    fn tree(&mut self, v: &mut Value, path: &mut Vec<String>) -> Result<(), ConfigError> {
        match v {
            Value::String(s) => {
                if let Some(new) = self.string(s).map_err(|e| error_at(path, e))? {
                    *v = new;
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    path.push(i.to_string());
                    let r = self.tree(item, path);
                    path.pop();
                    r?;
                }
            }
            Value::Map(entries) => {
                for (k, item) in entries.iter_mut() {
                    path.push(k.clone());
                    let r = self.tree(item, path);
                    path.pop();
                    r?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The expanded value of the config string `s`, or `None` when it holds nothing to expand.
    fn string(&mut self, s: &str) -> Result<Option<Value>, String> {
        if !s.contains('$') {
            return Ok(None);
        }
        let parts = pieces(s)?;
        if let [Piece::Ref(body)] = parts.as_slice() {
            let r = self.resolve(body)?;
            return Ok(Some(match r.source {
                None => whole_value(typed(&r.text), r.text),
                Some(id) => self.nested(&id, |x| x.whole(r.text))?,
            }));
        }
        self.join(&parts).map(|t| Some(Value::String(t)))
    }

    /// `s` with every reference substituted as text and `$$` unescaped.
    fn text(&mut self, s: &str) -> Result<String, String> {
        if !s.contains('$') {
            return Ok(s.to_owned());
        }
        self.join(&pieces(s)?)
    }

    fn join(&mut self, parts: &[Piece<'_>]) -> Result<String, String> {
        let mut out = String::new();
        for p in parts {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Dollar => out.push('$'),
                Piece::NotRef(body) => {
                    out.push_str("${");
                    out.push_str(&self.text(body)?);
                    out.push('}');
                }
                Piece::Ref(body) => {
                    let r = self.resolve(body)?;
                    match r.source {
                        None => out.push_str(&r.text),
                        Some(id) => out.push_str(&self.nested(&id, |x| x.text(&r.text))?),
                    }
                }
            }
        }
        Ok(out)
    }

    /// The value of a whole-value reference whose text came from outside the config: its YAML
    /// type, with the references inside expanded in turn.
    fn whole(&mut self, text: String) -> Result<Value, String> {
        match typed(&text) {
            Value::String(_) => Ok(self.string(&text)?.unwrap_or(Value::String(text))),
            mut t @ (Value::Map(_) | Value::Seq(_)) => {
                self.tree(&mut t, &mut Vec::new()).map_err(|e| e.reason)?;
                let original = self.text(&text)?;
                Ok(whole_value(t, original))
            }
            t => Ok(whole_value(t, text)),
        }
    }

    /// Runs `f` on the text of the reference `id`, refusing cycles and chains deeper than
    /// [`MAX_DEPTH`].
    fn nested<T>(
        &mut self,
        id: &str,
        f: impl FnOnce(&mut Self) -> Result<T, String>,
    ) -> Result<T, String> {
        if self.chain.iter().any(|c| c == id) {
            let mut chain: Vec<String> = self.chain.iter().map(|c| format!("${{{c}}}")).collect();
            chain.push(format!("${{{id}}}"));
            return Err(format!(
                "${{{id}}} refers back to itself: {}",
                chain.join(" → ")
            ));
        }
        if self.chain.len() >= MAX_DEPTH {
            return Err(format!(
                "${{{id}}}: references nested more than {MAX_DEPTH} levels deep (from ${{{}}})",
                self.chain.first().map_or(id, String::as_str)
            ));
        }
        self.chain.push(id.to_owned());
        let r = f(self);
        self.chain.pop();
        r
    }

    /// Resolves a reference's body (nested references inside it first).
    fn resolve(&mut self, body: &str) -> Result<Resolved, String> {
        let body = self.text(body)?;
        let (scheme, rest) = match body.split_once(':') {
            Some((scheme, rest)) if scheme.chars().all(|c| c.is_ascii_alphanumeric()) => {
                (scheme, rest)
            }
            _ => ("env", body.as_str()),
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
                match (self.lookup.env(name), default) {
                    (Some(v), _) => {
                        self.seen.push((v.clone(), format!("${{env:{name}}}")));
                        Ok(Resolved {
                            text: v,
                            source: Some(format!("env:{name}")),
                        })
                    }
                    (None, Some(d)) => Ok(Resolved {
                        text: d.to_owned(),
                        source: None,
                    }),
                    (None, None) => {
                        self.warnings.push(format!(
                            "configuration references unset environment variable {name}; it expands to an empty string"
                        ));
                        Ok(Resolved {
                            text: String::new(),
                            source: None,
                        })
                    }
                }
            }
            "file" => {
                let mut text = self
                    .lookup
                    .file(rest)
                    .map_err(|e| format!("cannot read ${{{body}}}: {e}"))?;
                // A Secret mounted as a file usually ends with a newline that is not part of it.
                if text.ends_with('\n') {
                    text.pop();
                    if text.ends_with('\r') {
                        text.pop();
                    }
                }
                self.seen.push((text.clone(), format!("${{file:{rest}}}")));
                Ok(Resolved {
                    text,
                    source: Some(format!("file:{rest}")),
                })
            }
            other => Err(format!(
                "unsupported scheme {other:?} in ${{{body}}} (supported: env, file)"
            )),
        }
    }
}

/// A whole-value reference's result: a plain string stays one; anything else keeps its text for
/// string fields.
fn whole_value(typed: Value, original: String) -> Value {
    match typed {
        Value::String(_) => Value::String(original),
        t => Value::Expanded {
            typed: Box::new(t),
            original,
        },
    }
}

#[cfg(test)]
mod tests;
