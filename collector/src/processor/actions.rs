//! Attribute actions, as the Collector's `attributes` and `resource` processors run them
//! (`internal/coreinternal/attraction`): `insert`, `update`, `upsert`, `delete`, `hash`,
//! `extract`, `convert`, with values from the config, another attribute (`from_attribute`)
//! or the request's client (`from_context`). Actions run in order, each seeing the result
//! of the previous ones.
//!
//! They are applied to an [`AttributeEdits`] over the original list: values from the config
//! and from other attributes are borrowed, so an `upsert` of a constant on every span
//! allocates nothing per span.

use std::borrow::Cow;
use std::fmt::Write as _;

use meshtrace_ottl::{go_float_to_int, parse_go_float};
use regex::Regex;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::client::ClientInfo;
use crate::config::{ConfigError, Value};
use crate::otlp::rewrite::{AttributeEdits, KeyValue, Value as AttrValue};
use crate::otlp::views::AnyValueRef;

/// One entry of `actions:` (attributes processor) or `attributes:` (resource processor).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// The attribute to act on. Required, except for `delete` and `hash` with a `pattern`.
    #[serde(default)]
    pub key: String,
    /// The value to set (`insert`, `update`, `upsert`), typed as written in YAML: string,
    /// int, double, bool, list or map.
    #[serde(default)]
    pub value: Option<Value>,
    /// A regular expression (RE2): with named groups for `extract`; matched against
    /// attribute keys for `delete` and `hash`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Take the value from this attribute (of the same list), when it exists.
    #[serde(default)]
    pub from_attribute: Option<String>,
    /// Take the value from the request's client: `client.address`, `metadata.<key>` (or a
    /// bare `<key>`) from a receiver with `include_metadata: true`; `auth.<attribute>` finds
    /// nothing (no authenticator sets attributes yet).
    #[serde(default)]
    pub from_context: Option<String>,
    /// For `convert`: `int`, `double` or `string`.
    #[serde(default)]
    pub converted_type: Option<String>,
    /// `insert`, `update`, `upsert`, `delete`, `hash`, `extract` or `convert` (any case).
    pub action: String,
}

/// Where a set action's value comes from.
#[derive(Debug, Clone)]
enum Source {
    Value(AttrValue<'static>),
    Attribute(String),
    /// Index into the per-request context values.
    Context(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Int,
    Double,
    String,
}

#[derive(Debug, Clone)]
enum Op {
    Insert(String, Source),
    Update(String, Source),
    Upsert(String, Source),
    Delete(String, Option<Regex>),
    Hash(String, Option<Regex>),
    Extract(String, Regex, Vec<String>),
    Convert(String, Target),
}

/// A compiled action list.
#[derive(Debug, Clone, Default)]
pub struct Actions {
    ops: Vec<Op>,
    /// The `from_context` keys, resolved once per request.
    context_keys: Vec<String>,
}

/// The `from_context` values of one request, in [`Actions`] order.
#[derive(Debug, Default)]
pub struct ContextValues(Vec<Option<String>>);

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// A config value as an attribute value (`None` for null).
pub(crate) fn attr_value(v: &Value) -> Option<AttrValue<'static>> {
    Some(match v.resolved() {
        Value::Null => return None,
        Value::Bool(b) => AttrValue::Bool(*b),
        Value::Int(i) => AttrValue::Int(*i),
        Value::UInt(u) => i64::try_from(*u).map_or(AttrValue::Double(*u as f64), AttrValue::Int),
        Value::Float(f) => AttrValue::Double(*f),
        Value::String(s) => AttrValue::Str(Cow::Owned(s.clone())),
        Value::Seq(items) => AttrValue::Array(
            items
                .iter()
                .map(|i| attr_value(i).unwrap_or(AttrValue::Empty))
                .collect(),
        ),
        Value::Map(entries) => AttrValue::KvList(
            entries
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), attr_value(v).unwrap_or(AttrValue::Empty)))
                .collect(),
        ),
        Value::Expanded { .. } => return None,
    })
}

