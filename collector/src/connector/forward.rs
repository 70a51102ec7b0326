//! `forward`: hands what one pipeline exports to every pipeline that receives from it, as the
//! Collector's `forwardconnector` does. Users reach for it to run one receiving pipeline into
//! several differently processed ones (all spans to one backend, sampled ones to another), or
//! to merge pipelines into a shared tail of processors.

use crate::component::{
    ComponentError, Connector, ConnectorConfig, Context, PipelineHeads, Validate,
};
use crate::otlp::{Batch, Signal};
use crate::pipeline::{BoxFuture, ConsumeError, Consumer, Fanout};
use serde::Deserialize;
use std::sync::Arc;

/// `forward` has no settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {}

impl Validate for ForwardConfig {}

impl ConnectorConfig for ForwardConfig {
    fn build(
        &self,
        _ctx: &Context,
        _from: Signal,
        _to: Signal,
        pipelines: PipelineHeads,
    ) -> Result<Arc<dyn Connector>, ComponentError> {
        // The batch is shared bytes: every pipeline gets the same request, and a failure in
        // any of them goes back to the exporting pipeline as the fan-out combines it.
        Ok(Arc::new(Forward(Fanout::build(
            pipelines.into_iter().map(|(_, head)| head).collect(),
        ))))
    }
}

/// The running `forward`: the fan-out to its pipelines.
struct Forward(Arc<dyn Consumer>);

impl Consumer for Forward {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        self.0.consume(batch)
    }
}

impl Connector for Forward {}
