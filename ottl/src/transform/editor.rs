//! Editors: the functions a transform statement calls (`set`, `delete_key`, `keep_keys`,
//! `limit`, `truncate_all`, `replace_pattern`, …), compiled from their call, then run in two
//! steps: arguments are evaluated against a read-only view of the item ([`Editor::plan`]),
//! then the [`Plan`] writes to it ([`Plan::apply`]).

use md5::Md5;
use opentelemetry_proto::tonic::common::v1::{AnyValue as PAny, ArrayValue, KeyValue, any_value};
use regex::Regex;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::proto::{self, ItemMut, Key, Owned, any, find, map_entries, owned, slot};
use crate::ast::{self, Converter, Span};
use crate::check::Compiler;
use crate::error::{ErrorKind, EvalError, ParseError};
use crate::eval::{Env, Eval, hex, kind_deprecated_string, kind_string};
use crate::paths::Accessor;
use crate::program::{Expr, KeyExpr, PathExpr};
use crate::tracestate;
use crate::value::Value;

/// The editors meshtrace runs, with their parameters in order (Go's argument struct fields,
/// in snake case, as named arguments use them).
const EDITORS: &[(&str, &[&str], usize)] = &[
    ("set", &["target", "value"], 2),
    ("delete_key", &["target", "key"], 2),
    ("delete_matching_keys", &["target", "pattern"], 2),
    ("keep_keys", &["target", "keys"], 2),
    ("keep_matching_keys", &["target", "pattern"], 2),
    ("limit", &["target", "limit", "priority_keys"], 3),
    ("truncate_all", &["target", "limit"], 2),
    (
        "replace_pattern",
        &[
            "target",
            "regex",
            "replacement",
            "function",
            "replacement_format",
        ],
        3,
    ),
    (
        "replace_all_patterns",
        &[
            "target",
            "mode",
            "regex",
            "replacement",
            "function",
            "replacement_format",
        ],
        4,
    ),
    (
        "replace_match",
        &[
            "target",
            "pattern",
            "replacement",
            "function",
            "replacement_format",
        ],
        3,
    ),
    (
        "replace_all_matches",
        &[
            "target",
            "pattern",
            "replacement",
            "function",
            "replacement_format",
        ],
        3,
    ),
    ("merge_maps", &["target", "source", "strategy"], 3),
    ("append", &["target", "value", "values"], 1),
];

/// Editors of OTTL that meshtrace does not run; naming one is a compile error that says so.
const UNSUPPORTED: &[&str] = &[
    "flatten",
    "delete_index",
    "set_semconv_span_name",
    "keep_keys_by_regex",
];

/// The names of the editors meshtrace runs.
pub fn supported_editors() -> impl Iterator<Item = &'static str> {
    EDITORS.iter().map(|(n, _, _)| *n)
}

/// A digest applied to replacements (`replace_pattern(…, SHA256, "h:%s")`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Hash {
    Sha1,
    Sha256,
    Sha512,
    Md5,
}

impl Hash {
    fn digest(self, s: &str) -> String {
        let b = s.as_bytes();
        match self {
            Hash::Sha1 => hex(&Sha1::digest(b)),
            Hash::Sha256 => hex(&Sha256::digest(b)),
            Hash::Sha512 => hex(&Sha512::digest(b)),
            Hash::Md5 => hex(&Md5::digest(b)),
        }
    }
}

/// How a replacement is written: the text, or its digest put into a `%s` format.
#[derive(Debug)]
pub(crate) struct Replace {
    replacement: Expr,
    hash: Option<Hash>,
    format: Option<Expr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    Insert,
    Update,
    Upsert,
}

/// A compiled editor call.
#[derive(Debug)]
pub(crate) enum Editor {
    Set(PathExpr, Expr),
    DeleteKey(PathExpr, String),
    DeleteMatchingKeys(PathExpr, Regex),
    KeepKeys(PathExpr, Vec<String>),
    KeepMatchingKeys(PathExpr, Regex),
    Limit(PathExpr, usize, Vec<String>),
    TruncateAll(PathExpr, usize),
    ReplacePattern(PathExpr, Regex, Replace),
    ReplaceAllPatterns(PathExpr, bool, Regex, Replace),
    ReplaceMatch(PathExpr, Regex, Replace),
    ReplaceAllMatches(PathExpr, Regex, Replace),
    MergeMaps(PathExpr, Expr, Strategy),
    Append(PathExpr, Option<Expr>, Option<Expr>),
}

type CResult<T> = Result<T, ParseError>;

fn is_map(acc: Accessor) -> bool {
    matches!(
        acc,
        Accessor::Attributes
            | Accessor::ResourceAttributes
            | Accessor::ScopeAttributes
            | Accessor::EventAttributes
            | Accessor::Cache
    )
}

