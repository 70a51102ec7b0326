//! `include` / `exclude` match properties, the Collector's legacy span matching
//! (`internal/filter/filterspan`): the filter processor's `spans:` section and the
//! attributes processor's `include`/`exclude` use it.
//!
//! Within one `include` or `exclude` block every configured property must match (services,
//! span names and span kinds: any listed item; attributes and resources: all listed keys;
//! libraries: all listed libraries). A span is *skipped* when it fails `include` or matches
//! `exclude`. `match_type: strict` compares whole strings (and typed attribute values);
//! `regexp` uses RE2 (Go semantics) and, as the Collector does, matches anywhere in the
//! string (anchor with `^…$` for a whole-string match).

use regex::Regex;
use serde::Deserialize;

use crate::config::{ConfigError, Value};
use crate::otlp::views::AnyValueRef;
use crate::processor::ottl_views::SpanCtx;

/// `match_type` and the properties to match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchProperties {
    /// `strict` or `regexp`.
    #[serde(default)]
    pub match_type: Option<String>,
    /// Regexp options (`cacheenabled`, `cachemaxnumentries`); accepted, no effect: compiled
    /// patterns are fast enough without a result cache.
    #[serde(default)]
    pub regexp: Option<Value>,
    /// The span's `service.name` (resource attribute) must match one of these.
    #[serde(default)]
    pub services: Vec<String>,
    /// The span name must match one of these.
    #[serde(default)]
    pub span_names: Vec<String>,
    /// The span kind (`SPAN_KIND_SERVER`, …) must match one of these.
    #[serde(default)]
    pub span_kinds: Vec<String>,
    /// Every listed span attribute must exist (and match its `value`, when given).
    #[serde(default)]
    pub attributes: Vec<AttributeMatch>,
    /// Every listed resource attribute must exist (and match its `value`, when given).
    #[serde(default)]
    pub resources: Vec<AttributeMatch>,
    /// Every listed instrumentation library must match the span's scope.
    #[serde(default)]
    pub libraries: Vec<LibraryMatch>,
    /// Logs only: refused for spans, as by the Collector.
    #[serde(default)]
    pub log_bodies: Vec<String>,
    /// Logs only: refused for spans.
    #[serde(default)]
    pub log_severity_texts: Vec<String>,
    /// Logs only: refused for spans.
    #[serde(default)]
    pub log_severity_number: Option<Value>,
    /// Metrics only: refused for spans.
    #[serde(default)]
    pub metric_names: Vec<String>,
}

/// An attribute key and optional value to match.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeMatch {
    /// The key (required).
    #[serde(alias = "Key")]
    pub key: String,
    /// The value; absent: any value matches. With `regexp` it must be a string pattern.
    #[serde(default, alias = "Value")]
    pub value: Option<Value>,
}

/// An instrumentation library (scope) to match.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibraryMatch {
    /// Scope name.
    #[serde(alias = "Name")]
    pub name: String,
    /// Scope version; absent: any version.
    #[serde(default, alias = "Version")]
    pub version: Option<String>,
}

/// `include` and `exclude`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchConfig {
    /// Only spans matching these are processed (kept, for the filter processor).
    #[serde(default)]
    pub include: Option<MatchProperties>,
    /// Spans matching these are not processed (dropped, for the filter processor).
    #[serde(default)]
    pub exclude: Option<MatchProperties>,
}

/// The span kinds `match_type: strict` accepts.
const SPAN_KINDS: [&str; 5] = [
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_CONSUMER",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_SERVER",
];

/// The Collector's `traceutil.SpanKindStr`.
fn kind_str(kind: i32) -> &'static str {
    match kind {
        1 => "SPAN_KIND_INTERNAL",
        2 => "SPAN_KIND_SERVER",
        3 => "SPAN_KIND_CLIENT",
        4 => "SPAN_KIND_PRODUCER",
        5 => "SPAN_KIND_CONSUMER",
        0 => "SPAN_KIND_UNSPECIFIED",
        _ => "",
    }
}

