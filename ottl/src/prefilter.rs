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
//!   `scope.name`), `.version` and `.attributes["k"]` (one string key). Equality holds only between two
//!   strings (`compare`), and reading these paths cannot fail.
//! - `IsMatch(path, "pattern")` with the same paths, where every match starts with one of a
//!   finite set of literals (the pattern's prefixes). `IsMatch` also matches the text of a
//!   non-string value (decimal, `true`, hex for bytes, JSON for maps and lists), which is not
//!   in the bytes as such; a literal is kept only if such text can never contain it
//!   (`survives_conversion`).
//! - `a or b`: the literals of both; `a and b`: those of either; `false`: none needed.
//!
//! `not`, other converters and operators, and other paths give `None`. A condition that fails
//! to evaluate (a double that JSON cannot print, inside a map `IsMatch` reads) counts as false
//! under `error_mode: ignore` and `silent`, as the skipped evaluation does, but refuses the
//! request under `propagate`: a set in that mode does not use `IsMatch` literals.

use regex_syntax::hir::literal::{ExtractKind, Extractor};

use crate::ast::{BoolExpr, CmpOp, Key, Path, Value};

/// Why a literal set came to be: `IsMatch` literals hold under every error mode but
/// `propagate` (module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Literals {
    /// The literals; empty when the condition can never be true.
    pub literals: Vec<Vec<u8>>,
    /// Whether any came from an `IsMatch` pattern.
    pub from_patterns: bool,
}

impl Literals {
    fn one(literal: Vec<u8>, from_pattern: bool) -> Self {
        Literals {
            literals: vec![literal],
            from_patterns: from_pattern,
        }
    }

    fn union(mut self, other: Literals) -> Self {
        for l in other.literals {
            if !self.literals.contains(&l) {
                self.literals.push(l);
            }
        }
        self.from_patterns |= other.from_patterns;
        self
    }
}

/// Literals at least one of which the request bytes contain whenever `expr` (a `traces.span`
/// condition) is true of one of its spans; `None` when no such set is known.
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
            .min_by_key(|l| l.literals.len()),
        BoolExpr::Compare {
            left,
            op: CmpOp::Eq,
            right,
            ..
        } => match (left, right) {
            (Value::Path(p), Value::Str(s, _)) | (Value::Str(s, _), Value::Path(p))
                if reads_stored_string(p) && !s.is_empty() =>
            {
                Some(Literals::one(s.as_bytes().to_vec(), false))
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
            if !reads_stored_string(p) {
                return None;
            }
            let literals = pattern_prefixes(pattern)?;
            Some(Literals {
                literals,
                from_patterns: true,
            })
        }
        BoolExpr::Converter(_) => None,
    }
}

/// Whether `path`, in the `span` context, reads a string field or attribute value as the
/// request stores it.
fn reads_stored_string(path: &Path) -> bool {
    let mut fields = path.fields.as_slice();
    if let [first, rest @ ..] = fields
        && first.name == "span"
        && first.keys.is_empty()
        && !rest.is_empty()
    {
        fields = rest;
    }
    // One string key: a second would index into the value, which fails on a string.
    let keyed = |keys: &[Key]| matches!(keys, [Key::Str(..)]);
    match fields {
        [f] => {
            (f.name == "name" && f.keys.is_empty()) || (f.name == "attributes" && keyed(&f.keys))
        }
        [r, a] if r.keys.is_empty() && r.name == "resource" => {
            a.name == "attributes" && keyed(&a.keys)
        }
        [s, f] if s.keys.is_empty() && (s.name == "instrumentation_scope" || s.name == "scope") => {
            ((f.name == "name" || f.name == "version") && f.keys.is_empty())
                || (f.name == "attributes" && keyed(&f.keys))
        }
        _ => false,
    }
}

/// Literals every match of the Go-syntax `pattern` starts with, when there are finitely many,
/// none empty, and each [`survives_conversion`].
fn pattern_prefixes(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let translated = crate::regex_go::translate(pattern).ok()?;
    let hir = regex_syntax::Parser::new().parse(&translated).ok()?;
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let literals = seq.literals()?;
    if literals.is_empty() {
        // No match is possible at all: nothing is required, and nothing matches.
        return Some(Vec::new());
    }
    literals
        .iter()
        .map(|l| {
            let bytes = l.as_bytes();
            survives_conversion(bytes).then(|| bytes.to_vec())
        })
        .collect()
}

/// Bytes that the text of a non-string value may be made of: decimal and float text
/// (`-1.5e+10`, `NaN`, `+Inf`, `Infinity`), `true`, `false`, `null`, and hex.
const CONVERSION: &[u8] = b"0123456789abcdefABCDEF.+-eEtrulsnNIiyf";

/// Whether a literal found in `IsMatch`'s text of a value is also in the request bytes:
/// - it has a byte no number, boolean or hex text has, so the value was a string or a map
///   or list printed as JSON;
/// - it has no JSON punctuation (`"`, `\`, `{`, `}`, `[`, `]`, `:`, `,`) and only printable
///   ASCII, so in JSON it lies inside one string token, as stored;
/// - it does not start inside an escape sequence (`\n`, `\/`, `\u00e9`: the byte after the
///   backslash and the four hex digits), so it matched the string's own bytes.
fn survives_conversion(literal: &[u8]) -> bool {
    let Some(&first) = literal.first() else {
        return false;
    };
    let printable = literal.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
    let punctuation = literal.iter().any(|b| b"\"\\{}[]:,".contains(b));
    let beyond_numbers = literal.iter().any(|b| !CONVERSION.contains(b));
    let escape_tail = first.is_ascii_hexdigit() || b"/nrtu".contains(&first);
    printable && !punctuation && beyond_numbers && !escape_tail
}

#[cfg(test)]
mod tests;
