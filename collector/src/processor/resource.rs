//! `resource`: edits resource attributes with the OpenTelemetry Collector's actions
//! ([`crate::processor::actions`]) — `insert`, `update`, `upsert`, `delete`, `hash`,
//! `extract`, `convert` — for traces, metrics and logs. Only the `resource` field of each
//! edited group is re-encoded; spans, data points and log records are copied as bytes.

use std::sync::Arc;

use serde::Deserialize;

use crate::component::{ComponentError, Context, Processor, ProcessorConfig, Validate};
use crate::config::ConfigError;
use crate::otlp::rewrite::{Action, rewrite_resources};
use crate::otlp::{Batch, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer};
use crate::processor::ItemCounters;
use crate::processor::actions::{ActionConfig, Actions};

/// `processors: resource:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceConfig {
    /// The actions on resource attributes, applied in order (at least one).
    #[serde(default)]
    pub attributes: Vec<ActionConfig>,
}

impl ResourceConfig {
    fn compile(&self) -> Result<Actions, Vec<ConfigError>> {
        if self.attributes.is_empty() {
            return Err(vec![
                ConfigError::new("missing required field \"attributes\"").field("attributes"),
            ]);
        }
        Actions::compile(&self.attributes, "attributes")
    }
}

impl Validate for ResourceConfig {
    fn validate(&self) -> Vec<ConfigError> {
        self.compile().err().unwrap_or_default()
    }
}

impl ProcessorConfig for ResourceConfig {
    fn build(
        &self,
        ctx: &Context,
        signal: Signal,
        next: Arc<dyn Consumer>,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        let actions = self.compile().map_err(|e| ctx.config_errors(&e))?;
        Ok(Arc::new(ResourceProcessor {
            actions,
            next,
            counters: ItemCounters::new(ctx, signal),
        }))
    }
}

/// A running `resource` processor.
pub struct ResourceProcessor {
    actions: Actions,
    next: Arc<dyn Consumer>,
    counters: ItemCounters,
}

impl ResourceProcessor {
    /// Edits one request (the same bytes when nothing changed).
    pub fn process(&self, batch: &Batch) -> Batch {
        let client = if self.actions.uses_context() {
            crate::client::current()
        } else {
            None
        };
        let context = self.actions.context_values(client.as_deref());
        rewrite_resources(batch, |_, edits| {
            self.actions.apply(edits, &context);
            Action::Keep
        })
    }
}

impl Consumer for ResourceProcessor {
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

impl Processor for ResourceProcessor {
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests;
