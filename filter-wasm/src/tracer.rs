//! The filter's per-request logic in both modes, over small host traits so that it runs and is
//! tested without Envoy.
//!
//! `tracer` mode, at the request headers (one read of the header map, then writes):
//! 1. a matching drop rule: the proxy stays transparent (no header is rewritten) and no span
//!    is recorded;
//! 2. otherwise the trace context is propagated ([`Propagator`]), the access-log trace-id
//!    header set, and a sampled request with export on is remembered for the end of stream.
//!
//! At the end of the stream (`on_log`) the span is built from a few properties and appended
//! to the VM's [`ExportQueue`]; when the buffer is full (`drop_newest`) nothing is read.
//!
//! `enricher` mode writes (or removes) the route and workload headers that Istio
//! `customTags` read into Envoy's native span, and touches no trace header.

use crate::config::{Config, EnricherConfig, KindSetting, Mode};
use crate::export::ExportQueue;
use crate::fields::{Fields, HeaderWriter, SnapshotHeaders, parse_decimal};
use crate::ids::IdGenerator;
use crate::node::NodeInfo;
use crate::otlp::SpanKind;
use crate::propagation::{Notes, Propagator, SpanContext};
use crate::rules::{DropReason, DropRules};
use crate::span::{Exchange, SpanOptions, encode_span, is_error, is_grpc};

/// The stream properties read at the end of a request. Paths are Envoy's attribute names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Property {
    /// `xds.listener_direction`: 1 inbound, 2 outbound (8-byte integer).
    ListenerDirection,
    /// `request.protocol`.
    RequestProtocol,
    /// `request.size`: request body bytes.
    RequestSize,
    /// `response.code`.
    ResponseCode,
    /// `response.code_details`.
    ResponseCodeDetails,
    /// `response.flags`: Envoy's response flags bit set.
    ResponseFlags,
    /// `response.size`: response body bytes.
    ResponseSize,
    /// `source.address`: the downstream peer.
    SourceAddress,
    /// `upstream.address`: the upstream host.
    UpstreamAddress,
    /// `xds.cluster_name`: the upstream cluster.
    ClusterName,
}

impl Property {
    /// The property path.
    pub fn path(self) -> &'static [&'static str] {
        match self {
            Property::ListenerDirection => &["xds", "listener_direction"],
            Property::RequestProtocol => &["request", "protocol"],
            Property::RequestSize => &["request", "size"],
            Property::ResponseCode => &["response", "code"],
            Property::ResponseCodeDetails => &["response", "code_details"],
            Property::ResponseFlags => &["response", "flags"],
            Property::ResponseSize => &["response", "size"],
            Property::SourceAddress => &["source", "address"],
            Property::UpstreamAddress => &["upstream", "address"],
            Property::ClusterName => &["xds", "cluster_name"],
        }
    }
}

/// What the end of a stream can read from the host.
pub trait StreamInfo {
    /// A property's raw value (numbers are 8 little-endian bytes).
    fn property(&mut self, property: Property) -> Option<Vec<u8>>;
    /// The response headers.
    fn response_headers(&mut self) -> Fields;
    /// The response trailers (read only for gRPC calls).
    fn response_trailers(&mut self) -> Fields;
    /// The current time, Unix nanoseconds.
    fn now_ns(&mut self) -> u64;
}

/// A request to be turned into a span at the end of the stream.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The proxy's span context.
    pub context: SpanContext,
    /// The request headers as they arrived.
    pub request: Fields,
    /// Index of the matched route template.
    route: Option<usize>,
    /// The span's start: the clock when the filter saw the request headers, Unix nanoseconds.
    start_ns: u64,
}

/// The outcome of the request-headers step.
#[derive(Debug)]
pub struct RequestOutcome {
    /// Set when a span is to be recorded at the end of the stream.
    pub pending: Option<Box<Pending>>,
    /// The propagated context (not set when dropped or in enricher mode).
    pub context: Option<SpanContext>,
    /// Problems in the incoming headers.
    pub notes: Notes,
    /// The drop rule that matched.
    pub dropped: Option<DropReason>,
}

/// The configured per-request logic of one plugin.
#[derive(Debug, Clone)]
pub struct Tracer {
    mode: Mode,
    propagator: Propagator,
    drop: DropRules,
    options: SpanOptions,
    kind: KindSetting,
    exporting: bool,
    trace_id_header: Option<String>,
    enricher: EnricherConfig,
    workload: Option<String>,
}

