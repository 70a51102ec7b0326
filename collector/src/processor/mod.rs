//! Processors: consumers that sit between receivers and exporters in a pipeline.

pub mod batch;
