//! proptest strategies producing random, valid prost requests of every signal.

use meshtrace_otlp::proto::collector::logs::v1::ExportLogsServiceRequest;
use meshtrace_otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use meshtrace_otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use meshtrace_otlp::proto::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use meshtrace_otlp::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use meshtrace_otlp::proto::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric,
    number_data_point, summary_data_point::ValueAtQuantile,
};
use meshtrace_otlp::proto::resource::v1::Resource;
use meshtrace_otlp::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z.]{1,12}",
        any::<String>().prop_map(|s| s.chars().take(16).collect()),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("service.name".to_string()),
        Just("http.method".to_string()),
        Just("k8s.pod.name".to_string()),
        "[a-z]{1,3}",
    ]
}

fn id(n: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![1 => Just(Vec::new()), 4 => vec(any::<u8>(), n)]
}

fn scalar() -> impl Strategy<Value = Option<any_value::Value>> {
    prop_oneof![
        Just(None),
        text().prop_map(|s| Some(any_value::Value::StringValue(s))),
        any::<bool>().prop_map(|b| Some(any_value::Value::BoolValue(b))),
        any::<i64>().prop_map(|i| Some(any_value::Value::IntValue(i))),
        // Finite doubles only: NaN != NaN would defeat structural comparisons.
        (-1e300f64..1e300).prop_map(|d| Some(any_value::Value::DoubleValue(d))),
        vec(any::<u8>(), 0..8).prop_map(|b| Some(any_value::Value::BytesValue(b))),
    ]
}

pub fn any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = scalar().prop_map(|value| AnyValue { value });
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(|values| AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
            }),
            vec((key(), inner), 0..3).prop_map(|kvs| AnyValue {
                value: Some(any_value::Value::KvlistValue(KeyValueList {
                    values: kvs
                        .into_iter()
                        .map(|(key, v)| KeyValue {
                            key,
                            value: Some(v),
                            key_strindex: 0,
                        })
                        .collect(),
                })),
            }),
        ]
    })
}

pub fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    vec(
        (key(), option::weighted(0.9, any_value())).prop_map(|(key, value)| KeyValue {
            key,
            value,
            key_strindex: 0,
        }),
        0..4,
    )
}

fn resource() -> impl Strategy<Value = Option<Resource>> {
    option::weighted(
        0.8,
        (attrs(), 0u32..3).prop_map(|(attributes, dropped)| Resource {
            attributes,
            dropped_attributes_count: dropped,
            entity_refs: vec![],
        }),
    )
}

fn scope() -> impl Strategy<Value = Option<InstrumentationScope>> {
    option::weighted(
        0.8,
        (text(), text(), attrs(), 0u32..2).prop_map(|(name, version, attributes, d)| {
            InstrumentationScope {
                name,
                version,
                attributes,
                dropped_attributes_count: d,
            }
        }),
    )
}

fn event() -> impl Strategy<Value = span::Event> {
    (any::<u64>(), text(), attrs(), 0u32..2).prop_map(|(time_unix_nano, name, attributes, d)| {
        span::Event {
            time_unix_nano,
            name,
            attributes,
            dropped_attributes_count: d,
        }
    })
}

fn link() -> impl Strategy<Value = span::Link> {
    (id(16), id(8), text(), attrs(), any::<u32>()).prop_map(
        |(trace_id, span_id, trace_state, attributes, flags)| span::Link {
            trace_id,
            span_id,
            trace_state,
            attributes,
            dropped_attributes_count: 0,
            flags,
        },
    )
}

pub fn span() -> impl Strategy<Value = Span> {
    (
        (id(16), id(8), text(), id(8), any::<u32>(), text(), 0i32..6),
        (
            any::<u64>(),
            any::<u64>(),
            attrs(),
            vec(event(), 0..3),
            vec(link(), 0..2),
        ),
        (0u32..3, 0u32..3, 0u32..3, option::of((text(), 0i32..3))),
    )
        .prop_map(
            |(
                (trace_id, span_id, trace_state, parent_span_id, flags, name, kind),
                (start, end, attributes, events, links),
                (da, de, dl, status),
            )| Span {
                trace_id,
                span_id,
                trace_state,
                parent_span_id,
                flags,
                name,
                kind,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                dropped_attributes_count: da,
                events,
                dropped_events_count: de,
                links,
                dropped_links_count: dl,
                status: status.map(|(message, code)| Status { message, code }),
            },
        )
}

pub fn traces() -> impl Strategy<Value = ExportTraceServiceRequest> {
    let ss =
        (scope(), vec(span(), 0..5), text()).prop_map(|(scope, spans, schema_url)| ScopeSpans {
            scope,
            spans,
            schema_url,
        });
    let rs = (resource(), vec(ss, 0..3), text()).prop_map(|(resource, scope_spans, schema_url)| {
        ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        }
    });
    vec(rs, 0..4).prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
}

fn log_record() -> impl Strategy<Value = LogRecord> {
    (
        (
            any::<u64>(),
            any::<u64>(),
            0i32..25,
            text(),
            option::of(any_value()),
        ),
        (attrs(), 0u32..2, any::<u32>(), id(16), id(8), text()),
    )
        .prop_map(
            |(
                (time, observed, sev, sev_text, body),
                (attributes, d, flags, trace_id, span_id, event_name),
            )| LogRecord {
                time_unix_nano: time,
                observed_time_unix_nano: observed,
                severity_number: sev,
                severity_text: sev_text,
                body,
                attributes,
                dropped_attributes_count: d,
                flags,
                trace_id,
                span_id,
                event_name,
            },
        )
}