#[derive(Debug, Clone)]
enum StrSet {
    Strict(Vec<String>),
    Regexp(Vec<Regex>),
}

impl StrSet {
    fn matches(&self, s: &str) -> bool {
        match self {
            StrSet::Strict(v) => v.iter().any(|x| x == s),
            StrSet::Regexp(v) => v.iter().any(|r| r.is_match(s)),
        }
    }
}

/// A configured attribute value, typed as YAML typed it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
}

impl Scalar {
    pub(crate) fn from_config(v: &Value) -> Option<Scalar> {
        Some(match v.resolved() {
            Value::String(s) => Scalar::Str(s.clone()),
            Value::Int(i) => Scalar::Int(*i),
            Value::UInt(u) => Scalar::Int(i64::try_from(*u).ok()?),
            Value::Float(f) => Scalar::Double(*f),
            Value::Bool(b) => Scalar::Bool(*b),
            _ => return None,
        })
    }

    fn matches(&self, v: &AnyValueRef<'_>) -> bool {
        match (self, v) {
            (Scalar::Str(a), AnyValueRef::Str(b)) => a == b,
            (Scalar::Int(a), AnyValueRef::Int(b)) => a == b,
            (Scalar::Double(a), AnyValueRef::Double(b)) => a == b,
            (Scalar::Bool(a), AnyValueRef::Bool(b)) => a == b,
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
enum ValueMatch {
    Any,
    Strict(Scalar),
    Regexp(Regex),
}

#[derive(Debug, Clone)]
struct AttrMatcher {
    key: String,
    value: ValueMatch,
}

/// The Collector's attribute-to-string for regexp matching: strings, booleans, numbers.
fn as_match_string<'a>(v: &AnyValueRef<'a>, buf: &'a mut String) -> Option<&'a str> {
    use std::fmt::Write as _;
    match v {
        AnyValueRef::Str(s) => Some(s),
        AnyValueRef::Bool(b) => Some(if *b { "true" } else { "false" }),
        AnyValueRef::Int(i) => {
            let _ = write!(buf, "{i}");
            Some(buf.as_str())
        }
        AnyValueRef::Double(d) => {
            let _ = write!(buf, "{d}");
            Some(buf.as_str())
        }
        _ => None,
    }
}

fn attrs_match(matchers: &[AttrMatcher], attrs: crate::otlp::views::Attributes<'_>) -> bool {
    matchers.iter().all(|m| {
        let Some(v) = attrs.get(&m.key) else {
            return false;
        };
        match &m.value {
            ValueMatch::Any => true,
            ValueMatch::Strict(s) => s.matches(&v),
            ValueMatch::Regexp(r) => {
                let mut buf = String::new();
                as_match_string(&v, &mut buf).is_some_and(|s| r.is_match(s))
            }
        }
    })
}

/// One compiled `include` or `exclude` block.
#[derive(Debug, Clone)]
pub struct PropertiesMatcher {
    services: Option<StrSet>,
    names: Option<StrSet>,
    kinds: Option<StrSet>,
    libraries: Vec<(StrSet, Option<StrSet>)>,
    attributes: Vec<AttrMatcher>,
    resources: Vec<AttrMatcher>,
}

impl PropertiesMatcher {
    /// Whether the span matches every configured property.
    pub fn matches(&self, ctx: &SpanCtx<'_>) -> bool {
        if let Some(s) = &self.services {
            let mut buf = String::new();
            let name = match ctx.resource.attributes().get("service.name") {
                Some(v) => as_match_string(&v, &mut buf).unwrap_or(""),
                None => "<nil-service-name>",
            };
            if !s.matches(name) {
                return false;
            }
        }
        if let Some(n) = &self.names
            && !n.matches(ctx.span.name())
        {
            return false;
        }
        if let Some(k) = &self.kinds
            && !k.matches(kind_str(ctx.span.kind()))
        {
            return false;
        }
        for (name, version) in &self.libraries {
            if !name.matches(ctx.scope.name()) {
                return false;
            }
            if let Some(v) = version
                && !v.matches(ctx.scope.version())
            {
                return false;
            }
        }
        if !self.resources.is_empty() && !attrs_match(&self.resources, ctx.resource.attributes()) {
            return false;
        }
        attrs_match(&self.attributes, ctx.span.attributes())
    }
}

/// A compiled `include`/`exclude` pair.
#[derive(Debug, Clone, Default)]
pub struct SkipMatcher {
    include: Option<PropertiesMatcher>,
    exclude: Option<PropertiesMatcher>,
}

impl SkipMatcher {
    /// True when the span must not be processed: it fails `include` or matches `exclude`.
    pub fn skip(&self, ctx: &SpanCtx<'_>) -> bool {
        if let Some(i) = &self.include
            && !i.matches(ctx)
        {
            return true;
        }
        self.exclude.as_ref().is_some_and(|e| e.matches(ctx))
    }

    /// True when neither block is configured (nothing is ever skipped).
    pub fn is_empty(&self) -> bool {
        self.include.is_none() && self.exclude.is_none()
    }
}

impl MatchConfig {
    /// Compiles both blocks; errors carry the field path under `prefix` (`spans`, or empty for
    /// the attributes processor).
    pub fn compile(&self, prefix: &str) -> Result<SkipMatcher, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut block = |name: &str, p: &Option<MatchProperties>| {
            let field = if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}.{name}")
            };
            p.as_ref().and_then(|p| match p.compile(&field) {
                Ok(m) => Some(m),
                Err(e) => {
                    errors.extend(e);
                    None
                }
            })
        };
        let include = block("include", &self.include);
        let exclude = block("exclude", &self.exclude);
        if errors.is_empty() {
            Ok(SkipMatcher { include, exclude })
        } else {
            Err(errors)
        }
    }
}

