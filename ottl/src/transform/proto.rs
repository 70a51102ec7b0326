//! The decoded OTLP structs (`opentelemetry-proto`) as an OTTL context: [`Item`] reads one
//! resource, scope, span or span event for evaluation, [`ItemMut`] is where editors write.
//! Values go in as [`Owned`], converted from what evaluation produced.

use opentelemetry_proto::tonic::common::v1::{
    AnyValue as PAny, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

use crate::context::{AnyValue, AttributeList, AttributeMap, SpanContext, SpanEventContext};
use crate::error::EvalError;
use crate::value::{ListVal, MapVal, Value};

/// An attribute map of the decoded structs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kvs<'a>(pub &'a [KeyValue]);

/// An array value of the decoded structs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Vals<'a>(pub &'a [PAny]);

fn view(v: Option<&PAny>) -> AnyValue<'_, Kvs<'_>> {
    use any_value::Value as V;
    match v.and_then(|v| v.value.as_ref()) {
        None => AnyValue::Empty,
        Some(V::StringValue(s)) => AnyValue::Str(s),
        Some(V::BoolValue(b)) => AnyValue::Bool(*b),
        Some(V::IntValue(i)) => AnyValue::Int(*i),
        Some(V::DoubleValue(d)) => AnyValue::Double(*d),
        Some(V::BytesValue(b)) => AnyValue::Bytes(b),
        Some(V::ArrayValue(a)) => AnyValue::List(Vals(&a.values)),
        Some(V::KvlistValue(m)) => AnyValue::Map(Kvs(&m.values)),
        // An index into a profiles dictionary: no string of its own to read.
        Some(V::StringValueStrindex(_)) => AnyValue::Empty,
    }
}

pub(crate) struct KvsIter<'a>(std::slice::Iter<'a, KeyValue>);

impl<'a> Iterator for KvsIter<'a> {
    type Item = (&'a str, AnyValue<'a, Kvs<'a>>);
    fn next(&mut self) -> Option<Self::Item> {
        self.0
            .next()
            .map(|kv| (kv.key.as_str(), view(kv.value.as_ref())))
    }
}

pub(crate) struct ValsIter<'a>(std::slice::Iter<'a, PAny>);

impl<'a> Iterator for ValsIter<'a> {
    type Item = AnyValue<'a, Kvs<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|v| view(Some(v)))
    }
}

impl<'a> AttributeMap<'a> for Kvs<'a> {
    type List = Vals<'a>;
    type Iter = KvsIter<'a>;
    fn get(&self, key: &str) -> Option<AnyValue<'a, Self>> {
        self.0
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| view(kv.value.as_ref()))
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn iter(&self) -> Self::Iter {
        KvsIter(self.0.iter())
    }
}

impl<'a> AttributeList<'a> for Vals<'a> {
    type Map = Kvs<'a>;
    type Iter = ValsIter<'a>;
    fn get(&self, index: usize) -> Option<AnyValue<'a, Kvs<'a>>> {
        self.0.get(index).map(|v| view(Some(v)))
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn iter(&self) -> Self::Iter {
        ValsIter(self.0.iter())
    }
}

/// One item to evaluate against: its resource and scope, and for the span and span-event
/// contexts its span (and event).
pub(crate) struct Item<'a> {
    pub resource: Option<&'a Resource>,
    pub resource_schema_url: &'a str,
    pub scope: Option<&'a InstrumentationScope>,
    pub scope_schema_url: &'a str,
    pub span: Option<&'a Span>,
    pub event: Option<usize>,
    pub cache: &'a [KeyValue],
}

fn id<const N: usize>(bytes: Option<&Vec<u8>>) -> [u8; N] {
    bytes
        .and_then(|b| <[u8; N]>::try_from(b.as_slice()).ok())
        .unwrap_or([0; N])
}

