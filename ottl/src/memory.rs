//! A plain in-memory span, implementing [`SpanContext`] and [`SpanEventContext`].
//!
//! For tests, benchmarks and examples (and as a reference for implementing the traits over
//! other representations); the collector implements the traits over its protobuf views.

use crate::context::{AnyValue, AttributeList, AttributeMap, SpanContext, SpanEventContext};

/// An owned attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// No value.
    Empty,
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A nested map.
    Map(Vec<(String, AttrValue)>),
    /// A list.
    List(Vec<AttrValue>),
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue::Str(s.to_owned())
    }
}

impl From<i64> for AttrValue {
    fn from(i: i64) -> Self {
        AttrValue::Int(i)
    }
}

impl From<f64> for AttrValue {
    fn from(d: f64) -> Self {
        AttrValue::Double(d)
    }
}

impl From<bool> for AttrValue {
    fn from(b: bool) -> Self {
        AttrValue::Bool(b)
    }
}

/// Builds an attribute list from `(key, value)` pairs.
pub fn attrs<V: Into<AttrValue>>(
    pairs: impl IntoIterator<Item = (&'static str, V)>,
) -> Vec<(String, AttrValue)> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into()))
        .collect()
}

/// A borrowed view of an attribute list; the [`AttributeMap`] handle.
#[derive(Debug, Clone, Copy)]
pub struct MapRef<'a>(pub &'a [(String, AttrValue)]);

/// A borrowed view of a list value; the [`AttributeList`] handle.
#[derive(Debug, Clone, Copy)]
pub struct ListRef<'a>(pub &'a [AttrValue]);

fn view(v: &AttrValue) -> AnyValue<'_, MapRef<'_>> {
    match v {
        AttrValue::Empty => AnyValue::Empty,
        AttrValue::Str(s) => AnyValue::Str(s),
        AttrValue::Bool(b) => AnyValue::Bool(*b),
        AttrValue::Int(i) => AnyValue::Int(*i),
        AttrValue::Double(d) => AnyValue::Double(*d),
        AttrValue::Bytes(b) => AnyValue::Bytes(b),
        AttrValue::Map(m) => AnyValue::Map(MapRef(m)),
        AttrValue::List(l) => AnyValue::List(ListRef(l)),
    }
}

/// Iterator over a [`MapRef`].
#[derive(Debug)]
pub struct MapIter<'a>(std::slice::Iter<'a, (String, AttrValue)>);

impl<'a> Iterator for MapIter<'a> {
    type Item = (&'a str, AnyValue<'a, MapRef<'a>>);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k.as_str(), view(v)))
    }
}

/// Iterator over a [`ListRef`].
#[derive(Debug)]
pub struct ListIter<'a>(std::slice::Iter<'a, AttrValue>);

impl<'a> Iterator for ListIter<'a> {
    type Item = AnyValue<'a, MapRef<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(view)
    }
}

impl<'a> AttributeMap<'a> for MapRef<'a> {
    type List = ListRef<'a>;
    type Iter = MapIter<'a>;

    fn get(&self, key: &str) -> Option<AnyValue<'a, Self>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| view(v))
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn iter(&self) -> Self::Iter {
        MapIter(self.0.iter())
    }
}

impl<'a> AttributeList<'a> for ListRef<'a> {
    type Map = MapRef<'a>;
    type Iter = ListIter<'a>;

    fn get(&self, index: usize) -> Option<AnyValue<'a, MapRef<'a>>> {
        self.0.get(index).map(view)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn iter(&self) -> Self::Iter {
        ListIter(self.0.iter())
    }
}

/// A span with its resource and scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanData {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_span_id: [u8; 8],
    pub trace_state: String,
    pub name: String,
    pub kind: i32,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub attributes: Vec<(String, AttrValue)>,
    pub dropped_attributes_count: u32,
    pub dropped_events_count: u32,
    pub dropped_links_count: u32,
    pub status_code: i32,
    pub status_message: String,
    pub events: Vec<EventData>,
    pub resource_attributes: Vec<(String, AttrValue)>,
    pub resource_dropped_attributes_count: u32,
    pub resource_schema_url: String,
    pub scope_name: String,
    pub scope_version: String,
    pub scope_attributes: Vec<(String, AttrValue)>,
    pub scope_dropped_attributes_count: u32,
    pub scope_schema_url: String,
}

/// A span event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventData {
    pub name: String,
    pub time_unix_nano: u64,
    pub attributes: Vec<(String, AttrValue)>,
    pub dropped_attributes_count: u32,
}

