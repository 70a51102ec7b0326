//! Span model → OTLP, rule for rule as `pkg/translator/zipkin/zipkinv2` (`ToTraces`) of
//! opentelemetry-collector-contrib. Where the Go code iterates a map (tags, JSON attributes),
//! this code uses key order, so the output is deterministic.

use std::collections::BTreeMap;
use std::net::IpAddr;

use meshtrace_otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use meshtrace_otlp::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use meshtrace_otlp::proto::resource::v1::Resource;
use meshtrace_otlp::proto::trace::v1::span::{Event, Link, SpanKind};
use meshtrace_otlp::proto::trace::v1::status::StatusCode;
use meshtrace_otlp::proto::trace::v1::{ResourceSpans, ScopeSpans, Span as OtlpSpan, Status};

use crate::model::{Endpoint, Kind, Span};
use crate::{Options, ZipkinError};

/// The resource of spans without `localEndpoint.serviceName` (no `service.name` is set).
const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";
const TAG_SERVICE_NAME_SOURCE: &str = "otlp.service.name.source";
const TAG_LIBRARY_NAME: &str = "otel.library.name";
const TAG_LIBRARY_VERSION: &str = "otel.library.version";
const TAG_TRACE_STATE: &str = "w3c.tracestate";
const TAG_SPAN_KIND: &str = "span.kind";
const TAG_STATUS_CODE: &str = "otel.status_code";
const TAG_STATUS_DESCRIPTION: &str = "otel.status_description";
const TAG_ERROR: &str = "error";
const START_TIME_ABSENT: &str = "otel.zipkin.absentField.startTime";

/// Tags that describe the process rather than the span: the resource semantic conventions,
/// plus the OpenCensus-era process keys. They are moved to the resource (first span of each
/// service) and never become span attributes.
const RESOURCE_KEYS: &[&str] = &[
    "cloud.account.id",
    "cloud.availability_zone",
    "cloud.platform",
    "cloud.provider",
    "cloud.region",
    "container.id",
    "container.image.name",
    "container.image.tag",
    "container.name",
    "container.runtime",
    "deployment.environment",
    "deployment.environment.name",
    "device.id",
    "device.model.identifier",
    "device.model.name",
    "faas.id",
    "faas.instance",
    "faas.max_memory",
    "faas.name",
    "faas.version",
    "host.arch",
    "host.id",
    "host.image.id",
    "host.image.name",
    "host.image.version",
    "host.name",
    "host.type",
    "k8s.cluster.name",
    "k8s.container.name",
    "k8s.container.restart_count",
    "k8s.cronjob.name",
    "k8s.cronjob.uid",
    "k8s.daemonset.name",
    "k8s.daemonset.uid",
    "k8s.deployment.name",
    "k8s.deployment.uid",
    "k8s.job.name",
    "k8s.job.uid",
    "k8s.namespace.name",
    "k8s.node.name",
    "k8s.node.uid",
    "k8s.pod.name",
    "k8s.pod.uid",
    "k8s.replicaset.name",
    "k8s.replicaset.uid",
    "k8s.statefulset.name",
    "k8s.statefulset.uid",
    "opencensus.exporterversion",
    "opencensus.resourcetype",
    "opencensus.starttime",
    "os.description",
    "os.name",
    "os.type",
    "os.version",
    "process.command",
    "process.command_args",
    "process.command_line",
    "process.executable.name",
    "process.executable.path",
    "process.owner",
    "process.pid",
    "process.runtime.description",
    "process.runtime.name",
    "process.runtime.version",
    "service.instance.id",
    "service.name",
    "service.namespace",
    "service.version",
    "telemetry.auto.version",
    "telemetry.sdk.language",
    "telemetry.sdk.name",
    "telemetry.sdk.version",
    "webengine.description",
    "webengine.name",
    "webengine.version",
];

fn is_resource_key(k: &str) -> bool {
    RESOURCE_KEYS.binary_search(&k).is_ok()
}

/// Keys that never become span attributes.
fn is_non_span(k: &str) -> bool {
    is_resource_key(k)
        || k == TAG_SERVICE_NAME_SOURCE
        || k == TAG_LIBRARY_NAME
        || k == TAG_LIBRARY_VERSION
}

fn local_service_name(s: &Span) -> &str {
    match &s.local_endpoint {
        Some(e) if !e.service_name.is_empty() => &e.service_name,
        _ => NO_SERVICE_NAME,
    }
}

fn library_name(s: &Span) -> &str {
    s.tags.get(TAG_LIBRARY_NAME).map_or("", String::as_str)
}

fn string(v: impl Into<String>) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    })
}

