//! Transform statements for trace data: what the collector's `transform` processor runs
//! (`trace_statements`), following the transform processor and `pkg/ottl/ottlfuncs` of
//! opentelemetry-collector-contrib.
//!
//! A statement is an editor call with an optional `where` condition,
//! `set(attributes["env"], "prod") where resource.attributes["k8s.namespace.name"] == "shop"`,
//! compiled once for one context (`resource`, `scope`, `span`, `spanevent`) and run on the
//! decoded request (`opentelemetry-proto` structs), each item of the group's context in turn.
//!
//! ```
//! use meshtrace_ottl::transform::StatementGroup;
//! use meshtrace_ottl::{ContextKind, ErrorMode};
//! use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
//!
//! let group = StatementGroup::parse(
//!     ContextKind::Span,
//!     &[r#"set(attributes["http.route"], "/health") where name == "probe""#,
//!       r#"replace_pattern(name, "/users/[0-9]+", "/users/{id}")"#],
//!     &[] as &[&str],
//!     ErrorMode::Propagate,
//! ).map_err(|e| e[0].to_string())?;
//! let mut data = vec![ResourceSpans {
//!     scope_spans: vec![ScopeSpans {
//!         spans: vec![Span { name: "GET /users/42".into(), ..Default::default() }],
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! }];
//! group.apply(&mut data, &mut |_| {}).map_err(|e| e.to_string())?;
//! assert_eq!(data[0].scope_spans[0].spans[0].name, "GET /users/{id}");
//! # Ok::<(), String>(())
//! ```
//!
//! **Editors** ([`supported_editors`]): `set`, `delete_key`, `delete_matching_keys`,
//! `keep_keys`, `keep_matching_keys`, `limit`, `truncate_all`, `replace_pattern`,
//! `replace_all_patterns`, `replace_match`, `replace_all_matches` (with an optional `SHA1`,
//! `SHA256`, `SHA512` or `MD5` function and `%s` format), `merge_maps`, `append`. Every path
//! can be a target; as in Go, a value of a type the field cannot take is not written
//! (`set(name, 1)`), and `set` of `nil` does nothing. `cache` is a scratch map shared by the
//! statements of a group while they run on one item. `truncate_all` cuts at a character
//! boundary (a string value must stay UTF-8).

mod editor;
mod glob;
mod proto;

use std::fmt;

use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};

pub use editor::{AttributeWrite, supported_editors};

use crate::ast;
use crate::check::Compiler;
use crate::condition::{ErrorMode, EvalFailure};
use crate::context::ContextKind;
use crate::context::{SpanContext, SpanEventContext};
use crate::error::{EvalError, ParseError};
use crate::eval::{Eval, EventEnv, SpanEnv};
use crate::parser;
use crate::program::Cond;
use editor::Editor;
use proto::ItemMut;

/// One compiled statement.
#[derive(Debug)]
pub struct Statement {
    source: String,
    editor: Editor,
    condition: Option<Cond>,
}

impl Statement {
    /// Parses and checks `source` for `context`: the editor and its arguments, paths,
    /// converters and the `where` condition. The error carries the position.
    pub fn parse(source: &str, context: ContextKind) -> Result<Self, ParseError> {
        let ast::Statement { editor, condition } = parser::parse_statement(source)?;
        let comp = Compiler {
            src: source,
            kind: context,
        };
        let editor = Editor::compile(&comp, &editor)?;
        let condition = match condition.map(|c| comp.cond(&c)).transpose()? {
            Some(Cond::Const(true)) => None,
            c => c,
        };
        Ok(Self {
            source: source.to_owned(),
            editor,
            condition,
        })
    }

    /// The statement as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Runs the statement on one item; whether it wrote anything.
    fn run(&self, item: &mut ItemMut<'_>) -> Result<bool, EvalError> {
        let plan = {
            let view = item.view();
            let ev = Eval::new(EventEnv(&view));
            if let Some(c) = &self.condition
                && !ev.cond(c)?
            {
                return Ok(false);
            }
            self.editor.plan(&ev)?
        };
        let writes = !matches!(plan, editor::Plan::Nothing);
        plan.apply(self.editor.target_accessor(), item)?;
        Ok(writes)
    }
}

/// Which list of a group a compile error is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `statements`
    Statements,
    /// `conditions`
    Conditions,
}