/// A span event together with its span: the [`SpanEventContext`].
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    pub span: &'a SpanData,
    pub event: &'a EventData,
}

impl SpanContext for SpanData {
    type Attributes<'a> = MapRef<'a>;

    fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }
    fn span_id(&self) -> [u8; 8] {
        self.span_id
    }
    fn parent_span_id(&self) -> [u8; 8] {
        self.parent_span_id
    }
    fn trace_state(&self) -> &str {
        &self.trace_state
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> i32 {
        self.kind
    }
    fn start_time_unix_nano(&self) -> u64 {
        self.start_time_unix_nano
    }
    fn end_time_unix_nano(&self) -> u64 {
        self.end_time_unix_nano
    }
    fn attributes(&self) -> MapRef<'_> {
        MapRef(&self.attributes)
    }
    fn dropped_attributes_count(&self) -> u32 {
        self.dropped_attributes_count
    }
    fn dropped_events_count(&self) -> u32 {
        self.dropped_events_count
    }
    fn dropped_links_count(&self) -> u32 {
        self.dropped_links_count
    }
    fn status_code(&self) -> i32 {
        self.status_code
    }
    fn status_message(&self) -> &str {
        &self.status_message
    }
    fn resource_attributes(&self) -> MapRef<'_> {
        MapRef(&self.resource_attributes)
    }
    fn resource_dropped_attributes_count(&self) -> u32 {
        self.resource_dropped_attributes_count
    }
    fn resource_schema_url(&self) -> &str {
        &self.resource_schema_url
    }
    fn scope_name(&self) -> &str {
        &self.scope_name
    }
    fn scope_version(&self) -> &str {
        &self.scope_version
    }
    fn scope_attributes(&self) -> MapRef<'_> {
        MapRef(&self.scope_attributes)
    }
    fn scope_dropped_attributes_count(&self) -> u32 {
        self.scope_dropped_attributes_count
    }
    fn scope_schema_url(&self) -> &str {
        &self.scope_schema_url
    }
}

impl SpanContext for EventView<'_> {
    type Attributes<'b>
        = MapRef<'b>
    where
        Self: 'b;

    fn trace_id(&self) -> [u8; 16] {
        self.span.trace_id
    }
    fn span_id(&self) -> [u8; 8] {
        self.span.span_id
    }
    fn parent_span_id(&self) -> [u8; 8] {
        self.span.parent_span_id
    }
    fn trace_state(&self) -> &str {
        &self.span.trace_state
    }
    fn name(&self) -> &str {
        &self.span.name
    }
    fn kind(&self) -> i32 {
        self.span.kind
    }
    fn start_time_unix_nano(&self) -> u64 {
        self.span.start_time_unix_nano
    }
    fn end_time_unix_nano(&self) -> u64 {
        self.span.end_time_unix_nano
    }
    fn attributes(&self) -> MapRef<'_> {
        MapRef(&self.span.attributes)
    }
    fn dropped_attributes_count(&self) -> u32 {
        self.span.dropped_attributes_count
    }
    fn dropped_events_count(&self) -> u32 {
        self.span.dropped_events_count
    }
    fn dropped_links_count(&self) -> u32 {
        self.span.dropped_links_count
    }
    fn status_code(&self) -> i32 {
        self.span.status_code
    }
    fn status_message(&self) -> &str {
        &self.span.status_message
    }
    fn resource_attributes(&self) -> MapRef<'_> {
        MapRef(&self.span.resource_attributes)
    }
    fn resource_dropped_attributes_count(&self) -> u32 {
        self.span.resource_dropped_attributes_count
    }
    fn resource_schema_url(&self) -> &str {
        &self.span.resource_schema_url
    }
    fn scope_name(&self) -> &str {
        &self.span.scope_name
    }
    fn scope_version(&self) -> &str {
        &self.span.scope_version
    }
    fn scope_attributes(&self) -> MapRef<'_> {
        MapRef(&self.span.scope_attributes)
    }
    fn scope_dropped_attributes_count(&self) -> u32 {
        self.span.scope_dropped_attributes_count
    }
    fn scope_schema_url(&self) -> &str {
        &self.span.scope_schema_url
    }
}

impl SpanEventContext for EventView<'_> {
    fn event_name(&self) -> &str {
        &self.event.name
    }
    fn event_time_unix_nano(&self) -> u64 {
        self.event.time_unix_nano
    }
    fn event_attributes(&self) -> MapRef<'_> {
        MapRef(&self.event.attributes)
    }
    fn event_dropped_attributes_count(&self) -> u32 {
        self.event.dropped_attributes_count
    }
}
