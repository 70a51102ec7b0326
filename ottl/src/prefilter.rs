//! Literals a request must contain for a `traces.span` condition to be true of any of its spans.
//!
//! Drop rules are mostly string equalities and `IsMatch` patterns over names and attributes,
//! and most requests hold no span they match. Every string a span context reads is a
//! substring of the request's protobuf bytes (protobuf stores strings as they are), so when
//! none of a condition's required literals occurs in the bytes, the condition is false for
//! every span and the filter need not look at one. [`required`] finds such literals, and
//! answers `None` for anything it cannot vouch for.
//!
//! What vouches:
//! - `path == "lit"` (either side), where `path` reads a string as stored: the span's `name`,
//!   its `attributes["k"]`, `resource.attributes["k"]`, `instrumentation_scope.name` (or
//!   `scope.name`), `.version` and `.attributes["k"]` (one string key). Equality holds only
//!   between two strings (`compare`), and reading these paths cannot fail.
//! - `IsMatch(path, "pattern")` with the same paths, where every match starts with one of a
//!   finite set of literals (the pattern's prefixes, from `regex-syntax`). `IsMatch` also
//!   matches the text of a non-string value (decimal, `true`, hex, or JSON with bytes in
//!   base64 for maps and lists), which is not in the bytes as such. So an attribute path adds
//!   its key to [`Literals::string_keys`]: the literals vouch only for a request in which
//!   every attribute of that key holds a string, which the caller checks in the bytes.
//! - `a or b`: the literals and keys of both; `a and b`: those of either; `false`: none needed.
//!
//! `not`, other converters and operators, and other paths give `None`.

use regex_syntax::hir::literal::{ExtractKind, Extractor};

use crate::ast::{BoolExpr, CmpOp, Key, Path, Value};

/// What a condition needs of a request before it can be true of one of its spans.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Literals {
    /// One of these occurs in the request's bytes; empty when the condition can never be
    /// true.
    pub literals: Vec<Vec<u8>>,
    /// Attribute keys `IsMatch` reads: the literals hold only when every attribute of these
    /// keys in the request has a string value.
    pub string_keys: Vec<String>,
}

impl Literals {
    fn one(literal: Vec<u8>) -> Self {
        Literals {
            literals: vec![literal],
            string_keys: Vec::new(),
        }
    }

    /// Both sets, each item once.
    pub fn union(mut self, other: Literals) -> Self {
        for l in other.literals {
            if !self.literals.contains(&l) {
                self.literals.push(l);
            }
        }
        for k in other.string_keys {
            if !self.string_keys.contains(&k) {
                self.string_keys.push(k);
            }
        }
        self
    }
}

/// Literals at least one of which the request bytes contain whenever `expr` (a `traces.span`
/// condition) is true of one of its spans, given the string keys hold strings; `None` when no
/// such set is known.
pub fn required(expr: &BoolExpr) -> Option<Literals> {
    match expr {
        BoolExpr::Const(false, _) => Some(Literals::default()),
        BoolExpr::Const(true, _) | BoolExpr::Not(..) => None,
        BoolExpr::Or(terms) => terms
            .iter()
            .try_fold(Literals::default(), |acc, t| Some(acc.union(required(t)?))),
        // Any one term's literals will do; the fewest make the cheapest search.
        BoolExpr::And(terms) => terms
            .iter()
            .filter_map(required)
            .min_by_key(|l| (l.literals.len(), l.string_keys.len())),
        BoolExpr::Compare {
            left,
            op: CmpOp::Eq,
            right,
            ..
        } => match (left, right) {
            (Value::Path(p), Value::Str(s, _)) | (Value::Str(s, _), Value::Path(p))
                if stored_string(p).is_some() && !s.is_empty() =>
            {
                Some(Literals::one(s.as_bytes().to_vec()))
            }
            _ => None,
        },
        BoolExpr::Compare { .. } => None,
        BoolExpr::Converter(c) if c.name == "IsMatch" && c.keys.is_empty() => {
            let [target, pattern] = c.args.as_slice() else {
                return None;
            };
            if target.name.is_some() || pattern.name.is_some() {
                return None;
            }
            let (Value::Path(p), Value::Str(pattern, _)) = (&target.value, &pattern.value) else {
                return None;
            };
            let read = stored_string(p)?;
            Some(Literals {
                literals: pattern_prefixes(pattern)?,
                string_keys: match read {
                    Read::Field => Vec::new(),
                    Read::Attribute(key) => vec![key.to_owned()],
                },
            })
        }
        BoolExpr::Converter(_) => None,
    }
}

/// What a path reads that the request stores as it is.
enum Read<'a> {
    /// A string field (a name, a version): always a string.
    Field,
    /// The attribute of this key: a string, or another type.
    Attribute(&'a str),
}

/// What `path`, in the `span` context, reads of the request as stored, if it does.
fn stored_string(path: &Path) -> Option<Read<'_>> {
    let mut fields = path.fields.as_slice();
    if let [first, rest @ ..] = fields
        && first.name == "span"
        && first.keys.is_empty()
        && !rest.is_empty()
    {
        fields = rest;
    }
    // One string key: a second would index into the value, which fails on a string.
    fn attribute(keys: &[Key]) -> Option<Read<'_>> {
        match keys {
            [Key::Str(k, _)] => Some(Read::Attribute(k)),
            _ => None,
        }
    }
    match fields {
        [f] if f.name == "name" && f.keys.is_empty() => Some(Read::Field),
        [f] if f.name == "attributes" => attribute(&f.keys),
        [r, a] if r.keys.is_empty() && r.name == "resource" && a.name == "attributes" => {
            attribute(&a.keys)
        }
        [s, f] if s.keys.is_empty() && (s.name == "instrumentation_scope" || s.name == "scope") => {
            match f.name.as_str() {
                "name" | "version" if f.keys.is_empty() => Some(Read::Field),
                "attributes" => attribute(&f.keys),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Literals every match of the Go-syntax `pattern` starts with, when there are finitely many
/// and none is empty. No literal at all: the pattern matches nothing.
fn pattern_prefixes(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let translated = crate::regex_go::translate(pattern).ok()?;
    let hir = regex_syntax::Parser::new().parse(&translated).ok()?;
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let literals = seq.literals()?;
    literals
        .iter()
        .map(|l| (!l.as_bytes().is_empty()).then(|| l.as_bytes().to_vec()))
        .collect()
}

#[cfg(test)]
mod tests;