/// A configured value, borrowed for one use (scalars and strings without copying).
fn reborrow<'b>(v: &'b AttrValue<'static>) -> AttrValue<'b> {
    match v {
        AttrValue::Str(s) => AttrValue::Str(Cow::Borrowed(s.as_ref())),
        AttrValue::Bytes(b) => AttrValue::Bytes(Cow::Borrowed(b.as_ref())),
        other => other.clone(),
    }
}

fn compile_regex(p: &str) -> Result<Regex, String> {
    meshtrace_ottl::compile_go_regex(p)
}

impl Actions {
    /// Compiles `list`; errors name `prefix.<index>.<field>`.
    pub fn compile(list: &[ActionConfig], prefix: &str) -> Result<Actions, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut out = Actions::default();
        for (i, a) in list.iter().enumerate() {
            let field = |f: &str| {
                if f.is_empty() {
                    format!("{prefix}.{i}")
                } else {
                    format!("{prefix}.{i}.{f}")
                }
            };
            match Self::compile_one(a, &mut out.context_keys) {
                Ok(op) => out.ops.push(op),
                Err((f, msg)) => errors.push(ConfigError::new(msg).field(field(f))),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    fn compile_one(
        a: &ActionConfig,
        context_keys: &mut Vec<String>,
    ) -> Result<Op, (&'static str, String)> {
        let action = a.action.to_ascii_lowercase();
        let value = a.value.as_ref().filter(|v| !v.is_null());
        let from_attribute = nonempty(&a.from_attribute);
        let from_context = nonempty(&a.from_context);
        let pattern = nonempty(&a.pattern);
        let converted = nonempty(&a.converted_type);
        let sources = usize::from(value.is_some())
            + usize::from(from_attribute.is_some())
            + usize::from(from_context.is_some());
        let key = a.key.clone();
        let no_converted = |act: &str| -> Result<(), (&'static str, String)> {
            match converted {
                Some(_) => Err((
                    "converted_type",
                    format!("action {act:?} does not use the \"converted_type\" field"),
                )),
                None => Ok(()),
            }
        };
        match action.as_str() {
            "insert" | "update" | "upsert" => {
                if key.is_empty() {
                    return Err(("key", "missing required field \"key\"".into()));
                }
                if sources == 0 {
                    return Err((
                        "",
                        "either field \"value\", \"from_attribute\" or \"from_context\" must be specified"
                            .into(),
                    ));
                }
                if sources > 1 {
                    return Err((
                        "",
                        "only one of \"value\", \"from_attribute\" and \"from_context\" may be set"
                            .into(),
                    ));
                }
                if pattern.is_some() {
                    return Err((
                        "pattern",
                        format!("action {action:?} does not use the \"pattern\" field"),
                    ));
                }
                no_converted(&action)?;
                let src = if let Some(v) = value {
                    Source::Value(attr_value(v).ok_or((
                        "value",
                        "unsupported value (use a string, number, boolean, list or map)".to_owned(),
                    ))?)
                } else if let Some(f) = from_attribute {
                    Source::Attribute(f.to_owned())
                } else {
                    context_keys.push(from_context.unwrap_or_default().to_owned());
                    Source::Context(context_keys.len() - 1)
                };
                Ok(match action.as_str() {
                    "insert" => Op::Insert(key, src),
                    "update" => Op::Update(key, src),
                    _ => Op::Upsert(key, src),
                })
            }
            "delete" | "hash" => {
                if key.is_empty() && pattern.is_none() {
                    return Err((
                        "",
                        "missing required field (at least one of \"key\" and \"pattern\" has to be used)".into(),
                    ));
                }
                if value.is_some() || from_attribute.is_some() {
                    return Err((
                        "",
                        format!("action {action:?} does not use \"value\" or \"from_attribute\""),
                    ));
                }
                no_converted(&action)?;
                let re = pattern
                    .map(|p| {
                        compile_regex(p)
                            .map_err(|e| ("pattern", format!("invalid pattern {p:?}: {e}")))
                    })
                    .transpose()?;
                Ok(if action == "delete" {
                    Op::Delete(key, re)
                } else {
                    Op::Hash(key, re)
                })
            }
            "extract" => {
                if key.is_empty() {
                    return Err(("key", "missing required field \"key\"".into()));
                }
                if sources > 0 {
                    return Err((
                        "",
                        "action \"extract\" does not use a value source field".into(),
                    ));
                }
                no_converted(&action)?;
                let p = pattern.ok_or((
                    "pattern",
                    "missing required field \"pattern\" for action \"extract\"".to_owned(),
                ))?;
                let re = compile_regex(p)
                    .map_err(|e| ("pattern", format!("invalid pattern {p:?}: {e}")))?;
                let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
                if names.is_empty() {
                    return Err((
                        "pattern",
                        "the pattern contains no named matcher groups".into(),
                    ));
                }
                if names.iter().any(Option::is_none) {
                    return Err((
                        "pattern",
                        "the pattern contains at least one unnamed matcher group".into(),
                    ));
                }
                let names = names.into_iter().flatten().map(str::to_owned).collect();
                Ok(Op::Extract(key, re, names))
            }
            "convert" => {
                if key.is_empty() {
                    return Err(("key", "missing required field \"key\"".into()));
                }
                if sources > 0 || pattern.is_some() {
                    return Err((
                        "",
                        "action \"convert\" does not use value sources or \"pattern\"".into(),
                    ));
                }
                let to = match converted {
                    Some("int") => Target::Int,
                    Some("double") => Target::Double,
                    Some("string") => Target::String,
                    Some(other) => {
                        return Err((
                            "converted_type",
                            format!("invalid value {other:?} (use int, double or string)"),
                        ));
                    }
                    None => {
                        return Err((
                            "converted_type",
                            "missing required field \"converted_type\" for action \"convert\""
                                .into(),
                        ));
                    }
                };
                Ok(Op::Convert(key, to))
            }
            _ => Err((
                "action",
                format!(
                    "unsupported action {:?} (use insert, update, upsert, delete, hash, extract or convert)",
                    a.action
                ),
            )),
        }
    }

    /// True when no action reads the client.
    pub fn uses_context(&self) -> bool {
        !self.context_keys.is_empty()
    }

    /// Resolves the `from_context` keys for one request.
    pub fn context_values(&self, client: Option<&ClientInfo>) -> ContextValues {
        ContextValues(
            self.context_keys
                .iter()
                .map(|k| client.and_then(|c| context_value(c, k)))
                .collect(),
        )
    }

    /// Applies every action, in order, to one attribute list.
    pub fn apply<'a>(&'a self, edits: &mut AttributeEdits<'a>, ctx: &'a ContextValues) {
        for op in &self.ops {
            match op {
                Op::Insert(k, src) => {
                    if let Some(v) = source(src, edits, ctx) {
                        edits.insert(k.as_str(), v);
                    }
                }
                Op::Update(k, src) => {
                    if let Some(v) = source(src, edits, ctx) {
                        edits.update(k.as_str(), v);
                    }
                }
                Op::Upsert(k, src) => {
                    if let Some(v) = source(src, edits, ctx) {
                        edits.upsert(k.as_str(), v);
                    }
                }
                Op::Delete(k, re) => {
                    if !k.is_empty() {
                        edits.delete(k.as_str());
                    }
                    for key in matching_keys(re.as_ref(), edits) {
                        edits.delete(key);
                    }
                }
                Op::Hash(k, re) => {
                    if !k.is_empty() {
                        hash(edits, Cow::Borrowed(k.as_str()));
                    }
                    for key in matching_keys(re.as_ref(), edits) {
                        hash(edits, key);
                    }
                }
                Op::Extract(k, re, names) => extract(edits, k, re, names),
                Op::Convert(k, to) => convert(edits, k.as_str(), *to),
            }
        }
    }
}

/// The Collector's `getAttributeValueFromContext`.
fn context_value(c: &ClientInfo, key: &str) -> Option<String> {
    if key == "client.address" {
        // As `clientutil.Address`: an unknown address is "", and the key is still set.
        return Some(c.address.map(|a| a.to_string()).unwrap_or_default());
    }
    if let Some(name) = key.strip_prefix("auth.") {
        return c.auth.get(name).map(str::to_owned);
    }
    let md = key.strip_prefix("metadata.").unwrap_or(key);
    let values: Vec<&str> = c.metadata_values(md).collect();
    (!values.is_empty()).then(|| values.join(";"))
}

fn source<'a>(
    src: &'a Source,
    edits: &AttributeEdits<'a>,
    ctx: &'a ContextValues,
) -> Option<AttrValue<'a>> {
    match src {
        Source::Value(v) => Some(reborrow(v)),
        Source::Attribute(k) => edits.get(k),
        Source::Context(i) => ctx
            .0
            .get(*i)
            .and_then(Option::as_deref)
            .map(|s| AttrValue::Str(Cow::Borrowed(s))),
    }
}