fn value(v: any_value::Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(v) })
}

/// Sets `key` (replacing an earlier value, like pdata's `Put*`).
fn put(attrs: &mut Vec<KeyValue>, key: &str, v: Option<AnyValue>) {
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = v,
        None => attrs.push(KeyValue {
            key: key.to_owned(),
            value: v,
            ..Default::default()
        }),
    }
}

/// Translates spans into one OTLP request: a resource per local service, a scope per
/// instrumentation library, in the (stable) order of those two keys.
pub fn translate(
    spans: &[Span],
    options: Options,
) -> Result<ExportTraceServiceRequest, ZipkinError> {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by(|&a, &b| {
        let (Some(a), Some(b)) = (spans.get(a), spans.get(b)) else {
            return std::cmp::Ordering::Equal;
        };
        (local_service_name(a), library_name(a)).cmp(&(local_service_name(b), library_name(b)))
    });
    let mut out = ExportTraceServiceRequest::default();
    let mut prev_service: Option<&str> = None;
    let mut prev_library: Option<&str> = None;
    for index in order {
        let Some(z) = spans.get(index) else { continue };
        let mut tags = z.tags.clone();
        let service = local_service_name(z);
        if prev_service != Some(service) {
            prev_service = Some(service);
            prev_library = None;
            out.resource_spans.push(ResourceSpans {
                resource: Some(resource(&mut tags, service)),
                ..Default::default()
            });
        }
        let Some(rs) = out.resource_spans.last_mut() else {
            continue;
        };
        let library = library_name(z);
        if prev_library != Some(library) {
            prev_library = Some(library);
            rs.scope_spans.push(ScopeSpans {
                scope: Some(scope(&mut tags, library)),
                ..Default::default()
            });
        }
        let Some(ss) = rs.scope_spans.last_mut() else {
            continue;
        };
        let span =
            to_span(z, tags, options).map_err(|reason| ZipkinError::Span { index, reason })?;
        ss.spans.push(span);
    }
    Ok(out)
}

fn resource(tags: &mut BTreeMap<String, String>, service: &str) -> Resource {
    let mut r = Resource::default();
    if service == NO_SERVICE_NAME {
        return r;
    }
    let key = match tags.remove(TAG_SERVICE_NAME_SOURCE) {
        Some(k) if !k.is_empty() => k,
        _ => "service.name".to_owned(),
    };
    put(&mut r.attributes, &key, string(service));
    let moved: Vec<String> = tags
        .keys()
        .filter(|k| is_resource_key(k))
        .cloned()
        .collect();
    for k in moved {
        if let Some(v) = tags.remove(&k) {
            put(&mut r.attributes, &k, string(v));
        }
    }
    r
}

fn scope(tags: &mut BTreeMap<String, String>, library: &str) -> InstrumentationScope {
    let mut s = InstrumentationScope::default();
    if library.is_empty() {
        return s;
    }
    if let Some(n) = tags.remove(TAG_LIBRARY_NAME) {
        s.name = n;
    }
    if let Some(v) = tags.remove(TAG_LIBRARY_VERSION) {
        s.version = v;
    }
    s
}

fn to_span(
    z: &Span,
    mut tags: BTreeMap<String, String>,
    options: Options,
) -> Result<OtlpSpan, String> {
    let mut span = OtlpSpan {
        trace_id: z.trace_id.to_vec(),
        span_id: z.id.to_vec(),
        name: z.name.clone(),
        ..Default::default()
    };
    if let Some(ts) = tags.remove(TAG_TRACE_STATE) {
        span.trace_state = ts;
    }
    if let Some(p) = z.parent_id.filter(|p| *p != z.id) {
        span.parent_span_id = p.to_vec();
    }
    span.kind = kind(z.kind, &mut tags) as i32;
    span.status = status(&mut tags);
    span.links = links(&mut tags)?;
    for (k, v) in &tags {
        if is_non_span(k) {
            continue;
        }
        let v = if options.parse_string_tags {
            typed(v)
        } else {
            string(v.as_str())
        };
        put(&mut span.attributes, k, v);
    }
    if let Some(e) = &z.local_endpoint {
        endpoint_attrs(
            &mut span.attributes,
            e,
            "net.host.ip",
            "net.host.port",
            None,
        );
    }
    if let Some(e) = &z.remote_endpoint {
        endpoint_attrs(
            &mut span.attributes,
            e,
            "net.peer.ip",
            "net.peer.port",
            Some("peer.service"),
        );
    }
    let micros = |us: u64| us.saturating_mul(1000);
    if z.timestamp == 0 {
        // Zipkin allows a span without a timestamp; OTLP needs a start time.
        span.start_time_unix_nano = 0;
        span.end_time_unix_nano = micros(z.duration);
        put(
            &mut span.attributes,
            START_TIME_ABSENT,
            value(any_value::Value::BoolValue(true)),
        );
    } else {
        span.start_time_unix_nano = micros(z.timestamp);
        span.end_time_unix_nano = micros(z.timestamp).saturating_add(micros(z.duration));
    }
    span.events = z
        .annotations
        .iter()
        .map(|a| event(a.timestamp, &a.value))
        .collect::<Result<_, _>>()?;
    Ok(span)
}

