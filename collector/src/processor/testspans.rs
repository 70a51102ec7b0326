//! Test helpers: OTLP requests built with prost (as a real client encodes them), and
//! decoding what a processor passed on.

use crate::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::otlp::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use crate::otlp::proto::resource::v1::Resource;
use crate::otlp::proto::trace::v1::span::Event;
use crate::otlp::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use crate::otlp::{Batch, Limits, Signal};
use prost::Message;

pub(crate) fn av(v: any_value::Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(v) })
}

pub(crate) fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: av(v),
        ..Default::default()
    }
}

/// A string attribute.
pub(crate) fn s(k: &str, v: &str) -> KeyValue {
    kv(k, any_value::Value::StringValue(v.into()))
}

/// An int attribute.
pub(crate) fn i(k: &str, v: i64) -> KeyValue {
    kv(k, any_value::Value::IntValue(v))
}

/// A double attribute.
pub(crate) fn d(k: &str, v: f64) -> KeyValue {
    kv(k, any_value::Value::DoubleValue(v))
}

/// A bool attribute.
pub(crate) fn b(k: &str, v: bool) -> KeyValue {
    kv(k, any_value::Value::BoolValue(v))
}

/// A span numbered `n` (its span id), with a fixed trace id, name and attributes.
pub(crate) fn span(n: u8, name: &str, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![0x5b; 16],
        span_id: vec![0, 0, 0, 0, 0, 0, 0, n],
        name: name.into(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_001_000_000,
        attributes,
        ..Default::default()
    }
}

/// A span event.
pub(crate) fn event(name: &str, attributes: Vec<KeyValue>) -> Event {
    Event {
        time_unix_nano: 1_700_000_000_000_500_000,
        name: name.into(),
        attributes,
        ..Default::default()
    }
}

/// A resource group with one scope.
pub(crate) fn group(resource: Vec<KeyValue>, scope: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: resource,
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: scope.into(),
                version: "1.0.0".into(),
                ..Default::default()
            }),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// The request, validated as a receiver would.
pub(crate) fn batch(groups: Vec<ResourceSpans>) -> Batch {
    let req = ExportTraceServiceRequest {
        resource_spans: groups,
    };
    Batch::new_validated(
        Signal::Traces,
        req.encode_to_vec().into(),
        &Limits::default(),
    )
    .unwrap()
}

/// What a batch holds.
pub(crate) fn decode(b: &Batch) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest::decode(b.bytes().as_ref()).unwrap()
}

/// The names of the spans in a batch, in order.
pub(crate) fn names(b: &Batch) -> Vec<String> {
    decode(b)
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.name.clone())
        .collect()
}

/// A processor context for tests.
pub(crate) fn ctx(id: &str) -> crate::component::Context {
    crate::component::Context {
        id: crate::component::ComponentId::parse(id).unwrap(),
        kind: crate::component::Kind::Processor,
        telemetry: std::sync::Arc::new(crate::telemetry::Telemetry::new("t", "i")),
        health: std::sync::Arc::new(crate::extension::health_check::Health::default()),
        host: Default::default(),
        topology: Default::default(),
    }
}

/// Parses a processor config from YAML, as the registry does.
pub(crate) fn config<T: serde::de::DeserializeOwned>(yaml: &str) -> T {
    let v = crate::config::value::from_yaml(yaml).unwrap();
    crate::registry::parse_typed(&v).unwrap()
}

/// What validation says of a config written in YAML, as `field: reason` lines (a config that
/// does not parse: the parse error, the same way).
pub(crate) fn validation_messages<T>(yaml: &str) -> Vec<String>
where
    T: serde::de::DeserializeOwned + crate::component::Validate,
{
    let v = crate::config::value::from_yaml(yaml).unwrap();
    let line =
        |e: crate::config::ConfigError| format!("{}: {}", e.field.unwrap_or_default(), e.reason);
    match crate::registry::parse_typed::<T>(&v) {
        Ok(c) => c.validate().into_iter().map(line).collect(),
        Err(e) => vec![line(e)],
    }
}

/// A metrics request with one gauge data point (resource `service.name`).
pub(crate) fn metrics_batch(service: &str) -> Batch {
    use crate::otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
    use crate::otlp::proto::metrics::v1::{
        Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
    };
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![s("service.name", service)],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "requests".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            time_unix_nano: 1,
                            value: Some(number_data_point::Value::AsInt(3)),
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Batch::new_validated(
        Signal::Metrics,
        req.encode_to_vec().into(),
        &Limits::default(),
    )
    .unwrap()
}
