//! The OTLP/JSON writer over prost types: compact, defaults omitted, spec-shaped.

use std::fmt::Write;

use crate::proto::collector::logs::v1::ExportLogsServiceRequest;
use crate::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use crate::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, SummaryDataPoint, exemplar,
    exponential_histogram_data_point::Buckets, metric, number_data_point,
};
use crate::proto::resource::v1::Resource;
use crate::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

/// A JSON object being written: handles braces and commas.
struct Obj<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> Obj<'o> {
    fn new(out: &'o mut String) -> Self {
        out.push('{');
        Obj { out, first: true }
    }

    fn key(&mut self, k: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(k);
        self.out.push_str("\":");
        self.out
    }

    fn str(&mut self, k: &str, v: &str) {
        if !v.is_empty() {
            string(self.key(k), v);
        }
    }

    fn u32(&mut self, k: &str, v: u32) {
        if v != 0 {
            let _ = write!(self.key(k), "{v}"); // writing to a String cannot fail
        }
    }

    fn i32(&mut self, k: &str, v: i32) {
        if v != 0 {
            let _ = write!(self.key(k), "{v}");
        }
    }

    /// 64-bit integers are strings in proto3 JSON.
    fn u64(&mut self, k: &str, v: u64) {
        if v != 0 {
            let _ = write!(self.key(k), "\"{v}\"");
        }
    }

    fn f64(&mut self, k: &str, v: f64) {
        if v != 0.0 || v.is_sign_negative() {
            double(self.key(k), v);
        }
    }

    fn opt_f64(&mut self, k: &str, v: Option<f64>) {
        if let Some(v) = v {
            double(self.key(k), v);
        }
    }

    fn bool(&mut self, k: &str, v: bool) {
        if v {
            self.key(k).push_str("true");
        }
    }

    fn hex(&mut self, k: &str, v: &[u8]) {
        if !v.is_empty() {
            let out = self.key(k);
            out.push('"');
            for b in v {
                let _ = write!(out, "{b:02x}");
            }
            out.push('"');
        }
    }

    fn list<T>(&mut self, k: &str, items: &[T], mut f: impl FnMut(&mut String, &T)) {
        if items.is_empty() {
            return;
        }
        let out = self.key(k);
        out.push('[');
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            f(out, it);
        }
        out.push(']');
    }

    fn attrs(&mut self, k: &str, kvs: &[KeyValue]) {
        self.list(k, kvs, key_value);
    }

    /// A list written even when empty (`arrayValue.values`, `kvlistValue.values`): omitting
    /// it is valid proto3 JSON, but common OTLP/JSON decoders (opentelemetry-proto's serde
    /// among them) require the key.
    fn list_always<T>(&mut self, k: &str, items: &[T], f: impl FnMut(&mut String, &T)) {
        if items.is_empty() {
            self.key(k).push_str("[]");
        } else {
            self.list(k, items, f);
        }
    }

    fn end(self) {
        self.out.push('}');
    }
}

fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Doubles: shortest round-trip form; NaN and infinities as the strings proto3 JSON uses.
fn double(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("\"NaN\"");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else if let Some(n) = serde_json::Number::from_f64(v) {
        let _ = write!(out, "{n}");
    }
}

fn base64(out: &mut String, data: &[u8]) {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sym = |i: u32| char::from(T.get((i & 63) as usize).copied().unwrap_or(b'A'));
    out.push('"');
    for chunk in data.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(n) } else { '=' });
    }
    out.push('"');
}

fn key_value(out: &mut String, kv: &KeyValue) {
    let mut o = Obj::new(out);
    o.str("key", &kv.key);
    if let Some(v) = &kv.value {
        any_value(o.key("value"), v);
    }
    o.i32("keyStrindex", kv.key_strindex);
    o.end();
}

