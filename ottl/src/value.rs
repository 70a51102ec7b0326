//! Values during evaluation: borrowed from the span or the compiled condition where possible
//! ([`Value`]), constants folded at compile time ([`Const`]), and static types ([`Ty`]) the
//! checker reasons with.

use std::borrow::Cow;
use std::fmt;

use crate::context::{AnyValue, AttributeList, AttributeMap};

/// A value computed while evaluating a condition against one span.
///
/// Mirrors the Go types OTTL getters return: `string`, `int64`, `float64`, `bool`, `[]byte`,
/// maps and slices (from the telemetry, literals, or converters), `pcommon.TraceID`/`SpanID`,
/// `time.Time` and `time.Duration`.
pub(crate) enum Value<'a, M: AttributeMap<'a>> {
    Nil,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
    Map(MapVal<'a, M>),
    List(ListVal<'a, M>),
    TraceId([u8; 16]),
    SpanId([u8; 8]),
    /// Nanoseconds since the Unix epoch, UTC.
    Time(i128),
    /// Nanoseconds.
    Duration(i64),
}

/// A map value: an attribute map, a literal folded at compile time, or built at run time.
pub(crate) enum MapVal<'a, M: AttributeMap<'a>> {
    Attr(M),
    Const(&'a [(String, Const)]),
    Owned(Vec<(Cow<'a, str>, Value<'a, M>)>),
}

/// A list value: an attribute array, a literal folded at compile time, or built at run time.
pub(crate) enum ListVal<'a, M: AttributeMap<'a>> {
    Attr(M::List),
    Const(&'a [Const]),
    Owned(Vec<Value<'a, M>>),
}

impl<'a, M: AttributeMap<'a>> Clone for Value<'a, M> {
    fn clone(&self) -> Self {
        match self {
            Value::Nil => Value::Nil,
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(i) => Value::Int(*i),
            Value::Double(d) => Value::Double(*d),
            Value::Str(s) => Value::Str(s.clone()),
            Value::Bytes(b) => Value::Bytes(b.clone()),
            Value::Map(m) => Value::Map(m.clone()),
            Value::List(l) => Value::List(l.clone()),
            Value::TraceId(t) => Value::TraceId(*t),
            Value::SpanId(s) => Value::SpanId(*s),
            Value::Time(t) => Value::Time(*t),
            Value::Duration(d) => Value::Duration(*d),
        }
    }
}

impl<'a, M: AttributeMap<'a>> Clone for MapVal<'a, M> {
    fn clone(&self) -> Self {
        match self {
            MapVal::Attr(m) => MapVal::Attr(*m),
            MapVal::Const(c) => MapVal::Const(c),
            MapVal::Owned(v) => MapVal::Owned(v.clone()),
        }
    }
}

impl<'a, M: AttributeMap<'a>> Clone for ListVal<'a, M> {
    fn clone(&self) -> Self {
        match self {
            ListVal::Attr(l) => ListVal::Attr(*l),
            ListVal::Const(c) => ListVal::Const(c),
            ListVal::Owned(v) => ListVal::Owned(v.clone()),
        }
    }
}

impl<'a, M: AttributeMap<'a>> fmt::Debug for Value<'a, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        crate::functions::json::write_debug(&mut s, self);
        f.write_str(&s)
    }
}

