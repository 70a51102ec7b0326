//! The search a request goes through before its spans are evaluated: when it holds none of the
//! conditions' required literals ([`meshtrace_ottl::prefilter`]), and every attribute an
//! `IsMatch` reads is a plain string, no condition can match any of its spans.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use memchr::memmem;

use super::Compiled;

/// Field 1 (`key`) and field 2 (`value`) of a `KeyValue`, field 1 (`string_value`) of an
/// `AnyValue`, all length-delimited.
const KEY_TAG: u8 = 0x0a;
const VALUE_TAG: u8 = 0x12;
const STRING_VALUE_TAG: u8 = 0x0a;

/// The compiled search.
pub(crate) struct Prefilter {
    literals: AhoCorasick,
    string_keys: Vec<StringKey>,
}

/// An attribute key whose values must all be strings, and the bytes that precede it as a
/// `KeyValue`'s key.
struct StringKey {
    finder: memmem::Finder<'static>,
    key_len: usize,
    /// The tag and length as encoders write them before the key.
    key_field: Vec<u8>,
}

impl Prefilter {
    /// The search for `c`'s span conditions, when every condition offers literals and nothing
    /// else is evaluated (no span-event conditions, no legacy match properties).
    pub(crate) fn new(c: &Compiled) -> Option<Prefilter> {
        if c.legacy.is_some() || !c.events.is_empty() {
            return None;
        }
        let mut all = meshtrace_ottl::prefilter::Literals::default();
        for set in &c.spans {
            all = all.union(set.required_literals()?);
        }
        // A DFA with leftmost-first matching: the default automaton for a handful of
        // patterns searched an Envoy request in 7 µs, more than evaluating it.
        let literals = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .match_kind(MatchKind::LeftmostFirst)
            .build(&all.literals)
            .ok()?;
        let string_keys = all.string_keys.iter().map(|k| StringKey::new(k)).collect();
        Some(Prefilter {
            literals,
            string_keys,
        })
    }

    /// False only when no condition can be true of any span of the request `bytes`.
    pub(crate) fn may_match(&self, bytes: &[u8]) -> bool {
        self.literals.is_match(bytes) || self.string_keys.iter().any(|k| !k.only_strings(bytes))
    }
}

impl StringKey {
    fn new(key: &str) -> StringKey {
        let mut key_field = vec![KEY_TAG];
        put_varint(&mut key_field, key.len() as u64);
        StringKey {
            key_len: key.len(),
            finder: memmem::Finder::new(key.as_bytes()).into_owned(),
            key_field,
        }
    }

    /// Whether every attribute of this key in `bytes` holds exactly one `string_value`.
    ///
    /// Every `KeyValue` whose key is exactly this one starts an occurrence of it right after a
    /// length: the byte before is the last byte of a varint of the key's length, which is that
    /// of its shortest encoding, or 0 for a padded one. Occurrences after any other byte are
    /// not such a key (a longer key that starts or ends with it, a mention inside a string)
    /// and are passed over. The others must be written as encoders write them (tag, shortest
    /// length, key, then the value) with a value of one string; anything else fails, and the
    /// request is evaluated.
    fn only_strings(&self, bytes: &[u8]) -> bool {
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
        let value_len = read_varint(bytes, &mut pos)?;
        let value_start = pos;
        if *bytes.get(pos)? != STRING_VALUE_TAG {
            return None;
        }
        pos += 1;
        let string_len = read_varint(bytes, &mut pos)?;
        let end = pos.checked_add(usize::try_from(string_len).ok()?)?;
        (end <= bytes.len() && end - value_start == usize::try_from(value_len).ok()?).then_some(())
    }
}

fn read_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
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
            assert_eq!(StringKey::new(key).only_strings(&bytes), want, "{name}");
        }
    }
}