impl Item<'_> {
    fn event(&self) -> Option<&opentelemetry_proto::tonic::trace::v1::span::Event> {
        self.span.zip(self.event).and_then(|(s, i)| s.events.get(i))
    }
}

impl SpanContext for Item<'_> {
    type Attributes<'b>
        = Kvs<'b>
    where
        Self: 'b;

    fn trace_id(&self) -> [u8; 16] {
        id(self.span.map(|s| &s.trace_id))
    }
    fn span_id(&self) -> [u8; 8] {
        id(self.span.map(|s| &s.span_id))
    }
    fn parent_span_id(&self) -> [u8; 8] {
        id(self.span.map(|s| &s.parent_span_id))
    }
    fn trace_state(&self) -> &str {
        self.span.map_or("", |s| &s.trace_state)
    }
    fn name(&self) -> &str {
        self.span.map_or("", |s| &s.name)
    }
    fn kind(&self) -> i32 {
        self.span.map_or(0, |s| s.kind)
    }
    fn start_time_unix_nano(&self) -> u64 {
        self.span.map_or(0, |s| s.start_time_unix_nano)
    }
    fn end_time_unix_nano(&self) -> u64 {
        self.span.map_or(0, |s| s.end_time_unix_nano)
    }
    fn attributes(&self) -> Kvs<'_> {
        Kvs(self.span.map_or(&[], |s| &s.attributes))
    }
    fn dropped_attributes_count(&self) -> u32 {
        self.span.map_or(0, |s| s.dropped_attributes_count)
    }
    fn dropped_events_count(&self) -> u32 {
        self.span.map_or(0, |s| s.dropped_events_count)
    }
    fn dropped_links_count(&self) -> u32 {
        self.span.map_or(0, |s| s.dropped_links_count)
    }
    fn status_code(&self) -> i32 {
        self.span
            .and_then(|s| s.status.as_ref())
            .map_or(0, |s| s.code)
    }
    fn status_message(&self) -> &str {
        self.span
            .and_then(|s| s.status.as_ref())
            .map_or("", |s| &s.message)
    }
    fn resource_attributes(&self) -> Kvs<'_> {
        Kvs(self.resource.map_or(&[], |r| &r.attributes))
    }
    fn resource_dropped_attributes_count(&self) -> u32 {
        self.resource.map_or(0, |r| r.dropped_attributes_count)
    }
    fn resource_schema_url(&self) -> &str {
        self.resource_schema_url
    }
    fn scope_name(&self) -> &str {
        self.scope.map_or("", |s| &s.name)
    }
    fn scope_version(&self) -> &str {
        self.scope.map_or("", |s| &s.version)
    }
    fn scope_attributes(&self) -> Kvs<'_> {
        Kvs(self.scope.map_or(&[], |s| &s.attributes))
    }
    fn scope_dropped_attributes_count(&self) -> u32 {
        self.scope.map_or(0, |s| s.dropped_attributes_count)
    }
    fn scope_schema_url(&self) -> &str {
        self.scope_schema_url
    }
    fn cache(&self) -> Option<Kvs<'_>> {
        Some(Kvs(self.cache))
    }
}

impl SpanEventContext for Item<'_> {
    fn event_name(&self) -> &str {
        self.event().map_or("", |e| &e.name)
    }
    fn event_time_unix_nano(&self) -> u64 {
        self.event().map_or(0, |e| e.time_unix_nano)
    }
    fn event_attributes(&self) -> Kvs<'_> {
        Kvs(self.event().map_or(&[], |e| &e.attributes))
    }
    fn event_dropped_attributes_count(&self) -> u32 {
        self.event().map_or(0, |e| e.dropped_attributes_count)
    }
}

/// One item to write to. The span event is an index into the span's events, so the span and
/// its event can both be written by one statement's targets.
pub(crate) struct ItemMut<'a> {
    pub resource: &'a mut Option<Resource>,
    pub resource_schema_url: &'a mut String,
    pub scope: Option<(&'a mut Option<InstrumentationScope>, &'a mut String)>,
    pub span: Option<&'a mut Span>,
    pub event: Option<usize>,
    pub cache: &'a mut Vec<KeyValue>,
}

