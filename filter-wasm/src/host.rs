//! The only module that calls proxy-wasm host functions. The core sees the host through small
//! traits ([`HeaderWriter`], [`StreamInfo`], [`NodeSource`], [`RandomSource`]) implemented
//! here.
//!
//! The SDK's `Context` trait methods `unwrap()` host results, and several of its
//! `hostcalls` functions `panic!` on a status they do not expect. This module calls
//! `hostcalls` directly, turns every failure into "absent" or a log line, and only calls a
//! function where Envoy's answer is one the SDK handles:
//! - header maps are read whole, through the ABI's `proxy_get_header_map_pairs` itself
//!   ([`header_map`]): the SDK's `get_map_bytes` copies every name and value into an
//!   allocation of its own (almost a quarter of an unsampled request's added cost), panics on
//!   a name that is not UTF-8 and on any status but `Ok`;
//! - an export's response headers are read the same way, never with
//!   `get_map_value_bytes`, which gets `BadArgument` (and the SDK panics) after a timeout
//!   or reset, when Envoy has no response map;
//! - `dispatch_http_call` panics on anything but `Ok`, `BadArgument` and `InternalFailure`.
//!   Envoy returns those three for every argument (an unknown cluster or a missing
//!   pseudo-header is `BadArgument`); the others (`InvalidMemoryAccess`) need a bad guest
//!   pointer, which the SDK never passes. The configuration is validated beforehand (cluster
//!   name, authority, path, header names and values, a timeout that fits in `u32`). The raw
//!   ABI is not an option: the SDK routes responses by the token it registers in
//!   `dispatch_http_call`, and panics on a token it does not know;
//! - `call_foreign_function` panics on anything but `Ok`, `NotFound`, `BadArgument`,
//!   `SerializationFailure` and `InternalFailure`. Envoy's `expr_create` and `expr_evaluate`
//!   return only those, and the host itself `NotFound` for a function it does not have (an
//!   Envoy built without CEL); `InvalidMemoryAccess` needs a bad guest pointer.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, LogLevel, MapType, MetricType};

use crate::export::Counts;
use crate::fields::{Fields, HeaderWriter};
use crate::ids::{RandomSource, SplitMix64};
use crate::node::NodeSource;
use crate::stream::{self, Batch, FailureRun};
use crate::tracer::{Property, StreamInfo};

/// The request headers, pseudo-headers included, in one host call.
pub fn request_headers() -> Fields {
    header_map(MapType::HttpRequestHeaders)
}

/// A header map of the context being called back, as Envoy serialized it, read in place
/// ([`Fields`]); empty when Envoy has none or answers something malformed (logged).
pub fn header_map(map: MapType) -> Fields {
    let Some(bytes) = abi::header_map_pairs(map) else {
        return Fields::default();
    };
    Fields::from_serialized(bytes).unwrap_or_else(|e| {
        log::warn!("{map:?}: Envoy's header map is malformed ({e}); read as empty");
        Fields::default()
    })
}

/// The one host function called without the SDK's wrapper.
#[allow(unsafe_code)]
mod abi {
    use proxy_wasm::types::MapType;
    #[cfg(target_family = "wasm")]
    use proxy_wasm::types::Status;

    #[cfg(target_family = "wasm")]
    #[link(wasm_import_module = "env")]
    unsafe extern "C" {
        // The same import, and the same signature, as the SDK's own declaration.
        fn proxy_get_header_map_pairs(
            map_type: MapType,
            return_map_data: *mut *mut u8,
            return_map_size: *mut usize,
        ) -> Status;
    }

    /// The serialized map; `None` on any status but `Ok`.
    #[cfg(target_family = "wasm")]
    pub fn header_map_pairs(map: MapType) -> Option<Vec<u8>> {
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: the host writes a pointer and a size into the two locals. A non-null
        // pointer is the block the host had the module allocate for the answer through
        // `proxy_on_memory_allocate`: the SDK's boxed slice of exactly `size` bytes (align 1),
        // all written by the host. The `Vec` rebuilt here owns and frees it, as the SDK's
        // own `get_map_bytes` does.
        unsafe {
            match proxy_get_header_map_pairs(map, &mut data, &mut size) {
                Status::Ok if !data.is_null() => Some(Vec::from_raw_parts(data, size, size)),
                Status::Ok => Some(Vec::new()),
                _ => None,
            }
        }
    }

    /// Natively (tests, benchmarks) there is no host.
    #[cfg(not(target_family = "wasm"))]
    pub fn header_map_pairs(_map: MapType) -> Option<Vec<u8>> {
        None
    }
}

/// Writes to the request headers of the HTTP context being called back.
#[derive(Debug, Default)]
pub struct HostRequestHeaders;

