//! Connectors: components that end some pipelines and start others, as the Collector's
//! `connectors:` section declares them. The service graph
//! ([`crate::pipeline::Service`]) builds one instance per (connector id, signal it takes,
//! signal it emits) and hands it the first consumer of every pipeline that names it as a
//! receiver; the config checks ([`crate::config::resolve`]) refuse a connector used on one
//! side only, a pair of signals it cannot join, and pipelines joined into a cycle.

pub mod forward;
pub mod histogram;
pub mod periodic;
pub mod routing;
pub mod servicegraph;
pub mod spanmetrics;
