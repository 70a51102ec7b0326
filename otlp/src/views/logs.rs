//! Log views: request → `ResourceLogs` → `ScopeLogs` → `LogRecord`.

use crate::wire::{Fields, Val};

use super::common::{AnyValueRef, Attributes, Region};
use super::group::{Item, ResourceGroup, ScopeGroup, messages};
use super::{id, utf8};

/// An encoded `ExportLogsServiceRequest` (or `LogsData`).
#[derive(Debug, Clone, Copy)]
pub struct LogsView<'a> {
    buf: &'a [u8],
}

/// A `ResourceLogs`.
pub type ResourceLogsView<'a> = ResourceGroup<'a, LogRecordView<'a>>;
/// A `ScopeLogs`.
pub type ScopeLogsView<'a> = ScopeGroup<'a, LogRecordView<'a>>;

impl<'a> LogsView<'a> {
    /// A view over an encoded request.
    pub fn new(buf: &'a [u8]) -> Self {
        LogsView { buf }
    }

    /// The resource groups.
    pub fn resource_logs(&self) -> impl Iterator<Item = ResourceLogsView<'a>> + Clone + use<'a> {
        messages(self.buf, 1).map(ResourceGroup::new)
    }
}

impl<'a> ResourceGroup<'a, LogRecordView<'a>> {
    /// The scope groups.
    pub fn scope_logs(&self) -> impl Iterator<Item = ScopeLogsView<'a>> + Clone + use<'a> {
        self.scopes()
    }
}

impl<'a> ScopeGroup<'a, LogRecordView<'a>> {
    /// The log records.
    pub fn log_records(&self) -> impl Iterator<Item = LogRecordView<'a>> + Clone + use<'a> {
        self.items()
    }
}

/// A `LogRecord`.
#[derive(Debug, Clone, Copy)]
pub struct LogRecordView<'a> {
    buf: &'a [u8],
    time: u64,
    observed_time: u64,
    severity_number: i32,
    severity_text: &'a str,
    body: Option<&'a [u8]>,
    attributes: Region,
    dropped: u32,
    flags: u32,
    trace_id: [u8; 16],
    span_id: [u8; 8],
    event_name: &'a str,
}

impl<'a> Item<'a> for LogRecordView<'a> {
    fn parse(buf: &'a [u8]) -> Self {
        let mut r = LogRecordView {
            buf,
            time: 0,
            observed_time: 0,
            severity_number: 0,
            severity_text: "",
            body: None,
            attributes: Region::default(),
            dropped: 0,
            flags: 0,
            trace_id: [0; 16],
            span_id: [0; 8],
            event_name: "",
        };
        for f in Fields::ok(buf) {
            match (f.num, f.val) {
                (1, Val::I64(v)) => r.time = v,
                (11, Val::I64(v)) => r.observed_time = v,
                (2, Val::Varint(v)) => r.severity_number = v as i32,
                (3, Val::Len(b)) => r.severity_text = utf8(b),
                (5, Val::Len(b)) => r.body = Some(b),
                (6, Val::Len(_)) => r.attributes.add(&f),
                (7, Val::Varint(v)) => r.dropped = v as u32,
                (8, Val::I32(v)) => r.flags = v,
                (9, Val::Len(b)) => r.trace_id = id(b),
                (10, Val::Len(b)) => r.span_id = id(b),
                (12, Val::Len(b)) => r.event_name = utf8(b),
                _ => {}
            }
        }
        r
    }
}

impl<'a> LogRecordView<'a> {
    /// `time_unix_nano`.
    pub fn time_unix_nano(&self) -> u64 {
        self.time
    }
    /// `observed_time_unix_nano`.
    pub fn observed_time_unix_nano(&self) -> u64 {
        self.observed_time
    }
    /// `severity_number`.
    pub fn severity_number(&self) -> i32 {
        self.severity_number
    }
    /// `severity_text`.
    pub fn severity_text(&self) -> &'a str {
        self.severity_text
    }
    /// `body` ([`AnyValueRef::Empty`] when absent).
    pub fn body(&self) -> AnyValueRef<'a> {
        self.body.map_or(AnyValueRef::Empty, AnyValueRef::parse)
    }
    /// The log record attributes.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes::new(self.attributes.slice(self.buf), 6)
    }
    /// `dropped_attributes_count`.
    pub fn dropped_attributes_count(&self) -> u32 {
        self.dropped
    }
    /// `flags`.
    pub fn flags(&self) -> u32 {
        self.flags
    }
    /// `trace_id` (zeros when absent).
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }
    /// `span_id` (zeros when absent).
    pub fn span_id(&self) -> [u8; 8] {
        self.span_id
    }
    /// `event_name`.
    pub fn event_name(&self) -> &'a str {
        self.event_name
    }
    /// The encoded `LogRecord` message.
    pub fn raw(&self) -> &'a [u8] {
        self.buf
    }
}
