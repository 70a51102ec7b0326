//! OTTL over the protobuf views: [`SpanCtx`] and [`EventCtx`] implement the `meshtrace-ottl`
//! context traits on top of `meshtrace_otlp::views`, so conditions evaluate against the
//! request bytes as they arrived. Nothing here allocates: strings are borrowed from the
//! request, attribute maps and lists are `Copy` handles that look values up on demand (the
//! first occurrence of a key wins, as in pdata).

use meshtrace_ottl::{AnyValue, AttributeList, AttributeMap, SpanContext, SpanEventContext};

use crate::otlp::views::{
    AnyValueRef, ArrayIter, ArrayRef, Attributes, AttributesIter, EventView, ResourceView,
    ScopeView, SpanView,
};

/// An attribute list (span, event, resource or scope attributes, or a kvlist value).
#[derive(Debug, Clone, Copy)]
pub struct Map<'a>(pub Attributes<'a>);

/// An array value.
#[derive(Debug, Clone, Copy)]
pub struct List<'a>(pub ArrayRef<'a>);

#[inline]
fn value(v: AnyValueRef<'_>) -> AnyValue<'_, Map<'_>> {
    match v {
        AnyValueRef::Str(s) => AnyValue::Str(s),
        AnyValueRef::Bool(b) => AnyValue::Bool(b),
        AnyValueRef::Int(i) => AnyValue::Int(i),
        AnyValueRef::Double(d) => AnyValue::Double(d),
        AnyValueRef::Bytes(b) => AnyValue::Bytes(b),
        AnyValueRef::Array(a) => AnyValue::List(List(a)),
        AnyValueRef::KvList(kv) => AnyValue::Map(Map(kv.entries())),
        AnyValueRef::Empty => AnyValue::Empty,
    }
}

/// Iterator over a [`Map`].
#[derive(Debug, Clone)]
pub struct MapIter<'a>(AttributesIter<'a>);

impl<'a> Iterator for MapIter<'a> {
    type Item = (&'a str, AnyValue<'a, Map<'a>>);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|kv| (kv.key(), value(kv.value())))
    }
}

/// Iterator over a [`List`].
#[derive(Debug, Clone)]
pub struct ListIter<'a>(ArrayIter<'a>);

impl<'a> Iterator for ListIter<'a> {
    type Item = AnyValue<'a, Map<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(value)
    }
}

impl<'a> AttributeMap<'a> for Map<'a> {
    type List = List<'a>;
    type Iter = MapIter<'a>;

    #[inline]
    fn get(&self, key: &str) -> Option<AnyValue<'a, Self>> {
        self.0.get(key).map(value)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn iter(&self) -> MapIter<'a> {
        MapIter(self.0.iter())
    }
}

impl<'a> AttributeList<'a> for List<'a> {
    type Map = Map<'a>;
    type Iter = ListIter<'a>;

    fn get(&self, index: usize) -> Option<AnyValue<'a, Map<'a>>> {
        self.0.iter().nth(index).map(value)
    }
    fn len(&self) -> usize {
        self.0.iter().count()
    }
    fn iter(&self) -> ListIter<'a> {
        ListIter(self.0.iter())
    }
}

/// A span with its resource and scope, for `traces.span` conditions. Build one per span from
/// views the caller already holds (the resource and scope are usually cached per group).
#[derive(Debug, Clone, Copy)]
pub struct SpanCtx<'a> {
    /// The span.
    pub span: SpanView<'a>,
    /// Its resource.
    pub resource: ResourceView<'a>,
    /// The `schema_url` of its `ResourceSpans`.
    pub resource_schema_url: &'a str,
    /// Its instrumentation scope.
    pub scope: ScopeView<'a>,
    /// The `schema_url` of its `ScopeSpans`.
    pub scope_schema_url: &'a str,
}

impl SpanContext for SpanCtx<'_> {
    type Attributes<'b>
        = Map<'b>
    where
        Self: 'b;

    fn trace_id(&self) -> [u8; 16] {
        self.span.trace_id()
    }
    fn span_id(&self) -> [u8; 8] {
        self.span.span_id()
    }
    fn parent_span_id(&self) -> [u8; 8] {
        self.span.parent_span_id()
    }
    fn trace_state(&self) -> &str {
        self.span.trace_state()
    }
    fn name(&self) -> &str {
        self.span.name()
    }
    fn kind(&self) -> i32 {
        self.span.kind()
    }
    fn start_time_unix_nano(&self) -> u64 {
        self.span.start_time_unix_nano()
    }
    fn end_time_unix_nano(&self) -> u64 {
        self.span.end_time_unix_nano()
    }
    fn attributes(&self) -> Map<'_> {
        Map(self.span.attributes())
    }
    fn dropped_attributes_count(&self) -> u32 {
        self.span.dropped_attributes_count()
    }
    fn dropped_events_count(&self) -> u32 {
        self.span.dropped_events_count()
    }
    fn dropped_links_count(&self) -> u32 {
        self.span.dropped_links_count()
    }
    fn status_code(&self) -> i32 {
        self.span.status_code()
    }
    fn status_message(&self) -> &str {
        self.span.status_message()
    }
    fn resource_attributes(&self) -> Map<'_> {
        Map(self.resource.attributes())
    }
    fn resource_dropped_attributes_count(&self) -> u32 {
        self.resource.dropped_attributes_count()
    }
    fn resource_schema_url(&self) -> &str {
        self.resource_schema_url
    }
    fn scope_name(&self) -> &str {
        self.scope.name()
    }
    fn scope_version(&self) -> &str {
        self.scope.version()
    }
    fn scope_attributes(&self) -> Map<'_> {
        Map(self.scope.attributes())
    }
    fn scope_dropped_attributes_count(&self) -> u32 {
        self.scope.dropped_attributes_count()
    }
    fn scope_schema_url(&self) -> &str {
        self.scope_schema_url
    }
}

