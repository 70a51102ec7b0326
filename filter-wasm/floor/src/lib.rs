//! The floor of a proxy-wasm tracing filter in Envoy: a module that makes the host calls a
//! span needs and does next to nothing else, so that `scripts/envoy-instructions.sh` and
//! `scripts/bench.sh envoy` can tell what any proxy-wasm filter must pay (the ABI, Envoy's
//! answers, v8's wrappers) from what meshtrace's filter adds on top (BENCHMARKS.md, issue 8).
//! A benchmark instrument: never shipped, never configured by users.
//!
//! The plugin configuration names the [`Mode`]. No SDK: the proxy-wasm Rust SDK exports every
//! callback and keeps its own context maps, which would be part of what is measured. The
//! module is written against the ABI directly (`abi`, compiled for wasm32 only); what it
//! encodes is here, tested on the host.

#[cfg(target_arch = "wasm32")]
mod abi;

/// What the module does per request: the host calls it makes, from the plugin configuration,
/// a preset optionally followed by `+STEP`s (`bare+cel`), so that one host call's cost is the
/// difference between two runs.
///
/// | preset | steps |
/// | --- | --- |
/// | `empty` | none: `on_request_headers` returns at once, the cost of having a filter at all |
/// | `propagation` | `traceparent` read, then replaced (a child span id) or added (a new trace) |
/// | `bare` | propagation, and at `on_log` the least an HTTP span needs from the host: the clock at both ends and the response `:status`; spans exported |
/// | `span` | `bare+request-map+cel+response-map`: the host calls meshtrace's filter makes for a sampled span |
///
/// Steps: `+request-map`, `+cel` (or `+cel1` … `+cel6`: the first terms of [`TERMS`] alone),
/// `+response-map`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mode {
    /// Reads and writes `traceparent`.
    pub propagation: bool,
    /// Records and exports a span per request (the clock at both ends, the status).
    pub records: bool,
    /// Reads the whole request header map (as the filter does: the headers it records, B3,
    /// baggage) instead of `traceparent` alone.
    pub request_map: bool,
    /// Evaluates the first this many of [`TERMS`] at `on_log` in one expression (`cel`: all
    /// six, [`EXPRESSION`]; `cel1` to `cel6`: the first one to six, to price a term).
    pub cel: u8,
    /// Reads the whole response header map instead of `:status` alone.
    pub response_map: bool,
}

impl Mode {
    /// The mode a plugin configuration names; `None` for anything else, or a step without
    /// what it builds on (`propagation+cel`: no span to record it in).
    pub fn parse(config: &[u8]) -> Option<Mode> {
        let mut words = config.trim_ascii().split(|&b| b == b'+');
        let mut mode = match words.next()? {
            b"empty" => Mode::default(),
            b"propagation" => Mode {
                propagation: true,
                ..Mode::default()
            },
            b"bare" => Mode {
                propagation: true,
                records: true,
                ..Mode::default()
            },
            b"span" => Mode {
                propagation: true,
                records: true,
                request_map: true,
                cel: 6,
                response_map: true,
            },
            _ => return None,
        };
        for step in words {
            match step {
                b"request-map" if mode.propagation => mode.request_map = true,
                b"cel" if mode.records => mode.cel = 6,
                [b'c', b'e', b'l', n @ b'1'..=b'6'] if mode.records => mode.cel = n - b'0',
                b"response-map" if mode.records => mode.response_map = true,
                _ => return None,
            }
        }
        Some(mode)
    }
}

/// The terms of the CEL expression meshtrace's filter evaluates once per span
/// (`meshtrace_filter::stream`): direction, flags, protocol, peer, upstream, cluster.
pub const TERMS: [&str; 6] = [
    "string(xds.listener_direction)",
    "string(response.flags)",
    "request.protocol",
    "source.address",
    "(has(upstream.address) ? upstream.address : '')",
    "(has(xds.cluster_name) ? xds.cluster_name : '')",
];

/// [`TERMS`] joined as the filter joins them, kept equal to its expression by a test.
pub const EXPRESSION: &str = "string(xds.listener_direction) + '\\x1f' + string(response.flags) + '\\x1f' + request.protocol + '\\x1f' + source.address + '\\x1f' + (has(upstream.address) ? upstream.address : '') + '\\x1f' + (has(xds.cluster_name) ? xds.cluster_name : '')";

/// The expression of the first `n` of [`TERMS`] (all of them: [`EXPRESSION`]).
pub fn expression(n: usize) -> String {
    TERMS
        .iter()
        .take(n.max(1))
        .copied()
        .collect::<Vec<_>>()
        .join(" + '\\x1f' + ")
}

/// The cluster, path and authority spans are posted to (`scripts/bench/envoy-filter.yaml`).
pub const EXPORT_CLUSTER: &str = "meshtrace_otlp";

