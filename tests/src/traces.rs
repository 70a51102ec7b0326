//! Spans as the collector received them, flattened with their resource, and rendered as one
//! tree per trace (for the demo, and for failure messages):
//!
//! ```text
//! trace 48bf730fe193b2dd4a1c7cbf5fdf2a69 · 2 spans · 1.59 ms
//! └─ SERVER  GET /status/{code}                503 ERROR      1.59 ms  productpage.bookinfo  span 0f812860
//!    └─ CLIENT  GET /status/{code}             503 ERROR      0.57 ms  productpage.bookinfo  span 60a0f111
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::Span;

/// One span and its resource.
#[derive(Debug, Clone)]
pub struct FlatSpan {
    /// Resource attributes, as text.
    pub resource: BTreeMap<String, String>,
    /// The instrumentation scope name.
    pub scope: String,
    /// The span.
    pub span: Span,
}

/// An attribute value as text (`int:3` for integers, `a|b` for arrays).
pub fn value_text(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::ArrayValue(a)) => a
            .values
            .iter()
            .map(|v| value_text(Some(v)))
            .collect::<Vec<_>>()
            .join("|"),
        other => format!("{other:?}"),
    }
}

fn map(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), value_text(kv.value.as_ref())))
        .collect()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl FlatSpan {
    /// Every span of `requests`, in order.
    pub fn from_requests(requests: &[ExportTraceServiceRequest]) -> Vec<FlatSpan> {
        let mut out = Vec::new();
        for r in requests {
            for rs in &r.resource_spans {
                let resource = rs
                    .resource
                    .as_ref()
                    .map(|r| map(&r.attributes))
                    .unwrap_or_default();
                for ss in &rs.scope_spans {
                    let scope = ss
                        .scope
                        .as_ref()
                        .map(|s| s.name.clone())
                        .unwrap_or_default();
                    for span in &ss.spans {
                        out.push(FlatSpan {
                            resource: resource.clone(),
                            scope: scope.clone(),
                            span: span.clone(),
                        });
                    }
                }
            }
        }
        out
    }

    /// The span's attributes as text.
    pub fn attributes(&self) -> BTreeMap<String, String> {
        map(&self.span.attributes)
    }

    /// One attribute as text.
    pub fn attr(&self, key: &str) -> Option<String> {
        self.span
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| value_text(kv.value.as_ref()))
    }

    /// Trace id, hex.
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// Span id, hex.
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    /// Parent span id, hex (empty for a root).
    pub fn parent_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    /// `SERVER`, `CLIENT`, …
    pub fn kind(&self) -> &'static str {
        match self.span.kind {
            1 => "INTERNAL",
            2 => "SERVER",
            3 => "CLIENT",
            4 => "PRODUCER",
            5 => "CONSUMER",
            _ => "UNSPECIFIED",
        }
    }

    /// `ERROR`, `OK` or `UNSET`.
    pub fn status(&self) -> &'static str {
        match self.span.status.as_ref().map(|s| s.code) {
            Some(2) => "ERROR",
            Some(1) => "OK",
            _ => "UNSET",
        }
    }

    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        self.span
            .end_time_unix_nano
            .saturating_sub(self.span.start_time_unix_nano) as f64
            / 1e6
    }
}

/// One tree per trace, traces in order of their first span's start.
pub fn render(spans: &[FlatSpan]) -> String {
    let mut traces: BTreeMap<String, Vec<&FlatSpan>> = BTreeMap::new();
    for s in spans {
        traces.entry(s.trace_id()).or_default().push(s);
    }
    let mut ordered: Vec<(String, Vec<&FlatSpan>)> = traces.into_iter().collect();
    ordered.sort_by_key(|(_, s)| s.iter().map(|s| s.span.start_time_unix_nano).min());
    let mut out = String::new();
    for (trace_id, mut members) in ordered {
        members.sort_by_key(|s| s.span.start_time_unix_nano);
        let start = members
            .iter()
            .map(|s| s.span.start_time_unix_nano)
            .min()
            .unwrap_or(0);
        let end = members
            .iter()
            .map(|s| s.span.end_time_unix_nano)
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "trace {trace_id} · {} span{} · {:.2} ms",
            members.len(),
            if members.len() == 1 { "" } else { "s" },
            end.saturating_sub(start) as f64 / 1e6
        );
        let ids: Vec<String> = members.iter().map(|s| s.span_id()).collect();
        let roots: Vec<&FlatSpan> = members
            .iter()
            .copied()
            .filter(|s| !ids.contains(&s.parent_id()))
            .collect();
        for (i, root) in roots.iter().enumerate() {
            tree(&mut out, root, &members, "", i + 1 == roots.len(), 0);
        }
        out.push('\n');
    }
    out
}

fn tree(
    out: &mut String,
    span: &FlatSpan,
    all: &[&FlatSpan],
    prefix: &str,
    last: bool,
    depth: usize,
) {
    let branch = if last { "└─ " } else { "├─ " };
    let status = match (span.attr("http.response.status_code"), span.status()) {
        (Some(code), "ERROR") => format!("{code} ERROR"),
        (Some(code), _) => code,
        (None, s) => s.to_owned(),
    };
    let service = span
        .resource
        .get("service.name")
        .map(String::as_str)
        .unwrap_or("?");
    let parent = if depth == 0 && !span.span.parent_span_id.is_empty() {
        format!("  (parent {} not here)", short(&span.parent_id()))
    } else {
        String::new()
    };
    let head = format!("{prefix}{branch}{:<6}  {}", span.kind(), span.span.name);
    let pad = 46usize.saturating_sub(head.chars().count());
    let _ = writeln!(
        out,
        "{head}{:pad$}  {:<9}  {:>8.2} ms  {}  span {}{}",
        "",
        status,
        span.duration_ms(),
        service,
        short(&span.span_id()),
        parent
    );
    let children: Vec<&FlatSpan> = all
        .iter()
        .copied()
        .filter(|c| c.parent_id() == span.span_id())
        .collect();
    let next = format!("{prefix}{}", if last { "   " } else { "│  " });
    for (i, c) in children.iter().enumerate() {
        if depth < 32 {
            tree(out, c, all, &next, i + 1 == children.len(), depth + 1);
        }
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