impl Editor {
    pub(crate) fn compile(comp: &Compiler<'_>, call: &Converter) -> CResult<Self> {
        let err = |kind, msg: String, span| ParseError::new(kind, msg, span, comp.src);
        let Some((name, params, required)) = EDITORS.iter().find(|(n, _, _)| *n == call.name)
        else {
            let msg = if UNSUPPORTED.contains(&call.name.as_str()) {
                format!(
                    "editor {} exists in OTTL but is not supported by meshtrace",
                    call.name
                )
            } else if let Some(near) =
                supported_editors().find(|e| crate::check::edit_distance(e, &call.name) <= 2)
            {
                format!("undefined editor \"{}\" (did you mean {near}?)", call.name)
            } else {
                format!(
                    "undefined editor \"{}\" (editors: {})",
                    call.name,
                    supported_editors().collect::<Vec<_>>().join(", ")
                )
            };
            return Err(err(ErrorKind::UnknownFunction, msg, call.name_span));
        };
        let args = bind(comp, name, params, *required, call)?;
        let arg = |i: usize| args.get(i).copied().flatten();
        let target = target(comp, name, arg(0), call.span)?;
        let value = |i: usize| arg(i).map(|v| comp.expr(v).map(|(e, _)| e)).transpose();
        let needs_map = |target: PathExpr| {
            if is_map(target.acc) {
                Ok(target)
            } else {
                Err(err(
                    ErrorKind::Type,
                    format!(
                        "{name} needs a map as its target (attributes, resource.attributes, cache, …)"
                    ),
                    arg(0).map_or(call.span, ast::Value::span),
                ))
            }
        };
        let replace = |from: usize| -> CResult<Replace> {
            Ok(Replace {
                replacement: value(from)?.unwrap_or(Expr::Const(crate::value::Const::Nil)),
                hash: arg(from + 1).map(|v| hash(comp, v)).transpose()?,
                format: value(from + 2)?,
            })
        };
        Ok(match *name {
            "set" => Editor::Set(
                target,
                value(1)?.unwrap_or(Expr::Const(crate::value::Const::Nil)),
            ),
            "delete_key" => Editor::DeleteKey(needs_map(target)?, lit_str(comp, name, arg(1))?),
            "delete_matching_keys" => {
                Editor::DeleteMatchingKeys(needs_map(target)?, regex(comp, name, arg(1))?)
            }
            "keep_keys" => Editor::KeepKeys(needs_map(target)?, lit_strs(comp, name, arg(1))?),
            "keep_matching_keys" => {
                Editor::KeepMatchingKeys(needs_map(target)?, regex(comp, name, arg(1))?)
            }
            "limit" => {
                let target = needs_map(target)?;
                let limit = lit_count(comp, name, arg(1))?;
                let keys = lit_strs(comp, name, arg(2))?;
                if keys.len() > limit {
                    return Err(err(
                        ErrorKind::InvalidArgument,
                        format!(
                            "number of priority keys ({}) can't be greater than the limit ({limit})",
                            keys.len()
                        ),
                        arg(2).map_or(call.span, ast::Value::span),
                    ));
                }
                Editor::Limit(target, limit, keys)
            }
            "truncate_all" => {
                Editor::TruncateAll(needs_map(target)?, lit_count(comp, name, arg(1))?)
            }
            "replace_pattern" => {
                Editor::ReplacePattern(target, regex(comp, name, arg(1))?, replace(2)?)
            }
            "replace_all_patterns" => {
                let target = needs_map(target)?;
                let keys = match lit_str(comp, name, arg(1))?.as_str() {
                    "key" => true,
                    "value" => false,
                    other => {
                        return Err(err(
                            ErrorKind::InvalidArgument,
                            format!("invalid mode {other:?}, must be \"key\" or \"value\""),
                            arg(1).map_or(call.span, ast::Value::span),
                        ));
                    }
                };
                Editor::ReplaceAllPatterns(target, keys, regex(comp, name, arg(2))?, replace(3)?)
            }
            "replace_match" => Editor::ReplaceMatch(target, glob(comp, name, arg(1))?, replace(2)?),
            "replace_all_matches" => Editor::ReplaceAllMatches(
                needs_map(target)?,
                glob(comp, name, arg(1))?,
                replace(2)?,
            ),
            "merge_maps" => {
                let target = needs_map(target)?;
                let strategy = match lit_str(comp, name, arg(2))?.as_str() {
                    "insert" => Strategy::Insert,
                    "update" => Strategy::Update,
                    "upsert" => Strategy::Upsert,
                    other => {
                        return Err(err(
                            ErrorKind::InvalidArgument,
                            format!(
                                "invalid value for strategy, {other:?}, must be \"insert\", \"update\" or \"upsert\""
                            ),
                            arg(2).map_or(call.span, ast::Value::span),
                        ));
                    }
                };
                Editor::MergeMaps(
                    target,
                    value(1)?.unwrap_or(Expr::Const(crate::value::Const::Nil)),
                    strategy,
                )
            }
            _ => {
                if !is_map(target.acc) || target.keys.is_empty() {
                    return Err(err(
                        ErrorKind::Type,
                        "append needs a map entry as its target (attributes[\"k\"], cache[\"k\"], …)".into(),
                        arg(0).map_or(call.span, ast::Value::span),
                    ));
                }
                let (one, many) = (value(1)?, value(2)?);
                if one.is_none() && many.is_none() {
                    return Err(err(
                        ErrorKind::Arguments,
                        "append needs at least one of value or values".into(),
                        call.span,
                    ));
                }
                Editor::Append(target, one, many)
            }
        })
    }
}

