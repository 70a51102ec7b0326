//! Building the span of one request: name, kind, status and attributes by the OpenTelemetry
//! HTTP semantic conventions plus Envoy's own tags, written straight into the export buffer.
//!
//! Input is an [`Exchange`]: what the proxy knows once the stream is done (request header
//! snapshot, response code and flags, timing, peers, cluster). Everything here is plain Rust;
//! which host properties fill an `Exchange` is decided in [`tracer`](crate::tracer).
//!
//! Status is ERROR when there was no response (a reset), on any 5xx, on 4xx for client spans
//! (as the conventions say; a server's 4xx is the caller's error, a request Envoy could not
//! parse, `DPE`, included), and when Envoy flagged an upstream failure (`UF`, `UT`, `URX`, …).
//! The message is Envoy's response code details
//! (`upstream_reset_before_response_started{connection_failure}`), unless they only say the
//! upstream answered so (`via_upstream`).
//!
//! A gRPC call (`content-type: application/grpc…`) also gets the RPC conventions' `rpc.*`
//! attributes, and its `grpc-status` decides the status when HTTP's does not: a failed call
//! is usually an HTTP 200. Client spans fail on any code but OK, server spans on the codes
//! that are the server's fault; the message is `grpc-message`.

use crate::config::{NameStyle, SpanConfig};
use crate::fields::Fields;
use crate::otlp::{SpanKind, SpanWriter, StatusCode, text};
use crate::propagation::SpanContext;
use crate::route::{Routes, strip_query};
use crate::rules::{AllowList, split_authority};

/// Envoy's response flags in bit order (`StreamInfo::CoreResponseFlag`), with their short
/// names as access logs print them.
pub const RESPONSE_FLAGS: [&str; 30] = [
    "LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC",
    "URX", "SI", "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF", "DO", "DR",
    "UDO",
];

/// Flags that mean the request failed on its way to or from the upstream (or in Envoy):
/// UH UT LR UR UF UC UO NR URX SI DPE UMSDR DT UPE NC OM DF.
pub const FAILURE_FLAGS: u64 = (1 << 1)
    | (1 << 2)
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 6)
    | (1 << 7)
    | (1 << 8)
    | (1 << 15)
    | (1 << 16)
    | (1 << 18)
    | (1 << 19)
    | (1 << 22)
    | (1 << 23)
    | (1 << 24)
    | (1 << 25)
    | (1 << 26);

/// Span options from the configuration, compiled.
#[derive(Debug, Clone, Default)]
pub struct SpanOptions {
    /// Name style.
    pub name: NameStyle,
    /// Record `url.query`.
    pub url_query: bool,
    /// Route templates.
    pub routes: Routes,
    /// Request headers to record.
    pub request_headers: AllowList,
    /// Response headers to record.
    pub response_headers: AllowList,
    /// Literal attributes.
    pub tags: Vec<(String, String)>,
    /// `span.known_methods`, when set.
    pub known_methods: Option<Vec<String>>,
}

impl SpanOptions {
    /// Compiles a (validated) `span` section.
    pub fn new(config: &SpanConfig) -> Self {
        SpanOptions {
            name: config.name,
            url_query: config.url_query,
            routes: Routes::parse(&config.routes).unwrap_or_default(),
            request_headers: AllowList::new(&config.request_headers),
            response_headers: AllowList::new(&config.response_headers),
            tags: config
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            known_methods: config.known_methods.clone(),
        }
    }
}

/// Everything known about a finished request.
#[derive(Debug, Clone, Default)]
pub struct Exchange<'a> {
    /// The request headers (pseudo-headers included) as they arrived.
    pub request: Option<&'a Fields>,
    /// The matched route template.
    pub route: Option<&'a str>,
    /// Server or client.
    pub kind: Option<SpanKind>,
    /// Start, Unix nanoseconds.
    pub start_ns: u64,
    /// End, Unix nanoseconds.
    pub end_ns: u64,
    /// `request.protocol` (`HTTP/1.1`, `HTTP/2`, `HTTP/3`).
    pub protocol: Option<&'a [u8]>,
    /// The response status code; 0 when no response was sent.
    pub status: u16,
    /// `response.flags`.
    pub response_flags: u64,
    /// `response.code_details` (read only for errors).
    pub code_details: Option<&'a [u8]>,
    /// Request body bytes.
    pub request_body_size: u64,
    /// Response body bytes.
    pub response_body_size: u64,
    /// `source.address` (the downstream peer).
    pub source_address: Option<&'a [u8]>,
    /// `upstream.address` (the upstream host).
    pub upstream_address: Option<&'a [u8]>,
    /// `xds.cluster_name`.
    pub cluster: Option<&'a [u8]>,
    /// Response headers, when an allow-list needs them.
    pub response_headers: Option<&'a Fields>,
    /// A gRPC call ([`is_grpc`] of the request, decided once by the caller).
    pub grpc: bool,
    /// The gRPC status of a gRPC exchange (`grpc-status` of the trailers, or of the headers
    /// of a trailers-only response) and its `grpc-message`.
    pub grpc_status: Option<u32>,
    /// `grpc-message`, read only for a failed call.
    pub grpc_message: Option<&'a [u8]>,
}

