//! Span shapes: one OTLP export request as one Envoy sidecar sends it.
//!
//! Envoy's OpenTelemetry tracer (the path Istio uses) exports the spans of one proxy per
//! request, so a request carries one resource (the pod) and spans of several traces. For each
//! request the pod served there is a SERVER span (inbound listener) and, when the app calls
//! other services with the trace headers propagated, one CLIENT span per call (outbound
//! listener) whose parent is that SERVER span. The SERVER span's parent is the caller's CLIENT
//! span, exported by another proxy, except at the ingress gateway, where the trace starts.
//! Attributes are the tags Envoy sets, all as strings, as Envoy sends them.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use crate::mesh::{self, EDGE_AGENTS, ERROR_FLAGS, Pod, Workload};
use crate::rng::Rng;

/// The span attribute Envoy fills with the request's `x-request-id`; the pool rewrites it per
/// request so every trace has its own.
pub const REQUEST_ID_KEY: &str = "guid:x-request-id";

/// The build string Istio's proxy reports as `telemetry.sdk.version` and scope version.
const ENVOY_BUILD: &str =
    "7e4e1c7a3c5f0f8d6a0b6f4f2d7a1c9e5b3d2a10/1.36.2-dev/Clean/RELEASE/BoringSSL";

/// Start time of the template spans (2023-11-14); the pool writes real times per request.
const PLACEHOLDER_TIME: u64 = 1_700_000_000_000_000_000;

/// Where a span's parent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    /// No parent: the trace starts here (ingress gateway).
    Root,
    /// The span at this index in the same request.
    Local(usize),
    /// A span exported by another proxy (the caller's CLIENT span).
    Remote,
}

/// What the pool needs to give each copy of a span fresh ids and times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanMeta {
    /// Index of the span's trace among the traces of the request.
    pub trace: usize,
    /// Where its parent is.
    pub parent: Parent,
    /// How long before the export the span started, in nanoseconds.
    pub start_ago_ns: u64,
    /// Its duration in nanoseconds (`start_ago_ns >= duration_ns`: it has ended).
    pub duration_ns: u64,
}

/// One export request and the per-span facts that go with it, in span order.
#[derive(Debug, Clone)]
pub struct Shaped {
    /// The request, with placeholder ids and times.
    pub request: ExportTraceServiceRequest,
    /// One entry per span, in the order the spans appear in `request`.
    pub spans: Vec<SpanMeta>,
}

/// Builds the export request of `pod`'s proxy holding exactly `spans` spans.
pub fn build(pod: &Pod, spans: usize, rng: &mut Rng) -> Shaped {
    let mut out = Vec::with_capacity(spans);
    let mut meta = Vec::with_capacity(spans);
    let mut trace = 0;
    while out.len() < spans {
        push_trace(pod, trace, spans, rng, &mut out, &mut meta);
        trace += 1;
    }
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource(pod)),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "envoy".to_owned(),
                    version: ENVOY_BUILD.to_owned(),
                    ..InstrumentationScope::default()
                }),
                spans: out,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    Shaped {
        request,
        spans: meta,
    }
}

/// The resource of a sidecar's spans: service, Kubernetes and Istio identity.
fn resource(pod: &Pod) -> Resource {
    let w = pod.workload;
    let mut attributes = vec![
        kv("telemetry.sdk.name", "envoy"),
        kv("service.name", pod.service_name()),
        kv("telemetry.sdk.language", "cpp"),
        kv("telemetry.sdk.version", ENVOY_BUILD),
        kv("service.version", pod.version),
        kv("k8s.namespace.name", w.namespace),
        kv("k8s.pod.name", pod.name.as_str()),
        kv("k8s.deployment.name", pod.deployment.as_str()),
        kv("k8s.node.name", pod.node.as_str()),
        kv("istio.canonical_service", w.app),
        kv("istio.canonical_revision", pod.version),
        kv("istio.mesh_id", mesh::MESH_ID),
        kv("istio.cluster_id", mesh::CLUSTER_ID),
    ];
    if let Some(zone) = pod.zone {
        attributes.push(kv("cloud.availability_zone", zone));
    }
    Resource {
        attributes,
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    }
}

