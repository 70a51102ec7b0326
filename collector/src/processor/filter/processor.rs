//! The running filter: one pass of `rewrite_traces` per request, evaluating the compiled
//! conditions over zero-copy span views.

use std::sync::Arc;

use meshtrace_ottl::{EvalError, EvalFailure};

use super::Compiled;
use super::prefilter::Prefilter;
use crate::component::{Context, Processor};
use crate::otlp::rewrite::{Action, SpanEdit, TracesEditor, rewrite_traces};
use crate::otlp::views::{ResourceSpansView, ScopeSpansView, SpanView};
use crate::otlp::{Batch, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer};
use crate::processor::ItemCounters;
use crate::processor::ottl_views::{ContextCache, EventCtx};
use crate::telemetry::Counter;

/// A running `filter` processor.
pub struct FilterProcessor {
    compiled: Option<Compiled>,
    /// The search that passes on, unevaluated, a request no condition can match.
    prefilter: Option<Prefilter>,
    next: Arc<dyn Consumer>,
    counters: ItemCounters,
    filtered: Arc<Counter>,
    label: String,
}

impl FilterProcessor {
    pub(crate) fn new(
        ctx: &Context,
        signal: Signal,
        compiled: Compiled,
        next: Arc<dyn Consumer>,
    ) -> Self {
        let id = ctx.id.to_string();
        let filtered = ctx.telemetry.counter(
            "otelcol_processor_filter_spans_filtered_total",
            "Number of spans dropped by the filter processor",
            &[("filter", &id)],
        );
        let active = signal == Signal::Traces
            && (!compiled.spans.is_empty()
                || !compiled.events.is_empty()
                || compiled.legacy.is_some());
        let prefilter = if active {
            Prefilter::new(&compiled)
        } else {
            None
        };
        Self {
            compiled: active.then_some(compiled),
            prefilter,
            next,
            counters: ItemCounters::new(ctx, signal),
            filtered,
            label: ctx.label(),
        }
    }

    /// Whether requests are searched for the conditions' literals before any evaluation.
    #[cfg(test)]
    pub(crate) fn has_prefilter(&self) -> bool {
        self.prefilter.is_some()
    }

    /// The same processor evaluating every request, for comparisons.
    #[cfg(test)]
    pub(crate) fn without_prefilter(mut self) -> Self {
        self.prefilter = None;
        self
    }

    /// Filters one request: the request to pass on (possibly the same bytes), or the
    /// evaluation failure under `error_mode: propagate`.
    pub fn filter(&self, batch: &Batch) -> Result<Batch, EvalFailure> {
        let Some(c) = &self.compiled else {
            return Ok(batch.clone());
        };
        if let Some(p) = &self.prefilter
            && !p.may_match(batch.bytes())
        {
            return Ok(batch.clone());
        }
        let mut editor = Editor {
            c,
            cache: ContextCache::default(),
            failure: None,
            ignored: 0,
            first_ignored: None,
        };
        let out = rewrite_traces(batch, &mut editor);
        if let Some(f) = editor.failure {
            return Err(f);
        }
        if editor.ignored > 0 {
            tracing::warn!(
                component = %self.label,
                errors = editor.ignored,
                first = editor.first_ignored.as_deref().unwrap_or(""),
                "failed to evaluate conditions (error_mode: ignore); they counted as false"
            );
        }
        Ok(out)
    }
}

/// Per-request state: the span context cache and what went wrong.
struct Editor<'c, 'a> {
    c: &'c Compiled,
    cache: ContextCache<'a>,
    failure: Option<EvalFailure>,
    ignored: usize,
    first_ignored: Option<String>,
}

/// Remembers the first evaluation error a condition list ignored (cloned only on errors).
fn keep_first(first: &mut Option<(String, EvalError)>, condition: &str, e: &EvalError) {
    if first.is_none() {
        *first = Some((condition.to_owned(), e.clone()));
    }
}

impl Editor<'_, '_> {
    /// The outcome of one condition list: `Some(matched)`, or `None` when the request fails
    /// (`error_mode: propagate`). Ignored errors are counted for the request's log line.
    fn settle(
        &mut self,
        r: Result<bool, EvalFailure>,
        ignored: Option<(String, EvalError)>,
    ) -> Option<bool> {
        if let Some((condition, error)) = ignored {
            self.ignored += 1;
            if self.first_ignored.is_none() {
                self.first_ignored = Some(format!("{condition}: {error}"));
            }
        }
        match r {
            Ok(m) => Some(m),
            Err(f) => {
                self.failure = Some(f);
                None
            }
        }
    }
}

impl<'a> TracesEditor<'a> for Editor<'_, 'a> {
    fn span(
        &mut self,
        rs: &ResourceSpansView<'a>,
        ss: &ScopeSpansView<'a>,
        span: &SpanView<'a>,
        edit: &mut SpanEdit<'a>,
    ) -> Action {
        if self.failure.is_some() {
            // The request is refused as a whole; stop evaluating.
            return Action::Keep;
        }
        let ctx = self.cache.get(rs, ss, span);
        let c = self.c;
        if let Some(m) = &c.legacy
            && m.skip(&ctx)
        {
            return Action::Drop;
        }
        for set in &c.spans {
            let mut first = None;
            let r = set.matches(&ctx, |cond, e| keep_first(&mut first, cond.source(), e));
            match self.settle(r, first) {
                Some(true) => return Action::Drop,
                Some(false) => {}
                None => return Action::Keep,
            }
        }
        if !c.events.is_empty() && span.events_len() > 0 {
            for (i, event) in span.events().enumerate() {
                let ectx = EventCtx { span: ctx, event };
                for set in &c.events {
                    let mut first = None;
                    let r = set.matches(&ectx, |cond, e| keep_first(&mut first, cond.source(), e));
                    match self.settle(r, first) {
                        Some(true) => {
                            edit.drop_event(i);
                            break;
                        }
                        Some(false) => {}
                        None => return Action::Keep,
                    }
                }
            }
        }
        Action::Keep
    }
}

impl Consumer for FilterProcessor {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let n = batch.items();
            self.counters.incoming.add(n as u64);
            let out = self.filter(&batch).map_err(|f| {
                tracing::warn!(component = %self.label, error = %f, "request refused (error_mode: propagate)");
                ConsumeError::permanent(format!("filter processor: {f}"))
            })?;
            let kept = out.items();
            self.filtered.add(n.saturating_sub(kept) as u64);
            if kept == 0 {
                // Everything was dropped: nothing to pass on (the Collector's
                // ErrSkipProcessingData).
                return Ok(());
            }
            self.counters.outgoing.add(kept as u64);
            self.next.consume(out).await
        })
    }
}

impl Processor for FilterProcessor {
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