fn any_value(out: &mut String, v: &AnyValue) {
    let mut o = Obj::new(out);
    match &v.value {
        None => {}
        Some(any_value::Value::StringValue(s)) => string(o.key("stringValue"), s),
        Some(any_value::Value::BoolValue(b)) => {
            o.key("boolValue")
                .push_str(if *b { "true" } else { "false" })
        }
        Some(any_value::Value::IntValue(i)) => {
            let _ = write!(o.key("intValue"), "\"{i}\"");
        }
        Some(any_value::Value::DoubleValue(d)) => double(o.key("doubleValue"), *d),
        Some(any_value::Value::ArrayValue(a)) => {
            let mut inner = Obj::new(o.key("arrayValue"));
            inner.list_always("values", &a.values, any_value);
            inner.end();
        }
        Some(any_value::Value::KvlistValue(kv)) => {
            let mut inner = Obj::new(o.key("kvlistValue"));
            inner.list_always("values", &kv.values, key_value);
            inner.end();
        }
        Some(any_value::Value::BytesValue(b)) => base64(o.key("bytesValue"), b),
        Some(any_value::Value::StringValueStrindex(i)) => {
            let _ = write!(o.key("stringValueStrindex"), "{i}");
        }
    }
    o.end();
}

fn resource(o: &mut Obj<'_>, r: &Option<Resource>) {
    let Some(r) = r else { return };
    let mut ro = Obj::new(o.key("resource"));
    ro.attrs("attributes", &r.attributes);
    ro.u32("droppedAttributesCount", r.dropped_attributes_count);
    ro.list("entityRefs", &r.entity_refs, |out, e| {
        let mut eo = Obj::new(out);
        eo.str("schemaUrl", &e.schema_url);
        eo.str("type", &e.r#type);
        eo.list("idKeys", &e.id_keys, |out, s| string(out, s));
        eo.list("descriptionKeys", &e.description_keys, |out, s| {
            string(out, s)
        });
        eo.end();
    });
    ro.end();
}

fn scope(o: &mut Obj<'_>, s: &Option<InstrumentationScope>) {
    let Some(s) = s else { return };
    let mut so = Obj::new(o.key("scope"));
    so.str("name", &s.name);
    so.str("version", &s.version);
    so.attrs("attributes", &s.attributes);
    so.u32("droppedAttributesCount", s.dropped_attributes_count);
    so.end();
}

// === traces ===

pub(super) fn traces(out: &mut String, req: &ExportTraceServiceRequest) {
    let mut o = Obj::new(out);
    o.list("resourceSpans", &req.resource_spans, resource_spans);
    o.end();
}

fn resource_spans(out: &mut String, rs: &ResourceSpans) {
    let mut o = Obj::new(out);
    resource(&mut o, &rs.resource);
    o.list("scopeSpans", &rs.scope_spans, scope_spans);
    o.str("schemaUrl", &rs.schema_url);
    o.end();
}

fn scope_spans(out: &mut String, ss: &ScopeSpans) {
    let mut o = Obj::new(out);
    scope(&mut o, &ss.scope);
    o.list("spans", &ss.spans, span);
    o.str("schemaUrl", &ss.schema_url);
    o.end();
}

fn span(out: &mut String, s: &Span) {
    let mut o = Obj::new(out);
    o.hex("traceId", &s.trace_id);
    o.hex("spanId", &s.span_id);
    o.str("traceState", &s.trace_state);
    o.hex("parentSpanId", &s.parent_span_id);
    o.u32("flags", s.flags);
    o.str("name", &s.name);
    o.i32("kind", s.kind);
    o.u64("startTimeUnixNano", s.start_time_unix_nano);
    o.u64("endTimeUnixNano", s.end_time_unix_nano);
    o.attrs("attributes", &s.attributes);
    o.u32("droppedAttributesCount", s.dropped_attributes_count);
    o.list("events", &s.events, event);
    o.u32("droppedEventsCount", s.dropped_events_count);
    o.list("links", &s.links, link);
    o.u32("droppedLinksCount", s.dropped_links_count);
    if let Some(st) = &s.status {
        status(o.key("status"), st);
    }
    o.end();
}

fn event(out: &mut String, e: &span::Event) {
    let mut o = Obj::new(out);
    o.u64("timeUnixNano", e.time_unix_nano);
    o.str("name", &e.name);
    o.attrs("attributes", &e.attributes);
    o.u32("droppedAttributesCount", e.dropped_attributes_count);
    o.end();
}

fn link(out: &mut String, l: &span::Link) {
    let mut o = Obj::new(out);
    o.hex("traceId", &l.trace_id);
    o.hex("spanId", &l.span_id);
    o.str("traceState", &l.trace_state);
    o.attrs("attributes", &l.attributes);
    o.u32("droppedAttributesCount", l.dropped_attributes_count);
    o.u32("flags", l.flags);
    o.end();
}

fn status(out: &mut String, s: &Status) {
    let mut o = Obj::new(out);
    o.str("message", &s.message);
    o.i32("code", s.code);
    o.end();
}

// === metrics ===

pub(super) fn metrics(out: &mut String, req: &ExportMetricsServiceRequest) {
    let mut o = Obj::new(out);
    o.list("resourceMetrics", &req.resource_metrics, resource_metrics);
    o.end();
}

fn resource_metrics(out: &mut String, rm: &ResourceMetrics) {
    let mut o = Obj::new(out);
    resource(&mut o, &rm.resource);
    o.list("scopeMetrics", &rm.scope_metrics, scope_metrics);
    o.str("schemaUrl", &rm.schema_url);
    o.end();
}

fn scope_metrics(out: &mut String, sm: &ScopeMetrics) {
    let mut o = Obj::new(out);
    scope(&mut o, &sm.scope);
    o.list("metrics", &sm.metrics, metric);
    o.str("schemaUrl", &sm.schema_url);
    o.end();
}

fn metric(out: &mut String, m: &Metric) {
    let mut o = Obj::new(out);
    o.str("name", &m.name);
    o.str("description", &m.description);
    o.str("unit", &m.unit);
    match &m.data {
        None => {}
        Some(metric::Data::Gauge(g)) => {
            let mut d = Obj::new(o.key("gauge"));
            d.list("dataPoints", &g.data_points, number_point);
            d.end();
        }
        Some(metric::Data::Sum(s)) => {
            let mut d = Obj::new(o.key("sum"));
            d.list("dataPoints", &s.data_points, number_point);
            d.i32("aggregationTemporality", s.aggregation_temporality);
            d.bool("isMonotonic", s.is_monotonic);
            d.end();
        }
        Some(metric::Data::Histogram(h)) => {
            let mut d = Obj::new(o.key("histogram"));
            d.list("dataPoints", &h.data_points, histogram_point);
            d.i32("aggregationTemporality", h.aggregation_temporality);
            d.end();
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            let mut d = Obj::new(o.key("exponentialHistogram"));
            d.list("dataPoints", &h.data_points, exp_histogram_point);
            d.i32("aggregationTemporality", h.aggregation_temporality);
            d.end();
        }
        Some(metric::Data::Summary(s)) => {
            let mut d = Obj::new(o.key("summary"));
            d.list("dataPoints", &s.data_points, summary_point);
            d.end();
        }
    }
    o.attrs("metadata", &m.metadata);
    o.end();
}

fn number_point(out: &mut String, p: &NumberDataPoint) {
    let mut o = Obj::new(out);
    o.attrs("attributes", &p.attributes);
    o.u64("startTimeUnixNano", p.start_time_unix_nano);
    o.u64("timeUnixNano", p.time_unix_nano);
    match p.value {
        Some(number_data_point::Value::AsDouble(v)) => double(o.key("asDouble"), v),
        Some(number_data_point::Value::AsInt(v)) => {
            let _ = write!(o.key("asInt"), "\"{v}\"");
        }
        None => {}
    }
    o.list("exemplars", &p.exemplars, exemplar);
    o.u32("flags", p.flags);
    o.end();
}

fn histogram_point(out: &mut String, p: &HistogramDataPoint) {
    let mut o = Obj::new(out);
    o.attrs("attributes", &p.attributes);
    o.u64("startTimeUnixNano", p.start_time_unix_nano);
    o.u64("timeUnixNano", p.time_unix_nano);
    o.u64("count", p.count);
    o.opt_f64("sum", p.sum);
    o.list("bucketCounts", &p.bucket_counts, |out, c| {
        let _ = write!(out, "\"{c}\"");
    });
    o.list("explicitBounds", &p.explicit_bounds, |out, b| {
        double(out, *b)
    });
    o.list("exemplars", &p.exemplars, exemplar);
    o.u32("flags", p.flags);
    o.opt_f64("min", p.min);
    o.opt_f64("max", p.max);
    o.end();
}

fn exp_histogram_point(out: &mut String, p: &ExponentialHistogramDataPoint) {
    let mut o = Obj::new(out);
    o.attrs("attributes", &p.attributes);
    o.u64("startTimeUnixNano", p.start_time_unix_nano);
    o.u64("timeUnixNano", p.time_unix_nano);
    o.u64("count", p.count);
    o.opt_f64("sum", p.sum);
    o.i32("scale", p.scale);
    o.u64("zeroCount", p.zero_count);
    let buckets = |o: &mut Obj<'_>, k: &str, b: &Option<Buckets>| {
        if let Some(b) = b {
            let mut bo = Obj::new(o.key(k));
            bo.i32("offset", b.offset);
            bo.list("bucketCounts", &b.bucket_counts, |out, c| {
                let _ = write!(out, "\"{c}\"");
            });
            bo.end();
        }
    };
    buckets(&mut o, "positive", &p.positive);
    buckets(&mut o, "negative", &p.negative);
    o.u32("flags", p.flags);
    o.list("exemplars", &p.exemplars, exemplar);
    o.opt_f64("min", p.min);
    o.opt_f64("max", p.max);
    o.f64("zeroThreshold", p.zero_threshold);
    o.end();
}

