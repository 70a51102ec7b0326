//! Envoy-sidecar-shaped trace requests for the benchmarks.

use meshtrace_otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use meshtrace_otlp::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use meshtrace_otlp::proto::resource::v1::Resource;
use meshtrace_otlp::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

fn s(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        key_strindex: 0,
    }
}

fn i(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        key_strindex: 0,
    }
}

/// One request as an istio-proxy sidecar exports it.
pub fn envoy_request(spans: usize) -> Vec<u8> {
    let resource = Resource {
        attributes: vec![
            s("service.name", "reviews.bookinfo"),
            s("service.version", "v2"),
            s("k8s.namespace.name", "bookinfo"),
            s("k8s.pod.name", "reviews-v2-5b667bcbf8-xv7kz"),
            s("k8s.deployment.name", "reviews-v2"),
            s("k8s.node.name", "gke-prod-pool-1-3c9a"),
            s("k8s.cluster.name", "prod-eu-west1"),
            s("istio.mesh_id", "cluster.local"),
            s("istio.canonical_service", "reviews"),
            s("istio.canonical_revision", "v2"),
            s("cloud.region", "europe-west1"),
            s("telemetry.sdk.name", "envoy"),
        ],
        dropped_attributes_count: 0,
        entity_refs: vec![],
    };
    let spans = (0..spans)
        .map(|n| {
            let n64 = n as u64;
            Span {
                trace_id: (0..16u8).map(|b| b.wrapping_mul(31).wrapping_add(n as u8)).collect(),
                span_id: (0..8u8).map(|b| b.wrapping_mul(17).wrapping_add(n as u8)).collect(),
                parent_span_id: vec![9; 8],
                trace_state: String::new(),
                flags: 0x101,
                name: "reviews.bookinfo.svc.cluster.local:9080/*".into(),
                kind: if n % 2 == 0 { 2 } else { 3 },
                start_time_unix_nano: 1_700_000_000_000_000_000 + n64 * 1_000,
                end_time_unix_nano: 1_700_000_000_000_000_000 + n64 * 1_000 + 2_345_000,
                attributes: vec![
                    s("node_id", "sidecar~10.4.2.17~reviews-v2-5b667bcbf8-xv7kz.bookinfo~bookinfo.svc.cluster.local"),
                    s("zone", "europe-west1-b"),
                    s("guid:x-request-id", "0b3c9a5e-2f4d-4d8e-9a1b-7c6d5e4f3a2b"),
                    s("http.url", "http://reviews:9080/reviews/0"),
                    s("http.method", "GET"),
                    s("downstream_cluster", "-"),
                    s("user_agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"),
                    s("http.protocol", "HTTP/1.1"),
                    s("peer.address", "10.4.2.9"),
                    i("request_size", 0),
                    i("response_size", 295),
                    s("component", "proxy"),
                    s("upstream_cluster", "inbound|9080||"),
                    s("http.status_code", "200"),
                    s("response_flags", "-"),
                ],
                dropped_attributes_count: 0,
                events: vec![],
                dropped_events_count: 0,
                links: vec![],
                dropped_links_count: 0,
                status: Some(Status {
                    message: String::new(),
                    code: 0,
                }),
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "envoy".into(),
                    version: "1.40.0".into(),
                    attributes: vec![],
                    dropped_attributes_count: 0,
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec()
}
