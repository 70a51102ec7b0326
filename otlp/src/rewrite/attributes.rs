//! [`AttributeEdits`]: changes to one attribute list, recorded against the original list and
//! applied while copying it (unchanged attributes are copied as raw bytes).

use std::borrow::Cow;
use std::cell::Cell;

use crate::views::Attributes;
use crate::wire::put_len_header;

use super::value::{Value, encode_key_value, key_value_len};

#[derive(Debug, Clone)]
struct Op<'a> {
    key: Cow<'a, str>,
    /// `None`: delete.
    value: Option<Value<'a>>,
    /// Set while writing: the value has been written (at the first original occurrence).
    written: Cell<bool>,
}

/// Edits to an attribute list, in the vocabulary of the OpenTelemetry Collector's
/// `attributes` and `resource` processors. The original list is read through a view and
/// nothing is copied until the request is rewritten; an edited key keeps its position, new
/// keys are appended in the order they were set.
///
/// ```
/// use meshtrace_otlp::rewrite::{AttributeEdits, Value};
/// let mut edits = AttributeEdits::default();
/// assert!(edits.insert("env", "prod"));
/// assert!(!edits.insert("env", "dev")); // already there
/// assert!(edits.update("env", "staging"));
/// assert_eq!(edits.get("env"), Some(Value::from("staging")));
/// assert!(edits.delete("env"));
/// assert!(!edits.contains("env"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct AttributeEdits<'a> {
    original: Option<Attributes<'a>>,
    clear: bool,
    ops: Vec<Op<'a>>,
}

impl<'a> AttributeEdits<'a> {
    /// Edits over `original`.
    pub fn new(original: Attributes<'a>) -> Self {
        AttributeEdits {
            original: Some(original),
            clear: false,
            ops: Vec::new(),
        }
    }

    /// Starts over on another list, keeping the allocation.
    pub(crate) fn reset(&mut self, original: Attributes<'a>) {
        self.original = Some(original);
        self.clear = false;
        self.ops.clear();
    }

    /// True when no edit was made.
    pub fn is_unchanged(&self) -> bool {
        !self.clear && self.ops.is_empty()
    }