/// Binds positional, then named, arguments to the editor's parameters.
fn bind<'c>(
    comp: &Compiler<'_>,
    name: &str,
    params: &[&str],
    required: usize,
    call: &'c Converter,
) -> CResult<Vec<Option<&'c ast::Value>>> {
    let err = |msg: String, span| ParseError::new(ErrorKind::Arguments, msg, span, comp.src);
    let list = || params.join(", ");
    let mut out: Vec<Option<&ast::Value>> = vec![None; params.len()];
    let mut seen_named = false;
    for (i, a) in call.args.iter().enumerate() {
        let slot = match &a.name {
            None if seen_named => {
                return Err(err(
                    format!("{name}: positional arguments must come before named arguments"),
                    a.value.span(),
                ));
            }
            None if i >= params.len() => {
                return Err(err(
                    format!(
                        "{name} takes at most {} arguments ({}), got {}",
                        params.len(),
                        list(),
                        call.args.len()
                    ),
                    a.value.span(),
                ));
            }
            None => i,
            Some((n, span)) => {
                seen_named = true;
                params.iter().position(|p| p == n).ok_or_else(|| {
                    err(
                        format!(
                            "{name} has no parameter named '{n}' (parameters: {})",
                            list()
                        ),
                        *span,
                    )
                })?
            }
        };
        match out.get_mut(slot) {
            Some(s @ None) => *s = Some(&a.value),
            _ => {
                return Err(err(
                    format!(
                        "{name}: argument '{}' is given more than once",
                        params.get(slot).unwrap_or(&"")
                    ),
                    a.value.span(),
                ));
            }
        }
    }
    if let Some(missing) = out.iter().take(required).position(Option::is_none) {
        return Err(err(
            format!(
                "{name} needs {required} arguments ({}); '{}' is missing",
                params
                    .iter()
                    .take(required)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
                params.get(missing).unwrap_or(&"")
            ),
            call.span,
        ));
    }
    Ok(out)
}

fn target(
    comp: &Compiler<'_>,
    name: &str,
    v: Option<&ast::Value>,
    span: Span,
) -> CResult<PathExpr> {
    let err = |span| {
        ParseError::new(
            ErrorKind::Type,
            format!("the target of {name} must be a path (attributes[\"k\"], name, …)"),
            span,
            comp.src,
        )
    };
    match v {
        Some(v @ ast::Value::Path(_)) => match comp.expr(v)?.0 {
            Expr::Path(p) => Ok(*p),
            _ => Err(err(v.span())),
        },
        Some(v) => Err(err(v.span())),
        None => Err(err(span)),
    }
}

fn literal_error(
    comp: &Compiler<'_>,
    name: &str,
    what: &str,
    v: Option<&ast::Value>,
) -> ParseError {
    ParseError::new(
        ErrorKind::Type,
        format!("{name}: {what}"),
        v.map_or(Span::new(0, 0), ast::Value::span),
        comp.src,
    )
}

fn lit_str(comp: &Compiler<'_>, name: &str, v: Option<&ast::Value>) -> CResult<String> {
    match v {
        Some(ast::Value::Str(s, _)) => Ok(s.clone()),
        _ => Err(literal_error(comp, name, "expected a string literal", v)),
    }
}

fn lit_strs(comp: &Compiler<'_>, name: &str, v: Option<&ast::Value>) -> CResult<Vec<String>> {
    match v {
        None => Ok(Vec::new()),
        Some(ast::Value::List(items, _)) => {
            items.iter().map(|i| lit_str(comp, name, Some(i))).collect()
        }
        _ => Err(literal_error(
            comp,
            name,
            "expected a list of string literals",
            v,
        )),
    }
}

fn lit_count(comp: &Compiler<'_>, name: &str, v: Option<&ast::Value>) -> CResult<usize> {
    match v {
        Some(ast::Value::Int(i, span)) => usize::try_from(*i).map_err(|_| {
            ParseError::new(
                ErrorKind::InvalidArgument,
                format!("{name}: invalid limit {i}: it cannot be negative"),
                *span,
                comp.src,
            )
        }),
        _ => Err(literal_error(comp, name, "expected an integer literal", v)),
    }
}

fn regex(comp: &Compiler<'_>, name: &str, v: Option<&ast::Value>) -> CResult<Regex> {
    let pattern = lit_str(comp, name, v)?;
    crate::regex_go::compile(&pattern).map_err(|e| {
        ParseError::new(
            ErrorKind::Regex,
            format!("{name}: the regex pattern supplied cannot be compiled: {e}"),
            v.map_or(Span::new(0, 0), ast::Value::span),
            comp.src,
        )
    })
}