/// A statement or condition of a group that does not compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {source_text:?}: {error}", match part { Part::Statements => "statement", Part::Conditions => "condition" })]
pub struct StatementError {
    /// The list it is in.
    pub part: Part,
    /// Its index in that list.
    pub index: usize,
    /// Its text.
    pub source_text: String,
    /// What is wrong.
    pub error: ParseError,
}

/// Statements that run in one context, in order, on the items any of the group's
/// `conditions` select (all items when there are none), with the group's `error_mode`.
#[derive(Debug)]
pub struct StatementGroup {
    context: ContextKind,
    conditions: Vec<(String, Cond)>,
    statements: Vec<Statement>,
    error_mode: ErrorMode,
}

impl StatementGroup {
    /// Compiles a group, reporting every statement and condition that does not compile.
    pub fn parse<S: AsRef<str>, C: AsRef<str>>(
        context: ContextKind,
        statements: &[S],
        conditions: &[C],
        error_mode: ErrorMode,
    ) -> Result<Self, Vec<StatementError>> {
        let mut errors = Vec::new();
        let mut compiled = Vec::with_capacity(statements.len());
        for (index, s) in statements.iter().enumerate() {
            match Statement::parse(s.as_ref(), context) {
                Ok(st) => compiled.push(st),
                Err(error) => errors.push(StatementError {
                    part: Part::Statements,
                    index,
                    source_text: s.as_ref().to_owned(),
                    error,
                }),
            }
        }
        let mut conds = Vec::with_capacity(conditions.len());
        for (index, c) in conditions.iter().enumerate() {
            let src = c.as_ref();
            let compiled =
                parser::parse(src).and_then(|ast| Compiler { src, kind: context }.cond(&ast));
            match compiled {
                Ok(cond) => conds.push((src.to_owned(), cond)),
                Err(error) => errors.push(StatementError {
                    part: Part::Conditions,
                    index,
                    source_text: src.to_owned(),
                    error,
                }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            context,
            conditions: conds,
            statements: compiled,
            error_mode,
        })
    }

    /// The context the group runs in.
    pub fn context(&self) -> ContextKind {
        self.context
    }

    /// The group's statements.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// The group's error mode.
    pub fn error_mode(&self) -> ErrorMode {
        self.error_mode
    }

    /// Whether running this `span`-context group on `span`, as it arrived, could change
    /// anything: `false` only when the group's conditions all fail, or each statement's
    /// `where` is false. Exact, because a statement whose `where` is false writes nothing, so
    /// the next one sees the item unchanged; an evaluation error counts as a change (the
    /// full run reports it). Lets a caller skip decoding requests no statement applies to.
    pub fn may_change_span<C: SpanContext + ?Sized>(&self, span: &C) -> bool {
        self.may_change(&Eval::new(SpanEnv(span)))
    }

    /// [`may_change_span`](Self::may_change_span) for a `spanevent`-context group and one
    /// event.
    pub fn may_change_event<C: SpanEventContext + ?Sized>(&self, event: &C) -> bool {
        self.may_change(&Eval::new(EventEnv(event)))
    }

    fn may_change<'a, E: crate::eval::Env<'a>>(&'a self, ev: &Eval<'a, E>) -> bool {
        if !self.conditions.is_empty()
            && self
                .conditions
                .iter()
                .all(|(_, c)| matches!(ev.cond(c), Ok(false)))
        {
            return false;
        }
        self.statements.iter().any(|st| match &st.condition {
            None => true,
            Some(c) => !matches!(ev.cond(c), Ok(false)),
        })
    }

    /// True when the group runs on spans or span events and every statement writes to the
    /// span (or its events, or `cache`), never to its scope or resource: then it can run on
    /// one decoded span at a time ([`apply_to_span`](Self::apply_to_span)).
    pub fn writes_only_spans(&self) -> bool {
        use crate::paths::Accessor as A;
        matches!(self.context, ContextKind::Span | ContextKind::SpanEvent)
            && self.statements.iter().all(|st| {
                !matches!(
                    st.editor.target_accessor(),
                    A::ResourceAttributes
                        | A::ResourceDroppedAttributesCount
                        | A::ResourceSchemaUrl
                        | A::ScopeName
                        | A::ScopeVersion
                        | A::ScopeAttributes
                        | A::ScopeDroppedAttributesCount
                        | A::ScopeSchemaUrl
                )
            })
    }

    /// True when the group runs on spans and every statement writes keys of the span's own
    /// attributes only (`set(attributes["k"], …)`, `delete_key`, `keep_keys`, … on
    /// `attributes`): then it can be planned on the span as it arrived
    /// ([`attribute_writes`](Self::attribute_writes)).
    pub fn writes_span_attributes_only(&self) -> bool {
        self.context == ContextKind::Span
            && self
                .statements
                .iter()
                .all(|st| st.editor.writes_span_attributes_only())
    }

    /// Plans the group on a span as it arrived, for a group that
    /// [`writes_span_attributes_only`](Self::writes_span_attributes_only): the writes go to
    /// `out`, in order. `written` says whether earlier statements (of this or earlier groups)
    /// wrote attributes of this span; a statement or condition that would read them then is
    /// not planned: `Ok(false)`, and the caller runs the span decoded instead. Failures are
    /// handled by the group's error mode as in [`apply`](Self::apply).
    pub fn attribute_writes<'s, C: SpanContext + ?Sized>(
        &'s self,
        span: &C,
        written: &mut bool,
        out: &mut Vec<AttributeWrite<'s>>,
        report: &mut dyn FnMut(EvalFailure),
    ) -> Result<bool, EvalFailure> {
        use crate::paths::Accessor;
        let attrs = Accessor::Attributes;
        let ev = Eval::new(SpanEnv(span));
        if !self.conditions.is_empty() {
            if *written
                && self
                    .conditions
                    .iter()
                    .any(|(_, c)| editor::cond_reads(c, attrs))
            {
                return Ok(false);
            }
            let mut selected = false;
            for (index, (source, cond)) in self.conditions.iter().enumerate() {
                match ev.cond(cond) {
                    Ok(true) => {
                        selected = true;
                        break;
                    }
                    Ok(false) => {}
                    Err(error) => self.fail(
                        EvalFailure {
                            index,
                            condition: source.clone(),
                            error,
                        },
                        report,
                    )?,
                }
            }
            if !selected {
                return Ok(true);
            }
        }
        for (index, st) in self.statements.iter().enumerate() {
            if *written
                && (st.editor.reads(attrs)
                    || st
                        .condition
                        .as_ref()
                        .is_some_and(|c| editor::cond_reads(c, attrs)))
            {
                return Ok(false);
            }
            let planned = match &st.condition {
                Some(c) => match ev.cond(c) {
                    Ok(false) => Ok(None),
                    Ok(true) => st.editor.plan(&ev).map(Some),
                    Err(e) => Err(e),
                },
                None => st.editor.plan(&ev).map(Some),
            };
            match planned {
                Ok(None) => {}
                Ok(Some(plan)) => match plan.attribute_write() {
                    Ok(None) => {}
                    Ok(Some(w)) => {
                        out.push(w);
                        *written = true;
                    }
                    Err(()) => return Ok(false),
                },
                Err(error) => self.fail(
                    EvalFailure {
                        index,
                        condition: st.source.clone(),
                        error,
                    },
                    report,
                )?,
            }
        }
        Ok(true)
    }

