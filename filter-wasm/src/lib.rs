//! meshtrace's proxy-wasm HTTP filter for Envoy / Istio sidecars.
//!
//! The logic is plain Rust without proxy-wasm: [`tracecontext`] (W3C `traceparent` /
//! `tracestate`, B3), [`sampling`], [`ids`], [`config`] and [`propagation`] (the per-request
//! participant logic). [`host`] is the only module calling host functions; [`root`] and
//! [`http`] are thin proxy-wasm contexts over the core.

pub mod config;
pub mod host;
pub mod http;
pub mod ids;
pub mod propagation;
pub mod root;
pub mod sampling;
pub mod tracecontext;

#[cfg(all(target_arch = "wasm32", not(test)))]
proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(root::Root::new()));
}}