impl ItemMut<'_> {
    pub(crate) fn view(&self) -> Item<'_> {
        Item {
            resource: self.resource.as_ref(),
            resource_schema_url: self.resource_schema_url,
            scope: self.scope.as_ref().and_then(|(s, _)| s.as_ref()),
            scope_schema_url: self.scope.as_ref().map_or("", |(_, u)| u.as_str()),
            span: self.span.as_deref(),
            event: self.event,
            cache: self.cache,
        }
    }
}

/// A value an editor writes: an attribute value, or one of the OTTL types only fields take.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Owned {
    Any(PAny),
    TraceId([u8; 16]),
    SpanId([u8; 8]),
    /// Nanoseconds since the Unix epoch.
    Time(i128),
    /// Nanoseconds.
    Duration(i64),
}

pub(crate) fn any(v: any_value::Value) -> PAny {
    PAny { value: Some(v) }
}

/// The owned form of an evaluated value; `None` for `nil`.
pub(crate) fn owned<'a, M: AttributeMap<'a>>(v: &Value<'a, M>) -> Option<Owned> {
    use any_value::Value as V;
    Some(match v {
        Value::Nil => return None,
        Value::TraceId(t) => Owned::TraceId(*t),
        Value::SpanId(s) => Owned::SpanId(*s),
        Value::Time(t) => Owned::Time(*t),
        Value::Duration(d) => Owned::Duration(*d),
        Value::Bool(b) => Owned::Any(any(V::BoolValue(*b))),
        Value::Int(i) => Owned::Any(any(V::IntValue(*i))),
        Value::Double(d) => Owned::Any(any(V::DoubleValue(*d))),
        Value::Str(s) => Owned::Any(any(V::StringValue(s.to_string()))),
        Value::Bytes(b) => Owned::Any(any(V::BytesValue(b.to_vec()))),
        Value::Map(m) => Owned::Any(any(V::KvlistValue(KeyValueList {
            values: map_entries(m),
        }))),
        Value::List(l) => Owned::Any(any(V::ArrayValue(ArrayValue {
            values: list_items(l),
        }))),
    })
}

/// A value as it is stored in an attribute map or list: ids, times and durations have no
/// attribute form, so they (and `nil`) are empty values.
fn stored<'a, M: AttributeMap<'a>>(v: &Value<'a, M>) -> PAny {
    match owned(v) {
        Some(Owned::Any(a)) => a,
        _ => PAny { value: None },
    }
}

pub(crate) fn map_entries<'a, M: AttributeMap<'a>>(m: &MapVal<'a, M>) -> Vec<KeyValue> {
    let mut out = Vec::with_capacity(m.len());
    m.for_each(|k, v| {
        out.push(KeyValue {
            key: k.to_owned(),
            value: Some(stored(&v)),
            ..Default::default()
        });
        true
    });
    out
}

fn list_items<'a, M: AttributeMap<'a>>(l: &ListVal<'a, M>) -> Vec<PAny> {
    let mut out = Vec::with_capacity(l.len());
    l.for_each(|v| {
        out.push(stored(&v));
        true
    });
    out
}

/// A resolved `[…]` key of a target path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Key {
    Str(String),
    Int(i64),
}

/// The entry for `key`, created empty at the end when absent (pdata's `PutEmpty`).
#[allow(clippy::indexing_slicing)] // `i` is a found position or the index of the entry just pushed
pub(crate) fn entry<'m>(kvs: &'m mut Vec<KeyValue>, key: &str) -> &'m mut PAny {
    let i = match kvs.iter().position(|kv| kv.key == key) {
        Some(i) => i,
        None => {
            kvs.push(KeyValue {
                key: key.to_owned(),
                ..Default::default()
            });
            kvs.len() - 1
        }
    };
    kvs[i].value.get_or_insert_default()
}