/// Whether the request is a gRPC call: a `POST` with `content-type: application/grpc[+…]`.
/// The method first: it is among the first fields of any request, so the common non-`POST`
/// request is told apart without scanning for a content type (that scan cost a sampled span
/// about 800 instructions in Envoy).
pub fn is_grpc(request: &Fields) -> bool {
    request.first(":method") == Some(b"POST")
        && request
            .first("content-type")
            .is_some_and(|ct| ct.starts_with(b"application/grpc"))
}

/// gRPC's status codes by number, as the RPC conventions name them in `error.type`.
const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// Whether a gRPC status fails the span, by the RPC conventions: any non-OK code on a client
/// span; on a server span only the codes that are the server's fault (UNKNOWN,
/// DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS).
pub fn is_grpc_error(kind: SpanKind, code: u32) -> bool {
    match kind {
        SpanKind::Client => code != 0,
        SpanKind::Server => matches!(code, 2 | 4 | 12 | 13 | 14 | 15),
    }
}

/// The RPC conventions' attributes of a gRPC call. Out of line: most spans are not gRPC, and
/// `encode_span` stays small enough for the optimizer to treat it as before (inlined, it cost
/// every span about 1.5k instructions in Envoy; BENCHMARKS.md).
#[cold]
#[inline(never)]
fn grpc_attributes(w: &mut SpanWriter<'_>, path: &[u8], status: Option<u32>) {
    w.attr_str("rpc.system", "grpc");
    if let Some((service, method)) = grpc_service_method(path) {
        w.attr("rpc.service", service);
        w.attr("rpc.method", method);
    }
    if let Some(code) = status {
        w.attr_int("rpc.grpc.status_code", i64::from(code));
    }
}

/// A gRPC status code's name (`UNAVAILABLE`), `_OTHER` past the known ones.
#[cold]
#[inline(never)]
fn grpc_code_name(status: Option<u32>) -> &'static str {
    usize::try_from(status.unwrap_or(2))
        .ok()
        .and_then(|i| GRPC_CODES.get(i))
        .copied()
        .unwrap_or("_OTHER")
}

/// `/package.Service/Method` → (`package.Service`, `Method`).
fn grpc_service_method(path: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = path.strip_prefix(b"/")?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (service, method) = (rest.get(..slash)?, rest.get(slash + 1..)?);
    (!service.is_empty() && !method.is_empty() && !method.contains(&b'/'))
        .then_some((service, method))
}

/// `DPE`: the downstream sent a request Envoy could not parse. On a server span that is the
/// caller's error, like any 4xx.
const CALLER_FAULT_FLAGS: u64 = 1 << 18;

/// The failure flags that count for a span of `kind`.
fn failure_flags(kind: SpanKind) -> u64 {
    match kind {
        SpanKind::Server => FAILURE_FLAGS & !CALLER_FAULT_FLAGS,
        SpanKind::Client => FAILURE_FLAGS,
    }
}

/// Whether the exchange failed, by the rules in the module doc.
pub fn is_error(kind: SpanKind, status: u16, flags: u64) -> bool {
    status == 0
        || status >= 500
        || (kind == SpanKind::Client && status >= 400)
        || flags & failure_flags(kind) != 0
}

