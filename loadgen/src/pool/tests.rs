//! The generated requests decode with prost and look like Envoy sidecar exports: attribute
//! sets, distinct ids across a run, parent links inside each trace, sane times.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use flate2::read::GzDecoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

use super::*;

const NOW: u64 = 1_760_000_000_000_000_000;

/// Tags Envoy 1.40 sets on every span of a routed HTTP request, in its order.
const ENVOY_TAGS: &[&str] = &[
    "node_id",
    "zone",
    "guid:x-request-id",
    "http.url",
    "http.method",
    "downstream_cluster",
    "user_agent",
    "http.protocol",
    "peer.address",
    "request_size",
    "response_size",
    "component",
    "upstream_cluster",
    "upstream_cluster.name",
    "http.status_code",
    "response_flags",
];

const RESOURCE_KEYS: &[&str] = &[
    "telemetry.sdk.name",
    "service.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "istio.canonical_service",
    "istio.canonical_revision",
    "istio.mesh_id",
    "istio.cluster_id",
];

fn config(spans: usize, framing: Framing, gzip: bool) -> PoolConfig {
    PoolConfig {
        spans_per_request: spans,
        templates: 16,
        seed: 42,
        framing,
        gzip,
        gzip_pool: 8,
    }
}

fn decode(body: &[u8], framing: Framing) -> ExportTraceServiceRequest {
    let message = match framing {
        Framing::Http => body,
        Framing::Grpc => {
            assert_eq!(body[0], 0, "uncompressed flag");
            let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
            assert_eq!(len, body.len() - 5, "gRPC length prefix");
            &body[5..]
        }
    };
    ExportTraceServiceRequest::decode(message).expect("prost decodes every generated request")
}

fn spans(req: &ExportTraceServiceRequest) -> Vec<&Span> {
    req.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .collect()
}

fn string_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

#[test]
fn every_request_is_one_proxy_with_exactly_the_requested_spans() {
    for spans_per_request in [1, 10, 100] {
        let pool = RequestPool::new(&config(spans_per_request, Framing::Http, false)).unwrap();
        for seq in 0..40 {
            let req = decode(&pool.body(seq, NOW), Framing::Http);
            assert_eq!(req.resource_spans.len(), 1);
            assert_eq!(spans(&req).len(), spans_per_request, "seq {seq}");
            let resource = req.resource_spans[0].resource.as_ref().unwrap();
            for key in RESOURCE_KEYS {
                assert!(
                    string_attr(&resource.attributes, key).is_some_and(|v| !v.is_empty()),
                    "{key}"
                );
            }
        }
    }
}

#[test]
fn spans_carry_envoys_tags_as_strings() {
    let pool = RequestPool::new(&config(50, Framing::Http, false)).unwrap();
    let mut counts = HashSet::new();
    for seq in 0..64 {
        let req = decode(&pool.body(seq, NOW), Framing::Http);
        for span in spans(&req) {
            let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
            assert_eq!(&keys[..16], ENVOY_TAGS, "Envoy's tags in Envoy's order");
            // A 5xx adds `error: true` and an error status, as Envoy does.
            let status: u16 = string_attr(&span.attributes, "http.status_code")
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(keys.len(), if status >= 500 { 17 } else { 16 }, "{keys:?}");
            assert_eq!(
                string_attr(&span.attributes, "error"),
                (status >= 500).then_some("true")
            );
            assert_eq!(
                span.status.is_some(),
                status >= 500,
                "error status on 5xx only"
            );
            assert!(span.attributes.iter().all(|kv| matches!(
                kv.value.as_ref().and_then(|v| v.value.as_ref()),
                Some(Value::StringValue(_))
            )));
            assert!(
                span.name.ends_with("/*") && span.name.contains(".svc.cluster.local:"),
                "{}",
                span.name
            );
            assert_eq!(span.flags, 0x101);
            counts.insert(keys.len());
        }
    }
    assert_eq!(counts, HashSet::from([16, 17]), "errors appear too");
}