/// The value `keys` lead to inside `kvs`, creating missing map entries (and turning an empty
/// value into a map) on the way, as pdata's `SetMapValue` does for `set`.
pub(crate) fn slot<'m>(
    kvs: &'m mut Vec<KeyValue>,
    keys: &[Key],
) -> Result<&'m mut PAny, EvalError> {
    let Some((first, rest)) = keys.split_first() else {
        return Err(EvalError::Index("a map target needs a key".into()));
    };
    let Key::Str(k) = first else {
        return Err(EvalError::Index(
            "non-string indexing is not supported".into(),
        ));
    };
    let mut cur = entry(kvs, k);
    for key in rest {
        cur = step(cur, key)?;
    }
    Ok(cur)
}

fn step<'m>(v: &'m mut PAny, key: &Key) -> Result<&'m mut PAny, EvalError> {
    use any_value::Value as V;
    if v.value.is_none()
        && let Key::Str(_) = key
    {
        v.value = Some(V::KvlistValue(KeyValueList::default()));
    }
    match (&mut v.value, key) {
        (Some(V::KvlistValue(m)), Key::Str(k)) => Ok(entry(&mut m.values, k)),
        (Some(V::ArrayValue(a)), Key::Int(i)) => {
            let len = a.values.len();
            usize::try_from(*i)
                .ok()
                .and_then(|i| a.values.get_mut(i))
                .ok_or_else(|| EvalError::Index(format!("index {i} out of bounds (length {len})")))
        }
        (Some(V::KvlistValue(_)), Key::Int(_)) => {
            Err(EvalError::Index("map must be indexed by a string".into()))
        }
        (Some(V::ArrayValue(_)), Key::Str(_)) => {
            Err(EvalError::Index("slice must be indexed by an int".into()))
        }
        (other, _) => Err(EvalError::Index(format!(
            "type {} does not support indexing",
            type_name(other.as_ref())
        ))),
    }
}

/// The value `keys` lead to, if it exists (for editors that change a value in place).
pub(crate) fn find<'m>(
    kvs: &'m mut [KeyValue],
    keys: &[Key],
) -> Result<Option<&'m mut PAny>, EvalError> {
    use any_value::Value as V;
    let Some((Key::Str(first), rest)) = keys.split_first() else {
        return Err(EvalError::Index(
            "non-string indexing is not supported".into(),
        ));
    };
    let Some(mut cur) = kvs
        .iter_mut()
        .find(|kv| kv.key == *first)
        .map(|kv| kv.value.get_or_insert_default())
    else {
        return Ok(None);
    };
    for key in rest {
        let next = match (&mut cur.value, key) {
            (Some(V::KvlistValue(m)), Key::Str(k)) => m
                .values
                .iter_mut()
                .find(|kv| kv.key == *k)
                .map(|kv| kv.value.get_or_insert_default()),
            (Some(V::ArrayValue(a)), Key::Int(i)) => {
                usize::try_from(*i).ok().and_then(|i| a.values.get_mut(i))
            }
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

pub(crate) fn type_name(v: Option<&any_value::Value>) -> &'static str {
    use any_value::Value as V;
    match v {
        None => "empty",
        Some(V::StringValue(_)) => "string",
        Some(V::BoolValue(_)) => "bool",
        Some(V::IntValue(_)) => "int",
        Some(V::DoubleValue(_)) => "double",
        Some(V::BytesValue(_)) => "bytes",
        Some(V::ArrayValue(_)) => "slice",
        Some(V::KvlistValue(_)) => "map",
        Some(V::StringValueStrindex(_)) => "string index",
    }
}

/// The span's status, created when absent.
pub(crate) fn status(span: &mut Span) -> &mut Status {
    span.status.get_or_insert_default()
}
