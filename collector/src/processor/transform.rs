//! `transform`: edits spans, span events, scopes and resources with OTTL statements, with
//! the OpenTelemetry Collector's configuration (`trace_statements`).
//!
//! - Groups `{context, statements, conditions, error_mode}` (`context`: `resource`, `scope`,
//!   `span`, `spanevent`); with no `context`, it is inferred from the paths' prefixes
//!   (`span.name`, `resource.attributes["k"]`): the lowest one named. Plain strings (the
//!   newest Collectors' flat form) each carry their prefixes; consecutive ones of the same
//!   context run as one group, so a `cache` value passes from one to the next.
//! - A group runs its statements in order on each item of its context that any of its
//!   `conditions` selects (all when there are none); groups run in order.
//! - `error_mode`: `propagate` (the default, as in the Collector: the request is refused with
//!   a permanent error, nothing of it goes on), `ignore` (logged, the next statement runs),
//!   `silent`; a group's own `error_mode` overrides the processor's.
//! - Only traces are transformed: non-empty `metric_statements`, `log_statements`,
//!   `profile_statements` are refused by name; in metrics and logs pipelines data passes
//!   through unchanged.
//!
//! Unlike the processors that rewrite protobuf bytes in place, a transformed request is
//! decoded and encoded whole (statements may change any field); a processor whose statements
//! cannot touch a request still decodes it, so put a `filter` before it for data it should
//! not see. The editors and their semantics: [`meshtrace_ottl::transform`].

use std::sync::Arc;

use bytes::Bytes;
use meshtrace_ottl::transform::{Part, StatementGroup};
use meshtrace_ottl::{ContextKind, ErrorMode, EvalFailure, parse_ast, parse_statement};
use prost::Message;
use serde::Deserialize;

use crate::component::{ComponentError, Context, Processor, ProcessorConfig, Validate};
use crate::config::{ConfigError, Value};
use crate::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::otlp::views::TracesView;
use crate::otlp::{Batch, Limits, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer};
use crate::processor::ItemCounters;
use crate::processor::filter::inferred::{self, Level, strings};
use crate::processor::filter::{de_error_mode, has_content};
use crate::processor::ottl_views::{ContextCache, EventCtx};

/// `processors: transform:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    /// What a failing statement does: `propagate` (default), `ignore` or `silent`.
    #[serde(default = "propagate", deserialize_with = "de_error_mode")]
    pub error_mode: ErrorMode,
    /// Statement groups (or flat statements) for traces.
    #[serde(default)]
    pub trace_statements: Option<Value>,
    /// Not supported (metrics).
    #[serde(default)]
    pub metric_statements: Option<Value>,
    /// Not supported (logs).
    #[serde(default)]
    pub log_statements: Option<Value>,
    /// Not supported (profiles).
    #[serde(default)]
    pub profile_statements: Option<Value>,
    /// Logs only in the Collector: only `false` is accepted.
    #[serde(default)]
    pub flatten_data: bool,
}

fn propagate() -> ErrorMode {
    ErrorMode::Propagate
}

/// One group read from the config, before compiling.
struct GroupSpec {
    context: ContextKind,
    statements: Vec<String>,
    conditions: Vec<String>,
    error_mode: ErrorMode,
    /// `trace_statements.N` (or the first flat statement's index).
    field: String,
    /// For flat statements: the index of each in `trace_statements`.
    flat_indexes: Option<Vec<usize>>,
}

const F: &str = "trace_statements";

