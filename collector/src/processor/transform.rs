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
//! Statements that only write keys of their span's attributes are planned on the request's
//! bytes and applied as attribute edits (`Mode::Attributes`). Others may change any field, so
//! what they run on is decoded (`opentelemetry-proto`): the whole request when a statement writes to every span or to a scope or resource
//! (`Mode::Decode`), otherwise only the spans a statement applies to, spliced back into the
//! request's bytes (`Mode::SpanBySpan`). Whether any statement applies is first decided on
//! the bytes, and a request none applies to passes on as it came. The editors and their
//! semantics: [`meshtrace_ottl::transform`].

use std::sync::Arc;

use bytes::Bytes;
use meshtrace_ottl::transform::{AttributeWrite, Part, StatementGroup};
use meshtrace_ottl::{ContextKind, ErrorMode, EvalFailure, parse_ast, parse_statement};
use prost::Message;
use serde::Deserialize;

use crate::component::{ComponentError, Context, Processor, ProcessorConfig, Validate};
use crate::config::{ConfigError, Value};
use crate::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::otlp::proto::common::v1::InstrumentationScope;
use crate::otlp::proto::resource::v1::Resource;
use crate::otlp::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use crate::otlp::rewrite::{
    Action, AttributeEdits, SpanEdit, TracesEditor, Value as RValue, rewrite_traces,
};
use crate::otlp::views::{ResourceSpansView, ScopeSpansView, SpanView, TracesView};
use crate::otlp::{Batch, Limits, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer};
use crate::processor::ItemCounters;
use crate::processor::filter::inferred::{self, Level, strings};
use crate::processor::filter::{de_error_mode, has_content};
use crate::processor::ottl_views::{ContextCache, EventCtx, SpanCtx};

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
            mode: Mode::of(&groups),
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
    mode: Mode,
    next: Arc<dyn Consumer>,
    counters: ItemCounters,
    label: String,
}

/// How requests are run, decided from the statements once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Statements write to scopes or resources: decode the whole request and run each group
    /// on all of it (after a check on the bytes when all groups run on spans or events).
    Decode { precheck: bool },
    /// Every statement writes keys of its span's attributes only: plan each span as it
    /// arrived, on the bytes, and record the writes as attribute edits (as the `attributes`
    /// processor does), decoding a span only when a statement reads attributes an earlier one
    /// wrote (then as [`Mode::SpanBySpan`]).
    Attributes,
    /// Every statement writes to its span only, and none to every span: decode, run and
    /// re-encode only the spans a statement applies to (checked on the bytes), copying the
    /// rest of the request as it is.
    SpanBySpan,
}

impl Mode {
    fn of(groups: &[StatementGroup]) -> Mode {
        if !groups.is_empty()
            && groups
                .iter()
                .all(StatementGroup::writes_span_attributes_only)
        {
            return Mode::Attributes;
        }
        // A statement that writes to every span would have every span decoded one by one,
        // which costs more than decoding the request once (BENCHMARKS.md).
        if !groups.is_empty()
            && groups.iter().all(StatementGroup::writes_only_spans)
            && !groups.iter().any(StatementGroup::applies_to_every_item)
        {
            Mode::SpanBySpan
        } else {
            Mode::Decode {
                precheck: groups
                    .iter()
                    .all(|g| matches!(g.context(), ContextKind::Span | ContextKind::SpanEvent)),
            }
        }
    }
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
    /// A transformed span is not a valid span (where in it: `attributes[1].value…`).
    #[error("transformed span {name:?} is invalid: {reason}")]
    InvalidSpan {
        /// The span's name after the statements ran.
        name: String,
        /// What is wrong, and where in the span.
        reason: String,
    },
}

