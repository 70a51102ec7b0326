//! `export`: where and how the spans go (OTLP/HTTP protobuf through an Envoy cluster), and the
//! per-worker buffer in front of it.

use std::collections::BTreeMap;

/// `export` section. Present: the filter records a span per sampled request and exports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    /// The Envoy cluster of the collector's OTLP/HTTP port (required). In Istio:
    /// `outbound|4318||<collector service FQDN>`.
    pub cluster: String,
    /// The `:authority` of export requests.
    /// Default: for an Istio cluster name `outbound|<port>||<host>`, `<host>:<port>`;
    /// otherwise the cluster name.
    pub authority: Option<String>,
    /// The request path.
    /// Default: `/v1/traces`.
    pub path: String,
    /// How long an export request may take, in milliseconds (1 to 300000).
    /// Default: `5000`.
    pub timeout_ms: u64,
    /// Extra request headers (`{"authorization": "Bearer …"}`); names lowercase.
    /// Default: none.
    pub headers: BTreeMap<String, String>,
    /// Most spans in one export request (1 to 65536). A full batch goes out at the next tick.
    /// Default: `512`.
    pub batch_size: usize,
    /// The longest a span waits in the buffer before it is sent, in milliseconds
    /// (50 to 60000).
    /// Default: `1000`.
    pub flush_interval_ms: u64,
    /// Most spans buffered per worker (at least `batch_size`, at most 1000000): the
    /// memory bound when the collector is slow or gone.
    /// Default: `4096`.
    pub max_buffered_spans: usize,
    /// What happens to a span when the buffer is full: `drop_newest` (the new span is
    /// dropped) or `drop_oldest` (the oldest batch is dropped to make room). Either way
    /// `meshtrace.spans_dropped` counts them and requests are never delayed.
    /// Default: `drop_newest`.
    pub when_full: WhenFull,
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig {
            cluster: String::new(),
            authority: None,
            path: "/v1/traces".to_owned(),
            timeout_ms: 5000,
            headers: BTreeMap::new(),
            batch_size: 512,
            flush_interval_ms: 1000,
            max_buffered_spans: 4096,
            when_full: WhenFull::DropNewest,
        }
    }
}

impl ExportConfig {
    /// The `:authority` to send: configured, or derived from the cluster name.
    pub fn effective_authority(&self) -> String {
        if let Some(a) = &self.authority {
            return a.clone();
        }
        // Istio: outbound|<port>|<subset>|<host>
        let mut parts = self.cluster.split('|');
        if let (Some("outbound"), Some(port), Some(_subset), Some(host), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) && !host.is_empty()
            && !port.is_empty()
        {
            return format!("{host}:{port}");
        }
        self.cluster.clone()
    }
}

/// `export.when_full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenFull {
    /// Drop the span being added.
    #[default]
    DropNewest,
    /// Drop the oldest buffered batch.
    DropOldest,
}

impl WhenFull {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WhenFull::DropNewest => "drop_newest",
            WhenFull::DropOldest => "drop_oldest",
        }
    }
}