impl HeaderWriter for HostRequestHeaders {
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

/// A root context's CEL expression for the batched stream properties ([`crate::stream`]):
/// Envoy's token for it and the properties it reads, shared with the root's HTTP contexts.
/// Empty when this Envoy has no CEL foreign functions, or once [`stream::GIVE_UP_AFTER`]
/// evaluations in a row have failed: spans then read their properties one by one.
#[derive(Debug, Clone, Default)]
pub struct StreamExpression(Rc<Cell<ExpressionState>>);

#[derive(Debug, Clone, Copy, Default)]
struct ExpressionState {
    token: Option<[u8; 4]>,
    properties: &'static [Property],
    failures: FailureRun,
}

impl StreamExpression {
    /// Compiles [`stream::expression_of`] `properties` in the calling root context (Envoy
    /// keeps expressions per root context).
    pub fn create(properties: &'static [Property]) -> Self {
        let token = match hostcalls::call_foreign_function(
            "expr_create",
            Some(stream::expression_of(properties).as_bytes()),
        ) {
            Ok(Some(token)) => <[u8; 4]>::try_from(token.as_slice())
                .map_err(|_| format!("a token of {} bytes", token.len())),
            Ok(None) => Err("no token".to_owned()),
            Err(status) => Err(format!("{status:?}")),
        };
        match token {
            Ok(token) => {
                log::info!(
                    "stream properties: one CEL evaluation per span ({} properties)",
                    properties.len()
                );
                StreamExpression(Rc::new(Cell::new(ExpressionState {
                    token: Some(token),
                    properties,
                    failures: FailureRun::default(),
                })))
            }
            Err(why) => {
                log::info!(
                    "no CEL expressions in this Envoy (expr_create: {why}): spans read stream properties one by one"
                );
                StreamExpression::default()
            }
        }
    }

    /// The expression for `properties`: this one if it is live and reads them, else a new one
    /// (a first configuration, a reconfiguration with another `span.kind`, or another try
    /// after this Envoy refused or the evaluations were given up). A replaced expression is
    /// deleted in Envoy; HTTP contexts still holding it read their properties one by one.
    pub fn for_properties(&self, properties: &'static [Property]) -> Self {
        let state = self.0.get();
        match state.token {
            Some(_) if state.properties == properties => return self.clone(),
            Some(token) => {
                // Nothing to do if Envoy refuses: the token is forgotten either way.
                let _ = hostcalls::call_foreign_function("expr_delete", Some(&token));
                self.0.set(ExpressionState::default());
            }
            None => {}
        }
        StreamExpression::create(properties)
    }

    /// The batch of the stream being called back; `None` if Envoy's answer is an error or not
    /// one [`Batch::parse`] takes (that span reads its properties one by one).
    pub fn evaluate(&self) -> Option<Batch> {
        let mut state = self.0.get();
        let token = state.token?;
        let answer = hostcalls::call_foreign_function("expr_evaluate", Some(&token));
        let batch = match &answer {
            Ok(Some(bytes)) => Batch::parse_of(bytes, state.properties),
            _ => None,
        };
        let give_up = state.failures.record(batch.is_none());
        if batch.is_none() {
            let answer =
                answer.map(|a| a.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()));
            if give_up {
                state.token = None;
                log::warn!(
                    "the stream-properties expression failed {} times in a row (last: {answer:?}); spans read properties one by one from now on",
                    state.failures.failures()
                );
            } else if state.failures.failures() == 1 {
                log::warn!(
                    "the stream-properties expression failed ({answer:?}); this span reads its properties one by one"
                );
            }
        }
        self.0.set(state);
        batch
    }
}

/// The stream of the HTTP context being called back, at `on_log`, one property at a time
/// ([`BatchedStream`](crate::stream::BatchedStream) puts the root's expression in front).
#[derive(Debug, Default)]
pub struct HostStream;

impl StreamInfo for HostStream {
    fn property(&mut self, property: Property) -> Option<Vec<u8>> {
        hostcalls::get_property(property.path().to_vec())
            .ok()
            .flatten()
    }

    fn response_headers(&mut self) -> Fields {
        header_map(MapType::HttpResponseHeaders)
    }

    fn response_trailers(&mut self) -> Fields {
        // At the access log Envoy hands the trailers it logged (none: an empty map).
        header_map(MapType::HttpResponseTrailers)
    }

    fn now_ns(&mut self) -> u64 {
        now_ns()
    }
}

/// The wall clock (WASI `clock_time_get`, which Envoy implements), Unix nanoseconds.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Node metadata (`xds.node.metadata.*`, never the whole node: it is ~60 KB) and the VM's
/// environment (Istio's `vmConfig.env`).
#[derive(Debug, Default)]
pub struct HostNode;

impl NodeSource for HostNode {
    fn metadata(&mut self, key: &str) -> Option<String> {
        string_property(vec!["xds", "node", "metadata", key])
    }

    fn label(&mut self, key: &str) -> Option<String> {
        string_property(vec!["xds", "node", "metadata", "LABELS", key])
    }