/// The lowest context the paths of `statements` and `conditions` name; every path needs a
/// prefix. Statements that do not parse are left to the compile step to report.
fn infer(
    statements: &[String],
    conditions: &[String],
    field: &str,
) -> Result<ContextKind, ConfigError> {
    let mut level: Option<Level> = None;
    let paths = statements
        .iter()
        .filter_map(|s| {
            parse_statement(s)
                .ok()
                .map(|st| (s, inferred::statement_paths(&st)))
        })
        .chain(conditions.iter().filter_map(|c| {
            parse_ast(c)
                .ok()
                .map(|a| (c, inferred::condition_paths(&a)))
        }));
    for (src, firsts) in paths {
        for name in firsts {
            match inferred::level_of(&name) {
                Some(l) => level = level.max(Some(l)),
                None => {
                    return Err(ConfigError::new(format!(
                        "{src:?}: path {name:?} has no context prefix (span., spanevent., resource., scope.); without `context`, every path needs one"
                    ))
                    .field(field));
                }
            }
        }
    }
    Ok(level.unwrap_or(Level::Span).context())
}

fn context_named(name: &str) -> Option<ContextKind> {
    match name {
        "resource" => Some(ContextKind::Resource),
        "scope" | "instrumentation_scope" => Some(ContextKind::Scope),
        "span" => Some(ContextKind::Span),
        "spanevent" => Some(ContextKind::SpanEvent),
        _ => None,
    }
}