fn kind(k: Kind, tags: &mut BTreeMap<String, String>) -> SpanKind {
    match k {
        Kind::Client => SpanKind::Client,
        Kind::Server => SpanKind::Server,
        Kind::Producer => SpanKind::Producer,
        Kind::Consumer => SpanKind::Consumer,
        Kind::Unspecified => match tags.remove(TAG_SPAN_KIND).as_deref() {
            Some("internal") => SpanKind::Internal,
            _ => SpanKind::Unspecified,
        },
    }
}

fn status(tags: &mut BTreeMap<String, String>) -> Option<Status> {
    let mut s = Status::default();
    if let Some(code) = tags.remove(TAG_STATUS_CODE) {
        s.code = match code.as_str() {
            "STATUS_CODE_OK" | "Ok" => StatusCode::Ok as i32,
            "STATUS_CODE_ERROR" | "Error" => StatusCode::Error as i32,
            _ => StatusCode::Unset as i32,
        };
        if let Some(m) = tags.remove(TAG_STATUS_DESCRIPTION) {
            s.message = m;
        }
    }
    if let Some(e) = tags.get(TAG_ERROR) {
        s.code = StatusCode::Error as i32;
        if e == "true" {
            tags.remove(TAG_ERROR);
        }
    }
    (s != Status::default()).then_some(s)
}

/// Go's `net.IP.String()`: IPv4-mapped IPv6 addresses print as IPv4.
fn ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

fn endpoint_attrs(
    attrs: &mut Vec<KeyValue>,
    e: &Endpoint,
    ip_key: &str,
    port_key: &str,
    service_key: Option<&str>,
) {
    if let Some(k) = service_key
        && !e.service_name.is_empty()
    {
        put(attrs, k, string(e.service_name.as_str()));
    }
    for ip in [e.ipv4, e.ipv6].into_iter().flatten() {
        put(attrs, ip_key, string(ip_string(ip)));
    }
    if e.port > 0 {
        put(
            attrs,
            port_key,
            value(any_value::Value::IntValue(i64::from(e.port))),
        );
    }
}

/// `parse_string_tags`: the types the Collector's `DetermineValueType` recognises.
fn typed(v: &str) -> Option<AnyValue> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = v.strip_prefix('-').unwrap_or(v);
    if digits(unsigned) {
        // Out of range: Go's ParseInt gives the limit (its error is ignored).
        let i = v.parse::<i64>().unwrap_or(if v.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        });
        return value(any_value::Value::IntValue(i));
    }
    if let Some((int, frac)) = unsigned.split_once('.')
        && digits(int)
        && digits(frac)
    {
        return value(any_value::Value::DoubleValue(v.parse().unwrap_or(0.0)));
    }
    match v {
        "true" => value(any_value::Value::BoolValue(true)),
        "false" => value(any_value::Value::BoolValue(false)),
        _ => string(v),
    }
}

/// An id in hex, possibly quoted; empty means all zeros.
fn hex_id<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let t = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let mut out = [0u8; N];
    if t.is_empty() {
        return Ok(out);
    }
    if t.len() != 2 * N {
        return Err("invalid length for ID".into());
    }
    for (o, pair) in out.iter_mut().zip(t.as_bytes().chunks(2)) {
        let s = std::str::from_utf8(pair)
            .map_err(|_| format!("cannot unmarshal ID from string '{t}'"))?;
        *o = u8::from_str_radix(s, 16)
            .map_err(|_| format!("cannot unmarshal ID from string '{t}'"))?;
    }
    Ok(out)
}