/// Attribute names the filter writes itself; `span.tags` may not reuse them (a span's keys
/// must be unique), nor the header prefixes.
pub const OWN_ATTRIBUTES: &[&str] = &[
    "http.request.method",
    "http.request.method_original",
    "url.scheme",
    "url.path",
    "url.query",
    "url.full",
    "server.address",
    "server.port",
    "http.route",
    "http.response.status_code",
    "user_agent.original",
    "network.protocol.version",
    "client.address",
    "network.peer.address",
    "network.peer.port",
    "http.request.body.size",
    "http.response.body.size",
    "upstream_cluster",
    "upstream_address",
    "response_flags",
    "guid:x-request-id",
    "error.type",
    "rpc.system",
    "rpc.service",
    "rpc.method",
    "rpc.grpc.status_code",
];

/// Prefixes of the header attributes the filter writes.
pub const OWN_ATTRIBUTE_PREFIXES: &[&str] = &["http.request.header.", "http.response.header."];

/// The methods the HTTP conventions know; others are recorded as `_OTHER`.
const KNOWN_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY",
];

fn known_method(method: &[u8]) -> Option<&'static str> {
    KNOWN_METHODS
        .iter()
        .copied()
        .find(|m| m.as_bytes() == method)
}

/// The method as recorded: from `span.known_methods` when configured, else the conventions'.
fn recorded_method<'o>(method: &[u8], custom: Option<&'o [String]>) -> Option<&'o str> {
    match custom {
        None => known_method(method),
        Some(list) => list
            .iter()
            .map(String::as_str)
            .find(|m| m.as_bytes() == method),
    }
}

/// Writes the response flags as Envoy prints them (`UF,URX`) into `out`.
fn flags_text(flags: u64, out: &mut String) {
    for (i, name) in RESPONSE_FLAGS.iter().enumerate() {
        if flags & (1 << i) != 0 {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(name);
        }
    }
}

/// `network.protocol.version` from Envoy's `request.protocol`.
fn protocol_version(protocol: &[u8]) -> Option<&'static str> {
    Some(match protocol {
        b"HTTP/1.0" => "1.0",
        b"HTTP/1.1" => "1.1",
        b"HTTP/2" => "2",
        b"HTTP/3" => "3",
        _ => return None,
    })
}

/// Splits `ip:port` / `[v6]:port`.
fn split_address(address: &[u8]) -> (&[u8], Option<u16>) {
    split_authority(address)
}