/// Appends the spans `pod`'s proxy records for one request it served (trace number `trace`),
/// stopping at `limit` spans in `out`.
fn push_trace(
    pod: &Pod,
    trace: usize,
    limit: usize,
    rng: &mut Rng,
    out: &mut Vec<Span>,
    meta: &mut Vec<SpanMeta>,
) {
    let w = pod.workload;
    let request_id = uuid(rng);
    let (method, path) = route(w, rng);
    // Most requests take a few milliseconds; some tens; a few hundreds.
    let duration_ns = match rng.below(10) {
        0..=4 => rng.range(800_000, 5_000_000),
        5..=8 => rng.range(5_000_000, 40_000_000),
        _ => rng.range(40_000_000, 400_000_000),
    };
    // Spans reach the exporter a little after they end (Envoy flushes every 5 s or 5 spans).
    let start_ago_ns = duration_ns + rng.range(1_000_000, 2_000_000_000);
    let status = status(rng);
    let server_index = out.len();
    let inbound = Call {
        target: if w.gateway {
            mesh::workload(w.calls.first().copied().unwrap_or("productpage")).unwrap_or(w)
        } else {
            w
        },
        method,
        path: &path,
        agent: if w.gateway {
            rng.pick(EDGE_AGENTS).copied().unwrap_or("curl/8.5.0")
        } else {
            caller_agent(w, rng)
        },
        peer: random_ip(rng),
        request_id: &request_id,
        status,
        inbound: !w.gateway,
    };
    out.push(span(pod, &inbound, rng, !w.gateway, duration_ns));
    let parent = if w.gateway {
        Parent::Root
    } else {
        Parent::Remote
    };
    meta.push(SpanMeta {
        trace,
        parent,
        start_ago_ns,
        duration_ns,
    });

    // The app's own calls, one after another inside the server span.
    let mut offset = duration_ns / 10;
    for callee in w.calls.iter().filter_map(|app| mesh::workload(app)) {
        if w.gateway || out.len() >= limit {
            break;
        }
        let (method, path) = route(callee, rng);
        let remaining = duration_ns.saturating_sub(offset);
        // Each call takes an eighth to a third of what is left, so calls end inside the span.
        let call_ns = rng.range(remaining / 8, remaining / 3).max(1);
        let call = Call {
            target: callee,
            method,
            path: &path,
            agent: w.client_agent,
            peer: pod.ip.clone(),
            request_id: &request_id,
            status: if status >= 500 && rng.chance(50) {
                status
            } else {
                200
            },
            inbound: false,
        };
        let call_start_ago = start_ago_ns.saturating_sub(offset);
        out.push(span(pod, &call, rng, true, call_ns));
        meta.push(SpanMeta {
            trace,
            parent: Parent::Local(server_index),
            start_ago_ns: call_start_ago,
            duration_ns: call_ns,
        });
        offset += call_ns + rng.range(remaining / 50, remaining / 10);
    }
}

/// One HTTP exchange a proxy saw.
struct Call<'a> {
    target: &'static Workload,
    method: &'static str,
    path: &'a str,
    agent: &'a str,
    peer: String,
    request_id: &'a str,
    status: u16,
    /// The inbound listener of `target`'s own sidecar (else an outbound call to `target`).
    inbound: bool,
}

