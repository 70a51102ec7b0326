//! Trace views: request → `ResourceSpans` → `ScopeSpans` → `Span` (+ events, links, status).

use crate::wire::{Fields, Val};

use super::common::{Attributes, Region, last_len, last_varint};
use super::group::{Item, ResourceGroup, ScopeGroup, messages};
use super::{id, utf8};

/// `Status.code` values.
pub const STATUS_CODE_UNSET: i32 = 0;
/// `STATUS_CODE_OK`.
pub const STATUS_CODE_OK: i32 = 1;
/// `STATUS_CODE_ERROR`.
pub const STATUS_CODE_ERROR: i32 = 2;

/// An encoded `ExportTraceServiceRequest` (or `TracesData`, which has the same encoding).
#[derive(Debug, Clone, Copy)]
pub struct TracesView<'a> {
    buf: &'a [u8],
}

/// A `ResourceSpans`: [`resource`](ResourceGroup::resource), [`scope_spans`](ResourceGroup::scope_spans),
/// [`schema_url`](ResourceGroup::schema_url).
pub type ResourceSpansView<'a> = ResourceGroup<'a, SpanView<'a>>;
/// A `ScopeSpans`: [`scope`](ScopeGroup::scope), [`spans`](ScopeGroup::spans),
/// [`schema_url`](ScopeGroup::schema_url).
pub type ScopeSpansView<'a> = ScopeGroup<'a, SpanView<'a>>;

impl<'a> TracesView<'a> {
    /// A view over an encoded request.
    pub fn new(buf: &'a [u8]) -> Self {
        TracesView { buf }
    }

    /// The resource groups.
    pub fn resource_spans(&self) -> impl Iterator<Item = ResourceSpansView<'a>> + Clone + use<'a> {
        messages(self.buf, 1).map(ResourceGroup::new)
    }

    /// Every span with its resource group and scope group.
    pub fn spans(
        &self,
    ) -> impl Iterator<Item = (ResourceSpansView<'a>, ScopeSpansView<'a>, SpanView<'a>)> + use<'a>
    {
        self.resource_spans().flat_map(|rs| {
            rs.scope_spans()
                .flat_map(move |ss| ss.spans().map(move |s| (rs, ss, s)))
        })
    }
}

impl<'a> ResourceGroup<'a, SpanView<'a>> {
    /// The scope groups.
    pub fn scope_spans(&self) -> impl Iterator<Item = ScopeSpansView<'a>> + Clone + use<'a> {
        self.scopes()
    }
}

impl<'a> ScopeGroup<'a, SpanView<'a>> {
    /// The spans.
    pub fn spans(&self) -> impl Iterator<Item = SpanView<'a>> + Clone + use<'a> {
        self.items()
    }
}

/// A `Span`. Creating it reads the span's scalar fields once (attributes, events and links
/// are skipped by length and read on demand), so every accessor is cheap.
#[derive(Debug, Clone, Copy)]
pub struct SpanView<'a> {
    buf: &'a [u8],
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent_span_id: [u8; 8],
    trace_state: &'a str,
    name: &'a str,
    flags: u32,
    kind: i32,
    start: u64,
    end: u64,
    dropped_attributes: u32,
    dropped_events: u32,
    dropped_links: u32,
    status: Option<&'a [u8]>,
    attributes: Region,
    events: Region,
    links: Region,
}

impl<'a> Item<'a> for SpanView<'a> {
    fn parse(buf: &'a [u8]) -> Self {
        SpanView::parse(buf)
    }
}

impl<'a> SpanView<'a> {
    /// Reads an encoded `Span` message.
    pub fn parse(buf: &'a [u8]) -> Self {
        let mut s = SpanView {
            buf,
            trace_id: [0; 16],
            span_id: [0; 8],
            parent_span_id: [0; 8],
            trace_state: "",
            name: "",
            flags: 0,
            kind: 0,
            start: 0,
            end: 0,
            dropped_attributes: 0,
            dropped_events: 0,
            dropped_links: 0,
            status: None,
            attributes: Region::default(),
            events: Region::default(),
            links: Region::default(),
        };
        let mut fields = Fields::ok(buf);
        while let Some(f) = fields.next() {
            match (f.num, f.val) {
                (1, Val::Len(b)) => s.trace_id = id(b),
                (2, Val::Len(b)) => s.span_id = id(b),
                (3, Val::Len(b)) => s.trace_state = utf8(b),
                (4, Val::Len(b)) => s.parent_span_id = id(b),
                (5, Val::Len(b)) => s.name = utf8(b),
                (6, Val::Varint(v)) => s.kind = v as i32,
                (7, Val::I64(v)) => s.start = v,
                (8, Val::I64(v)) => s.end = v,
                (9, Val::Len(_)) => {
                    // Attributes come in runs of 10-20 entries: skip the rest of the run
                    // without decoding each field (a third of this function's time).
                    s.attributes.add(&f);
                    let n = fields.skip_run(0x4a);
                    s.attributes.extend_run(n, fields.position());
                }
                (10, Val::Varint(v)) => s.dropped_attributes = v as u32,
                (11, Val::Len(_)) => s.events.add(&f),
                (12, Val::Varint(v)) => s.dropped_events = v as u32,
                (13, Val::Len(_)) => s.links.add(&f),
                (14, Val::Varint(v)) => s.dropped_links = v as u32,
                (15, Val::Len(b)) => s.status = Some(b),
                (16, Val::I32(v)) => s.flags = v,
                _ => {}
            }
        }
        s
    }

