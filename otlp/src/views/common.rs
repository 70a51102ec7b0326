//! Views shared by all signals: attribute lists, AnyValue, Resource, InstrumentationScope.

use crate::wire::{Field, Fields, Val, read_varint};

use super::utf8;

/// An attribute value, borrowed from the request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnyValueRef<'a> {
    /// `string_value`.
    Str(&'a str),
    /// `bool_value`.
    Bool(bool),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `bytes_value`.
    Bytes(&'a [u8]),
    /// `array_value`.
    Array(ArrayRef<'a>),
    /// `kvlist_value`.
    KvList(KvListRef<'a>),
    /// No value set (or a variant this crate does not read, such as profiles' string indices).
    Empty,
}

impl<'a> AnyValueRef<'a> {
    /// Reads an encoded `AnyValue` message.
    pub fn parse(buf: &'a [u8]) -> AnyValueRef<'a> {
        let mut v = AnyValueRef::Empty;
        for f in Fields::ok(buf) {
            v = match (f.num, f.val) {
                (1, Val::Len(b)) => {
                    std::str::from_utf8(b).map_or(AnyValueRef::Empty, AnyValueRef::Str)
                }
                (2, Val::Varint(x)) => AnyValueRef::Bool(x != 0),
                (3, Val::Varint(x)) => AnyValueRef::Int(x as i64),
                (4, Val::I64(x)) => AnyValueRef::Double(f64::from_bits(x)),
                (5, Val::Len(b)) => AnyValueRef::Array(ArrayRef { buf: b }),
                (6, Val::Len(b)) => AnyValueRef::KvList(KvListRef { buf: b }),
                (7, Val::Len(b)) => AnyValueRef::Bytes(b),
                (8, Val::Varint(_)) => AnyValueRef::Empty,
                _ => continue,
            };
        }
        v
    }

    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            AnyValueRef::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an int value.
    pub fn as_int(&self) -> Option<i64> {
        match *self {
            AnyValueRef::Int(i) => Some(i),
            _ => None,
        }
    }
}

/// An `ArrayValue`: its elements in order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrayRef<'a> {
    buf: &'a [u8],
}

impl<'a> ArrayRef<'a> {
    /// The elements.
    pub fn iter(&self) -> ArrayIter<'a> {
        ArrayIter {
            fields: Fields::new(self.buf),
        }
    }

    /// The encoded `ArrayValue` message.
    pub fn raw(&self) -> &'a [u8] {
        self.buf
    }
}

/// A `KeyValueList`: key/value pairs, looked up like attributes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KvListRef<'a> {
    buf: &'a [u8],
}

impl<'a> KvListRef<'a> {
    /// The entries, as an attribute list.
    pub fn entries(&self) -> Attributes<'a> {
        Attributes::new(self.buf, 1)
    }

    /// The encoded `KeyValueList` message.
    pub fn raw(&self) -> &'a [u8] {
        self.buf
    }
}

/// One attribute: key, value, and the encoded `KeyValue` (for copying it unchanged).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyValueRef<'a> {
    raw: &'a [u8],
    key: &'a [u8],
    value: Option<&'a [u8]>,
}

impl<'a> KeyValueRef<'a> {
    /// Reads an encoded `KeyValue` message.
    pub fn parse(raw: &'a [u8]) -> KeyValueRef<'a> {
        let mut kv = KeyValueRef {
            raw,
            key: &[],
            value: None,
        };
        for f in Fields::ok(raw) {
            match (f.num, f.val) {
                (1, Val::Len(b)) => kv.key = b,
                (2, Val::Len(b)) => kv.value = Some(b),
                _ => {}
            }
        }
        kv
    }

    /// The key.
    pub fn key(&self) -> &'a str {
        utf8(self.key)
    }

    /// The key's bytes, for comparisons without a UTF-8 check.
    pub fn key_bytes(&self) -> &'a [u8] {
        self.key
    }

    /// The value ([`AnyValueRef::Empty`] when unset).
    pub fn value(&self) -> AnyValueRef<'a> {
        self.value.map_or(AnyValueRef::Empty, AnyValueRef::parse)
    }

    /// The encoded `AnyValue` (empty when unset).
    pub fn raw_value(&self) -> &'a [u8] {
        self.value.unwrap_or(&[])
    }

    /// The encoded `KeyValue` message.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }
}

/// An attribute list (the repeated `KeyValue` field `field` of some message).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attributes<'a> {
    buf: &'a [u8],
    field: u32,
}

impl<'a> Attributes<'a> {
    pub(crate) fn new(buf: &'a [u8], field: u32) -> Self {
        Attributes { buf, field }
    }