fn glob(comp: &Compiler<'_>, name: &str, v: Option<&ast::Value>) -> CResult<Regex> {
    let pattern = lit_str(comp, name, v)?;
    super::glob::compile(&pattern).map_err(|e| {
        ParseError::new(
            ErrorKind::InvalidArgument,
            format!("{name}: invalid glob pattern: {e}"),
            v.map_or(Span::new(0, 0), ast::Value::span),
            comp.src,
        )
    })
}

fn hash(comp: &Compiler<'_>, v: &ast::Value) -> CResult<Hash> {
    match v {
        ast::Value::FuncName(n, span) | ast::Value::Enum(n, span) => match n.as_str() {
            "SHA1" => Ok(Hash::Sha1),
            "SHA256" => Ok(Hash::Sha256),
            "SHA512" => Ok(Hash::Sha512),
            "MD5" => Ok(Hash::Md5),
            other => Err(ParseError::new(
                ErrorKind::InvalidArgument,
                format!(
                    "replacement function {other} is not supported; use SHA1, SHA256, SHA512 or MD5"
                ),
                *span,
                comp.src,
            )),
        },
        v => Err(literal_error(
            comp,
            "function",
            "expected a hash function name (SHA1, SHA256, SHA512, MD5)",
            Some(v),
        )),
    }
}