fn matching_keys<'a>(re: Option<&Regex>, edits: &AttributeEdits<'a>) -> Vec<Cow<'a, str>> {
    match re {
        Some(re) => edits.keys().filter(|k| re.is_match(k)).collect(),
        None => Vec::new(),
    }
}

/// The value of `key` read as an [`AnyValueRef`] (owned arrays and maps are re-encoded).
fn with_value<R>(v: &AttrValue<'_>, f: impl FnOnce(AnyValueRef<'_>) -> R) -> R {
    match v.as_any_ref() {
        Some(r) => f(r),
        None => {
            // An array or map set by an earlier action: read it through its encoding.
            let mut buf = Vec::new();
            v.encode_to(&mut buf);
            f(AnyValueRef::parse(&buf))
        }
    }
}

/// SHA-256 of the value's bytes (strings as UTF-8, ints and doubles as 8 little-endian
/// bytes, booleans as one byte), hex-encoded; other types hash to the empty string.
fn hash_value(v: AnyValueRef<'_>) -> String {
    let digest = match v {
        AnyValueRef::Str(s) if !s.is_empty() => Sha256::digest(s.as_bytes()),
        AnyValueRef::Bool(b) => Sha256::digest([u8::from(b)]),
        AnyValueRef::Int(i) => Sha256::digest((i as u64).to_le_bytes()),
        AnyValueRef::Double(d) => Sha256::digest(d.to_bits().to_le_bytes()),
        _ => return String::new(),
    };
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn hash<'a>(edits: &mut AttributeEdits<'a>, key: Cow<'a, str>) {
    let Some(v) = edits.get(&key) else { return };
    let h = with_value(&v, hash_value);
    edits.upsert(key, AttrValue::from(h));
}