#[test]
fn ids_are_distinct_across_a_run_and_shared_within_a_trace() {
    let pool = RequestPool::new(&config(10, Framing::Grpc, false)).unwrap();
    let mut span_ids = HashSet::new();
    let mut traces: HashMap<Vec<u8>, (u64, String)> = HashMap::new();
    for seq in 0..3000 {
        let req = decode(&pool.body(seq, NOW), Framing::Grpc);
        for span in spans(&req) {
            assert_eq!(span.trace_id.len(), 16);
            assert_eq!(span.span_id.len(), 8);
            assert!(span.trace_id.iter().any(|b| *b != 0) && span.span_id.iter().any(|b| *b != 0));
            assert!(
                span_ids.insert(span.span_id.clone()),
                "span id repeated in request {seq}"
            );
            let rid = string_attr(&span.attributes, "guid:x-request-id")
                .unwrap()
                .to_owned();
            let id: [u8; 16] = span.trace_id.as_slice().try_into().unwrap();
            assert_eq!(
                rid.as_bytes(),
                shape::format_uuid(&id),
                "x-request-id follows the trace"
            );
            // A trace lives in exactly one request (one proxy's spans of it).
            let (owner, owner_rid) = traces
                .entry(span.trace_id.clone())
                .or_insert((seq, rid.clone()));
            assert_eq!((*owner, owner_rid.as_str()), (seq, rid.as_str()));
        }
    }
    assert_eq!(span_ids.len(), 30_000);
    let request_ids: HashSet<&String> = traces.values().map(|(_, rid)| rid).collect();
    assert_eq!(
        request_ids.len(),
        traces.len(),
        "one x-request-id per trace"
    );
    assert!(
        traces.len() > 3000 && traces.len() < 30_000,
        "traces of a few spans: {}",
        traces.len()
    );
}

#[test]
fn client_spans_are_children_of_the_server_span_of_their_trace() {
    let pool = RequestPool::new(&config(100, Framing::Http, false)).unwrap();
    let (mut local, mut remote, mut roots) = (0, 0, 0);
    for seq in 0..32 {
        let req = decode(&pool.body(seq, NOW), Framing::Http);
        let all = spans(&req);
        let by_id: HashMap<&[u8], &Span> = all.iter().map(|s| (s.span_id.as_slice(), *s)).collect();
        let gateway = string_attr(
            &req.resource_spans[0].resource.as_ref().unwrap().attributes,
            "k8s.namespace.name",
        ) == Some("istio-system");
        for span in &all {
            let kind = SpanKind::try_from(span.kind).unwrap();
            if span.parent_span_id.is_empty() {
                assert!(gateway, "only the gateway starts traces");
                assert_eq!(kind, SpanKind::Server);
                roots += 1;
            } else if let Some(parent) = by_id.get(span.parent_span_id.as_slice()) {
                assert_eq!(kind, SpanKind::Client);
                assert_eq!(SpanKind::try_from(parent.kind).unwrap(), SpanKind::Server);
                assert_eq!(parent.trace_id, span.trace_id);
                assert!(parent.start_time_unix_nano <= span.start_time_unix_nano);
                assert!(span.end_time_unix_nano <= parent.end_time_unix_nano);
                local += 1;
            } else {
                assert_eq!(
                    kind,
                    SpanKind::Server,
                    "a remote parent is the caller's client span"
                );
                assert_eq!(span.parent_span_id.len(), 8);
                remote += 1;
            }
            assert!(span.start_time_unix_nano <= span.end_time_unix_nano);
            assert!(span.end_time_unix_nano <= NOW);
            assert!(
                span.start_time_unix_nano > NOW - 3_000_000_000,
                "spans end shortly before export"
            );
        }
    }
    assert!(
        local > 0 && remote > 0 && roots > 0,
        "{local} {remote} {roots}"
    );
}

#[test]
fn gzip_pools_decompress_to_valid_requests_and_rotate() {
    for framing in [Framing::Grpc, Framing::Http] {
        let pool = RequestPool::new(&config(20, framing, true)).unwrap();
        assert!(!pool.unique_ids());
        let first = pool.body(0, NOW);
        assert_eq!(pool.body(8, NOW), first, "pool of 8 rotates");
        assert_ne!(pool.body(1, NOW), first);
        let gz = match framing {
            Framing::Grpc => {
                assert_eq!(first[0], 1, "compressed flag");
                &first[5..]
            }
            Framing::Http => &first[..],
        };
        let mut message = Vec::new();
        GzDecoder::new(gz).read_to_end(&mut message).unwrap();
        let req = ExportTraceServiceRequest::decode(message.as_slice()).unwrap();
        assert_eq!(spans(&req).len(), 20);
    }
}

#[test]
fn the_seed_decides_the_requests() {
    let a = RequestPool::new(&config(10, Framing::Http, false)).unwrap();
    let b = RequestPool::new(&config(10, Framing::Http, false)).unwrap();
    let c = RequestPool::new(&PoolConfig {
        seed: 43,
        ..config(10, Framing::Http, false)
    })
    .unwrap();
    assert_eq!(a.body(5, NOW), b.body(5, NOW));
    assert_ne!(a.body(5, NOW), c.body(5, NOW));
    assert_ne!(
        a.body(5, NOW),
        a.body(5 + 16, NOW),
        "same template, other ids"
    );
}

#[test]
fn zero_sizes_are_refused() {
    assert!(matches!(
        RequestPool::new(&config(0, Framing::Http, false)),
        Err(PoolError::Zero(_))
    ));
    let none = PoolConfig {
        templates: 0,
        ..config(1, Framing::Http, false)
    };
    assert!(matches!(RequestPool::new(&none), Err(PoolError::Zero(_))));
}
