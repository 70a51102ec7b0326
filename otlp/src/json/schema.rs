//! The OTLP messages as the JSON reader sees them: per message, each field's number, proto
//! name, how its JSON value is written as protobuf, and where prost puts it. Written from
//! opentelemetry-proto's generated types; `read`'s tests check it against them (every example,
//! and random requests written and read back to the same bytes).

use crate::Signal;
use crate::proto::logs::v1::SeverityNumber;
use crate::proto::metrics::v1::AggregationTemporality;
use crate::proto::trace::v1::{span::SpanKind, status::StatusCode};

/// The top-level message of `signal`'s export request.
pub(super) fn request(signal: Signal) -> &'static Msg {
    match signal {
        Signal::Traces => &TRACES_REQUEST,
        Signal::Metrics => &METRICS_REQUEST,
        Signal::Logs => &LOGS_REQUEST,
    }
}

/// How a field's JSON value becomes protobuf.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Str,
    /// base64 text (`bytesValue`).
    Base64,
    /// hex text (trace and span ids).
    Hex,
    Bool,
    Int32,
    Uint32,
    Sint32,
    Fixed32,
    Int64,
    Uint64,
    Fixed64,
    Sfixed64,
    Double,
    /// An `int32` on the wire; names are looked up with prost's `from_str_name`.
    Enum(fn(&str) -> Option<i32>),
    Message(&'static Msg),
}

