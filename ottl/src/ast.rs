//! The syntax tree of an OTTL boolean expression, as written (before paths and functions are
//! resolved), and its canonical printing: `Display` prints text that parses back to the same tree.
//!
//! Shapes follow `pkg/ottl/grammar.go`: `or` binds loosest, then `and`, then a single optional
//! `not` in front of a comparison, a literal boolean, a converter call or a parenthesised
//! expression. Values are literals, paths, converter calls (with optional `[key]` indexes),
//! lists, maps, enums and math expressions (`*` `/` before `+` `-`, left-associative, unary `-`).

use std::fmt::{self, Write as _};

/// A byte range in the condition text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (bytes).
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        })
    }
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MathOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl MathOp {
    fn precedence(self) -> u8 {
        match self {
            MathOp::Add | MathOp::Sub => 1,
            MathOp::Mul | MathOp::Div => 2,
        }
    }
}

impl fmt::Display for MathOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MathOp::Add => "+",
            MathOp::Sub => "-",
            MathOp::Mul => "*",
            MathOp::Div => "/",
        })
    }
}

/// A boolean expression: the whole of a filter condition.
#[derive(Debug, Clone, PartialEq)]
pub enum BoolExpr {
    /// Two or more terms joined by `or`.
    Or(Vec<BoolExpr>),
    /// Two or more terms joined by `and`.
    And(Vec<BoolExpr>),
    /// `not` applied to the term; the span covers the keyword.
    Not(Box<BoolExpr>, Span),
    /// `true` or `false`.
    Const(bool, Span),
    /// A converter call used as a boolean (`IsMatch(name, "x")`).
    Converter(Converter),
    /// `left op right`.
    Compare {
        /// Left operand.
        left: Value,
        /// Operator.
        op: CmpOp,
        /// Where the operator is.
        op_span: Span,
        /// Right operand.
        right: Value,
    },
}

/// A value: operand of a comparison, argument of a converter, element of a list or map.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `nil`
    Nil(Span),
    /// `true` / `false`
    Bool(bool, Span),
    /// An integer literal (a leading `-` is folded in).
    Int(i64, Span),
    /// A float literal (a leading `-` is folded in).
    Float(f64, Span),
    /// A string literal, unescaped.
    Str(String, Span),
    /// A `0x…` literal.
    Bytes(Vec<u8>, Span),
    /// An all-uppercase symbol such as `SPAN_KIND_SERVER`.
    Enum(String, Span),
    /// A bare mixed-case uppercase identifier passed as an argument (a function name).
    FuncName(String, Span),
    /// A path into the telemetry.
    Path(Path),
    /// A converter call.
    Converter(Converter),
    /// `[a, b, …]`
    List(Vec<Value>, Span),
    /// `{"k": v, …}`
    Map(Vec<(String, Value)>, Span),
    /// `left op right`
    Math {
        /// Left operand.
        left: Box<Value>,
        /// Operator.
        op: MathOp,
        /// Right operand.
        right: Box<Value>,
        /// The whole expression.
        span: Span,
    },
    /// Unary minus on a non-literal (`-attributes["x"]`, `-(a + b)`).
    Neg(Box<Value>, Span),
}

/// A path such as `resource.attributes["service.name"]`: dot-separated fields, each with keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The segments in order; the first may name a context (`span`, `resource`, …).
    pub fields: Vec<Field>,
    /// The whole path.
    pub span: Span,
}

/// One segment of a path.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Lowercase name.
    pub name: String,
    /// `[…]` indexes following the name.
    pub keys: Vec<Key>,
    /// The name (without keys).
    pub span: Span,
}

/// An index: `["k"]`, `[0]`, or an expression evaluated per span (`[attributes["k"]]`).
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// A string key.
    Str(String, Span),
    /// An integer index.
    Int(i64, Span),
    /// A path, converter or math expression giving the key.
    Expr(Box<Value>),
}

/// A converter call: `Name(args…)[keys…]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Converter {
    /// The function name (starts with an uppercase letter).
    pub name: String,
    /// Where the name is.
    pub name_span: Span,
    /// The arguments in order.
    pub args: Vec<Arg>,
    /// Indexes applied to the result.
    pub keys: Vec<Key>,
    /// The whole call, keys included.
    pub span: Span,
}