    /// `trace_id` (zeros when absent).
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }
    /// `span_id` (zeros when absent).
    pub fn span_id(&self) -> [u8; 8] {
        self.span_id
    }
    /// `parent_span_id` (zeros for a root span).
    pub fn parent_span_id(&self) -> [u8; 8] {
        self.parent_span_id
    }
    /// `trace_state` (W3C tracestate header value).
    pub fn trace_state(&self) -> &'a str {
        self.trace_state
    }
    /// `flags` (W3C trace flags in the low byte, plus OTLP's has-is-remote bits).
    pub fn flags(&self) -> u32 {
        self.flags
    }
    /// `name`.
    pub fn name(&self) -> &'a str {
        self.name
    }
    /// `kind` (0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer).
    pub fn kind(&self) -> i32 {
        self.kind
    }
    /// `start_time_unix_nano`.
    pub fn start_time_unix_nano(&self) -> u64 {
        self.start
    }
    /// `end_time_unix_nano`.
    pub fn end_time_unix_nano(&self) -> u64 {
        self.end
    }
    /// The span attributes.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes::new(self.attributes.slice(self.buf), 9)
    }
    /// `dropped_attributes_count`.
    pub fn dropped_attributes_count(&self) -> u32 {
        self.dropped_attributes
    }
    /// The span events, in order.
    pub fn events(&self) -> impl Iterator<Item = EventView<'a>> + Clone + use<'a> {
        messages(self.events.slice(self.buf), 11).map(EventView::parse)
    }
    /// Number of events.
    pub fn events_len(&self) -> usize {
        self.events.count as usize
    }
    /// `dropped_events_count`.
    pub fn dropped_events_count(&self) -> u32 {
        self.dropped_events
    }
    /// The span links, in order.
    pub fn links(&self) -> impl Iterator<Item = LinkView<'a>> + Clone + use<'a> {
        messages(self.links.slice(self.buf), 13).map(LinkView::parse)
    }
    /// Number of links.
    pub fn links_len(&self) -> usize {
        self.links.count as usize
    }
    /// `dropped_links_count`.
    pub fn dropped_links_count(&self) -> u32 {
        self.dropped_links
    }
    /// True when the span has a `status` field.
    pub fn has_status(&self) -> bool {
        self.status.is_some()
    }
    /// `status.code` (see [`STATUS_CODE_ERROR`] and friends).
    pub fn status_code(&self) -> i32 {
        self.status.map_or(0, |b| last_varint(b, 3) as i32)
    }
    /// `status.message`.
    pub fn status_message(&self) -> &'a str {
        self.status.map_or("", |b| utf8(last_len(b, 2)))
    }
    /// The encoded `Span` message.
    pub fn raw(&self) -> &'a [u8] {
        self.buf
    }
}

/// A `Span.Event`.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    time: u64,
    name: &'a str,
    attributes: Attributes<'a>,
    dropped: u32,
}

impl<'a> EventView<'a> {
    fn parse(buf: &'a [u8]) -> Self {
        let mut e = EventView {
            time: 0,
            name: "",
            attributes: Attributes::new(buf, 3),
            dropped: 0,
        };
        for f in Fields::ok(buf) {
            match (f.num, f.val) {
                (1, Val::I64(v)) => e.time = v,
                (2, Val::Len(b)) => e.name = utf8(b),
                (4, Val::Varint(v)) => e.dropped = v as u32,
                _ => {}
            }
        }
        e
    }
    /// `time_unix_nano`.
    pub fn time_unix_nano(&self) -> u64 {
        self.time
    }
    /// `name`.
    pub fn name(&self) -> &'a str {
        self.name
    }
    /// The event attributes.
    pub fn attributes(&self) -> Attributes<'a> {
        self.attributes
    }
    /// `dropped_attributes_count`.
    pub fn dropped_attributes_count(&self) -> u32 {
        self.dropped
    }
}

/// A `Span.Link`.
#[derive(Debug, Clone, Copy)]
pub struct LinkView<'a> {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    trace_state: &'a str,
    attributes: Attributes<'a>,
    dropped: u32,
    flags: u32,
}

impl<'a> LinkView<'a> {
    fn parse(buf: &'a [u8]) -> Self {
        let mut l = LinkView {
            trace_id: [0; 16],
            span_id: [0; 8],
            trace_state: "",
            attributes: Attributes::new(buf, 4),
            dropped: 0,
            flags: 0,
        };
        for f in Fields::ok(buf) {
            match (f.num, f.val) {
                (1, Val::Len(b)) => l.trace_id = id(b),
                (2, Val::Len(b)) => l.span_id = id(b),
                (3, Val::Len(b)) => l.trace_state = utf8(b),
                (5, Val::Varint(v)) => l.dropped = v as u32,
                (6, Val::I32(v)) => l.flags = v,
                _ => {}
            }
        }
        l
    }
    /// `trace_id` of the linked span.
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }
    /// `span_id` of the linked span.
    pub fn span_id(&self) -> [u8; 8] {
        self.span_id
    }
    /// `trace_state`.
    pub fn trace_state(&self) -> &'a str {
        self.trace_state
    }
    /// The link attributes.
    pub fn attributes(&self) -> Attributes<'a> {
        self.attributes
    }
    /// `dropped_attributes_count`.
    pub fn dropped_attributes_count(&self) -> u32 {
        self.dropped
    }
    /// `flags`.
    pub fn flags(&self) -> u32 {
        self.flags
    }
}