/// An edit of a span's own attributes, planned on the span as it arrived (see
/// [`StatementGroup::attribute_writes`](super::StatementGroup::attribute_writes)).
#[derive(Debug, Clone)]
pub enum AttributeWrite<'s> {
    /// Set the key to the value: in place when present, appended when not.
    Set(String, PAny),
    /// Remove the key.
    Delete(&'s str),
    /// Remove the keys the regex matches.
    DeleteMatching(&'s Regex),
    /// Remove every key not listed.
    Keep(&'s [String]),
    /// Remove the keys the regex does not match.
    KeepMatching(&'s Regex),
}

impl<'s> Plan<'s> {
    /// The plan as an attribute write, for editors that write span attributes only; `None`
    /// when it writes nothing, `Err(())` when it is not such an edit.
    pub(crate) fn attribute_write(self) -> Result<Option<AttributeWrite<'s>>, ()> {
        Ok(Some(match self {
            Plan::Nothing => return Ok(None),
            Plan::Set(keys, Owned::Any(v)) => match keys.as_slice() {
                [Key::Str(k)] => AttributeWrite::Set(k.clone(), v),
                _ => return Err(()),
            },
            // Ids, times and durations have no attribute form: not written.
            Plan::Set(_, _) => return Ok(None),
            Plan::Map(keys, op) if keys.is_empty() => match op {
                MapOp::Delete(k) => AttributeWrite::Delete(k),
                MapOp::DeleteMatching(re) => AttributeWrite::DeleteMatching(re),
                MapOp::Keep(ks) => AttributeWrite::Keep(ks),
                MapOp::KeepMatching(re) => AttributeWrite::KeepMatching(re),
                _ => return Err(()),
            },
            _ => return Err(()),
        }))
    }
}

/// What an editor will write, computed from the item before any of it changes.
#[derive(Debug)]
pub(crate) enum Plan<'e> {
    Nothing,
    Set(Vec<Key>, Owned),
    Map(Vec<Key>, MapOp<'e>),
    Append(Vec<Key>, Vec<PAny>),
}

/// An edit of a whole map, in place.
#[derive(Debug)]
pub(crate) enum MapOp<'e> {
    Delete(&'e str),
    DeleteMatching(&'e Regex),
    Keep(&'e [String]),
    KeepMatching(&'e Regex),
    Limit(usize, &'e [String]),
    Truncate(usize),
    Replace {
        keys: bool,
        re: &'e Regex,
        whole: bool,
        with: Replacement,
    },
    Merge(Vec<KeyValue>, Strategy),
}

/// A replacement, evaluated: the template and how to write it.
#[derive(Debug)]
pub(crate) struct Replacement {
    template: String,
    hash: Option<Hash>,
    format: String,
}

impl Replacement {
    fn write(&self, text: &str) -> String {
        match self.hash {
            None => text.to_owned(),
            Some(h) => self.format.replacen("%s", &h.digest(text), 1),
        }
    }

    /// Every match of `re` in `s` replaced (`$1`, `${name}` expand as in Go); `None` if none.
    fn regex(&self, re: &Regex, s: &str) -> Option<String> {
        if !re.is_match(s) {
            return None;
        }
        Some(match self.hash {
            None => re.replace_all(s, self.template.as_str()).into_owned(),
            Some(_) => re
                .replace_all(s, |caps: &regex::Captures<'_>| {
                    let mut expanded = String::new();
                    caps.expand(&self.template, &mut expanded);
                    self.write(&expanded)
                })
                .into_owned(),
        })
    }

    /// `s` replaced whole when the glob matches it whole.
    fn glob(&self, re: &Regex, s: &str) -> Option<String> {
        re.is_match(s).then(|| self.write(&self.template))
    }

    fn apply(&self, re: &Regex, whole: bool, s: &str) -> Option<String> {
        if whole {
            self.glob(re, s)
        } else {
            self.regex(re, s)
        }
    }
}

/// Whether evaluating `e` reads `acc`.
pub(crate) fn expr_reads(e: &Expr, acc: Accessor) -> bool {
    use crate::program::CallArg;
    let key_reads = |keys: &[KeyExpr]| {
        keys.iter()
            .any(|k| matches!(k, KeyExpr::Dyn(e) if expr_reads(e, acc)))
    };
    match e {
        Expr::Const(_) => false,
        Expr::Path(p) => p.acc == acc || key_reads(&p.keys),
        Expr::Call(c) => {
            key_reads(&c.keys)
                || c.args.iter().flatten().any(|a| match a {
                    CallArg::Expr(e) => expr_reads(e, acc),
                    CallArg::Items(items) => items.iter().any(|e| expr_reads(e, acc)),
                })
        }
        Expr::List(items) => items.iter().any(|e| expr_reads(e, acc)),
        Expr::Map(items) => items.iter().any(|(_, e)| expr_reads(e, acc)),
        Expr::Math(m) => expr_reads(&m.0, acc) || expr_reads(&m.2, acc),
        Expr::Neg(e) => expr_reads(e, acc),
    }
}

/// Whether evaluating `c` reads `acc`.
pub(crate) fn cond_reads(c: &crate::program::Cond, acc: Accessor) -> bool {
    use crate::program::Cond;
    match c {
        Cond::Const(_) => false,
        Cond::Or(items) | Cond::And(items) => items.iter().any(|c| cond_reads(c, acc)),
        Cond::Not(c) => cond_reads(c, acc),
        Cond::Compare(cmp) => expr_reads(&cmp.0, acc) || expr_reads(&cmp.2, acc),
        Cond::Bool(e) => expr_reads(e, acc),
    }
}

impl Editor {
    /// True for the editors that only write keys of the span's own attributes, given
    /// literally: `set(attributes["k"], …)`, `delete_key`, `delete_matching_keys`,
    /// `keep_keys`, `keep_matching_keys` on `attributes`.
    pub(crate) fn writes_span_attributes_only(&self) -> bool {
        match self {
            Editor::Set(t, _) => {
                t.acc == Accessor::Attributes && matches!(t.keys.as_slice(), [KeyExpr::Str(_)])
            }
            Editor::DeleteKey(t, _)
            | Editor::DeleteMatchingKeys(t, _)
            | Editor::KeepKeys(t, _)
            | Editor::KeepMatchingKeys(t, _) => t.acc == Accessor::Attributes && t.keys.is_empty(),
            _ => false,
        }
    }

    /// Whether running the editor reads `acc` (its value argument or the target's keys).
    pub(crate) fn reads(&self, acc: Accessor) -> bool {
        let target = self.target();
        target
            .keys
            .iter()
            .any(|k| matches!(k, KeyExpr::Dyn(e) if expr_reads(e, acc)))
            || match self {
                Editor::Set(_, e) => expr_reads(e, acc),
                _ => false,
            }
    }

    pub(crate) fn target_accessor(&self) -> Accessor {
        self.target().acc
    }

    fn target(&self) -> &PathExpr {
        match self {
            Editor::Set(t, _)
            | Editor::DeleteKey(t, _)
            | Editor::DeleteMatchingKeys(t, _)
            | Editor::KeepKeys(t, _)
            | Editor::KeepMatchingKeys(t, _)
            | Editor::Limit(t, _, _)
            | Editor::TruncateAll(t, _)
            | Editor::ReplacePattern(t, _, _)
            | Editor::ReplaceAllPatterns(t, _, _, _)
            | Editor::ReplaceMatch(t, _, _)
            | Editor::ReplaceAllMatches(t, _, _)
            | Editor::MergeMaps(t, _, _)
            | Editor::Append(t, _, _) => t,
        }
    }

    /// Evaluates the arguments (and, for the string editors, the new value) against the item.
    pub(crate) fn plan<'s: 'a, 'a, E: Env<'a>>(
        &'s self,
        ev: &Eval<'a, E>,
    ) -> Result<Plan<'s>, EvalError> {
        let target = self.target();
        let keys = keys(ev, &target.keys)?;
        let map = |op| Ok(Plan::Map(keys.clone(), op));
        match self {
            Editor::Set(_, value) => Ok(match owned(&ev.expr(value)?) {
                Some(v) => Plan::Set(keys, v),
                None => Plan::Nothing,
            }),
            Editor::DeleteKey(_, k) => map(MapOp::Delete(k)),
            Editor::DeleteMatchingKeys(_, re) => map(MapOp::DeleteMatching(re)),
            Editor::KeepKeys(_, ks) => map(MapOp::Keep(ks)),
            Editor::KeepMatchingKeys(_, re) => map(MapOp::KeepMatching(re)),
            Editor::Limit(_, n, ks) => map(MapOp::Limit(*n, ks)),
            Editor::TruncateAll(_, n) => map(MapOp::Truncate(*n)),
            Editor::ReplacePattern(_, re, r) | Editor::ReplaceMatch(_, re, r) => {
                let whole = matches!(self, Editor::ReplaceMatch(..));
                let current = ev.path(target)?;
                let Value::Str(s) = current else {
                    return Ok(Plan::Nothing);
                };
                let with = replacement(ev, r, "replace_pattern")?;
                Ok(match with.apply(re, whole, &s) {
                    Some(new) if new != s => {
                        Plan::Set(keys, Owned::Any(any(any_value::Value::StringValue(new))))
                    }
                    _ => Plan::Nothing,
                })
            }
            Editor::ReplaceAllPatterns(_, by_key, re, r) => map(MapOp::Replace {
                keys: *by_key,
                re,
                whole: false,
                with: replacement(ev, r, "replace_all_patterns")?,
            }),
            Editor::ReplaceAllMatches(_, re, r) => map(MapOp::Replace {
                keys: false,
                re,
                whole: true,
                with: replacement(ev, r, "replace_all_matches")?,
            }),
            Editor::MergeMaps(_, source, strategy) => match ev.expr(source)? {
                Value::Map(m) => map(MapOp::Merge(map_entries(&m), *strategy)),
                Value::Nil => Ok(Plan::Nothing),
                v => Err(EvalError::ty(
                    "merge_maps",
                    format!("expected a map as the source but got {}", v.type_name()),
                )),
            },
            Editor::Append(_, one, many) => {
                let mut items = Vec::new();
                if let Some(e) = one {
                    push_item(&ev.expr(e)?, &mut items);
                }
                if let Some(e) = many {
                    match ev.expr(e)? {
                        Value::List(l) => l.for_each(|v| {
                            push_item(&v, &mut items);
                            true
                        }),
                        Value::Nil => {}
                        v => push_item(&v, &mut items),
                    }
                }
                Ok(if items.is_empty() {
                    Plan::Nothing
                } else {
                    Plan::Append(keys, items)
                })
            }
        }
    }
}

fn push_item<'a, M: crate::context::AttributeMap<'a>>(v: &Value<'a, M>, out: &mut Vec<PAny>) {
    if let Some(Owned::Any(a)) = owned(v) {
        out.push(a);
    }
}

fn replacement<'a, E: Env<'a>>(
    ev: &Eval<'a, E>,
    r: &'a Replace,
    name: &'static str,
) -> Result<Replacement, EvalError> {
    let text = |e: &'a Expr| -> Result<String, EvalError> {
        match ev.expr(e)? {
            Value::Str(s) => Ok(s.into_owned()),
            v => Err(EvalError::ty(
                name,
                format!("expected a string but got {}", v.type_name()),
            )),
        }
    };
    Ok(Replacement {
        template: text(&r.replacement)?,
        hash: r.hash,
        format: match &r.format {
            Some(f) => text(f)?,
            None => "%s".to_owned(),
        },
    })
}

fn keys<'a, E: Env<'a>>(ev: &Eval<'a, E>, keys: &'a [KeyExpr]) -> Result<Vec<Key>, EvalError> {
    keys.iter()
        .map(|k| match k {
            KeyExpr::Str(s) => Ok(Key::Str(s.clone())),
            KeyExpr::Int(i) => Ok(Key::Int(*i)),
            KeyExpr::Dyn(e) => match ev.expr(e)? {
                Value::Str(s) => Ok(Key::Str(s.into_owned())),
                Value::Int(i) => Ok(Key::Int(i)),
                v => Err(EvalError::Index(format!(
                    "could not resolve key for map/slice, expecting 'string' or 'int64' but got '{}'",
                    v.type_name()
                ))),
            },
        })
        .collect()
}

impl Plan<'_> {
    /// Writes the plan to `item` at the editor's target.
    pub(crate) fn apply(self, acc: Accessor, item: &mut ItemMut<'_>) -> Result<(), EvalError> {
        match self {
            Plan::Nothing => Ok(()),
            Plan::Set(keys, v) => set(item, acc, &keys, v),
            Plan::Map(keys, op) => {
                let Some(kvs) = map_at(item, acc, &keys)? else {
                    return Ok(());
                };
                op.apply(kvs);
                Ok(())
            }
            Plan::Append(keys, items) => {
                let Some(kvs) = map_mut(item, acc) else {
                    return Ok(());
                };
                let v = slot(kvs, &keys)?;
                use any_value::Value as V;
                match &mut v.value {
                    Some(V::ArrayValue(a)) => a.values.extend(items),
                    old => {
                        let mut values = Vec::with_capacity(items.len() + 1);
                        if let Some(o) = old.take() {
                            values.push(any(o));
                        }
                        values.extend(items);
                        *old = Some(V::ArrayValue(ArrayValue { values }));
                    }
                }
                Ok(())
            }
        }
    }
}

impl MapOp<'_> {
    fn apply(self, kvs: &mut Vec<KeyValue>) {
        use any_value::Value as V;
        match self {
            MapOp::Delete(k) => kvs.retain(|kv| kv.key != k),
            MapOp::DeleteMatching(re) => kvs.retain(|kv| !re.is_match(&kv.key)),
            MapOp::Keep(ks) => kvs.retain(|kv| ks.contains(&kv.key)),
            MapOp::KeepMatching(re) => kvs.retain(|kv| re.is_match(&kv.key)),
            MapOp::Limit(n, priority) => {
                if kvs.len() <= n {
                    return;
                }
                // Priority keys present count first; the rest fill what is left, in order.
                let mut left =
                    n.saturating_sub(kvs.iter().filter(|kv| priority.contains(&kv.key)).count());
                kvs.retain(|kv| {
                    if priority.contains(&kv.key) {
                        return true;
                    }
                    if left > 0 {
                        left -= 1;
                        return true;
                    }
                    false
                });
            }
            MapOp::Truncate(n) => {
                for kv in kvs.iter_mut() {
                    if let Some(PAny {
                        value: Some(V::StringValue(s)),
                    }) = &mut kv.value
                        && s.len() > n
                    {
                        // Cut at a character boundary: a string value must stay UTF-8.
                        let mut cut = n;
                        while !s.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        s.truncate(cut);
                    }
                }
            }
            MapOp::Replace {
                keys: true,
                re,
                whole,
                with,
            } => {
                let old = std::mem::take(kvs);
                for mut kv in old {
                    if let Some(k) = with.apply(re, whole, &kv.key) {
                        kv.key = k;
                    }
                    match kvs.iter_mut().find(|e| e.key == kv.key) {
                        Some(e) => e.value = kv.value,
                        None => kvs.push(kv),
                    }
                }
            }
            MapOp::Replace {
                keys: false,
                re,
                whole,
                with,
            } => {
                for kv in kvs.iter_mut() {
                    if let Some(PAny {
                        value: Some(V::StringValue(s)),
                    }) = &mut kv.value
                        && let Some(new) = with.apply(re, whole, s)
                    {
                        *s = new;
                    }
                }
            }
            MapOp::Merge(source, strategy) => {
                for kv in source {
                    match (kvs.iter_mut().find(|e| e.key == kv.key), strategy) {
                        (Some(e), Strategy::Update | Strategy::Upsert) => e.value = kv.value,
                        (None, Strategy::Insert | Strategy::Upsert) => kvs.push(kv),
                        _ => {}
                    }
                }
            }
        }
    }
}

/// The attribute map (or cache) an accessor names.
fn map_mut<'m>(item: &'m mut ItemMut<'_>, acc: Accessor) -> Option<&'m mut Vec<KeyValue>> {
    Some(match acc {
        Accessor::Attributes => &mut item.span.as_deref_mut()?.attributes,
        Accessor::ResourceAttributes => &mut item.resource.get_or_insert_default().attributes,
        Accessor::ScopeAttributes => &mut item.scope.as_mut()?.0.get_or_insert_default().attributes,
        Accessor::EventAttributes => {
            let i = item.event?;
            &mut item.span.as_deref_mut()?.events.get_mut(i)?.attributes
        }
        Accessor::Cache => item.cache,
        _ => return None,
    })
}

/// The map a map editor edits: the accessor's map, or a map value inside it.
fn map_at<'m>(
    item: &'m mut ItemMut<'_>,
    acc: Accessor,
    keys: &[Key],
) -> Result<Option<&'m mut Vec<KeyValue>>, EvalError> {
    let Some(kvs) = map_mut(item, acc) else {
        return Ok(None);
    };
    if keys.is_empty() {
        return Ok(Some(kvs));
    }
    match find(kvs, keys)? {
        None => Ok(None),
        Some(PAny {
            value: Some(any_value::Value::KvlistValue(m)),
        }) => Ok(Some(&mut m.values)),
        Some(other) => Err(EvalError::ty(
            "target",
            format!(
                "expected a map but got {}",
                proto::type_name(other.value.as_ref())
            ),
        )),
    }
}