impl<'a, M: AttributeMap<'a>> Value<'a, M> {
    /// A telemetry value. Empty `AnyValue`s are `nil`, as in pdata's `GetValue`.
    #[inline]
    pub(crate) fn from_any(v: AnyValue<'a, M>) -> Self {
        match v {
            AnyValue::Empty => Value::Nil,
            AnyValue::Str(s) => Value::Str(Cow::Borrowed(s)),
            AnyValue::Bool(b) => Value::Bool(b),
            AnyValue::Int(i) => Value::Int(i),
            AnyValue::Double(d) => Value::Double(d),
            AnyValue::Bytes(b) => Value::Bytes(Cow::Borrowed(b)),
            AnyValue::Map(m) => Value::Map(MapVal::Attr(m)),
            AnyValue::List(l) => Value::List(ListVal::Attr(l)),
        }
    }

    /// A compile-time constant, borrowed.
    #[inline]
    pub(crate) fn from_const(c: &'a Const) -> Self {
        match c {
            Const::Nil => Value::Nil,
            Const::Bool(b) => Value::Bool(*b),
            Const::Int(i) => Value::Int(*i),
            Const::Double(d) => Value::Double(*d),
            Const::Str(s) => Value::Str(Cow::Borrowed(s)),
            Const::Bytes(b) => Value::Bytes(Cow::Borrowed(b)),
            Const::Map(m) => Value::Map(MapVal::Const(m)),
            Const::List(l) => Value::List(ListVal::Const(l)),
            Const::TraceId(t) => Value::TraceId(*t),
            Const::SpanId(s) => Value::SpanId(*s),
            Const::Time(t) => Value::Time(*t),
            Const::Duration(d) => Value::Duration(*d),
        }
    }

    /// The runtime type's name, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        self.ty().name()
    }

    pub(crate) fn ty(&self) -> Ty {
        match self {
            Value::Nil => Ty::Nil,
            Value::Bool(_) => Ty::Bool,
            Value::Int(_) => Ty::Int,
            Value::Double(_) => Ty::Double,
            Value::Str(_) => Ty::Str,
            Value::Bytes(_) => Ty::Bytes,
            Value::Map(_) => Ty::Map,
            Value::List(_) => Ty::List,
            Value::TraceId(_) => Ty::TraceId,
            Value::SpanId(_) => Ty::SpanId,
            Value::Time(_) => Ty::Time,
            Value::Duration(_) => Ty::Duration,
        }
    }

    pub(crate) fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
}

impl<'a, M: AttributeMap<'a>> MapVal<'a, M> {
    pub(crate) fn len(&self) -> usize {
        match self {
            MapVal::Attr(m) => m.len(),
            MapVal::Const(c) => c.len(),
            MapVal::Owned(v) => v.len(),
        }
    }

    /// The value under `key` (first occurrence).
    pub(crate) fn get(&self, key: &str) -> Option<Value<'a, M>> {
        match self {
            MapVal::Attr(m) => m.get(key).map(Value::from_any),
            MapVal::Const(c) => c
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| Value::from_const(v)),
            MapVal::Owned(v) => v.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()),
        }
    }

    /// Calls `f` for every entry until it returns `false`.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&str, Value<'a, M>) -> bool) {
        match self {
            MapVal::Attr(m) => {
                for (k, v) in m.iter() {
                    if !f(k, Value::from_any(v)) {
                        return;
                    }
                }
            }
            MapVal::Const(c) => {
                for (k, v) in c.iter() {
                    if !f(k, Value::from_const(v)) {
                        return;
                    }
                }
            }
            MapVal::Owned(entries) => {
                for (k, v) in entries {
                    if !f(k, v.clone()) {
                        return;
                    }
                }
            }
        }
    }
}

impl<'a, M: AttributeMap<'a>> ListVal<'a, M> {
    pub(crate) fn len(&self) -> usize {
        match self {
            ListVal::Attr(l) => l.len(),
            ListVal::Const(c) => c.len(),
            ListVal::Owned(v) => v.len(),
        }
    }

    pub(crate) fn get(&self, index: usize) -> Option<Value<'a, M>> {
        match self {
            ListVal::Attr(l) => l.get(index).map(Value::from_any),
            ListVal::Const(c) => c.get(index).map(Value::from_const),
            ListVal::Owned(v) => v.get(index).cloned(),
        }
    }

    /// Calls `f` for every element until it returns `false`.
    pub(crate) fn for_each(&self, mut f: impl FnMut(Value<'a, M>) -> bool) {
        match self {
            ListVal::Attr(l) => {
                for v in l.iter() {
                    if !f(Value::from_any(v)) {
                        return;
                    }
                }
            }
            ListVal::Const(c) => {
                for v in c.iter() {
                    if !f(Value::from_const(v)) {
                        return;
                    }
                }
            }
            ListVal::Owned(items) => {
                for v in items {
                    if !f(v.clone()) {
                        return;
                    }
                }
            }
        }
    }
}

