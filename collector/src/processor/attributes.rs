//! `attributes`: edits span attributes with the OpenTelemetry Collector's actions
//! ([`crate::processor::actions`]), on spans selected by `include` / `exclude`
//! ([`crate::processor::matcher`]). Traces only: log and metric attributes are not edited
//! here, so using it in a metrics or logs pipeline is a configuration error.
//!
//! Spans are rewritten in place in the request bytes: only spans whose attributes change are
//! re-encoded, and the values the actions set are borrowed from the configuration.

use std::sync::Arc;

use serde::Deserialize;

use crate::component::{ComponentError, Context, Processor, ProcessorConfig, Validate};
use crate::config::ConfigError;
use crate::otlp::rewrite::{Action, SpanEdit, TracesEditor, rewrite_traces};
use crate::otlp::views::{ResourceSpansView, ScopeSpansView, SpanView};
use crate::otlp::{Batch, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer};
use crate::processor::ItemCounters;
use crate::processor::actions::{ActionConfig, Actions, ContextValues};
use crate::processor::matcher::{MatchConfig, MatchProperties, SkipMatcher};
use crate::processor::ottl_views::ContextCache;

/// `processors: attributes:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributesConfig {
    /// The actions, applied in order (at least one).
    #[serde(default)]
    pub actions: Vec<ActionConfig>,
    /// Only spans matching these properties are edited.
    #[serde(default)]
    pub include: Option<MatchProperties>,
    /// Spans matching these properties are not edited.
    #[serde(default)]
    pub exclude: Option<MatchProperties>,
}

impl AttributesConfig {
    fn matcher(&self) -> MatchConfig {
        MatchConfig {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
        }
    }

    fn compile(&self) -> Result<(Actions, SkipMatcher), Vec<ConfigError>> {
        let mut errors = Vec::new();
        if self.actions.is_empty() {
            errors.push(ConfigError::new("missing required field \"actions\"").field("actions"));
        }
        let actions = Actions::compile(&self.actions, "actions").unwrap_or_else(|e| {
            errors.extend(e);
            Actions::default()
        });
        let matcher = self.matcher().compile("").unwrap_or_else(|e| {
            errors.extend(e);
            SkipMatcher::default()
        });
        if errors.is_empty() {
            Ok((actions, matcher))
        } else {
            Err(errors)
        }
    }
}

impl Validate for AttributesConfig {
    fn validate(&self) -> Vec<ConfigError> {
        self.compile().err().unwrap_or_default()
    }
}

impl ProcessorConfig for AttributesConfig {
    fn build(
        &self,
        ctx: &Context,
        signal: Signal,
        next: Arc<dyn Consumer>,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        let (actions, matcher) = self.compile().map_err(|e| ctx.config_errors(&e))?;
        Ok(Arc::new(AttributesProcessor {
            actions,
            matcher,
            next,
            counters: ItemCounters::new(ctx, signal),
        }))
    }
}

/// A running `attributes` processor.
pub struct AttributesProcessor {
    actions: Actions,
    matcher: SkipMatcher,
    next: Arc<dyn Consumer>,
    counters: ItemCounters,
}

struct Editor<'c, 'a> {
    actions: &'c Actions,
    matcher: &'c SkipMatcher,
    context: &'c ContextValues,
    cache: ContextCache<'a>,
}

impl<'c: 'a, 'a> TracesEditor<'a> for Editor<'c, 'a> {
    fn span(
        &mut self,
        rs: &ResourceSpansView<'a>,
        ss: &ScopeSpansView<'a>,
        span: &SpanView<'a>,
        edit: &mut SpanEdit<'a>,
    ) -> Action {
        if !self.matcher.is_empty() && self.matcher.skip(&self.cache.get(rs, ss, span)) {
            return Action::Keep;
        }
        self.actions.apply(&mut edit.attributes, self.context);
        Action::Keep
    }
}

impl AttributesProcessor {
    /// Edits one request (the same bytes when nothing changed).
    pub fn process(&self, batch: &Batch) -> Batch {
        let client = if self.actions.uses_context() {
            crate::client::current()
        } else {
            None
        };
        let context = self.actions.context_values(client.as_deref());
        let mut editor = Editor {
            actions: &self.actions,
            matcher: &self.matcher,
            context: &context,
            cache: ContextCache::default(),
        };
        rewrite_traces(batch, &mut editor)
    }
}

impl Consumer for AttributesProcessor {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let n = batch.items() as u64;
            self.counters.incoming.add(n);
            let out = self.process(&batch);
            self.counters.outgoing.add(out.items() as u64);
            self.next.consume(out).await
        })
    }
}

impl Processor for AttributesProcessor {
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests;