/// Spans are sent when this many are buffered, or at the next tick.
pub const BATCH_SPANS: usize = 256;

/// A span's identity: the trace, its own id and its parent's (zero for a root).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ids {
    /// The trace id.
    pub trace: [u8; 16],
    /// This span's id.
    pub span: [u8; 8],
    /// The parent span's id, zero for a root span.
    pub parent: [u8; 8],
}

/// The lowercase hex digit of `n` (below 16).
fn nibble(n: u8) -> u8 {
    if n < 10 { b'0' + n } else { b'a' + n - 10 }
}

/// Ids from an incoming `traceparent` (version 00, the layout of W3C Trace Context) with
/// `span` as the new span id; a new trace when the header is absent or not that layout.
pub fn child_of(traceparent: Option<&[u8]>, span: [u8; 8], new_trace: [u8; 16]) -> Ids {
    let parsed = traceparent.and_then(|tp| {
        if tp.len() != 55 || !tp.starts_with(b"00-") || tp.get(35) != Some(&b'-') {
            return None;
        }
        let mut trace = [0u8; 16];
        let mut parent = [0u8; 8];
        unhex(tp.get(3..35)?, &mut trace)?;
        unhex(tp.get(36..52)?, &mut parent)?;
        Some((trace, parent))
    });
    match parsed {
        Some((trace, parent)) => Ids {
            trace,
            span,
            parent,
        },
        None => Ids {
            trace: new_trace,
            span,
            parent: [0; 8],
        },
    }
}

fn unhex(text: &[u8], out: &mut [u8]) -> Option<()> {
    if text.len() != out.len() * 2 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let [hi, lo] = pair else { return None };
        *byte = (digit(*hi)? << 4) | digit(*lo)?;
    }
    Some(())
}

/// The `traceparent` a request carries upstream: `ids`' trace and span, sampled.
pub fn traceparent(ids: &Ids) -> [u8; 55] {
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-01";
    let (trace, rest) = out.split_at_mut(35);
    hex(&ids.trace, trace.get_mut(3..).unwrap_or_default());
    hex(&ids.span, rest.get_mut(1..17).unwrap_or_default());
    out
}

fn hex(bytes: &[u8], out: &mut [u8]) {
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        if let [hi, lo] = pair {
            *hi = nibble(b >> 4);
            *lo = nibble(b & 15);
        }
    }
}

/// Appends one OTLP `Span` (field 2 of `ScopeSpans`) to `out`: the ids, a server kind, the two
/// times, and as attributes the response status and, when given, the properties' answer as
/// one string. The least a collector can take as a span.
pub fn encode_span(
    out: &mut Vec<u8>,
    ids: &Ids,
    start_ns: u64,
    end_ns: u64,
    status: i64,
    properties: Option<&[u8]>,
) {
    let mut span = Vec::with_capacity(128);
    bytes_field(&mut span, 1, &ids.trace);
    bytes_field(&mut span, 2, &ids.span);
    if ids.parent != [0; 8] {
        bytes_field(&mut span, 4, &ids.parent);
    }
    bytes_field(&mut span, 5, b"floor");
    key(&mut span, 6, 0);
    varint(&mut span, 2);
    key(&mut span, 7, 1);
    span.extend_from_slice(&start_ns.to_le_bytes());
    key(&mut span, 8, 1);
    span.extend_from_slice(&end_ns.to_le_bytes());
    let mut value = Vec::with_capacity(16);
    key(&mut value, 3, 0);
    varint(&mut value, status as u64);
    attribute(&mut span, b"http.response.status_code", &value);
    if let Some(text) = properties {
        value.clear();
        bytes_field(&mut value, 1, text);
        attribute(&mut span, b"meshtrace.floor.properties", &value);
    }
    bytes_field(out, 2, &span);
}

/// An `ExportTraceServiceRequest` holding the spans [`encode_span`] appended to `spans`, in one
/// resource (no attributes) and one scope.
pub fn export_request(spans: &[u8]) -> Vec<u8> {
    let mut scope = Vec::with_capacity(spans.len() + 8);
    scope.extend_from_slice(spans);
    let mut resource = Vec::with_capacity(spans.len() + 16);
    bytes_field(&mut resource, 2, &scope);
    let mut request = Vec::with_capacity(spans.len() + 24);
    bytes_field(&mut request, 1, &resource);
    request
}

fn attribute(out: &mut Vec<u8>, name: &[u8], any_value: &[u8]) {
    let mut kv = Vec::with_capacity(name.len() + any_value.len() + 6);
    bytes_field(&mut kv, 1, name);
    bytes_field(&mut kv, 2, any_value);
    bytes_field(out, 9, &kv);
}

fn key(out: &mut Vec<u8>, field: u64, wire_type: u64) {
    varint(out, (field << 3) | wire_type);
}

fn bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    key(out, field, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests;