fn summary_point(out: &mut String, p: &SummaryDataPoint) {
    let mut o = Obj::new(out);
    o.attrs("attributes", &p.attributes);
    o.u64("startTimeUnixNano", p.start_time_unix_nano);
    o.u64("timeUnixNano", p.time_unix_nano);
    o.u64("count", p.count);
    o.f64("sum", p.sum);
    o.list("quantileValues", &p.quantile_values, |out, q| {
        let mut qo = Obj::new(out);
        qo.f64("quantile", q.quantile);
        qo.f64("value", q.value);
        qo.end();
    });
    o.u32("flags", p.flags);
    o.end();
}

fn exemplar(out: &mut String, e: &Exemplar) {
    let mut o = Obj::new(out);
    o.attrs("filteredAttributes", &e.filtered_attributes);
    o.u64("timeUnixNano", e.time_unix_nano);
    match e.value {
        Some(exemplar::Value::AsDouble(v)) => double(o.key("asDouble"), v),
        Some(exemplar::Value::AsInt(v)) => {
            let _ = write!(o.key("asInt"), "\"{v}\"");
        }
        None => {}
    }
    o.hex("spanId", &e.span_id);
    o.hex("traceId", &e.trace_id);
    o.end();
}

// === logs ===

pub(super) fn logs(out: &mut String, req: &ExportLogsServiceRequest) {
    let mut o = Obj::new(out);
    o.list("resourceLogs", &req.resource_logs, resource_logs);
    o.end();
}