impl Tracer {
    /// The tracer of a validated configuration on the node `node`.
    pub fn new(config: &Config, node: &NodeInfo) -> Self {
        Tracer {
            mode: config.mode,
            propagator: Propagator::new(config),
            drop: DropRules::new(&config.drop),
            options: SpanOptions::new(&config.span),
            kind: config.span.kind,
            exporting: config.export.is_some(),
            trace_id_header: config.access_log.trace_id_header.clone(),
            enricher: config.enricher.clone(),
            workload: node.workload_name().map(str::to_owned),
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// At the request headers: `request` is the header map as read from the host, `writer`
    /// the host's header map. `queue` (when exporting) counts drop-rule hits. `now` reads the
    /// wall clock (Unix nanoseconds), once and only for a request that will have a span: its
    /// start.
    pub fn on_request_headers<W, G, C>(
        &self,
        request: Fields,
        writer: &mut W,
        ids: &mut G,
        queue: Option<&mut ExportQueue>,
        now: C,
    ) -> RequestOutcome
    where
        W: HeaderWriter + ?Sized,
        G: IdGenerator + ?Sized,
        C: FnOnce() -> u64,
    {
        let mut outcome = RequestOutcome {
            pending: None,
            context: None,
            notes: Notes::default(),
            dropped: None,
        };
        if self.mode == Mode::Enricher {
            self.enrich(&request, writer);
            return outcome;
        }
        if let Some(reason) = self.drop.check(&request) {
            if let Some(name) = &self.trace_id_header
                && request.contains(name)
            {
                writer.remove(name);
            }
            if let Some(queue) = queue {
                queue.count_filtered();
            }
            outcome.dropped = Some(reason);
            return outcome;
        }
        let propagated = {
            let mut headers = SnapshotHeaders::new(&request, writer);
            self.propagator.propagate(&mut headers, ids)
        };
        if let Some(name) = &self.trace_id_header {
            writer.set(name, &propagated.span.trace_id.to_hex());
        }
        outcome.notes = propagated.notes;
        if self.exporting && propagated.span.sampled() {
            let route = self.route_index(&request);
            // The start is read here rather than as `request.time` at the end: the stream's
            // start in Envoy is a few microseconds earlier (the codec, the filters ahead of
            // this one), and the property read costs 11k instructions more than the clock,
            // 8 % of a span (BENCHMARKS.md, ninth pass).
            outcome.pending = Some(Box::new(Pending {
                context: propagated.span.clone(),
                request,
                route,
                start_ns: now(),
            }));
        }
        outcome.context = Some(propagated.span);
        outcome
    }

    fn route_index(&self, request: &Fields) -> Option<usize> {
        if self.options.routes.is_empty() {
            return None;
        }
        let path = request.first(":path")?;
        self.options.routes.position(path)
    }

    fn enrich<W: HeaderWriter + ?Sized>(&self, request: &Fields, writer: &mut W) {
        if let Some(name) = &self.enricher.route_header {
            let route = self
                .route_index(request)
                .and_then(|i| self.options.routes.get(i));
            match route {
                Some(t) => writer.set(name, t.as_str().as_bytes()),
                None if request.contains(name) => writer.remove(name),
                None => {}
            }
        }
        if let Some(name) = &self.enricher.workload_header {
            match &self.workload {
                Some(w) => writer.set(name, w.as_bytes()),
                None if request.contains(name) => writer.remove(name),
                None => {}
            }
        }
    }

    /// At the end of the stream: builds the span of `pending` into `queue`.
    pub fn on_log<S: StreamInfo + ?Sized>(
        &self,
        pending: &Pending,
        stream: &mut S,
        queue: &mut ExportQueue,
    ) {
        if !queue.reserve() {
            return;
        }
        let kind = match self.kind {
            KindSetting::Server => SpanKind::Server,
            KindSetting::Client => SpanKind::Client,
            // Per request: one root context, and so one tracer, can serve listeners of both
            // directions (Envoy 1.40: caching the first answer per tracer mislabeled spans in
            // the two-listener end-to-end test), and a root context reads no direction at
            // configuration time.
            KindSetting::Auto => {
                match stream
                    .property(Property::ListenerDirection)
                    .and_then(|v| le_u64(&v))
                {
                    Some(2) => SpanKind::Client,
                    _ => SpanKind::Server,
                }
            }
        };
        // The clock at the access log is the stream's end: `request.duration` would say the
        // same a few microseconds earlier, for one more property read. A clock stepped back
        // since the start makes an empty span, never a negative one.
        let start_ns = pending.start_ns;
        let end_ns = stream.now_ns().max(start_ns);
        let number = |stream: &mut S, p| stream.property(p).and_then(|v| le_u64(&v));
        // The response as sent downstream, in one map read: its status and body length, and
        // the allow-listed headers. Without response headers (the stream ended before any),
        // Envoy's own code, if it has one.
        let response = stream.response_headers();
        let status = match response.first(":status").and_then(parse_decimal) {
            Some(code) => u16::try_from(code).ok(),
            None => number(stream, Property::ResponseCode).and_then(|c| u16::try_from(c).ok()),
        }
        .unwrap_or(0);
        let flags = number(stream, Property::ResponseFlags).unwrap_or(0);
        let protocol = stream.property(Property::RequestProtocol);
        // Body sizes: the declared `content-length` when the exchange completed normally (no
        // response flag: not reset, not cut short), Envoy's byte counts otherwise.
        let request_size = match declared_body(&pending.request, flags) {
            Some(size) => size,
            None => number(stream, Property::RequestSize).unwrap_or(0),
        };
        let response_size = match declared_response_body(&pending.request, status, &response, flags)
        {
            Some(size) => size,
            None => number(stream, Property::ResponseSize).unwrap_or(0),
        };
        let source = match kind {
            SpanKind::Server => stream.property(Property::SourceAddress),
            SpanKind::Client => None,
        };
        let upstream = stream.property(Property::UpstreamAddress);
        let cluster = stream.property(Property::ClusterName);
        let details = if is_error(kind, status, flags) {
            stream.property(Property::ResponseCodeDetails)
        } else {
            None
        };
        // gRPC's status is in the trailers, or in the headers of a trailers-only answer: one
        // more map read, for gRPC calls only.
        let grpc = is_grpc(&pending.request);
        let grpc_trailers = grpc.then(|| stream.response_trailers());
        let grpc_field = |name: &str| {
            let trailers = grpc_trailers.as_ref()?;
            trailers.first(name).or_else(|| response.first(name))
        };
        let grpc_status = grpc_field("grpc-status")
            .and_then(parse_decimal)
            .and_then(|c| u32::try_from(c).ok());
        let grpc_message = grpc_status
            .filter(|&c| c != 0)
            .and_then(|_| grpc_field("grpc-message"));
        let response_headers = (!self.options.response_headers.is_empty()).then_some(&response);
        let exchange = Exchange {
            request: Some(&pending.request),
            route: pending
                .route
                .and_then(|i| self.options.routes.get(i))
                .map(|t| t.as_str()),
            kind: Some(kind),
            start_ns,
            end_ns,
            protocol: protocol.as_deref(),
            status,
            response_flags: flags,
            code_details: details.as_deref(),
            request_body_size: request_size,
            response_body_size: response_size,
            source_address: source.as_deref(),
            upstream_address: upstream.as_deref(),
            cluster: cluster.as_deref(),
            response_headers,
            grpc,
            grpc_status,
            grpc_message,
        };
        queue.push(end_ns / 1_000_000, |buf| {
            encode_span(buf, &pending.context, &exchange, &self.options)
        });
    }
}

/// A request's body size without a host call, when the headers settle it: none for a method
/// that usually has no body and announces none, the `content-length` of an exchange that
/// completed normally (`flags == 0`). `None`: ask Envoy (a chunked body, or a reset stream
/// whose body may have been cut short).
fn declared_body(request: &Fields, flags: u64) -> Option<u64> {
    let bodyless_method = matches!(
        request.first(":method"),
        Some(b"GET" | b"HEAD" | b"OPTIONS" | b"DELETE" | b"TRACE")
    );
    let length = request.first("content-length");
    if bodyless_method && length.is_none() && !request.contains("transfer-encoding") {
        return Some(0);
    }
    if flags != 0 {
        return None;
    }
    length.and_then(parse_decimal)
}

/// The response's body size from its headers as sent downstream: none for `HEAD` and for
/// 1xx, 204 and 304 (RFC 9110 §6.4.1), else the `content-length` of a response that
/// completed normally. A compressor downstream of the filter drops `content-length`, so a
/// compressed body falls back to Envoy's count, which is what went on the wire.
fn declared_response_body(
    request: &Fields,
    status: u16,
    response: &Fields,
    flags: u64,
) -> Option<u64> {
    if flags != 0 || status == 0 {
        return None;
    }
    if request.first(":method") == Some(b"HEAD")
        || (100..200).contains(&status)
        || status == 204
        || status == 304
    {
        return Some(0);
    }
    response.first("content-length").and_then(parse_decimal)
}

/// An 8-byte little-endian integer property.
pub fn le_u64(bytes: &[u8]) -> Option<u64> {
    let arr: [u8; 8] = bytes.try_into().ok()?;
    Some(u64::from_le_bytes(arr))
}

#[cfg(test)]
mod tests;