impl TransformConfig {
    fn specs(&self, errors: &mut Vec<ConfigError>) -> Vec<GroupSpec> {
        let Some(v) = self.trace_statements.as_ref().filter(|v| has_content(v)) else {
            return Vec::new();
        };
        let Value::Seq(items) = v.resolved() else {
            errors.push(ConfigError::new(format!("want a list, found {}", v.kind())).field(F));
            return Vec::new();
        };
        let flat = items
            .iter()
            .filter(|i| matches!(i.resolved(), Value::String(_)))
            .count();
        if flat > 0 && flat < items.len() {
            errors.push(ConfigError::new(
                "configuring multiple configuration styles is not supported, please use only Basic configuration or only Advanced configuration",
            ).field(F));
            return Vec::new();
        }
        let mut out: Vec<GroupSpec> = Vec::new();
        if flat > 0 {
            let statements = match strings(v, F, "statement") {
                Ok(s) => s,
                Err(e) => {
                    errors.push(e);
                    return Vec::new();
                }
            };
            for (i, s) in statements.into_iter().enumerate() {
                let field = format!("{F}.{i}");
                let context = match infer(std::slice::from_ref(&s), &[], &field) {
                    Ok(c) => c,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                match out.last_mut() {
                    Some(g) if g.context == context && g.flat_indexes.is_some() => {
                        g.statements.push(s);
                        if let Some(ix) = &mut g.flat_indexes {
                            ix.push(i);
                        }
                    }
                    _ => out.push(GroupSpec {
                        context,
                        statements: vec![s],
                        conditions: Vec::new(),
                        error_mode: self.error_mode,
                        field,
                        flat_indexes: Some(vec![i]),
                    }),
                }
            }
            return out;
        }
        for (g, item) in items.iter().enumerate() {
            let field = format!("{F}.{g}");
            let Some(map) = item.as_map() else {
                errors.push(ConfigError::new("want a map with `statements`").field(field));
                continue;
            };
            let mut context = None;
            let mut statements = Vec::new();
            let mut conditions = Vec::new();
            let mut mode = self.error_mode;
            let mut ok = true;
            for (k, v) in map {
                let sub = format!("{field}.{k}");
                match k.as_str() {
                    "context" => context = v.scalar_text().filter(|c| !c.is_empty()),
                    "statements" => match strings(v, &sub, "statement") {
                        Ok(s) => statements = s,
                        Err(e) => {
                            errors.push(e);
                            ok = false;
                        }
                    },
                    "conditions" => match strings(v, &sub, "condition") {
                        Ok(c) => conditions = c,
                        Err(e) => {
                            errors.push(e);
                            ok = false;
                        }
                    },
                    "error_mode" => match v.scalar_text().unwrap_or_default().parse() {
                        Ok(m) => mode = m,
                        Err(e) => {
                            errors.push(ConfigError::new(e).field(sub));
                            ok = false;
                        }
                    },
                    "shared_cache" => {
                        if v.scalar_text().as_deref() == Some("true") {
                            errors.push(ConfigError::new(
                                "a cache shared between groups is not supported: put the statements that share `cache` in one group",
                            ).field(sub));
                            ok = false;
                        }
                    }
                    other => {
                        errors.push(ConfigError::new(format!(
                            "unknown field `{other}`, expected one of `context`, `statements`, `conditions`, `error_mode`, `shared_cache`"
                        )).field(sub));
                        ok = false;
                    }
                }
            }
            if statements.is_empty() {
                errors.push(
                    ConfigError::new("a group needs at least one statement")
                        .field(format!("{field}.statements")),
                );
                continue;
            }
            let context = match context.as_deref().map(str::to_ascii_lowercase) {
                None => match infer(&statements, &conditions, &field) {
                    Ok(c) => c,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                },
                Some(name) => match context_named(&name) {
                    Some(c) => c,
                    None => {
                        errors.push(ConfigError::new(format!(
                            "unknown context {name:?} for traces; use resource, scope, span or spanevent"
                        )).field(format!("{field}.context")));
                        continue;
                    }
                },
            };
            if ok {
                out.push(GroupSpec {
                    context,
                    statements,
                    conditions,
                    error_mode: mode,
                    field,
                    flat_indexes: None,
                });
            }
        }
        out
    }

    fn compile(&self) -> Result<Vec<StatementGroup>, Vec<ConfigError>> {
        let mut errors = Vec::new();
        for (name, v) in [
            ("metric_statements", &self.metric_statements),
            ("log_statements", &self.log_statements),
            ("profile_statements", &self.profile_statements),
        ] {
            if v.as_ref().is_some_and(has_content) {
                errors.push(ConfigError::new(format!(
                    "`{name}` are not supported: meshtrace-collector transforms traces only (leave the section out or empty)"
                )).field(name));
            }
        }
        if self.flatten_data {
            errors.push(
                ConfigError::new(
                    "`flatten_data` applies to logs, which meshtrace-collector does not transform",
                )
                .field("flatten_data"),
            );
        }
        let specs = self.specs(&mut errors);
        let mut groups = Vec::with_capacity(specs.len());
        for spec in specs {
            match StatementGroup::parse(
                spec.context,
                &spec.statements,
                &spec.conditions,
                spec.error_mode,
            ) {
                Ok(g) => groups.push(g),
                Err(es) => {
                    for e in es {
                        let field = match (&spec.flat_indexes, e.part) {
                            (Some(ix), _) => {
                                format!("{F}.{}", ix.get(e.index).copied().unwrap_or(e.index))
                            }
                            (None, part) => format!("{}.{part}.{}", spec.field, e.index),
                        };
                        let what = match e.part {
                            Part::Statements => "statement",
                            Part::Conditions => "condition",
                        };
                        errors.push(
                            ConfigError::new(format!(
                                "invalid OTTL {what} ({} context): {}",
                                spec.context,
                                e.error.render(&e.source_text).replace('\n', "\n      ")
                            ))
                            .field(field),
                        );
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(groups)
        } else {
            Err(errors)
        }
    }
}

impl Validate for TransformConfig {
    fn validate(&self) -> Vec<ConfigError> {
        self.compile().err().unwrap_or_default()
    }
}

impl ProcessorConfig for TransformConfig {
    fn build(
        &self,
        ctx: &Context,
        signal: Signal,
        next: Arc<dyn Consumer>,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        let groups = self.compile().map_err(|e| ctx.config_errors(&e))?;
        let groups = if signal == Signal::Traces {
            groups
        } else {
            Vec::new()
        };
        Ok(Arc::new(TransformProcessor {
            precheck: groups
                .iter()
                .all(|g| matches!(g.context(), ContextKind::Span | ContextKind::SpanEvent)),
            groups,
            next,
            counters: ItemCounters::new(ctx, signal),
            label: ctx.label(),
        }))
    }
}

/// A running `transform` processor.
pub struct TransformProcessor {
    groups: Vec<StatementGroup>,
    /// All groups run on spans or span events, so whether any statement applies can be
    /// decided on the request's bytes before decoding it.
    precheck: bool,
    next: Arc<dyn Consumer>,
    counters: ItemCounters,
    label: String,
}

/// Why a request was not transformed.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// A statement failed under `error_mode: propagate`.
    #[error("failed to execute statement: {}: {}", .0.condition, .0.error)]
    Statement(EvalFailure),
    /// The request did not decode (it passed validation, so this is not expected).
    #[error("request does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
    /// The transformed request is not a valid request.
    #[error("transformed request is invalid: {0}")]
    Invalid(#[from] crate::otlp::ValidationError),
}

impl TransformProcessor {
    /// Transforms one request (the same bytes when the processor has no statements).
    pub fn transform(&self, batch: &Batch) -> Result<Batch, TransformError> {
        if self.groups.is_empty() || batch.is_empty() {
            return Ok(batch.clone());
        }
        if self.precheck && !self.may_change(batch) {
            return Ok(batch.clone());
        }
        let mut req = ExportTraceServiceRequest::decode(batch.bytes().as_ref())?;
        let mut ignored = 0usize;
        let mut first: Option<String> = None;
        let mut wrote = false;
        for g in &self.groups {
            wrote |= g
                .apply(&mut req.resource_spans, &mut |f| {
                    ignored += 1;
                    if first.is_none() {
                        first = Some(format!("{}: {}", f.condition, f.error));
                    }
                })
                .map_err(TransformError::Statement)?;
        }
        if ignored > 0 {
            tracing::warn!(
                component = %self.label,
                errors = ignored,
                first = first.as_deref().unwrap_or(""),
                "failed to execute statements (error_mode: ignore); the next statements ran"
            );
        }
        if !wrote {
            return Ok(batch.clone());
        }
        // Checked again with the receivers' default limits: statements can nest values
        // deeper or make them longer than the rest of the pipeline accepts.
        let bytes = Bytes::from(req.encode_to_vec());
        Ok(Batch::new_validated(
            Signal::Traces,
            bytes,
            &Limits::default(),
        )?)
    }
}

impl TransformProcessor {
    /// The same processor decoding every request, for comparisons.
    #[cfg(test)]
    pub(crate) fn without_precheck(mut self) -> Self {
        self.precheck = false;
        self
    }

    /// Whether any statement could apply to any span or event of the request, evaluated on
    /// the bytes as they are ([`StatementGroup::may_change_span`]). Groups run one after
    /// another on the whole request, but while none of them changes anything, each sees the
    /// request as it arrived, so checking every group against it is exact.
    fn may_change(&self, batch: &Batch) -> bool {
        let mut cache = ContextCache::default();
        for (rs, ss, span) in TracesView::new(batch.bytes()).spans() {
            let ctx = cache.get(&rs, &ss, &span);
            for g in &self.groups {
                let hit = if g.context() == ContextKind::SpanEvent {
                    span.events()
                        .any(|event| g.may_change_event(&EventCtx { span: ctx, event }))
                } else {
                    g.may_change_span(&ctx)
                };
                if hit {
                    return true;
                }
            }
        }
        false
    }
}

impl Consumer for TransformProcessor {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            self.counters.incoming.add(batch.items() as u64);
            let out = self.transform(&batch).map_err(|e| {
                tracing::warn!(component = %self.label, error = %e, "request refused (error_mode: propagate)");
                ConsumeError::permanent(format!("transform processor: {e}"))
            })?;
            self.counters.outgoing.add(out.items() as u64);
            self.next.consume(out).await
        })
    }
}

impl Processor for TransformProcessor {
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests;