impl TransformProcessor {
    /// Transforms one request (the same bytes when the processor has no statements).
    pub fn transform(&self, batch: &Batch) -> Result<Batch, TransformError> {
        if self.groups.is_empty() || batch.is_empty() {
            return Ok(batch.clone());
        }
        match self.mode {
            Mode::SpanBySpan | Mode::Attributes => return self.span_by_span(batch),
            Mode::Decode { precheck: true } if !self.may_change(batch) => {
                return Ok(batch.clone());
            }
            Mode::Decode { .. } => {}
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
        self.warn_ignored(ignored, first.as_deref());
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
    /// The same processor decoding every request whole, for comparisons.
    #[cfg(test)]
    pub(crate) fn decoding_everything(mut self) -> Self {
        self.mode = Mode::Decode { precheck: false };
        self
    }

    fn warn_ignored(&self, ignored: usize, first: Option<&str>) {
        if ignored > 0 {
            tracing::warn!(
                component = %self.label,
                errors = ignored,
                first = first.unwrap_or(""),
                "failed to execute statements (error_mode: ignore); the next statements ran"
            );
        }
    }

    /// [`Mode::SpanBySpan`]: the spans no statement applies to stay bytes.
    fn span_by_span(&self, batch: &Batch) -> Result<Batch, TransformError> {
        let mut runner = SpanRunner {
            groups: &self.groups,
            plan_on_bytes: self.mode == Mode::Attributes,
            writes: Vec::new(),
            errors: Vec::new(),
            cache: ContextCache::default(),
            decoded: Decoded::default(),
            failure: None,
            ignored: 0,
            first: None,
        };
        let out = rewrite_traces(batch, &mut runner);
        if let Some(f) = runner.failure {
            return Err(f);
        }
        self.warn_ignored(runner.ignored, runner.first.as_deref());
        Ok(out)
    }

    /// Whether any statement could apply to any span or event of the request, evaluated on
    /// the bytes as they are ([`StatementGroup::may_change_span`]). Groups run one after
    /// another on the whole request, but while none of them changes anything, each sees the
    /// request as it arrived, so checking every group against it is exact.
    fn may_change(&self, batch: &Batch) -> bool {
        let mut cache = ContextCache::default();
        for (rs, ss, span) in TracesView::new(batch.bytes()).spans() {
            let ctx = cache.get(&rs, &ss, &span);
            if self.groups.iter().any(|g| may_change(g, ctx, &span)) {
                return true;
            }
        }
        false
    }
}

/// Whether `g` could write to `span` (or one of its events) as it arrived.
fn may_change(g: &StatementGroup, ctx: SpanCtx<'_>, span: &SpanView<'_>) -> bool {
    if g.context() == ContextKind::SpanEvent {
        span.events()
            .any(|event| g.may_change_event(&EventCtx { span: ctx, event }))
    } else {
        g.may_change_span(&ctx)
    }
}

/// The resource and scope of the spans being run, decoded once per group (statements read
/// them; in [`Mode::SpanBySpan`] none writes them). Keys are the groups' addresses in the
/// request; 0, before the first, matches none.
#[derive(Default)]
struct Decoded {
    resource_key: usize,
    resource: Option<Resource>,
    resource_schema_url: String,
    scope_key: usize,
    scope: Option<InstrumentationScope>,
    scope_schema_url: String,
}

/// Runs the groups span by span inside `rewrite_traces`.
struct SpanRunner<'p, 'a> {
    groups: &'p [StatementGroup],
    /// [`Mode::Attributes`]: spans are planned on their bytes first.
    plan_on_bytes: bool,
    /// The writes planned for the current span (reused).
    writes: Vec<AttributeWrite<'p>>,
    /// The failures ignored while planning the current span (reported if the plan is used).
    errors: Vec<EvalFailure>,
    cache: ContextCache<'a>,
    decoded: Decoded,
    failure: Option<TransformError>,
    ignored: usize,
    first: Option<String>,
}

impl<'a> SpanRunner<'_, 'a> {
    fn decoded(
        &mut self,
        rs: &ResourceSpansView<'a>,
        ss: &ScopeSpansView<'a>,
    ) -> Result<&mut Decoded, prost::DecodeError> {
        let (rkey, skey) = (rs.raw().as_ptr() as usize, ss.raw().as_ptr() as usize);
        let d = &mut self.decoded;
        if d.resource_key != rkey {
            d.resource = Some(Resource::decode(rs.resource().raw())?);
            d.resource_schema_url = rs.schema_url().to_owned();
            d.resource_key = rkey;
        }
        if d.scope_key != skey {
            d.scope = Some(InstrumentationScope::decode(ss.scope().raw())?);
            d.scope_schema_url = ss.schema_url().to_owned();
            d.scope_key = skey;
        }
        Ok(d)
    }
}

/// A span's encoding, checked with the receivers' default limits: statements can nest values
/// deeper or make them longer than the rest of the pipeline accepts.
fn checked(span: Span) -> Result<Vec<u8>, TransformError> {
    let len = span.encoded_len();
    let name = span.name.clone();
    // Validated as the one span of a request; its encoding is that request's last bytes.
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let bytes = request.encode_to_vec();
    crate::otlp::validate(Signal::Traces, &bytes, &Limits::default()).map_err(|e| {
        let reason = e.to_string();
        // The path and offset are the wrapper's: keep the path inside the span only.
        let reason = reason
            .strip_prefix("resource_spans[0].scope_spans[0].spans[0].")
            .unwrap_or(&reason);
        let reason = match reason.rfind(" (at byte ") {
            Some(at) => reason.get(..at).unwrap_or(reason),
            None => reason,
        }
        .to_owned();
        TransformError::InvalidSpan { name, reason }
    })?;
    Ok(bytes
        .get(bytes.len().saturating_sub(len)..)
        .unwrap_or_default()
        .to_vec())
}

impl<'a> TracesEditor<'a> for SpanRunner<'_, 'a> {
    fn span(
        &mut self,
        rs: &ResourceSpansView<'a>,
        ss: &ScopeSpansView<'a>,
        span: &SpanView<'a>,
        edit: &mut SpanEdit<'a>,
    ) -> Action {
        if self.failure.is_some() {
            return Action::Keep;
        }
        let ctx = self.cache.get(rs, ss, span);
        if self.plan_on_bytes {
            match self.plan(&ctx) {
                Ok(true) => {
                    apply_writes(&self.writes, &mut edit.attributes);
                    return Action::Keep;
                }
                Ok(false) => {}
                Err(f) => {
                    self.failure = Some(TransformError::Statement(f));
                    return Action::Keep;
                }
            }
        } else if !self.groups.iter().any(|g| may_change(g, ctx, span)) {
            return Action::Keep;
        }
        match self.run(rs, ss, span) {
            Ok(Some(body)) => edit.replace(body),
            Ok(None) => {}
            Err(e) => self.failure = Some(e),
        }
        Action::Keep
    }
}

impl<'p, 'a> SpanRunner<'p, 'a> {
    /// Plans every group on the span as it arrived ([`StatementGroup::attribute_writes`]);
    /// `Ok(false)` when the span has to be run decoded (a statement reads attributes an
    /// earlier one wrote, or a value the edits cannot carry as checked).
    fn plan(&mut self, ctx: &SpanCtx<'a>) -> Result<bool, EvalFailure> {
        self.writes.clear();
        self.errors.clear();
        let mut written = false;
        let errors = &mut self.errors;
        for g in self.groups {
            if !g.attribute_writes(ctx, &mut written, &mut self.writes, &mut |f| errors.push(f))? {
                return Ok(false);
            }
        }
        if !self.writes.iter().all(fits) || sets_a_removed_key(&self.writes) {
            return Ok(false);
        }
        self.ignored += self.errors.len();
        if self.first.is_none() {
            self.first = self
                .errors
                .first()
                .map(|f| format!("{}: {}", f.condition, f.error));
        }
        Ok(true)
    }
}

/// Whether a planned write can go into the span without the validation a decoded span gets:
/// a scalar within the receivers' limits (nested values are checked on the decoded span).
fn fits(w: &AttributeWrite<'_>) -> bool {
    use crate::otlp::proto::common::v1::any_value::Value as V;
    let max = Limits::default().max_value_bytes;
    match w {
        AttributeWrite::Set(k, v) => {
            k.len() <= max
                && match &v.value {
                    Some(V::StringValue(s)) => s.len() <= max,
                    Some(V::BytesValue(b)) => b.len() <= max,
                    Some(V::ArrayValue(_) | V::KvlistValue(_) | V::StringValueStrindex(_)) => false,
                    _ => true,
                }
        }
        _ => true,
    }
}

/// Whether a `set` follows a removal of the same key: the removed key set again goes last
/// (pdata's `Remove` then `Put*`), which the edits, keeping the original order, would not
/// give; such a span is run decoded.
fn sets_a_removed_key(writes: &[AttributeWrite<'_>]) -> bool {
    writes.iter().enumerate().any(|(i, w)| {
        let AttributeWrite::Set(k, _) = w else {
            return false;
        };
        writes.iter().take(i).any(|earlier| match earlier {
            AttributeWrite::Set(..) => false,
            AttributeWrite::Delete(d) => d == k,
            AttributeWrite::DeleteMatching(re) => re.is_match(k),
            AttributeWrite::Keep(keep) => !keep.iter().any(|x| x == k),
            AttributeWrite::KeepMatching(re) => !re.is_match(k),
        })
    })
}

/// Records planned writes as edits of the span's attributes.
fn apply_writes<'a>(writes: &[AttributeWrite<'_>], edits: &mut AttributeEdits<'a>) {
    use crate::otlp::proto::common::v1::any_value::Value as V;
    for w in writes {
        match w {
            AttributeWrite::Set(k, v) => {
                let value: RValue<'a> = match &v.value {
                    Some(V::StringValue(s)) => RValue::from(s.clone()),
                    Some(V::BoolValue(b)) => RValue::Bool(*b),
                    Some(V::IntValue(i)) => RValue::Int(*i),
                    Some(V::DoubleValue(d)) => RValue::Double(*d),
                    Some(V::BytesValue(b)) => RValue::Bytes(b.clone().into()),
                    // `fits` leaves nested values to the decoded path.
                    _ => RValue::Empty,
                };
                edits.upsert(k.clone(), value);
            }
            AttributeWrite::Delete(k) => {
                edits.delete(k.to_string());
            }
            AttributeWrite::DeleteMatching(re) => drop_keys(edits, |k| re.is_match(k)),
            AttributeWrite::Keep(keep) => drop_keys(edits, |k| !keep.iter().any(|x| x == k)),
            AttributeWrite::KeepMatching(re) => drop_keys(edits, |k| !re.is_match(k)),
        }
    }
}

