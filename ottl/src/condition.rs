//! The public entry points: compile a condition once at config time, evaluate it per span.
//! [`ConditionSet`] is the filter processor's list semantics (any true condition matches,
//! errors handled per `error_mode`).

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use crate::check::Compiler;
use crate::context::{ContextKind, SpanContext, SpanEventContext};
use crate::error::{EvalError, ParseError};
use crate::eval::{Eval, EventEnv, SpanEnv};
use crate::parser;
use crate::prefilter::{self, Literals};
use crate::program::Cond;

mod sealed {
    pub trait Sealed {}
}

/// Marker for the context a [`Condition`] is compiled for.
pub trait Context: sealed::Sealed {
    /// The OTTL context.
    const KIND: ContextKind;
}

/// `traces.span` conditions.
#[derive(Debug)]
pub enum Span {}
/// `traces.spanevent` conditions.
#[derive(Debug)]
pub enum SpanEvent {}
/// Conditions on a resource alone (the routing connector's `resource` context): unqualified
/// paths are the resource's, and no span, scope or event can be read.
#[derive(Debug)]
pub enum Resource {}

impl sealed::Sealed for Span {}
impl sealed::Sealed for SpanEvent {}
impl sealed::Sealed for Resource {}
impl Context for Span {
    const KIND: ContextKind = ContextKind::Span;
}
impl Context for SpanEvent {
    const KIND: ContextKind = ContextKind::SpanEvent;
}
impl Context for Resource {
    const KIND: ContextKind = ContextKind::Resource;
}

/// A compiled OTTL condition for context `K` ([`Span`], [`SpanEvent`] or [`Resource`]).
///
/// Compile once (`validate` time) with [`Condition::parse`]; evaluate per item with `eval`.
/// A compiled condition is immutable, `Send` and `Sync`: share it across workers.
pub struct Condition<K> {
    source: String,
    program: Cond,
    literals: Option<Literals>,
    _context: PhantomData<fn() -> K>,
}

/// A `traces.span` condition.
pub type SpanCondition = Condition<Span>;
/// A `traces.spanevent` condition.
pub type SpanEventCondition = Condition<SpanEvent>;
/// A `resource` condition.
pub type ResourceCondition = Condition<Resource>;

impl<K: Context> Condition<K> {
    /// Parses and checks `source`: syntax, paths, enums, converter names and arguments,
    /// literal types and regexes. The error carries the position.
    pub fn parse(source: &str) -> Result<Self, ParseError> {
        Self::compile(source, K::KIND)
    }

    fn compile(source: &str, kind: ContextKind) -> Result<Self, ParseError> {
        Self::from_ast(source, &parser::parse(source)?, kind)
    }

    fn from_ast(
        source: &str,
        ast: &crate::ast::BoolExpr,
        kind: ContextKind,
    ) -> Result<Self, ParseError> {
        let program = Compiler { src: source, kind }.cond(ast)?;
        // Event conditions read `span.*` and the event's own fields; only span ones vouch.
        let literals = match kind {
            ContextKind::Span => prefilter::required(ast),
            ContextKind::SpanEvent | ContextKind::Resource | ContextKind::Scope => None,
        };
        Ok(Self {
            source: source.to_owned(),
            program,
            literals,
            _context: PhantomData,
        })
    }

    /// Compiles the `where` clause of `statement`, parsed from `source` (positions in errors
    /// point into it): how a statement-shaped rule such as the routing connector's
    /// `route() where …` gets its condition. `None` when the statement has no `where`.
    pub fn from_where(
        source: &str,
        statement: &crate::ast::Statement,
    ) -> Result<Option<Self>, ParseError> {
        statement
            .condition
            .as_ref()
            .map(|ast| Self::from_ast(source, ast, K::KIND))
            .transpose()
    }

    /// Literals at least one of which a request's bytes contain whenever the condition is
    /// true of one of its spans ([`prefilter`]); `None` when the condition offers none.
    pub fn required_literals(&self) -> Option<&Literals> {
        self.literals.as_ref()
    }

    /// The condition as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the condition does not depend on the span at all (`true`, `1 == 1`).
    pub fn constant(&self) -> Option<bool> {
        match self.program {
            Cond::Const(b) => Some(b),
            _ => None,
        }
    }
}

impl Condition<Span> {
    /// Parses `source` in the `resource` or `scope` context (`Span`, and `SpanEvent` read as
    /// `Span`, give [`Condition::parse`]), for evaluation per span: unprefixed paths are the
    /// resource's or the scope's, so the condition holds for every span of a matching one.
    /// How the filter processor runs groups with an explicit `context: resource`.
    pub fn parse_in(source: &str, kind: ContextKind) -> Result<Self, ParseError> {
        let kind = match kind {
            ContextKind::SpanEvent => ContextKind::Span,
            k => k,
        };
        Self::compile(source, kind)
    }

    /// Evaluates the condition for one span.
    pub fn eval<C: SpanContext + ?Sized>(&self, span: &C) -> Result<bool, EvalError> {
        Eval::new(SpanEnv(span)).cond(&self.program)
    }
}

impl Condition<Resource> {
    /// Evaluates the condition for one resource. Only the resource accessors of `item`
    /// (`resource_attributes`, `resource_dropped_attributes_count`, `resource_schema_url`)
    /// are read: the compiler refuses any other path in this context.
    pub fn eval<C: SpanContext + ?Sized>(&self, item: &C) -> Result<bool, EvalError> {
        Eval::new(SpanEnv(item)).cond(&self.program)
    }
}

impl Condition<SpanEvent> {
    /// Evaluates the condition for one span event (with its span).
    pub fn eval<C: SpanEventContext + ?Sized>(&self, event: &C) -> Result<bool, EvalError> {
        Eval::new(EventEnv(event)).cond(&self.program)
    }
}