/// Attributes encoded as a JSON object by the Collector's Zipkin exporter.
fn json_attributes(text: &str) -> Result<Vec<KeyValue>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid attributes JSON: {e}"))?;
    let map = match v {
        serde_json::Value::Object(m) => m,
        serde_json::Value::Null => return Ok(Vec::new()),
        _ => return Err("invalid attributes JSON: want an object".into()),
    };
    let mut out = Vec::new();
    for (k, v) in map {
        let v = match v {
            serde_json::Value::String(s) => string(s),
            serde_json::Value::Bool(b) => value(any_value::Value::BoolValue(b)),
            serde_json::Value::Number(n) => {
                let d = n.as_f64().unwrap_or(0.0);
                if d % 1.0 == 0.0 {
                    value(any_value::Value::IntValue(d as i64))
                } else {
                    value(any_value::Value::DoubleValue(d))
                }
            }
            _ => continue,
        };
        put(&mut out, &k, v);
    }
    Ok(out)
}

fn dropped(text: &str) -> Result<u32, String> {
    text.parse()
        .map_err(|_| format!("invalid dropped attributes count {text:?}"))
}

/// `otlp.link.0`, `otlp.link.1`, …: `trace id|span id|trace state|{attributes}|dropped`.
fn links(tags: &mut BTreeMap<String, String>) -> Result<Vec<Link>, String> {
    let mut out = Vec::new();
    for i in 0..128 {
        let Some(val) = tags.remove(&format!("otlp.link.{i}")) else {
            break;
        };
        let parts: Vec<&str> = val.split('|').collect();
        let n = parts.len();
        if n < 5 {
            continue;
        }
        let (Some(trace), Some(span), Some(state), Some(last)) =
            (parts.first(), parts.get(1), parts.get(2), parts.last())
        else {
            continue;
        };
        let json = parts.get(3..n - 1).map(|p| p.join("|")).unwrap_or_default();
        out.push(Link {
            trace_id: hex_id::<16>(trace)?.to_vec(),
            span_id: hex_id::<8>(span)?.to_vec(),
            trace_state: (*state).to_owned(),
            attributes: json_attributes(&json)?,
            dropped_attributes_count: dropped(last)?,
            ..Default::default()
        });
    }
    Ok(out)
}

/// An annotation: `name`, or `name|{attributes}|dropped` as the Collector's exporter writes
/// span events.
fn event(timestamp: u64, v: &str) -> Result<Event, String> {
    let parts: Vec<&str> = v.split('|').collect();
    let n = parts.len();
    let mut e = Event {
        time_unix_nano: timestamp.saturating_mul(1000),
        name: parts.first().copied().unwrap_or_default().to_owned(),
        ..Default::default()
    };
    if n < 3 {
        return Ok(e);
    }
    let json = parts.get(1..n - 1).map(|p| p.join("|")).unwrap_or_default();
    e.attributes = json_attributes(&json)?;
    e.dropped_attributes_count = dropped(parts.last().copied().unwrap_or_default())?;
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_keys_are_sorted_for_binary_search() {
        let mut sorted = RESOURCE_KEYS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, RESOURCE_KEYS);
        assert!(is_resource_key("k8s.pod.name"));
        assert!(!is_resource_key("http.method"));
    }

    #[test]
    fn typed_tags() {
        let t = |v: &str| typed(v).and_then(|a| a.value);
        assert_eq!(t("12"), Some(any_value::Value::IntValue(12)));
        assert_eq!(t("-3"), Some(any_value::Value::IntValue(-3)));
        assert_eq!(
            t("99999999999999999999"),
            Some(any_value::Value::IntValue(i64::MAX))
        );
        assert_eq!(t("1.5"), Some(any_value::Value::DoubleValue(1.5)));
        assert_eq!(t("true"), Some(any_value::Value::BoolValue(true)));
        for s in ["", "1.", ".5", "1e3", "True", "0x10", "-", "1.2.3"] {
            assert_eq!(t(s), Some(any_value::Value::StringValue(s.into())), "{s}");
        }
    }

    #[test]
    fn ids_and_events() {
        assert_eq!(
            hex_id::<8>("\"0102030405060708\"").unwrap(),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
        assert_eq!(hex_id::<8>("").unwrap(), [0; 8]);
        assert!(hex_id::<8>("0102").is_err());
        assert!(hex_id::<8>("zz02030405060708").is_err());
        let e = event(
            5,
            "retry|{\"attempt\":2,\"ratio\":0.5,\"ok\":true,\"why\":\"5xx\"}|3",
        )
        .unwrap();
        assert_eq!(
            (
                e.name.as_str(),
                e.time_unix_nano,
                e.dropped_attributes_count
            ),
            ("retry", 5000, 3)
        );
        assert_eq!(e.attributes.len(), 4);
        assert_eq!(event(1, "cs").unwrap().name, "cs");
        assert_eq!(event(1, "a|b").unwrap().name, "a");
        assert!(event(1, "a|{bad|1").is_err());
        assert!(event(1, "a|{}|x").is_err());
    }
}
