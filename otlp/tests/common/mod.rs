//! Helpers shared by the integration tests: the reference payloads and prost-side counting.
#![allow(dead_code)]

pub mod strategies;

use std::path::PathBuf;

use meshtrace_otlp::Signal;
use meshtrace_otlp::proto::collector::logs::v1::ExportLogsServiceRequest;
use meshtrace_otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use meshtrace_otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use meshtrace_otlp::proto::metrics::v1::metric::Data;
use prost::Message;

/// `$ROOT/../shared/otlp-examples`, the official OTLP examples and their protobuf twins.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/otlp-examples")
}

/// (signal, file stem) of every example.
pub const EXAMPLES: [(Signal, &str); 4] = [
    (Signal::Traces, "trace"),
    (Signal::Metrics, "metrics"),
    (Signal::Logs, "logs"),
    (Signal::Logs, "events"),
];

pub fn example(stem: &str, ext: &str) -> Vec<u8> {
    let path = examples_dir().join(format!("{stem}.{ext}"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The decoded request, in a form that compares with `==` across signals.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
}

pub fn decode(signal: Signal, pb: &[u8]) -> Decoded {
    match signal {
        Signal::Traces => Decoded::Traces(ExportTraceServiceRequest::decode(pb).unwrap()),
        Signal::Metrics => Decoded::Metrics(ExportMetricsServiceRequest::decode(pb).unwrap()),
        Signal::Logs => Decoded::Logs(ExportLogsServiceRequest::decode(pb).unwrap()),
    }
}

/// Items as the OpenTelemetry Collector counts them, computed from the prost structs.
pub fn count(d: &Decoded) -> usize {
    match d {
        Decoded::Traces(r) => r
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum(),
        Decoded::Logs(r) => r
            .resource_logs
            .iter()
            .flat_map(|rl| &rl.scope_logs)
            .map(|sl| sl.log_records.len())
            .sum(),
        Decoded::Metrics(r) => r
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .map(|m| match &m.data {
                None => 0,
                Some(Data::Gauge(g)) => g.data_points.len(),
                Some(Data::Sum(s)) => s.data_points.len(),
                Some(Data::Histogram(h)) => h.data_points.len(),
                Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                Some(Data::Summary(s)) => s.data_points.len(),
            })
            .sum(),
    }
}
