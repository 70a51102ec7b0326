//! Byte-level questions about an encoded request, answered without parsing it: a search over
//! the bytes with the few protobuf checks that make the answer certain.

use memchr::memmem;

use crate::wire::{put_varint, read_varint};

/// Field 1 (`key`) and field 2 (`value`) of a `KeyValue`, field 1 (`string_value`) of an
/// `AnyValue`, all length-delimited: one byte each.
const KEY_TAG: u8 = 0x0a;
const VALUE_TAG: u8 = 0x12;
const STRING_VALUE_TAG: u8 = 0x0a;

/// An attribute key, to ask of a request whether every attribute of that key, at any depth,
/// holds a plain string (`KeyValue` is the same message for span, resource, scope, event and
/// nested map attributes).
#[derive(Debug, Clone)]
pub struct StringValuedKey {
    finder: memmem::Finder<'static>,
    key_len: usize,
    /// The tag and length as encoders write them before the key.
    key_field: Vec<u8>,
}

impl StringValuedKey {
    /// The question for `key`.
    pub fn new(key: &str) -> StringValuedKey {
        let mut key_field = vec![KEY_TAG];
        put_varint(&mut key_field, key.len() as u64);
        StringValuedKey {
            key_len: key.len(),
            finder: memmem::Finder::new(key.as_bytes()).into_owned(),
            key_field,
        }
    }

    /// Whether every attribute of this key in the encoded request `bytes` holds exactly one
    /// `string_value`. `false` means "not sure" as well as "no".
    ///
    /// Every `KeyValue` whose key is exactly this one starts an occurrence of it right after a
    /// length: the byte before is the last byte of a varint of the key's length, which is that
    /// of its shortest encoding, or 0 for a padded one. Occurrences after any other byte are
    /// not such a key (a longer key that starts or ends with it, a mention inside a string)
    /// and are passed over. The others must be written as encoders write them (tag, shortest
    /// length, key, then the value) with a value of one string; anything else answers `false`.
    pub fn holds_only_strings(&self, bytes: &[u8]) -> bool {
        let length_end = *self.key_field.last().unwrap_or(&0);
        let mut from = 0;
        while let Some(i) = bytes.get(from..).and_then(|rest| self.finder.find(rest)) {
            let at = from + i;
            let before = at.checked_sub(1).and_then(|p| bytes.get(p));
            if matches!(before, Some(&b) if b == length_end || b == 0)
                && self.string_key_value_at(bytes, at).is_none()
            {
                return false;
            }
            // Overlapping occurrences too: a key can begin inside another occurrence.
            from = at + 1;
        }
        true
    }

    fn string_key_value_at(&self, bytes: &[u8], at: usize) -> Option<()> {
        let start = at.checked_sub(self.key_field.len())?;
        if bytes.get(start..at)? != self.key_field.as_slice() {
            return None;
        }
        let mut pos = at.checked_add(self.key_len)?;
        if *bytes.get(pos)? != VALUE_TAG {
            return None;
        }
        pos += 1;
        let value_len = read_varint(bytes, &mut pos).ok()?;
        let value_start = pos;
        if *bytes.get(pos)? != STRING_VALUE_TAG {
            return None;
        }
        pos += 1;
        let string_len = read_varint(bytes, &mut pos).ok()?;
        let end = pos.checked_add(usize::try_from(string_len).ok()?)?;
        (end <= bytes.len() && end - value_start == usize::try_from(value_len).ok()?).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `KeyValue{key, value: AnyValue{field: bytes}}` as encoders write it.
    fn kv(k: &str, field: u8, value: &[u8]) -> Vec<u8> {
        let mut any = vec![field];
        put_varint(&mut any, value.len() as u64);
        any.extend_from_slice(value);
        let mut out = vec![KEY_TAG];
        put_varint(&mut out, k.len() as u64);
        out.extend_from_slice(k.as_bytes());
        out.push(VALUE_TAG);
        put_varint(&mut out, any.len() as u64);
        out.extend_from_slice(&any);
        out
    }

    #[test]
    fn only_string_values_pass() {
        let k = "upstream_cluster";
        let long = "k".repeat(200);
        // (case, bytes, every occurrence a string-valued key)
        let cases: Vec<(&str, Vec<u8>, bool)> = vec![
            ("absent", kv("other", 0x0a, b"x"), true),
            ("a string", kv(k, 0x0a, b"outbound|80||web"), true),
            (
                "two strings",
                [kv(k, 0x0a, b"a"), kv(k, 0x0a, b"b")].concat(),
                true,
            ),
            ("an empty string", kv(k, 0x0a, b""), true),
            ("an int", kv(k, 0x18, &[7]), false),
            ("bytes", kv(k, 0x3a, b"grafana"), false),
            ("a kvlist", kv(k, 0x32, &kv("x", 0x0a, b"grafana/")), false),
            ("an array", kv(k, 0x2a, b"\x0a\x01a"), false),
            (
                "a string, then a second field in the value",
                {
                    let mut v = kv(k, 0x0a, b"a");
                    // Grow the AnyValue by a bool field the string does not account for.
                    let at = v.len() - 4;
                    v[at] += 2;
                    v.extend_from_slice(&[0x10, 0x01]);
                    v
                },
                false,
            ),
            (
                "the key inside another string",
                kv("note", 0x0a, format!("see {k}").as_bytes()),
                true,
            ),
            (
                "the key as a suffix of a longer key",
                kv(&format!("x_{k}"), 0x3a, b"a"),
                true,
            ),
            (
                "the key as the start of a longer key (Envoy's upstream_cluster.name)",
                [kv(&format!("{k}.name"), 0x18, &[1]), kv(k, 0x0a, b"a")].concat(),
                true,
            ),
            (
                "a length byte before the key inside a string",
                kv("note", 0x0a, format!("see \x10{k}").as_bytes()),
                false,
            ),
            (
                "the key with a padded length",
                {
                    let mut v = vec![KEY_TAG, 0x90, 0x00];
                    v.extend_from_slice(k.as_bytes());
                    v.extend_from_slice(&[VALUE_TAG, 3, 0x0a, 1, b'a']);
                    v
                },
                false,
            ),
            (
                "a truncated value",
                kv(k, 0x0a, b"abc")[..22].to_vec(),
                false,
            ),
            ("a key of 200 bytes", kv(&long, 0x0a, b"v"), true),
        ];
        for (name, bytes, want) in cases {
            let key = if name == "a key of 200 bytes" {
                &long
            } else {
                k
            };
            assert_eq!(
                StringValuedKey::new(key).holds_only_strings(&bytes),
                want,
                "{name}"
            );
        }
    }
}
