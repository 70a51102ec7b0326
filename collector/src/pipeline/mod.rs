//! Pipelines: the [`Consumer`] interface, fan-out, and the service graph built from the
//! configuration with its start-up and shutdown order.

mod consumer;
mod graph;

pub use consumer::{BoxFuture, ConsumeError, Consumer, Fanout};
pub use graph::Service;