/// A value known at compile time: literals, enums and folded pure converter calls.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Const {
    Nil,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    Bytes(Vec<u8>),
    Map(Vec<(String, Const)>),
    List(Vec<Const>),
    TraceId([u8; 16]),
    SpanId([u8; 8]),
    Time(i128),
    Duration(i64),
}

impl Const {
    /// Converts a value computed without telemetry (during constant folding) into a constant.
    pub(crate) fn from_value<'a, M: AttributeMap<'a>>(v: &Value<'a, M>) -> Const {
        match v {
            Value::Nil => Const::Nil,
            Value::Bool(b) => Const::Bool(*b),
            Value::Int(i) => Const::Int(*i),
            Value::Double(d) => Const::Double(*d),
            Value::Str(s) => Const::Str(s.to_string()),
            Value::Bytes(b) => Const::Bytes(b.to_vec()),
            Value::TraceId(t) => Const::TraceId(*t),
            Value::SpanId(s) => Const::SpanId(*s),
            Value::Time(t) => Const::Time(*t),
            Value::Duration(d) => Const::Duration(*d),
            Value::Map(m) => {
                let mut out = Vec::with_capacity(m.len());
                m.for_each(|k, v| {
                    out.push((k.to_owned(), Const::from_value(&v)));
                    true
                });
                Const::Map(out)
            }
            Value::List(l) => {
                let mut out = Vec::with_capacity(l.len());
                l.for_each(|v| {
                    out.push(Const::from_value(&v));
                    true
                });
                Const::List(out)
            }
        }
    }

    pub(crate) fn ty(&self) -> Ty {
        match self {
            Const::Nil => Ty::Nil,
            Const::Bool(_) => Ty::Bool,
            Const::Int(_) => Ty::Int,
            Const::Double(_) => Ty::Double,
            Const::Str(_) => Ty::Str,
            Const::Bytes(_) => Ty::Bytes,
            Const::Map(_) => Ty::Map,
            Const::List(_) => Ty::List,
            Const::TraceId(_) => Ty::TraceId,
            Const::SpanId(_) => Ty::SpanId,
            Const::Time(_) => Ty::Time,
            Const::Duration(_) => Ty::Duration,
        }
    }
}

/// The static type of an expression, when the checker can know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    /// Known only at run time (attribute values, indexed results).
    Any,
    Nil,
    Bool,
    Int,
    Double,
    Str,
    Bytes,
    Map,
    List,
    TraceId,
    SpanId,
    Time,
    Duration,
}

impl Ty {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Ty::Any => "any",
            Ty::Nil => "nil",
            Ty::Bool => "bool",
            Ty::Int => "int64",
            Ty::Double => "float64",
            Ty::Str => "string",
            Ty::Bytes => "[]byte",
            Ty::Map => "map",
            Ty::List => "slice",
            Ty::TraceId => "TraceID",
            Ty::SpanId => "SpanID",
            Ty::Time => "time.Time",
            Ty::Duration => "time.Duration",
        }
    }
}

/// A map handle with no entries: the attribute type used when folding constants, where no
/// telemetry exists.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoAttributes;

/// The list counterpart of [`NoAttributes`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoList;

impl<'a> AttributeMap<'a> for NoAttributes {
    type List = NoList;
    type Iter = std::iter::Empty<(&'a str, AnyValue<'a, Self>)>;

    fn get(&self, _key: &str) -> Option<AnyValue<'a, Self>> {
        None
    }

    fn len(&self) -> usize {
        0
    }

    fn iter(&self) -> Self::Iter {
        std::iter::empty()
    }
}

impl<'a> AttributeList<'a> for NoList {
    type Map = NoAttributes;
    type Iter = std::iter::Empty<AnyValue<'a, NoAttributes>>;

    fn get(&self, _index: usize) -> Option<AnyValue<'a, NoAttributes>> {
        None
    }

    fn len(&self) -> usize {
        0
    }

    fn iter(&self) -> Self::Iter {
        std::iter::empty()
    }
}
