//! The `spanmetrics` aggregation over arbitrary requests: never panic; over a valid traces
//! request, what a flush emits is a valid metrics request whose calls count every span of a
//! resource with a `service.name`, once.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use meshtrace_collector::connector::spanmetrics::SpanMetricsConfig;
use meshtrace_collector::connector::spanmetrics::aggregate::Aggregator;
use meshtrace_collector::otlp::proto::metrics::v1::{metric, number_data_point};
use meshtrace_collector::otlp::views::TracesView;
use meshtrace_collector::otlp::{Batch, Limits, Signal, validate};
use prost::Message;

/// Configs picked by the first byte: dimensions from spans, resources and events, a small
/// cardinality limit, delta, scope dimensions, exclusions.
const CONFIGS: [&str; 4] = [
    "{}",
    "dimensions: [{name: http.method, default: GET}, {name: k}]\naggregation_cardinality_limit: 2\nevents: {enabled: true, dimensions: [{name: k}]}",
    "aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA\nexemplars: {enabled: true}\ninclude_instrumentation_scope: [s]\nhistogram: {unit: s, explicit: {buckets: [1ms, 1s]}}",
    "exclude_dimensions: [span.name, service.name]\nresource_metrics_key_attributes: [service.name]\nhistogram: {disable: true}",
];

fuzz_target!(|data: &[u8]| {
    let Some((&seed, payload)) = data.split_first() else { return };
    let Some(yaml) = CONFIGS.get(usize::from(seed) % CONFIGS.len()) else { return };
    let cfg: SpanMetricsConfig = match meshtrace_collector::config::parse_yaml("fuzz", yaml)
        .and_then(|v| meshtrace_collector::registry::parse_typed(&v))
    {
        Ok(c) => c,
        Err(e) => panic!("{yaml}: {e}"),
    };
    let mut agg = Aggregator::new(cfg.settings());
    // The aggregation reads whatever bytes it is given without panicking.
    agg.add(payload, 1);
    let _ = agg.flush(2);
    if validate(Signal::Traces, payload, &Limits::default()).is_err() {
        return;
    }
    let mut agg = Aggregator::new(cfg.settings());
    agg.add(payload, 1);
    let want = TracesView::new(payload)
        .resource_spans()
        .filter(|rs| rs.resource().attributes().get("service.name").is_some())
        .flat_map(|rs| rs.scopes().flat_map(|s| s.items()).collect::<Vec<_>>())
        .count() as i64;
    let Some(req) = agg.flush(2) else {
        assert_eq!(want, 0, "spans counted but nothing emitted");
        return;
    };
    let bytes = Bytes::from(req.encode_to_vec());
    if let Err(e) = Batch::new_validated(Signal::Metrics, bytes, &Limits::default()) {
        // A dimension copied from a span can be no bigger than the span's own attribute.
        panic!("an invalid metrics request: {e}");
    }
    let calls: i64 = req
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter(|m| m.name.ends_with(".calls"))
        .filter_map(|m| match &m.data {
            Some(metric::Data::Sum(s)) => Some(s.data_points.iter().map(|p| match p.value {
                Some(number_data_point::Value::AsInt(v)) => v,
                _ => 0,
            }).sum::<i64>()),
            _ => None,
        })
        .sum();
    assert_eq!(calls, want);
});
