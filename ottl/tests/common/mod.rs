//! Fixed spans for the condition tables: what an Istio sidecar (Envoy's OpenTelemetry tracer)
//! reports for a request to Grafana, a kube-probe liveness check, and a failing client call.

#![allow(dead_code)]

use meshtrace_ottl::memory::{AttrValue, EventData, SpanData, attrs};

fn map(pairs: &[(&str, AttrValue)]) -> AttrValue {
    AttrValue::Map(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

fn s(v: &str) -> AttrValue {
    AttrValue::Str(v.to_owned())
}

/// A: the ingress gateway's server span for a request routed to Grafana (root span).
pub fn grafana_ingress() -> SpanData {
    let mut attributes = attrs([
        (
            "node_id",
            "router~10.244.0.12~istio-ingressgateway-5d9f.istio-system~istio-system.svc.cluster.local",
        ),
        ("zone", "us-central1-a"),
        ("guid:x-request-id", "aeff3400-fed7-9e1f-bf39-de29ee7b7078"),
        (
            "http.url",
            "https://grafana.tapv-huge-hornet.tapsandbox.com/api/health",
        ),
        ("http.method", "GET"),
        ("downstream_cluster", "-"),
        (
            "user_agent",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/120.0.0.0 Safari/537.36",
        ),
        ("http.protocol", "HTTP/2"),
        ("peer.address", "10.244.0.1"),
        ("http.status_code", "200"),
        ("response_flags", "-"),
        ("component", "proxy"),
        ("upstream_cluster", "grafana/grafana_80"),
        (
            "upstream_cluster.name",
            "outbound|80||grafana.grafana.svc.cluster.local",
        ),
        ("istio.canonical_service", "istio-ingressgateway"),
    ]);
    attributes.push(("request_size".into(), AttrValue::Int(0)));
    attributes.push(("response_size".into(), AttrValue::Int(412)));
    attributes.push(("sample.ratio".into(), AttrValue::Double(0.25)));
    attributes.push(("retry".into(), AttrValue::Bool(true)));
    attributes.push((
        "tags".into(),
        AttrValue::List(vec![s("mesh"), s("ingress"), AttrValue::Int(7)]),
    ));
    attributes.push((
        "k8s".into(),
        map(&[
            ("pod", s("grafana-0")),
            ("labels", map(&[("app", s("grafana"))])),
        ]),
    ));
    attributes.push(("payload".into(), AttrValue::Bytes(vec![0x01, 0x02, 0xff])));
    SpanData {
        trace_id: hex16("5b8efff798038103d269b633813fc60c"),
        span_id: hex8("eee19b7ec3c1b174"),
        parent_span_id: [0; 8],
        trace_state: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into(),
        name: "grafana.tapv-huge-hornet.tapsandbox.com:443/*".into(),
        kind: 2,
        start_time_unix_nano: 1_706_175_283_018_000_000,
        end_time_unix_nano: 1_706_175_283_056_000_000,
        attributes,
        dropped_events_count: 1,
        status_code: 0,
        events: vec![EventData {
            name: "upstream_rq_retry".into(),
            time_unix_nano: 1_706_175_283_030_000_000,
            attributes: attrs([("retry.attempt", AttrValue::Int(1)), ("reason", s("5xx"))]),
            dropped_attributes_count: 0,
        }],
        resource_attributes: attrs([
            ("service.name", "istio-ingressgateway"),
            ("k8s.namespace.name", "istio-system"),
            ("host.name", "pod-ingress-1"),
        ]),
        resource_schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
        scope_name: "envoy".into(),
        scope_version: "1.40.0".into(),
        scope_attributes: attrs([("otel.scope.kind", "tracer")]),
        ..Default::default()
    }
}

/// B: a kube-probe liveness request, traced as an internal span with a parent.
pub fn kube_probe() -> SpanData {
    SpanData {
        trace_id: hex16("0af7651916cd43dd8448eb211c80319c"),
        span_id: hex8("b7ad6b7169203331"),
        parent_span_id: hex8("00f067aa0ba902b7"),
        trace_state: String::new(),
        name: "OperationHandler.handle".into(),
        kind: 1,
        start_time_unix_nano: 1_706_175_300_000_000_000,
        end_time_unix_nano: 1_706_175_300_000_500_000,
        attributes: attrs([
            ("http.route", "/livez"),
            ("user_agent.original", "kube-probe//"),
            ("upstream_cluster", "inbound|8080||"),
            ("http.status_code", "200"),
            ("http.method", "GET"),
        ]),
        status_code: 1,
        resource_attributes: attrs([("service.name", "blog-api"), ("k8s.namespace.name", "apps")]),
        scope_name: "io.opentelemetry.spring-webmvc-6.0".into(),
        scope_version: "1.32.0-alpha".into(),
        ..Default::default()
    }
}

/// C: an outbound call that failed, with typed and unusual attribute values.
pub fn failed_client() -> SpanData {
    let mut attributes = attrs([
        ("http.method", "POST"),
        (
            "http.url",
            "http://orders.apps.svc.cluster.local:8080/api/orders/42",
        ),
        (
            "upstream_cluster",
            "outbound|8080||orders.apps.svc.cluster.local",
        ),
        ("customer", "café"),
        ("csv", "a,b,,c"),
        ("padded", "  spaced out  "),
        ("json", "{\"a\":1,\"b\":[true,null]}"),
        ("hex.trace", "0af7651916cd43dd8448eb211c80319c"),
        ("ip", "192.168.3.1"),
        ("card", "17893729974"),
        ("duration", "1.5s"),
        ("num.string", "42"),
        ("float.string", "2.5"),
        ("truthy", "true"),
        ("lookup_key", "http.method"),
    ]);
    attributes.push(("http.status_code".into(), AttrValue::Int(503)));
    attributes.push(("empty".into(), AttrValue::Empty));
    attributes.push(("empty.bytes".into(), AttrValue::Bytes(vec![])));
    attributes.push(("empty.list".into(), AttrValue::List(vec![])));
    attributes.push(("index".into(), AttrValue::Int(1)));
    attributes.push((
        "codes".into(),
        AttrValue::List(vec![AttrValue::Int(500), AttrValue::Int(503)]),
    ));
    SpanData {
        trace_id: hex16("0af7651916cd43dd8448eb211c80319c"),
        span_id: hex8("00f067aa0ba902b7"),
        parent_span_id: hex8("53995c3f42cd8ad8"),
        trace_state: "Invalid=Header".into(),
        name: "POST /api/orders/{id}".into(),
        kind: 3,
        start_time_unix_nano: 1_706_175_283_000_000_000,
        end_time_unix_nano: 1_706_175_285_000_000_000,
        attributes,
        dropped_attributes_count: 3,
        status_code: 2,
        status_message: "upstream connect error or disconnect/reset before headers".into(),
        resource_attributes: attrs([
            ("service.name", "checkout"),
            ("deployment.environment", "prod"),
        ]),
        scope_name: "envoy".into(),
        scope_version: "1.39.2".into(),
        ..Default::default()
    }
}

pub fn hex16(s: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

pub fn hex8(s: &str) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}
