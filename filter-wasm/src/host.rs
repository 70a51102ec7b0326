//! The only module that calls proxy-wasm host functions. The core sees the host through small
//! traits ([`RequestHeaders`], [`RandomSource`]) implemented here.
//!
//! The SDK's `Context` trait methods `unwrap()` host results; this module calls
//! `proxy_wasm::hostcalls` directly and turns every failure into "absent" or a log line, so no
//! header content and no host answer can panic the VM (a panic is an outage in Envoy).

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, LogLevel, MapType};

use crate::ids::{RandomSource, SplitMix64};
use crate::propagation::RequestHeaders;

/// The request headers of the HTTP context being called back.
///
/// Reads go through the `request.headers.<name>` property rather than the header map: Envoy
/// answers it with every field of that name joined by `,`, which is exactly the RFC 9110
/// combination the trace-context spec requires (two `traceparent` fields must make the
/// value invalid; several `tracestate` fields must be combined). A plain header-map read
/// returns only the first field. Reads also use bytes, never `String`: the SDK's string
/// variants panic on non-UTF-8 values.
#[derive(Debug, Default)]
pub struct HostRequestHeaders;

impl RequestHeaders for HostRequestHeaders {
    fn get(&self, name: &str) -> Option<Vec<u8>> {
        hostcalls::get_property(vec!["request", "headers", name])
            .ok()
            .flatten()
    }

    fn set(&mut self, name: &str, value: &[u8]) {
        if let Err(status) =
            hostcalls::set_map_value_bytes(MapType::HttpRequestHeaders, name, Some(value))
        {
            log::warn!("could not set request header {name}: {status:?}");
        }
    }

    fn remove(&mut self, name: &str) {
        if let Err(status) = hostcalls::remove_map_value(MapType::HttpRequestHeaders, name) {
            log::warn!("could not remove request header {name}: {status:?}");
        }
    }
}

/// Randomness from WASI `random_get` (which Envoy implements). Should the host refuse, ids
/// come from splitmix64 seeded with the clock: weaker, but requests keep flowing and traces
/// keep their shape. The switch is logged once.
#[derive(Debug, Default)]
pub struct HostRandom {
    fallback: Option<SplitMix64>,
}

impl RandomSource for HostRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        if self.fallback.is_none() {
            match getrandom::fill(buf) {
                Ok(()) => return,
                Err(e) => {
                    log::error!("host randomness failed ({e}); using a clock-seeded generator");
                    self.fallback = Some(SplitMix64(clock_seed()));
                }
            }
        }
        if let Some(fallback) = self.fallback.as_mut() {
            fallback.fill(buf);
        }
    }
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5eed)
}

/// The plugin configuration bytes (empty when none was given).
pub fn plugin_configuration() -> Vec<u8> {
    hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Aligns the `log` crate's level with the host's, so that disabled levels cost nothing.
pub fn sync_log_level() {
    let level = hostcalls::get_log_level().unwrap_or(LogLevel::Info);
    proxy_wasm::set_log_level(level);
}
