//! Processors: consumers that sit between receivers and exporters in a pipeline.
//!
//! - [`batch`]: groups data into larger requests.
//! - [`filter`]: drops spans and span events (OTTL conditions or legacy `include`/`exclude`).
//! - [`attributes`], [`resource`]: edit span and resource attributes ([`actions`]).
//! - [`transform`]: OTTL statements (`set`, `keep_keys`, `replace_pattern`, …) on spans,
//!   span events, scopes and resources.
//! - [`probabilistic_sampler`]: keeps a share of traces, decided from the trace id.
//! - [`memory_limiter`]: refuses data (retryable) while the process uses too much memory.
//!
//! The data-editing processors work on the protobuf bytes through `meshtrace_otlp` views and
//! `rewrite_traces`: spans they leave alone are copied as raw bytes, and a request nobody
//! changes is passed on as the same buffer.

pub mod actions;
pub mod attributes;
pub mod batch;
mod counters;
pub mod filter;
pub mod matcher;
pub mod memory_limiter;
pub mod ottl_views;
pub mod probabilistic_sampler;
pub mod resource;
pub mod tail_sampling;
#[cfg(test)]
pub(crate) mod testspans;
pub mod transform;

pub(crate) use counters::ItemCounters;
