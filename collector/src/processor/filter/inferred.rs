//! `trace_conditions`: the newest Collectors' context-inferred form of the filter processor,
//! a list of condition strings (or of groups with `context`, `conditions` and an optional
//! `error_mode`). Every path carries its context prefix (`span.name`,
//! `spanevent.attributes["x"]`, `resource.attributes["y"]`); a group runs in the lowest
//! context its paths name (span events below spans below scopes and resources). Groups whose
//! lowest context is a resource or scope are evaluated per span — dropping every span of a
//! matching resource, which is what dropping the resource does. A group with an explicit
//! `context: resource` (or `scope`) may leave its paths unprefixed: they are the resource's (or
//! the scope's).

use meshtrace_ottl::ast::{BoolExpr, Converter, Key, Value as Expr};
use meshtrace_ottl::{ErrorMode, parse_ast};

use crate::config::{ConfigError, Value};

/// Where a group of conditions runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Resource,
    Scope,
    Span,
    SpanEvent,
}

/// One group, ready to compile.
#[derive(Debug)]
pub(crate) struct Group {
    pub level: Level,
    pub conditions: Vec<String>,
    pub error_mode: ErrorMode,
    /// Field path of the group, for messages (`trace_conditions` or `trace_conditions.1`).
    pub field: String,
    /// Written with `context: resource` or `context: scope`: unprefixed paths are the
    /// resource's or the scope's, so the conditions compile in that context.
    pub explicit: bool,
}

impl Level {
    /// The OTTL context the level's statements and conditions compile for.
    pub(crate) fn context(self) -> meshtrace_ottl::ContextKind {
        use meshtrace_ottl::ContextKind;
        match self {
            Level::Resource => ContextKind::Resource,
            Level::Scope => ContextKind::Scope,
            Level::Span => ContextKind::Span,
            Level::SpanEvent => ContextKind::SpanEvent,
        }
    }
}

pub(crate) fn level_of(context: &str) -> Option<Level> {
    match context {
        "resource" => Some(Level::Resource),
        "scope" | "instrumentation_scope" => Some(Level::Scope),
        "span" => Some(Level::Span),
        "spanevent" => Some(Level::SpanEvent),
        _ => None,
    }
}

fn walk_key(k: &Key, out: &mut Vec<String>) {
    if let Key::Expr(v) = k {
        walk_value(v, out);
    }
}

fn walk_converter(c: &Converter, out: &mut Vec<String>) {
    for a in &c.args {
        walk_value(&a.value, out);
    }
    for k in &c.keys {
        walk_key(k, out);
    }
}

fn walk_value(v: &Expr, out: &mut Vec<String>) {
    match v {
        Expr::Path(p) => {
            if let Some(f) = p.fields.first() {
                out.push(f.name.clone());
            }
            for f in &p.fields {
                for k in &f.keys {
                    walk_key(k, out);
                }
            }
        }
        Expr::Converter(c) => walk_converter(c, out),
        Expr::List(items, _) => items.iter().for_each(|i| walk_value(i, out)),
        Expr::Map(entries, _) => entries.iter().for_each(|(_, v)| walk_value(v, out)),
        Expr::Math { left, right, .. } => {
            walk_value(left, out);
            walk_value(right, out);
        }
        Expr::Neg(inner, _) => walk_value(inner, out),
        _ => {}
    }
}

fn walk(e: &BoolExpr, out: &mut Vec<String>) {
    match e {
        BoolExpr::Or(v) | BoolExpr::And(v) => v.iter().for_each(|b| walk(b, out)),
        BoolExpr::Not(b, _) => walk(b, out),
        BoolExpr::Const(..) => {}
        BoolExpr::Converter(c) => walk_converter(c, out),
        BoolExpr::Compare { left, right, .. } => {
            walk_value(left, out);
            walk_value(right, out);
        }
    }
}

/// The first segment of every path in a transform statement (editor arguments and `where`).
pub(crate) fn statement_paths(st: &meshtrace_ottl::ast::Statement) -> Vec<String> {
    let mut out = Vec::new();
    walk_converter(&st.editor, &mut out);
    if let Some(c) = &st.condition {
        walk(c, &mut out);
    }
    out
}

/// The first segment of every path in a condition.
pub(crate) fn condition_paths(c: &BoolExpr) -> Vec<String> {
    let mut out = Vec::new();
    walk(c, &mut out);
    out
}