fn str_of(v: Owned) -> Option<String> {
    match v {
        Owned::Any(PAny {
            value: Some(any_value::Value::StringValue(s)),
        }) => Some(s),
        _ => None,
    }
}

fn int_of(v: &Owned) -> Option<i64> {
    match v {
        Owned::Any(PAny {
            value: Some(any_value::Value::IntValue(i)),
        }) => Some(*i),
        _ => None,
    }
}

/// An id as OTLP stores it: all zeros is "no id", an empty field.
fn id_bytes(id: &[u8]) -> Vec<u8> {
    if id.iter().all(|b| *b == 0) {
        Vec::new()
    } else {
        id.to_vec()
    }
}

fn hex_id<const N: usize>(s: &str, what: &'static str) -> Result<[u8; N], EvalError> {
    let bad = || EvalError::invalid(what, format!("{s:?} is not {} hex digits", N * 2));
    if s.len() != N * 2 {
        return Err(bad());
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks(2)) {
        let txt = std::str::from_utf8(pair).map_err(|_| bad())?;
        *o = u8::from_str_radix(txt, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

fn kind_from(s: &str) -> Option<i32> {
    (0..=5).find(|k| kind_string(*k) == s || kind_deprecated_string(*k) == s)
}

/// Writes `v` at `acc[keys]`. As OTTL's setters, a value of a type the field cannot take is
/// not written (`set(name, 1)` does nothing); ids given as hex strings must be valid.
fn set(item: &mut ItemMut<'_>, acc: Accessor, keys: &[Key], v: Owned) -> Result<(), EvalError> {
    use Accessor as A;
    if is_map(acc) {
        let Some(kvs) = map_mut(item, acc) else {
            return Ok(());
        };
        if keys.is_empty() {
            if let Owned::Any(PAny {
                value: Some(any_value::Value::KvlistValue(m)),
            }) = v
            {
                *kvs = m.values;
            }
            return Ok(());
        }
        if let Owned::Any(a) = v {
            *slot(kvs, keys)? = a;
        }
        return Ok(());
    }
    match acc {
        A::ResourceDroppedAttributesCount => {
            if let Some(i) = int_of(&v) {
                item.resource
                    .get_or_insert_default()
                    .dropped_attributes_count = i as u32;
            }
            return Ok(());
        }
        A::ResourceSchemaUrl => {
            if let Some(s) = str_of(v) {
                *item.resource_schema_url = s;
            }
            return Ok(());
        }
        A::ScopeName | A::ScopeVersion | A::ScopeDroppedAttributesCount | A::ScopeSchemaUrl => {
            let Some((scope, url)) = item.scope.as_mut() else {
                return Ok(());
            };
            match acc {
                A::ScopeSchemaUrl => {
                    if let Some(s) = str_of(v) {
                        **url = s;
                    }
                }
                A::ScopeDroppedAttributesCount => {
                    if let Some(i) = int_of(&v) {
                        scope.get_or_insert_default().dropped_attributes_count = i as u32;
                    }
                }
                _ => {
                    if let Some(s) = str_of(v) {
                        let scope = scope.get_or_insert_default();
                        if acc == A::ScopeName {
                            scope.name = s;
                        } else {
                            scope.version = s;
                        }
                    }
                }
            }
            return Ok(());
        }
        _ => {}
    }
    let Some(span) = item.span.as_deref_mut() else {
        return Ok(());
    };
    if matches!(
        acc,
        A::EventName | A::EventTimeUnixNano | A::EventTime | A::EventDroppedAttributesCount
    ) {
        let Some(event) = item.event.and_then(|i| span.events.get_mut(i)) else {
            return Ok(());
        };
        match (acc, v) {
            (A::EventTime, Owned::Time(t)) => event.time_unix_nano = t as u64,
            (A::EventTimeUnixNano, v) => {
                if let Some(i) = int_of(&v) {
                    event.time_unix_nano = i as u64;
                }
            }
            (A::EventDroppedAttributesCount, v) => {
                if let Some(i) = int_of(&v) {
                    event.dropped_attributes_count = i as u32;
                }
            }
            (A::EventName, v) => {
                if let Some(s) = str_of(v) {
                    event.name = s;
                }
            }
            _ => {}
        }
        return Ok(());
    }
    match (acc, v) {
        (A::TraceId, Owned::TraceId(t)) => span.trace_id = id_bytes(&t),
        (A::SpanId, Owned::SpanId(s)) => span.span_id = id_bytes(&s),
        (A::ParentSpanId, Owned::SpanId(s)) => span.parent_span_id = id_bytes(&s),
        (A::StartTime, Owned::Time(t)) => span.start_time_unix_nano = t as u64,
        (A::EndTime, Owned::Time(t)) => span.end_time_unix_nano = t as u64,
        (acc, v) => {
            if let Some(i) = int_of(&v) {
                match acc {
                    A::Kind => span.kind = i as i32,
                    A::StartTimeUnixNano => span.start_time_unix_nano = i as u64,
                    A::EndTimeUnixNano => span.end_time_unix_nano = i as u64,
                    A::DroppedAttributesCount => span.dropped_attributes_count = i as u32,
                    A::DroppedEventsCount => span.dropped_events_count = i as u32,
                    A::DroppedLinksCount => span.dropped_links_count = i as u32,
                    A::StatusCode => proto::status(span).code = i as i32,
                    _ => {}
                }
                return Ok(());
            }
            let Some(s) = str_of(v) else {
                return Ok(());
            };
            match acc {
                A::Name => span.name = s,
                A::StatusMessage => proto::status(span).message = s,
                A::TraceState => span.trace_state = s,
                A::TraceStateKey => {
                    if let Some(Key::Str(k)) = keys.first()
                        && let Some(updated) = tracestate::insert(&span.trace_state, k, &s)
                    {
                        span.trace_state = updated;
                    }
                }
                A::KindString | A::KindDeprecatedString => {
                    if let Some(k) = kind_from(&s) {
                        span.kind = k;
                    }
                }
                A::TraceIdString => span.trace_id = id_bytes(&hex_id::<16>(&s, "trace_id.string")?),
                A::SpanIdString => span.span_id = id_bytes(&hex_id::<8>(&s, "span_id.string")?),
                A::ParentSpanIdString => {
                    span.parent_span_id = id_bytes(&hex_id::<8>(&s, "parent_span_id.string")?)
                }
                _ => {}
            }
        }
    }
    Ok(())
}