    /// Encoded `KeyValue` messages, in order.
    pub(crate) fn raw_entries(&self) -> impl Iterator<Item = &'a [u8]> + Clone + use<'a> {
        let field = self.field;
        Fields::ok(self.buf).filter_map(move |f| match f.val {
            Val::Len(b) if f.num == field => Some(b),
            _ => None,
        })
    }

    /// The attributes, in order (duplicates included, if the sender sent any). The iterator
    /// is a named type so that callers can store it (e.g. as an associated `Iter` type).
    pub fn iter(&self) -> AttributesIter<'a> {
        AttributesIter {
            fields: Fields::new(self.buf),
            field: self.field,
        }
    }

    /// The value of the first attribute named `key`, decoding no other value.
    pub fn get(&self, key: &str) -> Option<AnyValueRef<'a>> {
        self.find(key).map(|kv| kv.value())
    }

    /// The first attribute named `key`.
    ///
    /// The hot path of every attribute condition, so it walks the fields with a tight loop
    /// instead of the general field iterator, and compares keys in place (a full parse only
    /// for unusual layouts). Stops, like every view, at the first malformed field.
    pub fn find(&self, key: &str) -> Option<KeyValueRef<'a>> {
        let key = key.as_bytes();
        let buf = self.buf;
        let want = u64::from(self.field);
        let mut pos = 0usize;
        while pos < buf.len() {
            let tag = read_varint(buf, &mut pos).ok()?;
            if tag >> 3 == 0 {
                return None;
            }
            match tag & 7 {
                2 => {
                    let len = usize::try_from(read_varint(buf, &mut pos).ok()?).ok()?;
                    let end = pos.checked_add(len)?;
                    let data = buf.get(pos..end)?;
                    pos = end;
                    if tag >> 3 != want {
                        continue;
                    }
                    match canonical_key(data) {
                        Some(k) => {
                            if k == key {
                                return Some(KeyValueRef::parse(data));
                            }
                        }
                        None => {
                            let kv = KeyValueRef::parse(data);
                            if kv.key == key {
                                return Some(kv);
                            }
                        }
                    }
                }
                0 => {
                    read_varint(buf, &mut pos).ok()?;
                }
                1 => pos = pos.checked_add(8).filter(|&p| p <= buf.len())?,
                5 => pos = pos.checked_add(4).filter(|&p| p <= buf.len())?,
                _ => return None,
            }
        }
        None
    }

    /// True when an attribute named `key` exists.
    pub fn contains(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.raw_entries().count()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.raw_entries().next().is_none()
    }
}

/// Iterator over an [`ArrayRef`]'s elements.
#[derive(Debug, Clone)]
pub struct ArrayIter<'a> {
    fields: Fields<'a>,
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = AnyValueRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<AnyValueRef<'a>> {
        loop {
            match self.fields.next()? {
                Ok(f) => {
                    if let (1, Val::Len(b)) = (f.num, f.val) {
                        return Some(AnyValueRef::parse(b));
                    }
                }
                Err(_) => return None,
            }
        }
    }
}

/// Iterator over an [`Attributes`] list's entries, in order.
#[derive(Debug, Clone)]
pub struct AttributesIter<'a> {
    fields: Fields<'a>,
    field: u32,
}

impl<'a> Iterator for AttributesIter<'a> {
    type Item = KeyValueRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<KeyValueRef<'a>> {
        loop {
            match self.fields.next()? {
                Ok(f) => {
                    if let Val::Len(b) = f.val
                        && f.num == self.field
                    {
                        return Some(KeyValueRef::parse(b));
                    }
                }
                Err(_) => return None,
            }
        }
    }
}

/// A varint of at most two bytes (lengths below 16 KiB), and the rest.
#[inline(always)]
fn short_varint(b: &[u8]) -> Option<(usize, &[u8])> {
    let (&b0, rest) = b.split_first()?;
    if b0 < 0x80 {
        return Some((usize::from(b0), rest));
    }
    let (&b1, rest) = rest.split_first()?;
    (b1 < 0x80).then(|| (usize::from(b0 & 0x7f) | (usize::from(b1) << 7), rest))
}

