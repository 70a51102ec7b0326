//! The three OTLP signals and the limits validation enforces.

/// An OTLP signal: which `Export*ServiceRequest` a payload holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// `ExportTraceServiceRequest`; items are spans.
    Traces,
    /// `ExportMetricsServiceRequest`; items are data points.
    Metrics,
    /// `ExportLogsServiceRequest`; items are log records.
    Logs,
}

impl Signal {
    /// All signals, in pipeline-name order.
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    /// `"traces"`, `"metrics"` or `"logs"`: the pipeline type and the OTLP/HTTP path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Limits enforced by [`validate`](crate::validate) on top of protobuf well-formedness.
/// They bound the work and memory a single request can cost downstream (attribute maps,
/// recursion in exporters and processors). The defaults accept anything a well-behaved SDK
/// or Envoy sends; tighten them per receiver if needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most entries in one attribute list (resource, scope, span, event, link, log record,
    /// data point, exemplar, metric metadata) or in one `kvlist_value`. Default 1024
    /// (SDKs cap at 128 by default).
    pub max_attributes: usize,
    /// Longest string or bytes `AnyValue` (attribute values, log bodies, array elements) and
    /// attribute key, in bytes. Default 1 MiB.
    pub max_value_bytes: usize,
    /// Deepest `AnyValue` nesting: a plain attribute value is depth 1, the elements of an
    /// array or kvlist value one deeper. Default 20, which keeps every accepted request within
    /// prost's recursion limit of 100 messages, so the JSON and debug paths can decode it.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attributes: 1024,
            max_value_bytes: 1 << 20,
            max_depth: 20,
        }
    }
}