    /// True when the group has no conditions and a statement without `where`: it writes to
    /// every item of its context.
    pub fn applies_to_every_item(&self) -> bool {
        self.conditions.is_empty() && self.statements.iter().any(|st| st.condition.is_none())
    }

    /// Runs a `span` or `spanevent` group on one span (and its events), with the resource
    /// and scope it belongs to; whether any statement wrote. The same as [`apply`](Self::apply)
    /// restricted to that span; resource and scope are only read when
    /// [`writes_only_spans`](Self::writes_only_spans).
    #[allow(clippy::too_many_arguments)]
    pub fn apply_to_span(
        &self,
        resource: &mut Option<Resource>,
        resource_schema_url: &mut String,
        scope: &mut Option<InstrumentationScope>,
        scope_schema_url: &mut String,
        span: &mut Span,
        report: &mut dyn FnMut(EvalFailure),
    ) -> Result<bool, EvalFailure> {
        let mut cache = Vec::new();
        self.spans(
            resource,
            resource_schema_url,
            scope,
            scope_schema_url,
            std::slice::from_mut(span),
            &mut cache,
            report,
        )
    }

    /// Runs the group on every item of its context in `data`; whether any statement wrote
    /// (a write may leave a value as it was). With `error_mode: propagate` the first failure
    /// stops it and is returned (what ran before stays done); otherwise failures go to
    /// `report` (`ignore`) or nowhere (`silent`) and the next statement runs.
    pub fn apply(
        &self,
        data: &mut [ResourceSpans],
        report: &mut dyn FnMut(EvalFailure),
    ) -> Result<bool, EvalFailure> {
        let mut cache = Vec::new();
        let mut wrote = false;
        for rs in data {
            let ResourceSpans {
                resource,
                scope_spans,
                schema_url,
            } = rs;
            if self.context == ContextKind::Resource {
                wrote |= self.item(
                    ItemMut {
                        resource,
                        resource_schema_url: schema_url,
                        scope: None,
                        span: None,
                        event: None,
                        cache: &mut cache,
                    },
                    report,
                )?;
                continue;
            }
            for ss in scope_spans {
                let opentelemetry_proto::tonic::trace::v1::ScopeSpans {
                    scope,
                    spans,
                    schema_url: scope_url,
                } = ss;
                wrote |= match self.context {
                    ContextKind::Scope => self.item(
                        ItemMut {
                            resource,
                            resource_schema_url: schema_url,
                            scope: Some((scope, scope_url)),
                            span: None,
                            event: None,
                            cache: &mut cache,
                        },
                        report,
                    )?,
                    _ => self.spans(
                        resource, schema_url, scope, scope_url, spans, &mut cache, report,
                    )?,
                };
            }
        }
        Ok(wrote)
    }

