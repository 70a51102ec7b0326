//! Owned-or-borrowed attribute values and their protobuf encoding.

use std::borrow::Cow;

use crate::views::{AnyValueRef, KeyValueRef};
use crate::wire::{
    WireType, len_field_size, put_len_field, put_len_header, put_varint, tag, varint_len,
};

/// An attribute value to write: borrowed from the request where possible (`Cow`), or an
/// encoded `AnyValue` copied verbatim ([`Value::Encoded`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// No value.
    Empty,
    /// `string_value`.
    Str(Cow<'a, str>),
    /// `bool_value`.
    Bool(bool),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `bytes_value`.
    Bytes(Cow<'a, [u8]>),
    /// `array_value`.
    Array(Vec<Value<'a>>),
    /// `kvlist_value`.
    KvList(Vec<KeyValue<'a>>),
    /// An encoded `AnyValue` message, copied as is (an attribute kept unchanged).
    Encoded(&'a [u8]),
}

/// A key and a value to write.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue<'a> {
    /// The attribute key.
    pub key: Cow<'a, str>,
    /// The attribute value.
    pub value: Value<'a>,
}

impl<'a> KeyValue<'a> {
    /// A key/value pair.
    pub fn new(key: impl Into<Cow<'a, str>>, value: impl Into<Value<'a>>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

impl<'a> Value<'a> {
    /// A value read from a request: scalars borrowed, arrays and kvlists as their encoding.
    pub fn from_key_value(kv: &KeyValueRef<'a>) -> Value<'a> {
        match kv.value() {
            AnyValueRef::Array(_) | AnyValueRef::KvList(_) => Value::Encoded(kv.raw_value()),
            v => Value::from(v),
        }
    }

    /// Reads this value as an [`AnyValueRef`] when it is borrowed or scalar (owned strings,
    /// bytes, arrays and kvlists give `None`).
    pub fn as_any_ref(&self) -> Option<AnyValueRef<'_>> {
        Some(match self {
            Value::Empty => AnyValueRef::Empty,
            Value::Str(s) => AnyValueRef::Str(s),
            Value::Bool(b) => AnyValueRef::Bool(*b),
            Value::Int(i) => AnyValueRef::Int(*i),
            Value::Double(d) => AnyValueRef::Double(*d),
            Value::Bytes(b) => AnyValueRef::Bytes(b),
            Value::Encoded(raw) => AnyValueRef::parse(raw),
            Value::Array(_) | Value::KvList(_) => return None,
        })
    }

    /// The string, for a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Encoded(raw) => AnyValueRef::parse(raw).as_str(),
            _ => None,
        }
    }

    /// Appends the encoded `AnyValue` message (its body, without a tag) to `out`: to read a
    /// value built in memory back through [`AnyValueRef::parse`].
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        self.encode(out);
    }

    /// Size of the encoded `AnyValue` message.
    pub(crate) fn encoded_len(&self) -> usize {
        match self {
            Value::Empty => 0,
            Value::Str(s) => len_field_size(1, s.len()),
            Value::Bool(b) => 1 + varint_len(u64::from(*b)),
            Value::Int(i) => 1 + varint_len(*i as u64),
            Value::Double(_) => 9,
            Value::Bytes(b) => len_field_size(7, b.len()),
            Value::Array(vs) => len_field_size(
                5,
                vs.iter().map(|v| len_field_size(1, v.encoded_len())).sum(),
            ),
            Value::KvList(kvs) => len_field_size(
                6,
                kvs.iter()
                    .map(|kv| len_field_size(1, kv.encoded_len()))
                    .sum(),
            ),
            Value::Encoded(raw) => raw.len(),
        }
    }

    /// Writes the `AnyValue` message body.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Empty => {}
            Value::Str(s) => put_len_field(out, 1, s.as_bytes()),
            Value::Bool(b) => {
                put_varint(out, tag(2, WireType::Varint));
                put_varint(out, u64::from(*b));
            }
            Value::Int(i) => {
                put_varint(out, tag(3, WireType::Varint));
                put_varint(out, *i as u64);
            }
            Value::Double(d) => {
                put_varint(out, tag(4, WireType::I64));
                out.extend_from_slice(&d.to_bits().to_le_bytes());
            }
            Value::Bytes(b) => put_len_field(out, 7, b),
            Value::Array(vs) => {
                put_len_header(
                    out,
                    5,
                    vs.iter().map(|v| len_field_size(1, v.encoded_len())).sum(),
                );
                for v in vs {
                    put_len_header(out, 1, v.encoded_len());
                    v.encode(out);
                }
            }
            Value::KvList(kvs) => {
                put_len_header(
                    out,
                    6,
                    kvs.iter()
                        .map(|kv| len_field_size(1, kv.encoded_len()))
                        .sum(),
                );
                for kv in kvs {
                    put_len_header(out, 1, kv.encoded_len());
                    kv.encode(out);
                }
            }
            Value::Encoded(raw) => out.extend_from_slice(raw),
        }
    }
}

impl KeyValue<'_> {
    pub(crate) fn encoded_len(&self) -> usize {
        key_value_len(&self.key, &self.value)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        encode_key_value(out, &self.key, &self.value);
    }
}

/// Size of an encoded `KeyValue { key, value }` body.
pub(crate) fn key_value_len(key: &str, value: &Value<'_>) -> usize {
    let key_len = if key.is_empty() {
        0
    } else {
        len_field_size(1, key.len())
    };
    key_len + len_field_size(2, value.encoded_len())
}

pub(crate) fn encode_key_value(out: &mut Vec<u8>, key: &str, value: &Value<'_>) {
    if !key.is_empty() {
        put_len_field(out, 1, key.as_bytes());
    }
    put_len_header(out, 2, value.encoded_len());
    value.encode(out);
}

impl<'a> From<AnyValueRef<'a>> for Value<'a> {
    /// Scalars are borrowed; arrays and kvlists are decoded into owned values.
    fn from(v: AnyValueRef<'a>) -> Self {
        match v {
            AnyValueRef::Str(s) => Value::Str(Cow::Borrowed(s)),
            AnyValueRef::Bool(b) => Value::Bool(b),
            AnyValueRef::Int(i) => Value::Int(i),
            AnyValueRef::Double(d) => Value::Double(d),
            AnyValueRef::Bytes(b) => Value::Bytes(Cow::Borrowed(b)),
            AnyValueRef::Array(a) => Value::Array(a.iter().map(Value::from).collect()),
            AnyValueRef::KvList(kv) => Value::KvList(
                kv.entries()
                    .iter()
                    .map(|e| KeyValue::new(e.key(), Value::from(e.value())))
                    .collect(),
            ),
            AnyValueRef::Empty => Value::Empty,
        }
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Value<'_> {
    fn from(s: String) -> Self {
        Value::Str(Cow::Owned(s))
    }
}

impl<'a> From<Cow<'a, str>> for Value<'a> {
    fn from(s: Cow<'a, str>) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value<'_> {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value<'_> {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value<'_> {
    fn from(d: f64) -> Self {
        Value::Double(d)
    }
}