/// A span as Envoy's OpenTelemetry tracer builds it, with placeholder ids and times.
fn span(pod: &Pod, call: &Call<'_>, rng: &mut Rng, has_parent: bool, duration_ns: u64) -> Span {
    let t = call.target;
    let host = format!("{}:{}", t.app, t.port);
    let cluster = if call.inbound {
        format!("inbound|{}||", t.port)
    } else {
        format!("outbound|{}||{}", t.port, t.fqdn())
    };
    let request_size = if call.method == "GET" {
        0
    } else {
        rng.range(60, 2400)
    };
    let response_size = if t.protocol == "HTTP/2" {
        rng.range(5, 900)
    } else {
        rng.range(90, 12_000)
    };
    // Envoy 1.40's tags, in its order (checked against its OpenTelemetry tracer's export):
    // `zone` is set even when empty, `peer.address` is the bare IP, 5xx adds `error`.
    let flags = if call.status >= 500 {
        rng.pick(ERROR_FLAGS).copied().unwrap_or("UF")
    } else {
        "-"
    };
    let mut attributes = vec![
        kv("node_id", pod.node_id()),
        kv("zone", pod.zone.unwrap_or_default()),
        kv(REQUEST_ID_KEY, call.request_id),
        kv("http.url", format!("http://{host}{}", call.path)),
        kv("http.method", call.method),
        kv("downstream_cluster", "-"),
        kv("user_agent", call.agent),
        kv("http.protocol", t.protocol),
        kv("peer.address", call.peer.as_str()),
        kv("request_size", request_size.to_string()),
        kv("response_size", response_size.to_string()),
        kv("component", "proxy"),
        kv("upstream_cluster", cluster.as_str()),
        kv("upstream_cluster.name", cluster.as_str()),
        kv("http.status_code", call.status.to_string()),
        kv("response_flags", flags),
    ];
    if call.status >= 500 {
        attributes.push(kv("error", "true"));
    }
    // Placeholders: the pool overwrites ids and times in the encoded bytes, so they only have
    // to be present (non-empty, non-zero) with the right lengths.
    let mut ids = [0u8; 32];
    rng.fill(&mut ids);
    let (trace_id, rest) = ids.split_at(16);
    let (span_id, parent_id) = rest.split_at(8);
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        trace_state: String::new(),
        parent_span_id: if has_parent {
            parent_id.to_vec()
        } else {
            Vec::new()
        },
        // Sampled, and "has is-remote" (W3C trace flags plus OTLP's span flags), as Envoy sets.
        flags: 0x101,
        name: format!("{}:{}/*", t.fqdn(), t.port),
        kind: if call.inbound || pod.workload.gateway {
            SpanKind::Server
        } else {
            SpanKind::Client
        } as i32,
        start_time_unix_nano: PLACEHOLDER_TIME,
        end_time_unix_nano: PLACEHOLDER_TIME + duration_ns,
        attributes,
        dropped_attributes_count: 0,
        events: Vec::new(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: (call.status >= 500).then(|| Status {
            message: String::new(),
            code: StatusCode::Error as i32,
        }),
    }
}

/// A random route of `w`, with `{n}` filled in.
fn route(w: &Workload, rng: &mut Rng) -> (&'static str, String) {
    let (method, path) = rng.pick(w.routes).copied().unwrap_or(("GET", "/"));
    (method, path.replace("{n}", &rng.range(0, 9999).to_string()))
}

/// The `User-Agent` a workload's inbound requests carry: that of one of its callers.
fn caller_agent(w: &Workload, rng: &mut Rng) -> &'static str {
    let callers: Vec<&'static str> = mesh::MESH
        .iter()
        .filter(|c| !c.gateway && c.calls.contains(&w.app))
        .map(|c| c.client_agent)
        .collect();
    rng.pick(&callers).copied().unwrap_or("Go-http-client/1.1")
}

/// Mostly 200; some 404s, a few 503s.
fn status(rng: &mut Rng) -> u16 {
    match rng.below(1000) {
        0..=4 => 503,
        5..=9 => 500,
        10..=39 => 404,
        40..=59 => 302,
        _ => 200,
    }
}

fn random_ip(rng: &mut Rng) -> String {
    format!("10.244.{}.{}", rng.range(0, 7), rng.range(2, 254))
}

/// A random `x-request-id`.
fn uuid(rng: &mut Rng) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    String::from_utf8_lossy(&format_uuid(&b)).into_owned()
}

/// Formats 16 bytes as an Envoy `x-request-id` (36 characters): a UUID whose version nibble
/// Envoy overwrites with the trace decision (`9`: sampled). Writes into an array so the pool
/// can rewrite request ids without allocating.
#[must_use]
pub fn format_uuid(bytes: &[u8; 16]) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = *bytes;
    b[6] = (b[6] & 0x0f) | 0x90;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut out = [b'-'; 36];
    let mut slots = out
        .iter_mut()
        .enumerate()
        .filter(|(i, _)| ![8, 13, 18, 23].contains(i));
    for byte in b {
        for nibble in [byte >> 4, byte & 0x0f] {
            if let Some((_, slot)) = slots.next() {
                *slot = HEX.get(usize::from(nibble)).copied().unwrap_or(b'0');
            }
        }
    }
    out
}

fn kv(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..KeyValue::default()
    }
}