pub fn logs() -> impl Strategy<Value = ExportLogsServiceRequest> {
    let sl =
        (scope(), vec(log_record(), 0..5), text()).prop_map(|(scope, log_records, schema_url)| {
            ScopeLogs {
                scope,
                log_records,
                schema_url,
            }
        });
    let rl = (resource(), vec(sl, 0..3), text()).prop_map(|(resource, scope_logs, schema_url)| {
        ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        }
    });
    vec(rl, 0..4).prop_map(|resource_logs| ExportLogsServiceRequest { resource_logs })
}

fn exemplars() -> impl Strategy<Value = Vec<Exemplar>> {
    vec(
        (attrs(), any::<u64>(), any::<bool>(), id(8), id(16)).prop_map(
            |(filtered_attributes, t, dbl, span_id, trace_id)| Exemplar {
                filtered_attributes,
                time_unix_nano: t,
                span_id,
                trace_id,
                value: Some(if dbl {
                    exemplar::Value::AsDouble(1.5)
                } else {
                    exemplar::Value::AsInt(-3)
                }),
            },
        ),
        0..2,
    )
}

fn number_points() -> impl Strategy<Value = Vec<NumberDataPoint>> {
    vec(
        (
            attrs(),
            any::<u64>(),
            any::<u64>(),
            any::<i64>(),
            exemplars(),
            0u32..2,
        )
            .prop_map(
                |(attributes, start, time, v, exemplars, flags)| NumberDataPoint {
                    attributes,
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    exemplars,
                    flags,
                    value: Some(if v % 2 == 0 {
                        number_data_point::Value::AsInt(v)
                    } else {
                        number_data_point::Value::AsDouble(v as f64)
                    }),
                },
            ),
        0..4,
    )
}

fn histogram_points() -> impl Strategy<Value = Vec<HistogramDataPoint>> {
    vec(
        (
            attrs(),
            any::<u64>(),
            vec(any::<u64>(), 0..4),
            option::of(0.0f64..10.0),
            exemplars(),
        )
            .prop_map(|(attributes, count, bucket_counts, sum, exemplars)| {
                HistogramDataPoint {
                    attributes,
                    start_time_unix_nano: 1,
                    time_unix_nano: 2,
                    count,
                    sum,
                    explicit_bounds: (0..bucket_counts.len().saturating_sub(1))
                        .map(|i| i as f64)
                        .collect(),
                    bucket_counts,
                    exemplars,
                    flags: 0,
                    min: sum,
                    max: None,
                }
            }),
        0..3,
    )
}

fn exp_points() -> impl Strategy<Value = Vec<ExponentialHistogramDataPoint>> {
    vec(
        (attrs(), -5i32..5, vec(any::<u64>(), 0..4), any::<u64>()).prop_map(
            |(attributes, scale, counts, zero)| ExponentialHistogramDataPoint {
                attributes,
                start_time_unix_nano: 1,
                time_unix_nano: 2,
                count: 7,
                sum: Some(2.5),
                scale,
                zero_count: zero,
                positive: Some(Buckets {
                    offset: -scale,
                    bucket_counts: counts,
                }),
                negative: None,
                flags: 0,
                exemplars: vec![],
                min: None,
                max: Some(9.0),
                zero_threshold: 0.001,
            },
        ),
        0..3,
    )
}

fn summary_points() -> impl Strategy<Value = Vec<SummaryDataPoint>> {
    vec(
        (attrs(), any::<u64>()).prop_map(|(attributes, count)| SummaryDataPoint {
            attributes,
            start_time_unix_nano: 1,
            time_unix_nano: 2,
            count,
            sum: 3.5,
            quantile_values: vec![ValueAtQuantile {
                quantile: 0.5,
                value: 1.0,
            }],
            flags: 1,
        }),
        0..3,
    )
}

fn metric() -> impl Strategy<Value = Metric> {
    let data = prop_oneof![
        Just(None),
        number_points().prop_map(|data_points| Some(metric::Data::Gauge(Gauge { data_points }))),
        (number_points(), 0i32..3, any::<bool>()).prop_map(|(data_points, t, m)| Some(
            metric::Data::Sum(Sum {
                data_points,
                aggregation_temporality: t,
                is_monotonic: m,
            })
        )),
        histogram_points().prop_map(|data_points| Some(metric::Data::Histogram(Histogram {
            data_points,
            aggregation_temporality: 2,
        }))),
        exp_points().prop_map(|data_points| Some(metric::Data::ExponentialHistogram(
            ExponentialHistogram {
                data_points,
                aggregation_temporality: 1,
            }
        ))),
        summary_points()
            .prop_map(|data_points| Some(metric::Data::Summary(Summary { data_points }))),
    ];
    (text(), text(), text(), attrs(), data).prop_map(|(name, description, unit, metadata, data)| {
        Metric {
            name,
            description,
            unit,
            metadata,
            data,
        }
    })
}

pub fn metrics() -> impl Strategy<Value = ExportMetricsServiceRequest> {
    let sm = (scope(), vec(metric(), 0..4), text()).prop_map(|(scope, metrics, schema_url)| {
        ScopeMetrics {
            scope,
            metrics,
            schema_url,
        }
    });
    let rm =
        (resource(), vec(sm, 0..3), text()).prop_map(|(resource, scope_metrics, schema_url)| {
            ResourceMetrics {
                resource,
                scope_metrics,
                schema_url,
            }
        });
    vec(rm, 0..3).prop_map(|resource_metrics| ExportMetricsServiceRequest { resource_metrics })
}
