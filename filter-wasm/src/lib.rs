//! meshtrace's proxy-wasm HTTP filter for Envoy / Istio sidecars.
//!
//! The logic is plain Rust without proxy-wasm: [`tracecontext`] (W3C `traceparent` /
//! `tracestate`, B3), [`sampling`], [`ids`], [`config`] (over a small [`json`] reader), [`propagation`] (the per-request
//! participant logic), [`tracer`] (the per-request flow of both modes), [`span`] (span
//! building), [`otlp`] (the hand-written OTLP encoding), [`export`] (the bounded per-VM
//! buffer), [`node`] (resource attributes from node metadata), [`rules`], [`route`],
//! [`glob`] and [`fields`]; [`stream`] reads a span's stream properties in one CEL
//! evaluation. [`host`] is the only module calling host functions; [`root`] and
//! [`http`] are thin proxy-wasm contexts over the core. [`module`] removes the SDK's unused
//! callback exports from the built module.

pub mod config;
pub mod export;
pub mod fields;
pub mod glob;
pub mod host;
pub mod http;
pub mod ids;
pub mod json;
pub mod module;
pub mod node;
pub mod otlp;
pub mod propagation;
pub mod root;
pub mod route;
pub mod rules;
pub mod sampling;
pub mod span;
pub mod stream;
pub mod tracecontext;
pub mod tracer;

#[cfg(all(target_arch = "wasm32", not(test)))]
proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(root::Root::new()));
}}