/// Encodes the span of `context` for `exchange` at the end of `buf`.
pub fn encode_span(
    buf: &mut Vec<u8>,
    context: &SpanContext,
    exchange: &Exchange<'_>,
    options: &SpanOptions,
) {
    let empty = Fields::default();
    let request = exchange.request.unwrap_or(&empty);
    let kind = exchange.kind.unwrap_or(SpanKind::Server);
    let raw_method = request.first(":method").unwrap_or(b"GET");
    let method = recorded_method(raw_method, options.known_methods.as_deref());
    let raw_path = request.first(":path").unwrap_or(b"/");
    let path = strip_query(raw_path);
    let query = raw_path
        .get(path.len()..)
        .and_then(|q| q.strip_prefix(b"?"))
        .map(|q| q.split(|&b| b == b'#').next().unwrap_or_default());
    let authority = request.first(":authority");
    let scheme = request.first(":scheme").unwrap_or(b"http");

    let mut w = SpanWriter::begin(buf);
    w.ids(
        &context.trace_id,
        &context.span_id,
        &context.tracestate,
        context.parent_span_id.as_ref(),
    );
    match options.name {
        NameStyle::Otel => {
            let m = method.unwrap_or("HTTP");
            match exchange.route {
                Some(route) => w.name(&[m, " ", route]),
                None => w.name(&[m]),
            }
        }
        NameStyle::Envoy => {
            let a = text(authority.unwrap_or_default());
            let p = text(path);
            w.name(&[&a, &p]);
        }
    }
    w.kind(kind);
    w.times(exchange.start_ns, exchange.end_ns);

    // Attributes: the HTTP conventions first.
    match method {
        Some(m) => w.attr_str("http.request.method", m),
        None => {
            w.attr_str("http.request.method", "_OTHER");
            w.attr("http.request.method_original", raw_method);
        }
    }
    w.attr("url.scheme", scheme);
    w.attr("url.path", path);
    if options.url_query
        && let Some(q) = query
    {
        w.attr("url.query", q);
    }
    if kind == SpanKind::Client {
        let full_query = if options.url_query { query } else { None };
        let q = full_query.map(text);
        let parts = [
            &*text(scheme),
            "://",
            &*text(authority.unwrap_or_default()),
            &*text(path),
            if q.is_some() { "?" } else { "" },
            q.as_deref().unwrap_or(""),
        ];
        w.attr_str("url.full", &parts.concat());
    }
    if let Some(authority) = authority {
        let (host, port) = split_authority(authority);
        w.attr("server.address", host);
        let port = port.or(match scheme {
            b"https" => Some(443),
            b"http" => Some(80),
            _ => None,
        });
        if let Some(port) = port {
            w.attr_int("server.port", i64::from(port));
        }
    }
    if let Some(route) = exchange.route {
        w.attr_str("http.route", route);
    }
    if exchange.status != 0 {
        w.attr_int("http.response.status_code", i64::from(exchange.status));
    }
    if let Some(ua) = request.first("user-agent") {
        w.attr("user_agent.original", ua);
    }
    if let Some(v) = exchange.protocol.and_then(protocol_version) {
        w.attr_str("network.protocol.version", v);
    }
    let peer = match kind {
        // Envoy's downstream address is the client's as the connection manager settled it:
        // the connection's peer, or an address from `x-forwarded-for` (then with port 0).
        // The conventions call the one `client.address` and only the other the network peer.
        SpanKind::Server => exchange.source_address.and_then(|source| {
            let (ip, port) = split_address(source);
            w.attr("client.address", ip);
            port.filter(|&p| p != 0).map(|p| (ip, Some(p)))
        }),
        SpanKind::Client => exchange.upstream_address.map(split_address),
    };
    if let Some((ip, port)) = peer {
        w.attr("network.peer.address", ip);
        if let Some(port) = port {
            w.attr_int("network.peer.port", i64::from(port));
        }
    }
    if exchange.request_body_size > 0 {
        w.attr_int(
            "http.request.body.size",
            i64::try_from(exchange.request_body_size).unwrap_or(i64::MAX),
        );
    }
    if exchange.response_body_size > 0 {
        w.attr_int(
            "http.response.body.size",
            i64::try_from(exchange.response_body_size).unwrap_or(i64::MAX),
        );
    }

    // gRPC: the RPC conventions' attributes, and the status Envoy's HTTP status hides.
    let grpc = exchange.grpc;
    if grpc {
        grpc_attributes(&mut w, path, exchange.grpc_status);
    }

    // Envoy's tags, under the names its native tracer uses.
    if let Some(cluster) = exchange.cluster {
        w.attr("upstream_cluster", cluster);
    }
    if let Some(upstream) = exchange.upstream_address {
        w.attr("upstream_address", upstream);
    }
    let mut flags = String::new();
    flags_text(exchange.response_flags, &mut flags);
    if !flags.is_empty() {
        w.attr_str("response_flags", &flags);
    }
    if let Some(id) = request.first("x-request-id") {
        w.attr("guid:x-request-id", id);
    }

    let http_error = is_error(kind, exchange.status, exchange.response_flags);
    let grpc_error = grpc
        && !http_error
        && exchange
            .grpc_status
            .is_some_and(|code| is_grpc_error(kind, code));
    let error = http_error || grpc_error;
    if grpc_error {
        w.attr_str("error.type", grpc_code_name(exchange.grpc_status));
    } else if error {
        let status_text;
        let error_type = if exchange.status >= 400 {
            status_text = exchange.status.to_string();
            status_text.as_str()
        } else {
            RESPONSE_FLAGS
                .iter()
                .enumerate()
                .find(|(i, _)| exchange.response_flags & (1 << i) & failure_flags(kind) != 0)
                .map_or("_OTHER", |(_, name)| name)
        };
        w.attr_str("error.type", error_type);
    }

    options.request_headers.for_each(request, |name, fields| {
        w.attr_array("http.request.header.", name, fields.values(name));
    });
    if let Some(response) = exchange.response_headers {
        options.response_headers.for_each(response, |name, fields| {
            w.attr_array("http.response.header.", name, fields.values(name));
        });
    }
    for (k, v) in &options.tags {
        w.attr_str(k, v);
    }

    if grpc_error {
        let message = exchange.grpc_message.map(text).unwrap_or_default();
        w.status(StatusCode::Error, &message);
    } else if error {
        // `via_upstream`: the upstream's own status, which the status code already says.
        let message = exchange
            .code_details
            .filter(|d| *d != b"via_upstream")
            .map(text)
            .unwrap_or_default();
        w.status(StatusCode::Error, &message);
    }
    w.flags(context.flags.0, context.parent_span_id.is_some());
    w.finish();
}

#[cfg(test)]
mod tests;