/// A transform statement: an editor call and its optional `where` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The editor call; its name starts with a lowercase letter and it takes no keys.
    pub editor: Converter,
    /// The condition after `where`.
    pub condition: Option<BoolExpr>,
}

/// One argument, positional or named (`utf8_safe = true`).
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// The name and its span, for named arguments.
    pub name: Option<(String, Span)>,
    /// The value.
    pub value: Value,
}

impl Value {
    /// Where the value is in the condition.
    pub fn span(&self) -> Span {
        match self {
            Value::Nil(s)
            | Value::Bool(_, s)
            | Value::Int(_, s)
            | Value::Float(_, s)
            | Value::Str(_, s)
            | Value::Bytes(_, s)
            | Value::Enum(_, s)
            | Value::FuncName(_, s)
            | Value::List(_, s)
            | Value::Map(_, s)
            | Value::Neg(_, s) => *s,
            Value::Math { span, .. } => *span,
            Value::Path(p) => p.span,
            Value::Converter(c) => c.span,
        }
    }

    /// True for the operands that may follow a unary minus without parentheses.
    fn is_math_atom(&self) -> bool {
        matches!(
            self,
            Value::Int(..) | Value::Float(..) | Value::Path(_) | Value::Converter(_)
        )
    }
}

impl Key {
    /// Where the key is.
    pub fn span(&self) -> Span {
        match self {
            Key::Str(_, s) | Key::Int(_, s) => *s,
            Key::Expr(v) => v.span(),
        }
    }
}

impl BoolExpr {
    /// Where the expression is.
    pub fn span(&self) -> Span {
        match self {
            BoolExpr::Or(items) | BoolExpr::And(items) => match (items.first(), items.last()) {
                (Some(a), Some(b)) => a.span().to(b.span()),
                _ => Span::default(),
            },
            BoolExpr::Not(inner, s) => s.to(inner.span()),
            BoolExpr::Const(_, s) => *s,
            BoolExpr::Converter(c) => c.span,
            BoolExpr::Compare { left, right, .. } => left.span().to(right.span()),
        }
    }

    /// Sets every span to the default, so trees parsed from different texts compare by shape.
    pub fn clear_spans(&mut self) {
        match self {
            BoolExpr::Or(items) | BoolExpr::And(items) => {
                items.iter_mut().for_each(BoolExpr::clear_spans)
            }
            BoolExpr::Not(inner, s) => {
                *s = Span::default();
                inner.clear_spans();
            }
            BoolExpr::Const(_, s) => *s = Span::default(),
            BoolExpr::Converter(c) => c.clear_spans(),
            BoolExpr::Compare {
                left,
                op_span,
                right,
                ..
            } => {
                *op_span = Span::default();
                left.clear_spans();
                right.clear_spans();
            }
        }
    }
}

impl Value {
    /// Sets every span to the default.
    pub fn clear_spans(&mut self) {
        match self {
            Value::Nil(s)
            | Value::Bool(_, s)
            | Value::Int(_, s)
            | Value::Float(_, s)
            | Value::Str(_, s)
            | Value::Bytes(_, s)
            | Value::Enum(_, s)
            | Value::FuncName(_, s) => *s = Span::default(),
            Value::List(items, s) => {
                *s = Span::default();
                items.iter_mut().for_each(Value::clear_spans);
            }
            Value::Map(items, s) => {
                *s = Span::default();
                items.iter_mut().for_each(|(_, v)| v.clear_spans());
            }
            Value::Math {
                left, right, span, ..
            } => {
                *span = Span::default();
                left.clear_spans();
                right.clear_spans();
            }
            Value::Neg(v, s) => {
                *s = Span::default();
                v.clear_spans();
            }
            Value::Path(p) => {
                p.span = Span::default();
                for f in &mut p.fields {
                    f.span = Span::default();
                    f.keys.iter_mut().for_each(Key::clear_spans);
                }
            }
            Value::Converter(c) => c.clear_spans(),
        }
    }
}

impl Key {
    fn clear_spans(&mut self) {
        match self {
            Key::Str(_, s) | Key::Int(_, s) => *s = Span::default(),
            Key::Expr(v) => v.clear_spans(),
        }
    }
}

impl Converter {
    fn clear_spans(&mut self) {
        self.name_span = Span::default();
        self.span = Span::default();
        for a in &mut self.args {
            if let Some((_, s)) = &mut a.name {
                *s = Span::default();
            }
            a.value.clear_spans();
        }
        self.keys.iter_mut().for_each(Key::clear_spans);
    }
}