    #[allow(clippy::too_many_arguments)]
    fn spans(
        &self,
        resource: &mut Option<Resource>,
        resource_url: &mut String,
        scope: &mut Option<InstrumentationScope>,
        scope_url: &mut String,
        spans: &mut [Span],
        cache: &mut Vec<KeyValue>,
        report: &mut dyn FnMut(EvalFailure),
    ) -> Result<bool, EvalFailure> {
        let mut wrote = false;
        for span in spans {
            let events = if self.context == ContextKind::SpanEvent {
                span.events.len()
            } else {
                1
            };
            for i in 0..events {
                wrote |= self.item(
                    ItemMut {
                        resource: &mut *resource,
                        resource_schema_url: &mut *resource_url,
                        scope: Some((&mut *scope, &mut *scope_url)),
                        span: Some(&mut *span),
                        event: (self.context == ContextKind::SpanEvent).then_some(i),
                        cache: &mut *cache,
                    },
                    report,
                )?;
            }
        }
        Ok(wrote)
    }

    fn item(
        &self,
        mut item: ItemMut<'_>,
        report: &mut dyn FnMut(EvalFailure),
    ) -> Result<bool, EvalFailure> {
        item.cache.clear();
        if !self.selected(&item, report)? {
            return Ok(false);
        }
        let mut wrote = false;
        for (index, st) in self.statements.iter().enumerate() {
            match st.run(&mut item) {
                Ok(w) => wrote |= w,
                Err(error) => self.fail(
                    EvalFailure {
                        index,
                        condition: st.source.clone(),
                        error,
                    },
                    report,
                )?,
            }
        }
        Ok(wrote)
    }

    /// Whether any group condition holds (true when there are none).
    fn selected(
        &self,
        item: &ItemMut<'_>,
        report: &mut dyn FnMut(EvalFailure),
    ) -> Result<bool, EvalFailure> {
        if self.conditions.is_empty() {
            return Ok(true);
        }
        let view = item.view();
        let ev = Eval::new(EventEnv(&view));
        for (index, (source, cond)) in self.conditions.iter().enumerate() {
            match ev.cond(cond) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(error) => self.fail(
                    EvalFailure {
                        index,
                        condition: source.clone(),
                        error,
                    },
                    report,
                )?,
            }
        }
        Ok(false)
    }

    fn fail(&self, f: EvalFailure, report: &mut dyn FnMut(EvalFailure)) -> Result<(), EvalFailure> {
        match self.error_mode {
            ErrorMode::Propagate => Err(f),
            ErrorMode::Ignore => {
                report(f);
                Ok(())
            }
            ErrorMode::Silent => Ok(()),
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Statements => "statements",
            Part::Conditions => "conditions",
        })
    }
}

#[cfg(test)]
mod tests;