impl<'a> SpanCtx<'a> {
    /// The resource of an encoded resource group (`ResourceSpans`, `ResourceMetrics`,
    /// `ResourceLogs`) with no span and no scope, for `resource` conditions (the routing
    /// connector's): conditions compiled in that context read only the resource.
    pub fn of_resource_group(group: &'a [u8]) -> Self {
        let (resource, resource_schema_url) = crate::otlp::views::group_resource(group);
        SpanCtx {
            span: SpanView::parse(&[]),
            resource,
            resource_schema_url,
            scope: ScopeView::default(),
            scope_schema_url: "",
        }
    }
}

/// A span event with its span, for `traces.spanevent` conditions.
#[derive(Debug, Clone, Copy)]
pub struct EventCtx<'a> {
    /// The span and its context.
    pub span: SpanCtx<'a>,
    /// The event.
    pub event: EventView<'a>,
}

impl SpanContext for EventCtx<'_> {
    type Attributes<'b>
        = Map<'b>
    where
        Self: 'b;

    fn trace_id(&self) -> [u8; 16] {
        self.span.trace_id()
    }
    fn span_id(&self) -> [u8; 8] {
        self.span.span_id()
    }
    fn parent_span_id(&self) -> [u8; 8] {
        self.span.parent_span_id()
    }
    fn trace_state(&self) -> &str {
        self.span.trace_state()
    }
    fn name(&self) -> &str {
        self.span.name()
    }
    fn kind(&self) -> i32 {
        self.span.kind()
    }
    fn start_time_unix_nano(&self) -> u64 {
        self.span.start_time_unix_nano()
    }
    fn end_time_unix_nano(&self) -> u64 {
        self.span.end_time_unix_nano()
    }
    fn attributes(&self) -> Map<'_> {
        self.span.attributes()
    }
    fn dropped_attributes_count(&self) -> u32 {
        self.span.dropped_attributes_count()
    }
    fn dropped_events_count(&self) -> u32 {
        self.span.dropped_events_count()
    }
    fn dropped_links_count(&self) -> u32 {
        self.span.dropped_links_count()
    }
    fn status_code(&self) -> i32 {
        self.span.status_code()
    }
    fn status_message(&self) -> &str {
        self.span.status_message()
    }
    fn resource_attributes(&self) -> Map<'_> {
        self.span.resource_attributes()
    }
    fn resource_dropped_attributes_count(&self) -> u32 {
        self.span.resource_dropped_attributes_count()
    }
    fn resource_schema_url(&self) -> &str {
        self.span.resource_schema_url
    }
    fn scope_name(&self) -> &str {
        self.span.scope_name()
    }
    fn scope_version(&self) -> &str {
        self.span.scope_version()
    }
    fn scope_attributes(&self) -> Map<'_> {
        self.span.scope_attributes()
    }
    fn scope_dropped_attributes_count(&self) -> u32 {
        self.span.scope_dropped_attributes_count()
    }
    fn scope_schema_url(&self) -> &str {
        self.span.scope_schema_url
    }
}

impl SpanEventContext for EventCtx<'_> {
    fn event_name(&self) -> &str {
        self.event.name()
    }
    fn event_time_unix_nano(&self) -> u64 {
        self.event.time_unix_nano()
    }
    fn event_attributes(&self) -> Map<'_> {
        Map(self.event.attributes())
    }
    fn event_dropped_attributes_count(&self) -> u32 {
        self.event.dropped_attributes_count()
    }
}

/// Builds a [`SpanCtx`] per span while a request is rewritten, looking the resource and the
/// scope up once per group (a scope's fields sit after its spans, so reading them per span
/// would rescan the group).
#[derive(Debug, Default)]
pub struct ContextCache<'a> {
    resource: Option<(usize, ResourceView<'a>, &'a str)>,
    scope: Option<(usize, ScopeView<'a>, &'a str)>,
}

impl<'a> ContextCache<'a> {
    /// The context of `span` in its groups.
    #[inline]
    pub fn get(
        &mut self,
        rs: &crate::otlp::views::ResourceSpansView<'a>,
        ss: &crate::otlp::views::ScopeSpansView<'a>,
        span: &SpanView<'a>,
    ) -> SpanCtx<'a> {
        let rkey = rs.raw().as_ptr() as usize;
        let (resource, resource_schema_url) = match self.resource {
            Some((k, r, u)) if k == rkey => (r, u),
            _ => {
                let (r, u) = (rs.resource(), rs.schema_url());
                self.resource = Some((rkey, r, u));
                (r, u)
            }
        };
        let skey = ss.raw().as_ptr() as usize;
        let (scope, scope_schema_url) = match self.scope {
            Some((k, s, u)) if k == skey => (s, u),
            _ => {
                let (s, u) = (ss.scope(), ss.schema_url());
                self.scope = Some((skey, s, u));
                (s, u)
            }
        };
        SpanCtx {
            span: *span,
            resource,
            resource_schema_url,
            scope,
            scope_schema_url,
        }
    }
}