    fn op(&self, key: &str) -> Option<&Op<'a>> {
        self.ops.iter().find(|o| o.key == key)
    }

    /// The current value of `key`, edits applied. Borrowed values stay borrowed; arrays and
    /// kvlists from the original list come back as [`Value::Encoded`].
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        if let Some(op) = self.op(key) {
            return op.value.clone();
        }
        if self.clear {
            return None;
        }
        self.original?
            .find(key)
            .map(|kv| Value::from_key_value(&kv))
    }

    /// True when `key` exists, edits applied.
    pub fn contains(&self, key: &str) -> bool {
        match self.op(key) {
            Some(op) => op.value.is_some(),
            None => !self.clear && self.original.is_some_and(|o| o.contains(key)),
        }
    }

    fn set(&mut self, key: Cow<'a, str>, value: Option<Value<'a>>) {
        match self.ops.iter_mut().find(|o| o.key == key) {
            Some(op) => op.value = value,
            None => self.ops.push(Op {
                key,
                value,
                written: Cell::new(false),
            }),
        }
    }

    /// Sets `key` whether or not it exists (`upsert`).
    pub fn upsert(&mut self, key: impl Into<Cow<'a, str>>, value: impl Into<Value<'a>>) {
        self.set(key.into(), Some(value.into()));
    }

    /// Sets `key` only if it does not exist (`insert`). Returns whether it was set.
    pub fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: impl Into<Value<'a>>) -> bool {
        let key = key.into();
        if self.contains(&key) {
            return false;
        }
        self.set(key, Some(value.into()));
        true
    }

    /// Sets `key` only if it exists (`update`). Returns whether it was set.
    pub fn update(&mut self, key: impl Into<Cow<'a, str>>, value: impl Into<Value<'a>>) -> bool {
        let key = key.into();
        if !self.contains(&key) {
            return false;
        }
        self.set(key, Some(value.into()));
        true
    }

    /// Removes `key` (every occurrence). Returns whether it existed.
    pub fn delete(&mut self, key: impl Into<Cow<'a, str>>) -> bool {
        let key = key.into();
        let existed = self.contains(&key);
        if existed {
            self.set(key, None);
        }
        existed
    }

    /// Removes every attribute (then [`upsert`](Self::upsert) to build a new list).
    pub fn clear(&mut self) {
        self.clear = true;
        self.ops.clear();
    }

    /// Keys of the resulting list, in order (for processors that match keys by pattern).
    pub fn keys(&self) -> impl Iterator<Item = Cow<'a, str>> + '_ {
        let original = self
            .original
            .filter(|_| !self.clear)
            .into_iter()
            .flat_map(|a| a.iter())
            .filter(|kv| self.op(kv.key()).is_none())
            .map(|kv| Cow::Borrowed(kv.key()));
        let edited = self
            .ops
            .iter()
            .filter(|o| o.value.is_some())
            .map(|o| o.key.clone());
        original.chain(edited)
    }

    /// Calls `f` with each resulting attribute's encoded `KeyValue` size and a writer for it.
    fn each(&self, mut f: impl FnMut(usize, &dyn Fn(&mut Vec<u8>))) {
        for op in &self.ops {
            op.written.set(false);
        }
        if !self.clear {
            for raw in self.original.into_iter().flat_map(|a| a.raw_entries()) {
                let key = crate::views::key_of(raw);
                match self.ops.iter().find(|o| o.key.as_bytes() == key) {
                    None => f(raw.len(), &|out: &mut Vec<u8>| out.extend_from_slice(raw)),
                    Some(Op { value: None, .. }) => {}
                    Some(op) => {
                        if !op.written.replace(true)
                            && let Some(v) = &op.value
                        {
                            f(key_value_len(&op.key, v), &|out: &mut Vec<u8>| {
                                encode_key_value(out, &op.key, v)
                            });
                        }
                    }
                }
            }
        }
        for op in &self.ops {
            if let (false, Some(v)) = (op.written.get(), &op.value) {
                f(key_value_len(&op.key, v), &|out: &mut Vec<u8>| {
                    encode_key_value(out, &op.key, v)
                });
            }
        }
    }

    /// True when the edits only add keys the original list does not have: the result is the
    /// original list with the new entries after it, so a rewriter can copy the message as it
    /// is and append them (see [`encode_appended`](Self::encode_appended)).
    pub(crate) fn only_appends(&self) -> bool {
        if self.clear || self.ops.is_empty() || self.ops.iter().any(|o| o.value.is_none()) {
            return false;
        }
        // One lookup per new key: configurations add a few keys to lists of many.
        self.original
            .is_none_or(|a| !self.ops.iter().any(|o| a.contains(&o.key)))
    }

    /// Writes the new entries only, as repeated field `field`, and returns how many bytes
    /// that took. Meant for [`only_appends`](Self::only_appends) edits.
    pub(crate) fn encode_appended(&self, field: u32, out: &mut Vec<u8>) -> usize {
        let before = out.len();
        for op in &self.ops {
            if let Some(v) = &op.value {
                put_len_header(out, field, key_value_len(&op.key, v));
                encode_key_value(out, &op.key, v);
            }
        }
        out.len() - before
    }

    /// Writes the resulting list as repeated field `field`.
    pub(crate) fn encode(&self, field: u32, out: &mut Vec<u8>) {
        self.each(|len, w| {
            put_len_header(out, field, len);
            w(out);
        });
    }
}

/// Writes `buf`'s fields except `field`, then the edited list as `field`: a message with one
/// attribute list re-encoded and everything else copied.
pub(crate) fn encode_with_attributes(
    buf: &[u8],
    field: u32,
    edits: &AttributeEdits<'_>,
    out: &mut Vec<u8>,
) {
    for f in crate::wire::Fields::ok(buf) {
        if f.num != field {
            out.extend_from_slice(buf.get(f.start..f.end).unwrap_or(&[]));
        }
    }
    edits.encode(field, out);
}