impl Kind {
    /// Whether a repeated field of this kind is packed (proto3 packs repeated scalars).
    pub(super) fn packed(self) -> bool {
        !matches!(
            self,
            Kind::Str | Kind::Base64 | Kind::Hex | Kind::Message(_)
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Card {
    /// A proto3 scalar: the default value is not written.
    Single,
    /// Written whenever given: `optional` fields, messages, `oneof` members.
    Present,
    Repeated,
}

/// One field of a message.
pub(super) struct Field {
    pub(super) num: u32,
    /// The proto field name; the lowerCamelCase key is derived from it ([`names`]).
    pub(super) name: &'static str,
    pub(super) kind: Kind,
    pub(super) card: Card,
    /// Where prost writes it: the tag, or a `oneof`'s lowest tag.
    pub(super) order: u32,
    /// Members of one `oneof` share a group number (0: none).
    pub(super) oneof: u8,
}

/// A message's fields.
pub(super) struct Msg {
    pub(super) fields: &'static [Field],
}

const fn field(num: u32, name: &'static str, kind: Kind) -> Field {
    let card = match kind {
        Kind::Message(_) => Card::Present,
        _ => Card::Single,
    };
    Field {
        num,
        name,
        kind,
        card,
        order: num,
        oneof: 0,
    }
}

const fn repeated(num: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        card: Card::Repeated,
        ..field(num, name, kind)
    }
}

const fn attributes(num: u32) -> Field {
    repeated(num, "attributes", Kind::Message(&KEY_VALUE))
}

const fn optional(num: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        card: Card::Present,
        ..field(num, name, kind)
    }
}

const fn oneof(group: u8, order: u32, num: u32, name: &'static str, kind: Kind) -> Field {
    Field {
        card: Card::Present,
        order,
        oneof: group,
        ..field(num, name, kind)
    }
}

fn span_kind(name: &str) -> Option<i32> {
    SpanKind::from_str_name(name).map(|k| k as i32)
}

fn status_code(name: &str) -> Option<i32> {
    StatusCode::from_str_name(name).map(|k| k as i32)
}

fn severity(name: &str) -> Option<i32> {
    SeverityNumber::from_str_name(name).map(|k| k as i32)
}

fn temporality(name: &str) -> Option<i32> {
    AggregationTemporality::from_str_name(name).map(|k| k as i32)
}

static ANY_VALUE: Msg = Msg {
    fields: &[
        oneof(1, 1, 1, "string_value", Kind::Str),
        oneof(1, 1, 2, "bool_value", Kind::Bool),
        oneof(1, 1, 3, "int_value", Kind::Int64),
        oneof(1, 1, 4, "double_value", Kind::Double),
        oneof(1, 1, 5, "array_value", Kind::Message(&ARRAY_VALUE)),
        oneof(1, 1, 6, "kvlist_value", Kind::Message(&KEY_VALUE_LIST)),
        oneof(1, 1, 7, "bytes_value", Kind::Base64),
        oneof(1, 1, 8, "string_value_strindex", Kind::Int32),
    ],
};
static ARRAY_VALUE: Msg = Msg {
    fields: &[repeated(1, "values", Kind::Message(&ANY_VALUE))],
};
static KEY_VALUE_LIST: Msg = Msg {
    fields: &[repeated(1, "values", Kind::Message(&KEY_VALUE))],
};
static KEY_VALUE: Msg = Msg {
    fields: &[
        field(1, "key", Kind::Str),
        field(2, "value", Kind::Message(&ANY_VALUE)),
        field(3, "key_strindex", Kind::Int32),
    ],
};
static SCOPE: Msg = Msg {
    fields: &[
        field(1, "name", Kind::Str),
        field(2, "version", Kind::Str),
        attributes(3),
        field(4, "dropped_attributes_count", Kind::Uint32),
    ],
};
static ENTITY_REF: Msg = Msg {
    fields: &[
        field(1, "schema_url", Kind::Str),
        field(2, "type", Kind::Str),
        repeated(3, "id_keys", Kind::Str),
        repeated(4, "description_keys", Kind::Str),
    ],
};
static RESOURCE: Msg = Msg {
    fields: &[
        attributes(1),
        field(2, "dropped_attributes_count", Kind::Uint32),
        repeated(3, "entity_refs", Kind::Message(&ENTITY_REF)),
    ],
};

static TRACES_REQUEST: Msg = Msg {
    fields: &[repeated(
        1,
        "resource_spans",
        Kind::Message(&RESOURCE_SPANS),
    )],
};
static RESOURCE_SPANS: Msg = Msg {
    fields: &[
        field(1, "resource", Kind::Message(&RESOURCE)),
        repeated(2, "scope_spans", Kind::Message(&SCOPE_SPANS)),
        field(3, "schema_url", Kind::Str),
    ],
};
static SCOPE_SPANS: Msg = Msg {
    fields: &[
        field(1, "scope", Kind::Message(&SCOPE)),
        repeated(2, "spans", Kind::Message(&SPAN)),
        field(3, "schema_url", Kind::Str),
    ],
};
static SPAN: Msg = Msg {
    fields: &[
        field(1, "trace_id", Kind::Hex),
        field(2, "span_id", Kind::Hex),
        field(3, "trace_state", Kind::Str),
        field(4, "parent_span_id", Kind::Hex),
        field(5, "name", Kind::Str),
        field(6, "kind", Kind::Enum(span_kind)),
        field(7, "start_time_unix_nano", Kind::Fixed64),
        field(8, "end_time_unix_nano", Kind::Fixed64),
        attributes(9),
        field(10, "dropped_attributes_count", Kind::Uint32),
        repeated(11, "events", Kind::Message(&EVENT)),
        field(12, "dropped_events_count", Kind::Uint32),
        repeated(13, "links", Kind::Message(&LINK)),
        field(14, "dropped_links_count", Kind::Uint32),
        field(15, "status", Kind::Message(&STATUS)),
        field(16, "flags", Kind::Fixed32),
    ],
};
static EVENT: Msg = Msg {
    fields: &[
        field(1, "time_unix_nano", Kind::Fixed64),
        field(2, "name", Kind::Str),
        attributes(3),
        field(4, "dropped_attributes_count", Kind::Uint32),
    ],
};
static LINK: Msg = Msg {
    fields: &[
        field(1, "trace_id", Kind::Hex),
        field(2, "span_id", Kind::Hex),
        field(3, "trace_state", Kind::Str),
        attributes(4),
        field(5, "dropped_attributes_count", Kind::Uint32),
        field(6, "flags", Kind::Fixed32),
    ],
};
static STATUS: Msg = Msg {
    fields: &[
        field(2, "message", Kind::Str),
        field(3, "code", Kind::Enum(status_code)),
    ],
};

static LOGS_REQUEST: Msg = Msg {
    fields: &[repeated(1, "resource_logs", Kind::Message(&RESOURCE_LOGS))],
};
static RESOURCE_LOGS: Msg = Msg {
    fields: &[
        field(1, "resource", Kind::Message(&RESOURCE)),
        repeated(2, "scope_logs", Kind::Message(&SCOPE_LOGS)),
        field(3, "schema_url", Kind::Str),
    ],
};
static SCOPE_LOGS: Msg = Msg {
    fields: &[
        field(1, "scope", Kind::Message(&SCOPE)),
        repeated(2, "log_records", Kind::Message(&LOG_RECORD)),
        field(3, "schema_url", Kind::Str),
    ],
};
static LOG_RECORD: Msg = Msg {
    fields: &[
        field(1, "time_unix_nano", Kind::Fixed64),
        field(2, "severity_number", Kind::Enum(severity)),
        field(3, "severity_text", Kind::Str),
        field(5, "body", Kind::Message(&ANY_VALUE)),
        attributes(6),
        field(7, "dropped_attributes_count", Kind::Uint32),
        field(8, "flags", Kind::Fixed32),
        field(9, "trace_id", Kind::Hex),
        field(10, "span_id", Kind::Hex),
        field(11, "observed_time_unix_nano", Kind::Fixed64),
        field(12, "event_name", Kind::Str),
    ],
};

static METRICS_REQUEST: Msg = Msg {
    fields: &[repeated(
        1,
        "resource_metrics",
        Kind::Message(&RESOURCE_METRICS),
    )],
};
static RESOURCE_METRICS: Msg = Msg {
    fields: &[
        field(1, "resource", Kind::Message(&RESOURCE)),
        repeated(2, "scope_metrics", Kind::Message(&SCOPE_METRICS)),
        field(3, "schema_url", Kind::Str),
    ],
};
static SCOPE_METRICS: Msg = Msg {
    fields: &[
        field(1, "scope", Kind::Message(&SCOPE)),
        repeated(2, "metrics", Kind::Message(&METRIC)),
        field(3, "schema_url", Kind::Str),
    ],
};
static METRIC: Msg = Msg {
    fields: &[
        field(1, "name", Kind::Str),
        field(2, "description", Kind::Str),
        field(3, "unit", Kind::Str),
        oneof(1, 5, 5, "gauge", Kind::Message(&GAUGE)),
        oneof(1, 5, 7, "sum", Kind::Message(&SUM)),
        oneof(1, 5, 9, "histogram", Kind::Message(&HISTOGRAM)),
        oneof(
            1,
            5,
            10,
            "exponential_histogram",
            Kind::Message(&EXPONENTIAL_HISTOGRAM),
        ),
        oneof(1, 5, 11, "summary", Kind::Message(&SUMMARY)),
        repeated(12, "metadata", Kind::Message(&KEY_VALUE)),
    ],
};
const TEMPORALITY: Kind = Kind::Enum(temporality);
static GAUGE: Msg = Msg {
    fields: &[repeated(1, "data_points", Kind::Message(&NUMBER_POINT))],
};
static SUM: Msg = Msg {
    fields: &[
        repeated(1, "data_points", Kind::Message(&NUMBER_POINT)),
        field(2, "aggregation_temporality", TEMPORALITY),
        field(3, "is_monotonic", Kind::Bool),
    ],
};
static HISTOGRAM: Msg = Msg {
    fields: &[
        repeated(1, "data_points", Kind::Message(&HISTOGRAM_POINT)),
        field(2, "aggregation_temporality", TEMPORALITY),
    ],
};
static EXPONENTIAL_HISTOGRAM: Msg = Msg {
    fields: &[
        repeated(1, "data_points", Kind::Message(&EXPONENTIAL_POINT)),
        field(2, "aggregation_temporality", TEMPORALITY),
    ],
};
static SUMMARY: Msg = Msg {
    fields: &[repeated(1, "data_points", Kind::Message(&SUMMARY_POINT))],
};
static NUMBER_POINT: Msg = Msg {
    fields: &[
        field(2, "start_time_unix_nano", Kind::Fixed64),
        field(3, "time_unix_nano", Kind::Fixed64),
        oneof(1, 4, 4, "as_double", Kind::Double),
        repeated(5, "exemplars", Kind::Message(&EXEMPLAR)),
        oneof(1, 4, 6, "as_int", Kind::Sfixed64),
        attributes(7),
        field(8, "flags", Kind::Uint32),
    ],
};
static HISTOGRAM_POINT: Msg = Msg {
    fields: &[
        field(2, "start_time_unix_nano", Kind::Fixed64),
        field(3, "time_unix_nano", Kind::Fixed64),
        field(4, "count", Kind::Fixed64),
        optional(5, "sum", Kind::Double),
        repeated(6, "bucket_counts", Kind::Fixed64),
        repeated(7, "explicit_bounds", Kind::Double),
        repeated(8, "exemplars", Kind::Message(&EXEMPLAR)),
        attributes(9),
        field(10, "flags", Kind::Uint32),
        optional(11, "min", Kind::Double),
        optional(12, "max", Kind::Double),
    ],
};
static EXPONENTIAL_POINT: Msg = Msg {
    fields: &[
        attributes(1),
        field(2, "start_time_unix_nano", Kind::Fixed64),
        field(3, "time_unix_nano", Kind::Fixed64),
        field(4, "count", Kind::Fixed64),
        optional(5, "sum", Kind::Double),
        field(6, "scale", Kind::Sint32),
        field(7, "zero_count", Kind::Fixed64),
        field(8, "positive", Kind::Message(&BUCKETS)),
        field(9, "negative", Kind::Message(&BUCKETS)),
        field(10, "flags", Kind::Uint32),
        repeated(11, "exemplars", Kind::Message(&EXEMPLAR)),
        optional(12, "min", Kind::Double),
        optional(13, "max", Kind::Double),
        field(14, "zero_threshold", Kind::Double),
    ],
};
static BUCKETS: Msg = Msg {
    fields: &[
        field(1, "offset", Kind::Sint32),
        repeated(2, "bucket_counts", Kind::Uint64),
    ],
};
static SUMMARY_POINT: Msg = Msg {
    fields: &[
        field(2, "start_time_unix_nano", Kind::Fixed64),
        field(3, "time_unix_nano", Kind::Fixed64),
        field(4, "count", Kind::Fixed64),
        field(5, "sum", Kind::Double),
        repeated(6, "quantile_values", Kind::Message(&QUANTILE)),
        attributes(7),
        field(8, "flags", Kind::Uint32),
    ],
};
static QUANTILE: Msg = Msg {
    fields: &[
        field(1, "quantile", Kind::Double),
        field(2, "value", Kind::Double),
    ],
};
static EXEMPLAR: Msg = Msg {
    fields: &[
        field(2, "time_unix_nano", Kind::Fixed64),
        oneof(1, 3, 3, "as_double", Kind::Double),
        field(4, "span_id", Kind::Hex),
        field(5, "trace_id", Kind::Hex),
        oneof(1, 3, 6, "as_int", Kind::Sfixed64),
        repeated(7, "filtered_attributes", Kind::Message(&KEY_VALUE)),
    ],
};

/// Whether `key` is the proto field name `name` or its lowerCamelCase form (`trace_id`,
/// `traceId`), compared without building the second.
pub(super) fn names(name: &str, key: &str) -> bool {
    if name == key {
        return true;
    }
    let mut k = key.bytes();
    let mut n = name.bytes();
    while let Some(c) = n.next() {
        let want = if c == b'_' {
            match n.next() {
                Some(next) => next.to_ascii_uppercase(),
                None => return false,
            }
        } else {
            c
        };
        if k.next() != Some(want) {
            return false;
        }
    }
    k.next().is_none()
}

/// The lowerCamelCase form of a proto field name, for messages.
pub(super) fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        match (c, upper) {
            ('_', _) => upper = true,
            (c, true) => {
                out.push(c.to_ascii_uppercase());
                upper = false;
            }
            (c, false) => out.push(c),
        }
    }
    out
}