fn resource_logs(out: &mut String, rl: &ResourceLogs) {
    let mut o = Obj::new(out);
    resource(&mut o, &rl.resource);
    o.list("scopeLogs", &rl.scope_logs, scope_logs);
    o.str("schemaUrl", &rl.schema_url);
    o.end();
}

fn scope_logs(out: &mut String, sl: &ScopeLogs) {
    let mut o = Obj::new(out);
    scope(&mut o, &sl.scope);
    o.list("logRecords", &sl.log_records, log_record);
    o.str("schemaUrl", &sl.schema_url);
    o.end();
}

fn log_record(out: &mut String, r: &LogRecord) {
    let mut o = Obj::new(out);
    o.u64("timeUnixNano", r.time_unix_nano);
    o.u64("observedTimeUnixNano", r.observed_time_unix_nano);
    o.i32("severityNumber", r.severity_number);
    o.str("severityText", &r.severity_text);
    if let Some(b) = &r.body {
        any_value(o.key("body"), b);
    }
    o.attrs("attributes", &r.attributes);
    o.u32("droppedAttributesCount", r.dropped_attributes_count);
    o.u32("flags", r.flags);
    o.hex("traceId", &r.trace_id);
    o.hex("spanId", &r.span_id);
    o.str("eventName", &r.event_name);
    o.end();
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", "\"\""),
            ("f", "\"Zg==\""),
            ("fo", "\"Zm8=\""),
            ("foo", "\"Zm9v\""),
            ("foob", "\"Zm9vYg==\""),
            ("fooba", "\"Zm9vYmE=\""),
            ("foobar", "\"Zm9vYmFy\""),
        ] {
            let mut s = String::new();
            super::base64(&mut s, input.as_bytes());
            assert_eq!(s, want);
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        super::string(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, r#""a\"b\\c\nd\u0001é""#);
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }
}