/// The lowest context the conditions' paths name.
fn infer(conditions: &[String], field: &str) -> Result<Level, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut level: Option<Level> = None;
    for (i, c) in conditions.iter().enumerate() {
        let ast = match parse_ast(c) {
            Ok(a) => a,
            Err(e) => {
                errors.push(super::ottl_error(format!("{field}.{i}"), c, &e));
                continue;
            }
        };
        let mut firsts = Vec::new();
        walk(&ast, &mut firsts);
        for name in firsts {
            match level_of(&name) {
                Some(l) => level = level.max(Some(l)),
                None => errors.push(
                    ConfigError::new(format!(
                        "condition {c:?}: path {name:?} has no context prefix (span., spanevent., resource., scope.); context-inferred conditions need one on every path"
                    ))
                    .field(format!("{field}.{i}")),
                ),
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // No path at all (`true`): the span context.
    Ok(level.unwrap_or(Level::Span))
}

/// A list of strings (`null`: empty); `what` names an item in errors ("condition").
pub(crate) fn strings(v: &Value, field: &str, what: &str) -> Result<Vec<String>, ConfigError> {
    match v.resolved() {
        Value::Null => Ok(Vec::new()),
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, c)| match c.resolved() {
                Value::String(s) => Ok(s.clone()),
                other => Err(ConfigError::new(format!(
                    "a {what} must be a string, found {}",
                    other.kind()
                ))
                .field(format!("{field}.{i}"))),
            })
            .collect(),
        other => Err(ConfigError::new(format!("want a list, found {}", other.kind())).field(field)),
    }
}

/// Reads `trace_conditions` into groups (flat: one group; structured: one per entry).
pub(crate) fn groups(v: &Value, default_mode: ErrorMode) -> Result<Vec<Group>, Vec<ConfigError>> {
    const F: &str = "trace_conditions";
    let Value::Seq(items) = v.resolved() else {
        if v.is_null() {
            return Ok(Vec::new());
        }
        return Err(vec![
            ConfigError::new(format!("want a list, found {}", v.kind())).field(F),
        ]);
    };
    let flat = items
        .iter()
        .filter(|i| matches!(i.resolved(), Value::String(_)))
        .count();
    if flat > 0 && flat < items.len() {
        return Err(vec![ConfigError::new(
            "configuring multiple configuration styles is not supported, please use only Basic configuration or only Advanced configuration",
        )
        .field(F)]);
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    if flat > 0 {
        let conditions = strings(v, F, "condition").map_err(|e| vec![e])?;
        match infer(&conditions, F) {
            Ok(level) => out.push(Group {
                level,
                conditions,
                error_mode: default_mode,
                field: F.to_owned(),
                explicit: false,
            }),
            Err(e) => errors.extend(e),
        }
        return if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        };
    }
    for (g, item) in items.iter().enumerate() {
        let field = format!("{F}.{g}");
        let Some(map) = item.as_map() else {
            errors.push(ConfigError::new("want a map with `conditions`").field(field));
            continue;
        };
        let mut context = None;
        let mut conditions = Vec::new();
        let mut mode = default_mode;
        for (k, v) in map {
            match k.as_str() {
                "context" => context = v.scalar_text(),
                "conditions" => match strings(v, &format!("{field}.conditions"), "condition") {
                    Ok(c) => conditions = c,
                    Err(e) => errors.push(e),
                },
                "error_mode" => match v.scalar_text().unwrap_or_default().parse() {
                    Ok(m) => mode = m,
                    Err(e) => errors.push(ConfigError::new(e).field(format!("{field}.error_mode"))),
                },
                other => errors.push(
                    ConfigError::new(format!(
                        "unknown field `{other}`, expected one of `context`, `conditions`, `error_mode`"
                    ))
                    .field(format!("{field}.{other}")),
                ),
            }
        }
        let cfield = format!("{field}.conditions");
        let explicit_context = context.as_deref().map(str::to_ascii_lowercase);
        let explicit = matches!(
            explicit_context.as_deref(),
            Some("resource" | "scope" | "instrumentation_scope")
        );
        let level = match explicit_context.as_deref() {
            None | Some("") => match infer(&conditions, &cfield) {
                Ok(l) => l,
                Err(e) => {
                    errors.extend(e);
                    continue;
                }
            },
            Some("span") => Level::Span,
            Some("spanevent") => Level::SpanEvent,
            Some("resource") => Level::Resource,
            Some("scope" | "instrumentation_scope") => Level::Scope,
            Some(other) => {
                errors.push(
                    ConfigError::new(format!("unknown context {other}"))
                        .field(format!("{field}.context")),
                );
                continue;
            }
        };
        out.push(Group {
            level,
            conditions,
            error_mode: mode,
            field: cfield,
            explicit,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