fn drop_keys(edits: &mut AttributeEdits<'_>, drop: impl Fn(&str) -> bool) {
    let doomed: Vec<String> = edits
        .keys()
        .filter(|k| drop(k))
        .map(|k| k.into_owned())
        .collect();
    for k in doomed {
        edits.delete(k);
    }
}

impl<'a> SpanRunner<'_, 'a> {
    /// The span's new encoding, or `None` when no statement wrote.
    fn run(
        &mut self,
        rs: &ResourceSpansView<'a>,
        ss: &ScopeSpansView<'a>,
        view: &SpanView<'a>,
    ) -> Result<Option<Vec<u8>>, TransformError> {
        let mut span = Span::decode(view.raw())?;
        let groups = self.groups;
        let (mut ignored, mut first) = (0usize, None::<String>);
        let d = self.decoded(rs, ss)?;
        let mut wrote = false;
        for g in groups {
            wrote |= g
                .apply_to_span(
                    &mut d.resource,
                    &mut d.resource_schema_url,
                    &mut d.scope,
                    &mut d.scope_schema_url,
                    &mut span,
                    &mut |f| {
                        ignored += 1;
                        if first.is_none() {
                            first = Some(format!("{}: {}", f.condition, f.error));
                        }
                    },
                )
                .map_err(TransformError::Statement)?;
        }
        self.ignored += ignored;
        if self.first.is_none() {
            self.first = first;
        }
        if !wrote {
            return Ok(None);
        }
        checked(span).map(Some)
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