    fn env(&mut self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

fn string_property(path: Vec<&str>) -> Option<String> {
    let bytes = hostcalls::get_property(path).ok().flatten()?;
    String::from_utf8(bytes).ok()
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
                    self.fallback = Some(SplitMix64(now_ns() | 1));
                }
            }
        }
        if let Some(fallback) = self.fallback.as_mut() {
            fallback.fill(buf);
        }
    }
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

/// Starts the root context's timer.
pub fn set_tick_period(period: Duration) {
    if let Err(status) = hostcalls::set_tick_period(period) {
        log::error!("could not set the tick period: {status:?}");
    }
}

/// An export request, as the host takes it.
#[derive(Debug)]
pub struct ExportRequest<'a> {
    /// The Envoy cluster.
    pub cluster: &'a str,
    /// `:authority`.
    pub authority: &'a str,
    /// `:path`.
    pub path: &'a str,
    /// Extra headers.
    pub headers: &'a [(String, String)],
    /// The protobuf body.
    pub body: &'a [u8],
    /// Timeout.
    pub timeout: Duration,
}

/// Sends an export request; the token that will identify its response, or why not.
pub fn dispatch(request: &ExportRequest<'_>) -> Result<u32, String> {
    let mut headers: Vec<(&str, &str)> = vec![
        (":method", "POST"),
        (":path", request.path),
        (":authority", request.authority),
        ("content-type", "application/x-protobuf"),
        (
            "user-agent",
            concat!("meshtrace-filter/", env!("CARGO_PKG_VERSION")),
        ),
    ];
    headers.extend(
        request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str())),
    );
    hostcalls::dispatch_http_call(
        request.cluster,
        headers,
        Some(request.body),
        Vec::new(),
        request.timeout,
    )
    .map_err(|status| match status {
        proxy_wasm::types::Status::BadArgument => {
            format!(
                "Envoy refused the call (BadArgument): is there a cluster named {}?",
                crate::config::quoted(request.cluster)
            )
        }
        other => format!("Envoy could not start the call ({other:?})"),
    })
}

/// The `:status` of an export's response (`None` after a timeout or reset) and its body.
pub fn export_response(num_headers: usize, body_size: usize) -> (Option<u16>, Vec<u8>) {
    if num_headers == 0 {
        return (None, Vec::new());
    }
    let status = header_map(MapType::HttpCallResponseHeaders)
        .first(":status")
        .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok());
    let body = if body_size > 0 && status.is_some_and(|s: u16| (200..300).contains(&s)) {
        hostcalls::get_buffer(
            BufferType::HttpCallResponseBody,
            0,
            body_size.min(64 * 1024),
        )
        .ok()
        .flatten()
        .unwrap_or_default()
    } else {
        Vec::new()
    };
    (status, body)
}

/// The filter's metrics (`wasmcustom.meshtrace.*` in Envoy's `/stats`, summed over VMs).
#[derive(Debug, Default)]
pub struct Metrics {
    ids: [Option<u32>; 7],
    buffered: i64,
}

const COUNTERS: [&str; 6] = [
    "meshtrace.spans_exported",
    "meshtrace.spans_dropped",
    "meshtrace.spans_failed",
    "meshtrace.spans_filtered",
    "meshtrace.export_requests",
    "meshtrace.export_failures",
];
const BUFFERED: &str = "meshtrace.buffered_spans";

impl Metrics {
    /// Defines the metrics (idempotent in Envoy: the same name gives the same metric).
    pub fn define() -> Self {
        let mut m = Metrics::default();
        for (slot, name) in m.ids.iter_mut().zip(COUNTERS) {
            *slot = hostcalls::define_metric(MetricType::Counter, name).ok();
        }
        if let Some(slot) = m.ids.last_mut() {
            *slot = hostcalls::define_metric(MetricType::Gauge, BUFFERED).ok();
        }
        m
    }

    /// Adds `counts` and moves the buffered-spans gauge to `buffered`.
    pub fn report(&mut self, counts: &Counts, buffered: usize) {
        let values = [
            counts.exported,
            counts.dropped,
            counts.failed,
            counts.filtered,
            counts.requests,
            counts.failed_requests,
        ];
        for (id, value) in self.ids.iter().zip(values) {
            if let (Some(id), true) = (id, value > 0) {
                increment(*id, i64::try_from(value).unwrap_or(i64::MAX));
            }
        }
        let now = i64::try_from(buffered).unwrap_or(i64::MAX);
        if now != self.buffered
            && let Some(Some(id)) = self.ids.last()
        {
            increment(*id, now - self.buffered);
            self.buffered = now;
        }
    }
}

fn increment(id: u32, by: i64) {
    if let Err(status) = hostcalls::increment_metric(id, by) {
        log::debug!("metric {id}: {status:?}");
    }
}