impl<K> fmt::Debug for Condition<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// What to do when evaluating a condition fails (the filter processor's `error_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorMode {
    /// Report the error and treat the condition as false.
    Ignore,
    /// Treat the condition as false without reporting.
    Silent,
    /// Fail the evaluation; the processor returns the error and the batch is not processed
    /// (the filter processor's default).
    #[default]
    Propagate,
}

impl FromStr for ErrorMode {
    type Err = String;

    /// Case-insensitive, like the collector's `UnmarshalText`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ignore" => Ok(ErrorMode::Ignore),
            "silent" => Ok(ErrorMode::Silent),
            "propagate" => Ok(ErrorMode::Propagate),
            _ => Err(format!(
                "unknown error mode {s:?}: use ignore, silent or propagate"
            )),
        }
    }
}

impl fmt::Display for ErrorMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorMode::Ignore => "ignore",
            ErrorMode::Silent => "silent",
            ErrorMode::Propagate => "propagate",
        })
    }
}

/// A condition in a list failed to compile.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("condition {index} ({source_text:?}): {error}")]
pub struct ConditionError {
    /// Position of the condition in the list (0-based).
    pub index: usize,
    /// The condition's text.
    pub source_text: String,
    /// Why it does not compile.
    #[source]
    pub error: ParseError,
}

/// A condition failed to evaluate under [`ErrorMode::Propagate`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("failed to eval condition: {condition}: {error}")]
pub struct EvalFailure {
    /// Position of the condition in the list (0-based).
    pub index: usize,
    /// The condition's text.
    pub condition: String,
    /// What went wrong.
    #[source]
    pub error: EvalError,
}

/// An ordered list of conditions joined by `or`, as in the filter processor's `traces.span`
/// and `traces.spanevent` lists: an item matches (and is dropped) when any condition is true.
#[derive(Debug)]
pub struct ConditionSet<K> {
    conditions: Vec<Condition<K>>,
    error_mode: ErrorMode,
}

impl ConditionSet<Span> {
    /// [`ConditionSet::parse`] with every condition in the `resource` or `scope` context
    /// ([`Condition::parse_in`]).
    pub fn parse_in<S: AsRef<str>>(
        conditions: &[S],
        error_mode: ErrorMode,
        kind: ContextKind,
    ) -> Result<Self, ConditionError> {
        Self::compile_all(conditions, error_mode, |s| Condition::parse_in(s, kind))
    }
}

impl<K: Context> ConditionSet<K> {
    /// Compiles every condition; the first failure is reported with its index.
    pub fn parse<S: AsRef<str>>(
        conditions: &[S],
        error_mode: ErrorMode,
    ) -> Result<Self, ConditionError> {
        Self::compile_all(conditions, error_mode, Condition::parse)
    }

    fn compile_all<S: AsRef<str>>(
        conditions: &[S],
        error_mode: ErrorMode,
        compile: impl Fn(&str) -> Result<Condition<K>, ParseError>,
    ) -> Result<Self, ConditionError> {
        let conditions = conditions
            .iter()
            .enumerate()
            .map(|(index, s)| {
                compile(s.as_ref()).map_err(|error| ConditionError {
                    index,
                    source_text: s.as_ref().to_owned(),
                    error,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            conditions,
            error_mode,
        })
    }

    /// The compiled conditions, in order.
    pub fn conditions(&self) -> &[Condition<K>] {
        &self.conditions
    }

    /// The configured error mode.
    pub fn error_mode(&self) -> ErrorMode {
        self.error_mode
    }

    /// True when the list is empty (nothing ever matches).
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// What a request needs before any condition of the list can be true of one of its
    /// spans: one of the literals in its bytes, or an attribute of one of the string keys
    /// holding something other than a string ([`prefilter`]). A request with neither matches
    /// no span and need not be evaluated. `None` when a condition offers no such test; no
    /// literal at all: the list never matches.
    pub fn required_literals(&self) -> Option<Literals> {
        self.conditions
            .iter()
            .try_fold(Literals::default(), |all, c| {
                Some(all.union(c.literals.clone()?))
            })
    }

    fn matches_with(
        &self,
        eval: impl Fn(&Condition<K>) -> Result<bool, EvalError>,
        mut on_ignored: impl FnMut(&Condition<K>, &EvalError),
    ) -> Result<bool, EvalFailure> {
        for (index, condition) in self.conditions.iter().enumerate() {
            match eval(condition) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(error) => match self.error_mode {
                    ErrorMode::Propagate => {
                        return Err(EvalFailure {
                            index,
                            condition: condition.source.clone(),
                            error,
                        });
                    }
                    ErrorMode::Ignore => on_ignored(condition, &error),
                    ErrorMode::Silent => {}
                },
            }
        }
        Ok(false)
    }
}

impl ConditionSet<Span> {
    /// Whether any condition is true for `span`. Under `ignore`, `on_ignored` is called for each
    /// failing condition (log it); the condition then counts as false.
    pub fn matches<C: SpanContext + ?Sized>(
        &self,
        span: &C,
        on_ignored: impl FnMut(&SpanCondition, &EvalError),
    ) -> Result<bool, EvalFailure> {
        self.matches_with(|c| c.eval(span), on_ignored)
    }
}

impl ConditionSet<SpanEvent> {
    /// Whether any condition is true for `event`; errors are handled as for span lists.
    pub fn matches<C: SpanEventContext + ?Sized>(
        &self,
        event: &C,
        on_ignored: impl FnMut(&SpanEventCondition, &EvalError),
    ) -> Result<bool, EvalFailure> {
        self.matches_with(|c| c.eval(event), on_ignored)
    }
}
