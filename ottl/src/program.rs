//! The compiled form of a condition: paths resolved to accessors, functions bound to their
//! definitions with arguments in parameter order, regexes compiled, constants folded.

use crate::ast::{CmpOp, MathOp};
use crate::functions::{Data, FuncDef};
use crate::paths::Accessor;
use crate::value::Const;

/// A boolean expression ready to evaluate.
#[derive(Debug)]
pub(crate) enum Cond {
    Const(bool),
    Or(Vec<Cond>),
    And(Vec<Cond>),
    Not(Box<Cond>),
    Compare(Box<(Expr, CmpOp, Expr)>),
    /// A converter call that must produce a boolean.
    Bool(Expr),
}

/// A value expression ready to evaluate.
#[derive(Debug)]
pub(crate) enum Expr {
    Const(Const),
    Path(Box<PathExpr>),
    Call(Box<Call>),
    /// A list literal with at least one non-constant element.
    List(Vec<Expr>),
    /// A map literal with at least one non-constant value (keys deduplicated, last wins).
    Map(Vec<(String, Expr)>),
    Math(Box<(Expr, MathOp, Expr)>),
    Neg(Box<Expr>),
}

/// A telemetry read and the keys applied to it.
#[derive(Debug)]
pub(crate) struct PathExpr {
    pub acc: Accessor,
    pub keys: Vec<KeyExpr>,
}

/// One `[…]` index.
#[derive(Debug)]
pub(crate) enum KeyExpr {
    Str(String),
    Int(i64),
    /// Evaluated per span; must give a string (map key) or an int (list index).
    Dyn(Expr),
}

/// A converter call with its arguments in parameter order (`None` = optional, omitted).
#[derive(Debug)]
pub(crate) struct Call {
    pub def: &'static FuncDef,
    pub args: Vec<Option<CallArg>>,
    /// Work done once at compile time (compiled regex, parsed CIDRs, …).
    pub data: Data,
    pub keys: Vec<KeyExpr>,
}

/// An argument: one expression, or the items of a list literal for slice parameters
/// (`Concat([a, b], "")`), evaluated one by one without building a list.
#[derive(Debug)]
pub(crate) enum CallArg {
    Expr(Expr),
    Items(Vec<Expr>),
}