enum MatchType {
    Strict,
    Regexp,
}

impl MatchProperties {
    fn compile(&self, field: &str) -> Result<PropertiesMatcher, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let err = |sub: &str, msg: String| ConfigError::new(msg).field(format!("{field}.{sub}"));
        for (name, set) in [
            ("log_bodies", !self.log_bodies.is_empty()),
            ("log_severity_texts", !self.log_severity_texts.is_empty()),
            ("log_severity_number", self.log_severity_number.is_some()),
            ("metric_names", !self.metric_names.is_empty()),
        ] {
            if set {
                errors.push(err(
                    name,
                    format!("{name} should not be specified for trace spans"),
                ));
            }
        }
        if self.services.is_empty()
            && self.span_names.is_empty()
            && self.attributes.is_empty()
            && self.libraries.is_empty()
            && self.resources.is_empty()
            && self.span_kinds.is_empty()
        {
            errors.push(ConfigError::new(
                "at least one of \"services\", \"span_names\", \"span_kinds\", \"attributes\", \"libraries\" or \"resources\" must be specified",
            ).field(field));
            return Err(errors);
        }
        let match_type = match self.match_type.as_deref() {
            Some("strict") => Some(MatchType::Strict),
            Some("regexp") => Some(MatchType::Regexp),
            Some(other) => {
                errors.push(err(
                    "match_type",
                    format!("unrecognized match_type {other:?}, valid types are: [regexp strict]"),
                ));
                None
            }
            None => None,
        };
        let needs_type = !self.services.is_empty()
            || !self.span_names.is_empty()
            || !self.span_kinds.is_empty()
            || !self.libraries.is_empty()
            || self
                .attributes
                .iter()
                .chain(&self.resources)
                .any(|a| a.value.as_ref().is_some_and(|v| !v.is_null()));
        if match_type.is_none() && needs_type && self.match_type.is_none() {
            errors.push(err(
                "match_type",
                "match_type is required (strict or regexp)".to_owned(),
            ));
        }
        let set = |sub: &str, items: &[String], errors: &mut Vec<ConfigError>| -> Option<StrSet> {
            if items.is_empty() {
                return None;
            }
            match match_type {
                Some(MatchType::Strict) => Some(StrSet::Strict(items.to_vec())),
                Some(MatchType::Regexp) => {
                    let mut out = Vec::new();
                    for (i, p) in items.iter().enumerate() {
                        match meshtrace_ottl::compile_go_regex(p) {
                            Ok(r) => out.push(r),
                            Err(e) => errors.push(err(
                                &format!("{sub}.{i}"),
                                format!("invalid regexp {p:?}: {e}"),
                            )),
                        }
                    }
                    Some(StrSet::Regexp(out))
                }
                None => None,
            }
        };
        if matches!(match_type, Some(MatchType::Strict)) {
            for (i, k) in self.span_kinds.iter().enumerate() {
                if !SPAN_KINDS.contains(&k.as_str()) {
                    errors.push(err(
                        &format!("span_kinds.{i}"),
                        format!(
                            "span_kinds string must match one of the standard span kinds when match_type=strict: [{}]",
                            SPAN_KINDS.join(" ")
                        ),
                    ));
                }
            }
        }
        let services = set("services", &self.services, &mut errors);
        let names = set("span_names", &self.span_names, &mut errors);
        let kinds = set("span_kinds", &self.span_kinds, &mut errors);
        let mut libraries = Vec::new();
        for (i, l) in self.libraries.iter().enumerate() {
            let sub = format!("libraries.{i}");
            let name = set(
                &format!("{sub}.name"),
                std::slice::from_ref(&l.name),
                &mut errors,
            );
            let version = l.version.as_ref().and_then(|v| {
                set(
                    &format!("{sub}.version"),
                    std::slice::from_ref(v),
                    &mut errors,
                )
            });
            if let Some(n) = name {
                libraries.push((n, version));
            }
        }
        let attrs = |sub: &str, list: &[AttributeMatch], errors: &mut Vec<ConfigError>| {
            let mut out = Vec::new();
            for (i, a) in list.iter().enumerate() {
                let f = format!("{sub}.{i}");
                if a.key.is_empty() {
                    errors.push(err(
                        &f,
                        "can't have empty key in the list of attributes".into(),
                    ));
                    continue;
                }
                let value = match (&a.value, &match_type) {
                    (None, _) => ValueMatch::Any,
                    (Some(v), _) if v.is_null() => ValueMatch::Any,
                    (Some(v), Some(MatchType::Regexp)) => match v.resolved() {
                        Value::String(p) => match meshtrace_ottl::compile_go_regex(p) {
                            Ok(r) => ValueMatch::Regexp(r),
                            Err(e) => {
                                errors.push(err(&f, format!("invalid regexp {p:?}: {e}")));
                                continue;
                            }
                        },
                        other => {
                            errors.push(err(
                                &f,
                                format!(
                                    "match_type=regexp for {:?} only supports Str, but found {}",
                                    a.key,
                                    other.kind()
                                ),
                            ));
                            continue;
                        }
                    },
                    (Some(v), Some(MatchType::Strict)) => match Scalar::from_config(v) {
                        Some(s) => ValueMatch::Strict(s),
                        None => {
                            errors.push(err(
                                &f,
                                format!(
                                    "value for {:?} must be a string, number or boolean",
                                    a.key
                                ),
                            ));
                            continue;
                        }
                    },
                    (Some(_), None) => continue,
                };
                out.push(AttrMatcher {
                    key: a.key.clone(),
                    value,
                });
            }
            out
        };
        let attributes = attrs("attributes", &self.attributes, &mut errors);
        let resources = attrs("resources", &self.resources, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(PropertiesMatcher {
            services,
            names,
            kinds,
            libraries,
            attributes,
            resources,
        })
    }
}

#[cfg(test)]
mod tests;
