//! What the evaluator reads: the span (and, for span-event conditions, the event) behind a
//! small set of traits the collector implements over its zero-copy protobuf views.
//!
//! Everything is borrowed. Strings and bytes come back as `&str` / `&[u8]` into the payload,
//! attribute maps and lists are small `Copy` handles ([`AttributeMap`], [`AttributeList`]) that
//! look values up on demand, so a condition such as `attributes["http.route"] == "/livez"`
//! evaluates without allocating.

use std::fmt;

/// One attribute value as stored in telemetry (an OTLP `AnyValue`), borrowed from the payload.
pub enum AnyValue<'a, M: AttributeMap<'a>> {
    /// An `AnyValue` with no value set; OTTL treats it as `nil`.
    Empty,
    /// `string_value`
    Str(&'a str),
    /// `bool_value`
    Bool(bool),
    /// `int_value`
    Int(i64),
    /// `double_value`
    Double(f64),
    /// `bytes_value`
    Bytes(&'a [u8]),
    /// `kvlist_value`
    Map(M),
    /// `array_value`
    List(M::List),
}

impl<'a, M: AttributeMap<'a>> Clone for AnyValue<'a, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<'a, M: AttributeMap<'a>> Copy for AnyValue<'a, M> {}

impl<'a, M: AttributeMap<'a>> fmt::Debug for AnyValue<'a, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyValue::Empty => f.write_str("Empty"),
            AnyValue::Str(s) => write!(f, "Str({s:?})"),
            AnyValue::Bool(b) => write!(f, "Bool({b})"),
            AnyValue::Int(i) => write!(f, "Int({i})"),
            AnyValue::Double(d) => write!(f, "Double({d})"),
            AnyValue::Bytes(b) => write!(f, "Bytes({b:?})"),
            AnyValue::Map(m) => write!(f, "Map(len {})", m.len()),
            AnyValue::List(l) => write!(f, "List(len {})", l.len()),
        }
    }
}

/// A borrowed attribute map (OTLP `repeated KeyValue` or `KeyValueList`).
///
/// Implementations are cheap `Copy` handles. When a key occurs more than once, `get` returns
/// the first occurrence, as pdata does.
pub trait AttributeMap<'a>: Copy + 'a {
    /// The list type nested values use.
    type List: AttributeList<'a, Map = Self>;
    /// Iterator over the entries, in payload order.
    type Iter: Iterator<Item = (&'a str, AnyValue<'a, Self>)>;

    /// The value under `key`, if present.
    fn get(&self, key: &str) -> Option<AnyValue<'a, Self>>;
    /// Number of entries.
    fn len(&self) -> usize;
    /// True when there are no entries.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The entries in payload order.
    fn iter(&self) -> Self::Iter;
}

/// A borrowed attribute list (OTLP `ArrayValue`).
pub trait AttributeList<'a>: Copy + 'a {
    /// The map type nested values use.
    type Map: AttributeMap<'a, List = Self>;
    /// Iterator over the elements.
    type Iter: Iterator<Item = AnyValue<'a, Self::Map>>;

    /// The element at `index`, if in range.
    fn get(&self, index: usize) -> Option<AnyValue<'a, Self::Map>>;
    /// Number of elements.
    fn len(&self) -> usize;
    /// True when there are no elements.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The elements in order.
    fn iter(&self) -> Self::Iter;
}

/// A span with its instrumentation scope and resource: what `traces.span` conditions read
/// (the OTTL `span` context, with the `resource` and `scope` contexts above it).
///
/// Ids are returned as fixed-size arrays; an absent parent span id is all zeros. Timestamps
/// are the OTLP `fixed64` nanoseconds since the Unix epoch. Enums are the raw OTLP numbers.
pub trait SpanContext {
    /// The attribute map handle.
    type Attributes<'a>: AttributeMap<'a>
    where
        Self: 'a;

    /// `trace_id`
    fn trace_id(&self) -> [u8; 16];
    /// `span_id`
    fn span_id(&self) -> [u8; 8];
    /// `parent_span_id`; all zeros for a root span.
    fn parent_span_id(&self) -> [u8; 8];
    /// `trace_state` (W3C `tracestate` header format).
    fn trace_state(&self) -> &str;
    /// `name`
    fn name(&self) -> &str;
    /// `kind` (`SpanKind` number: 0 unspecified … 5 consumer).
    fn kind(&self) -> i32;
    /// `start_time_unix_nano`
    fn start_time_unix_nano(&self) -> u64;
    /// `end_time_unix_nano`
    fn end_time_unix_nano(&self) -> u64;
    /// `attributes`
    fn attributes(&self) -> Self::Attributes<'_>;
    /// `dropped_attributes_count`
    fn dropped_attributes_count(&self) -> u32;
    /// `dropped_events_count`
    fn dropped_events_count(&self) -> u32;
    /// `dropped_links_count`
    fn dropped_links_count(&self) -> u32;
    /// `status.code` (0 unset, 1 ok, 2 error).
    fn status_code(&self) -> i32;
    /// `status.message`
    fn status_message(&self) -> &str;

    /// `resource.attributes`
    fn resource_attributes(&self) -> Self::Attributes<'_>;
    /// `resource.dropped_attributes_count`
    fn resource_dropped_attributes_count(&self) -> u32;
    /// The `schema_url` of the `ResourceSpans` (`resource.schema_url`).
    fn resource_schema_url(&self) -> &str;

    /// `instrumentation_scope.name`
    fn scope_name(&self) -> &str;
    /// `instrumentation_scope.version`
    fn scope_version(&self) -> &str;
    /// `instrumentation_scope.attributes`
    fn scope_attributes(&self) -> Self::Attributes<'_>;
    /// `instrumentation_scope.dropped_attributes_count`
    fn scope_dropped_attributes_count(&self) -> u32;
    /// The `schema_url` of the `ScopeSpans` (`instrumentation_scope.schema_url`).
    fn scope_schema_url(&self) -> &str;

    /// `cache`: the scratch map transform statements share while they run on one item;
    /// `None` (an empty map) for conditions.
    fn cache(&self) -> Option<Self::Attributes<'_>> {
        None
    }
}

/// A span event together with its span: what `traces.spanevent` conditions read (the OTTL
/// `spanevent` context; `span.…`, `resource.…` and `instrumentation_scope.…` paths reach the
/// enclosing span through the [`SpanContext`] methods).
pub trait SpanEventContext: SpanContext {
    /// The event's `name`.
    fn event_name(&self) -> &str;
    /// The event's `time_unix_nano`.
    fn event_time_unix_nano(&self) -> u64;
    /// The event's `attributes`.
    fn event_attributes(&self) -> Self::Attributes<'_>;
    /// The event's `dropped_attributes_count`.
    fn event_dropped_attributes_count(&self) -> u32;
}

/// The OTTL context a condition is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextKind {
    /// `traces.span` conditions: the `span` context.
    Span,
    /// `traces.spanevent` conditions: the `spanevent` context.
    SpanEvent,
    /// Transform statements run once per resource: the `resource` context.
    Resource,
    /// Transform statements run once per instrumentation scope: the `scope` context.
    Scope,
}

impl ContextKind {
    /// The context's name in OTTL paths (`span`, `spanevent`).
    pub fn name(self) -> &'static str {
        match self {
            ContextKind::Span => "span",
            ContextKind::SpanEvent => "spanevent",
            ContextKind::Resource => "resource",
            ContextKind::Scope => "scope",
        }
    }
}

impl fmt::Display for ContextKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