// === Printing ===

impl fmt::Display for BoolExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoolExpr::Or(items) => join(f, items, " or ", |e| matches!(e, BoolExpr::Or(_))),
            BoolExpr::And(items) => join(f, items, " and ", |e| {
                matches!(e, BoolExpr::Or(_) | BoolExpr::And(_))
            }),
            BoolExpr::Not(inner, _) => match **inner {
                BoolExpr::Or(_) | BoolExpr::And(_) | BoolExpr::Not(..) => {
                    write!(f, "not ({inner})")
                }
                _ => write!(f, "not {inner}"),
            },
            BoolExpr::Const(b, _) => write!(f, "{b}"),
            BoolExpr::Converter(c) => write!(f, "{c}"),
            BoolExpr::Compare {
                left, op, right, ..
            } => write!(f, "{left} {op} {right}"),
        }
    }
}

fn join(
    f: &mut fmt::Formatter<'_>,
    items: &[BoolExpr],
    sep: &str,
    needs_parens: impl Fn(&BoolExpr) -> bool,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        if needs_parens(item) {
            write!(f, "({item})")?
        } else {
            write!(f, "{item}")?
        }
    }
    Ok(())
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil(_) => f.write_str("nil"),
            Value::Bool(b, _) => write!(f, "{b}"),
            Value::Int(i, _) => write!(f, "{i}"),
            Value::Float(x, _) => write_float(f, *x),
            Value::Str(s, _) => write_quoted(f, s),
            Value::Bytes(b, _) => {
                f.write_str("0x")?;
                b.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
            Value::Enum(s, _) | Value::FuncName(s, _) => f.write_str(s),
            Value::Path(p) => write!(f, "{p}"),
            Value::Converter(c) => write!(f, "{c}"),
            Value::List(items, _) => {
                f.write_char('[')?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_char(']')
            }
            Value::Map(items, _) => {
                f.write_char('{')?;
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_quoted(f, k)?;
                    write!(f, ": {v}")?;
                }
                f.write_char('}')
            }
            Value::Math {
                left, op, right, ..
            } => {
                let wrap_left =
                    matches!(**left, Value::Math { op: l, .. } if l.precedence() < op.precedence());
                let wrap_right = matches!(**right, Value::Math { op: r, .. } if r.precedence() <= op.precedence());
                write_wrapped(f, left, wrap_left)?;
                write!(f, " {op} ")?;
                write_wrapped(f, right, wrap_right)
            }
            Value::Neg(inner, _) => {
                f.write_char('-')?;
                write_wrapped(f, inner, !inner.is_math_atom())
            }
        }
    }
}

fn write_wrapped(f: &mut fmt::Formatter<'_>, v: &Value, wrap: bool) -> fmt::Result {
    if wrap {
        write!(f, "({v})")
    } else {
        write!(f, "{v}")
    }
}

/// Floats print so that they lex as floats again (`1.0`, `1.5e300`) and round-trip exactly.
fn write_float(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    let plain = format!("{x:?}");
    if !plain.contains('e') && plain.contains('.') && plain.len() <= 24 {
        return f.write_str(&plain);
    }
    let sci = format!("{x:e}");
    match sci.split_once('e') {
        Some((mantissa, exp)) if !mantissa.contains('.') => write!(f, "{mantissa}.0e{exp}"),
        _ => f.write_str(&sci),
    }
}

/// Writes a string literal with the escapes Go's `strconv.Unquote` reads back.
pub(crate) fn write_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 || c == '\u{7f}' => write!(f, "\\x{:02x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_char('.')?;
            }
            f.write_str(&field.name)?;
            field.keys.iter().try_for_each(|k| write!(f, "{k}"))?;
        }
        Ok(())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Str(s, _) => {
                f.write_char('[')?;
                write_quoted(f, s)?;
                f.write_char(']')
            }
            Key::Int(i, _) => write!(f, "[{i}]"),
            Key::Expr(v) => write!(f, "[{v}]"),
        }
    }
}

impl fmt::Display for Converter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name)?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if let Some((name, _)) = &a.name {
                write!(f, "{name} = ")?;
            }
            write!(f, "{}", a.value)?;
        }
        f.write_char(')')?;
        self.keys.iter().try_for_each(|k| write!(f, "{k}"))
    }
}
