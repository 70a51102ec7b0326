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
use crate::fields::{Fields, HeaderWriter, SnapshotHeaders};
use crate::ids::IdGenerator;
use crate::node::NodeInfo;
use crate::otlp::SpanKind;
use crate::propagation::{Notes, Propagator, SpanContext};
use crate::rules::{DropReason, DropRules};
use crate::span::{Exchange, SpanOptions, encode_span, is_error};

/// The stream properties read at the end of a request. Paths are Envoy's attribute names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Property {
    /// `xds.listener_direction`: 1 inbound, 2 outbound (8-byte integer).
    ListenerDirection,
    /// `request.time`: start, Unix nanoseconds.
    RequestTime,
    /// `request.duration`: nanoseconds, when the request completed.
    RequestDuration,
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
            Property::RequestTime => &["request", "time"],
            Property::RequestDuration => &["request", "duration"],
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
    /// the host's header map. `queue` (when exporting) counts drop-rule hits.
    pub fn on_request_headers<W, G>(
        &self,
        request: Fields,
        writer: &mut W,
        ids: &mut G,
        queue: Option<&mut ExportQueue>,
    ) -> RequestOutcome
    where
        W: HeaderWriter + ?Sized,
        G: IdGenerator + ?Sized,
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
            outcome.pending = Some(Box::new(Pending {
                context: propagated.span.clone(),
                request,
                route,
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
        let start = stream
            .property(Property::RequestTime)
            .and_then(|v| le_u64(&v));
        let duration = stream
            .property(Property::RequestDuration)
            .and_then(|v| le_u64(&v));
        let (start_ns, end_ns) = match (start, duration) {
            (Some(s), Some(d)) => (s, s.saturating_add(d)),
            (Some(s), None) => (s, stream.now_ns().max(s)),
            (None, _) => {
                let now = stream.now_ns();
                (now, now)
            }
        };
        let number = |stream: &mut S, p| stream.property(p).and_then(|v| le_u64(&v));
        let status = number(stream, Property::ResponseCode)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(0);
        let flags = number(stream, Property::ResponseFlags).unwrap_or(0);
        let protocol = stream.property(Property::RequestProtocol);
        let request_size = if may_have_body(&pending.request) {
            number(stream, Property::RequestSize).unwrap_or(0)
        } else {
            0
        };
        let response_size = number(stream, Property::ResponseSize).unwrap_or(0);
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
        let response_headers = if self.options.response_headers.is_empty() {
            None
        } else {
            Some(stream.response_headers())
        };
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
            response_headers: response_headers.as_ref(),
        };
        queue.push(end_ns / 1_000_000, |buf| {
            encode_span(buf, &pending.context, &exchange, &self.options)
        });
    }
}

/// Whether a request may carry a body: it announces one (`content-length`,
/// `transfer-encoding`), or its method usually has one. A `GET` without either has none, and
/// its body size costs no host call.
fn may_have_body(request: &Fields) -> bool {
    let bodyless_method = matches!(
        request.first(":method"),
        Some(b"GET" | b"HEAD" | b"OPTIONS" | b"DELETE" | b"TRACE")
    );
    !bodyless_method || request.contains("content-length") || request.contains("transfer-encoding")
}

/// An 8-byte little-endian integer property.
pub fn le_u64(bytes: &[u8]) -> Option<u64> {
    let arr: [u8; 8] = bytes.try_into().ok()?;
    Some(u64::from_le_bytes(arr))
}

#[cfg(test)]
mod tests;