fn extract<'a>(edits: &mut AttributeEdits<'a>, key: &str, re: &'a Regex, names: &'a [String]) {
    // Only string values are extracted from, as in the Collector.
    if let Some(AttrValue::Str(s)) = edits.get(key) {
        extract_from(edits, s, re, names);
    }
}

fn extract_from<'a>(
    edits: &mut AttributeEdits<'a>,
    s: Cow<'a, str>,
    re: &'a Regex,
    names: &'a [String],
) {
    match s {
        Cow::Borrowed(s) => {
            let Some(caps) = re.captures(s) else { return };
            for n in names {
                let v = caps.name(n).map_or("", |m| m.as_str());
                edits.upsert(n.as_str(), v);
            }
        }
        Cow::Owned(s) => {
            let Some(caps) = re.captures(&s) else { return };
            for n in names {
                let v = caps.name(n).map_or("", |m| m.as_str()).to_owned();
                edits.upsert(n.as_str(), v);
            }
        }
    }
}

/// pcommon's `Value.AsString()` for a double.
pub(crate) fn go_float_string(d: f64) -> String {
    if d.is_nan() {
        return "json: unsupported value: NaN".into();
    }
    if d.is_infinite() {
        return format!(
            "json: unsupported value: {}",
            if d > 0.0 { "+Inf" } else { "-Inf" }
        );
    }
    let abs = d.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{d:e}");
        match s.split_once('e') {
            Some((m, e)) if e.starts_with('-') => format!("{m}e{e}"),
            Some((m, e)) => format!("{m}e+{e}"),
            None => s,
        }
    } else {
        format!("{d}")
    }
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(
                    T.get(((n >> shift) & 63) as usize).copied().unwrap_or(b'='),
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// pcommon's `AsString()`: JSON for lists and maps (keys sorted), base64 for bytes.
pub(crate) fn as_string(v: AnyValueRef<'_>) -> String {
    match v {
        AnyValueRef::Str(s) => s.to_owned(),
        AnyValueRef::Bool(b) => b.to_string(),
        AnyValueRef::Int(i) => i.to_string(),
        AnyValueRef::Double(d) => go_float_string(d),
        AnyValueRef::Bytes(b) => base64(b),
        AnyValueRef::Empty => String::new(),
        AnyValueRef::Array(_) | AnyValueRef::KvList(_) => json(v),
    }
}

/// pcommon's `AsString()` of a map or list: Go's `encoding/json` of its raw value — sorted
/// keys, numbers as Go writes them (`1`, not `1.0`; `1e+21`) — and `""` when Go's encoder
/// fails, as it does on NaN and infinities.
fn json(v: AnyValueRef<'_>) -> String {
    let mut out = String::new();
    match write_json(&mut out, v) {
        Ok(()) => out,
        Err(NotJson) => String::new(),
    }
}

/// A value `encoding/json` refuses (NaN, infinities).
struct NotJson;

fn write_json(out: &mut String, v: AnyValueRef<'_>) -> Result<(), NotJson> {
    match v {
        AnyValueRef::Str(s) => out.push_str(&serde_json::Value::from(s).to_string()),
        AnyValueRef::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        AnyValueRef::Int(i) => out.push_str(&i.to_string()),
        AnyValueRef::Double(d) if d.is_finite() => out.push_str(&go_float_string(d)),
        AnyValueRef::Double(_) => return Err(NotJson),
        AnyValueRef::Bytes(b) => {
            out.push('"');
            out.push_str(&base64(b));
            out.push('"');
        }
        AnyValueRef::Empty => out.push_str("null"),
        AnyValueRef::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item)?;
            }
            out.push(']');
        }
        AnyValueRef::KvList(kv) => {
            // A Go map: one value a key (the first here, as pdata's AsRaw keeps), keys sorted.
            let mut entries = std::collections::BTreeMap::new();
            for e in kv.entries().iter() {
                entries.entry(e.key()).or_insert_with(|| e.value());
            }
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::from(k).to_string());
                out.push(':');
                write_json(out, v)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn convert<'a>(edits: &mut AttributeEdits<'a>, key: &'a str, to: Target) {
    let Some(v) = edits.get(key) else { return };
    let new: Option<AttrValue<'a>> = with_value(&v, |r| match (to, r) {
        (Target::String, AnyValueRef::Str(_)) => None,
        (Target::String, r) => Some(AttrValue::from(as_string(r))),
        (Target::Int, AnyValueRef::Double(d)) => Some(AttrValue::Int(go_float_to_int(d))),
        (Target::Int, AnyValueRef::Bool(b)) => Some(AttrValue::Int(i64::from(b))),
        (Target::Int, AnyValueRef::Str(s)) => s.parse::<i64>().ok().map(AttrValue::Int),
        (Target::Int, _) => None,
        (Target::Double, AnyValueRef::Int(i)) => Some(AttrValue::Double(i as f64)),
        (Target::Double, AnyValueRef::Bool(b)) => {
            Some(AttrValue::Double(if b { 1.0 } else { 0.0 }))
        }
        (Target::Double, AnyValueRef::Str(s)) => parse_go_float(s).map(AttrValue::Double),
        (Target::Double, _) => None,
    });
    if let Some(n) = new {
        edits.upsert(key, n);
    }
}

#[cfg(test)]
mod tests;