/// The key of a `KeyValue` encoded the way every SDK and Envoy encode it — the key field,
/// then at most the value field, and nothing else — read without the general field reader.
/// `None` for any other layout (the caller then parses it fully, so a repeated key field
/// still resolves to its last occurrence).
#[inline(always)]
fn canonical_key(raw: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = raw.split_first()?;
    if tag != 0x0a {
        return None;
    }
    let (klen, rest) = short_varint(rest)?;
    let key = rest.get(..klen)?;
    let rest = rest.get(klen..)?;
    if rest.is_empty() {
        return Some(key);
    }
    let (&tag, rest) = rest.split_first()?;
    if tag != 0x12 {
        return None;
    }
    let (vlen, rest) = short_varint(rest)?;
    (rest.len() == vlen).then_some(key)
}

/// The key of an encoded `KeyValue` (in place for the usual layout).
#[inline]
pub(crate) fn key_of(raw: &[u8]) -> &[u8] {
    canonical_key(raw).unwrap_or_else(|| KeyValueRef::parse(raw).key)
}

/// Tracks the byte region holding all occurrences of one repeated field, so iterating it
/// later skips the message's other fields.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Region {
    start: usize,
    end: usize,
    pub count: u32,
}

impl Region {
    #[inline]
    pub(crate) fn add(&mut self, f: &Field<'_>) {
        if self.count == 0 {
            self.start = f.start;
        }
        self.end = f.end;
        self.count += 1;
    }

    /// Adds the `n` entries that [`Fields::skip_run`] skipped right after the last one added,
    /// ending at `end`.
    #[inline]
    pub(crate) fn extend_run(&mut self, n: u32, end: usize) {
        if n > 0 {
            self.end = end;
            self.count += n;
        }
    }

    #[inline]
    pub(crate) fn slice<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start..self.end).unwrap_or(&[])
    }
}

/// A `Resource`: its attributes and dropped count.
#[derive(Debug, Clone, Copy)]
pub struct ResourceView<'a> {
    buf: &'a [u8],
    present: bool,
}

impl<'a> ResourceView<'a> {
    pub(crate) fn new(buf: Option<&'a [u8]>) -> Self {
        ResourceView {
            buf: buf.unwrap_or(&[]),
            present: buf.is_some(),
        }
    }

    /// False when the request carries no `resource` field.
    pub fn is_present(&self) -> bool {
        self.present
    }

    /// The resource attributes (e.g. `service.name`, `k8s.pod.name`).
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes::new(self.buf, 1)
    }

    /// `dropped_attributes_count`.
    pub fn dropped_attributes_count(&self) -> u32 {
        last_varint(self.buf, 2) as u32
    }

    /// The encoded `Resource` message.
    pub fn raw(&self) -> &'a [u8] {
        self.buf
    }
}

/// An `InstrumentationScope`.
#[derive(Debug, Clone, Copy)]
pub struct ScopeView<'a> {
    buf: &'a [u8],
    present: bool,
}

/// No scope: reads as an absent one (empty name, version and attributes).
impl Default for ScopeView<'_> {
    fn default() -> Self {
        ScopeView::new(None)
    }
}

impl<'a> ScopeView<'a> {
    pub(crate) fn new(buf: Option<&'a [u8]>) -> Self {
        ScopeView {
            buf: buf.unwrap_or(&[]),
            present: buf.is_some(),
        }
    }

    /// False when the request carries no `scope` field.
    pub fn is_present(&self) -> bool {
        self.present
    }

    /// `name` (e.g. the instrumentation library).
    pub fn name(&self) -> &'a str {
        utf8(last_len(self.buf, 1))
    }

    /// `version`.
    pub fn version(&self) -> &'a str {
        utf8(last_len(self.buf, 2))
    }

    /// The scope attributes.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes::new(self.buf, 3)
    }

    /// `dropped_attributes_count`.
    pub fn dropped_attributes_count(&self) -> u32 {
        last_varint(self.buf, 4) as u32
    }

    /// The encoded `InstrumentationScope` message.
    pub fn raw(&self) -> &'a [u8] {
        self.buf
    }
}

/// The last length-delimited field `num` of `buf` (empty if none).
pub(crate) fn last_len(buf: &[u8], num: u32) -> &[u8] {
    last_len_opt(buf, num).unwrap_or(&[])
}

pub(crate) fn last_len_opt(buf: &[u8], num: u32) -> Option<&[u8]> {
    Fields::ok(buf)
        .filter_map(|f| match f.val {
            Val::Len(b) if f.num == num => Some(b),
            _ => None,
        })
        .last()
}

/// The last varint field `num` of `buf` (0 if none).
pub(crate) fn last_varint(buf: &[u8], num: u32) -> u64 {
    Fields::ok(buf)
        .filter_map(|f| match f.val {
            Val::Varint(v) if f.num == num => Some(v),
            _ => None,
        })
        .last()
        .unwrap_or(0)
}
