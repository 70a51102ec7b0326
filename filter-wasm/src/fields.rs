//! A snapshot of a header map (request or response headers, pseudo-headers included), read
//! from the host in one call, and the adapter that lets [`propagation`](crate::propagation)
//! read from it while its writes go to the host.
//!
//! One read of the whole map replaces a property read per header: method, path, authority,
//! user agent, `x-request-id`, the trace headers and the allow-listed ones all come from it.
//! The snapshot is the host's answer itself, in the proxy-wasm map encoding, checked once and
//! read in place: the SDK's `get_map_bytes` copies every name and value into its own
//! allocation, which cost more inside Envoy than the host call (BENCHMARKS.md, sixth pass).
//! Names are compared ASCII case-insensitively; repeated fields keep their order and are
//! joined with `,` when read as one value (RFC 9110 field combination, which the trace-context
//! rules for duplicate `traceparent` and split `tracestate` rely on).

use std::borrow::Cow;
use std::fmt;

use crate::propagation::RequestHeaders;

/// Header fields in the order the host gave them: a proxy-wasm serialized map (a little-endian
/// `u32` count, a `u32` name length and value length per field, then each name and value
/// followed by a NUL), known to be well formed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<u8>);

/// Why bytes are not a serialized header map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// Fewer bytes than the count and the size table need.
    #[error("the size table of {0} fields is cut short")]
    SizeTable(u32),
    /// A name or value runs past the end, or is not followed by a NUL.
    #[error("field {0} is cut short or not NUL-terminated")]
    Field(u32),
    /// Bytes after the last field.
    #[error("{0} bytes after the last field")]
    Trailing(usize),
}

impl Fields {
    /// Fields from `(name, value)` pairs (tests, fuzzing).
    pub fn from_pairs<N: AsRef<[u8]>, V: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        let pairs: Vec<(N, V)> = pairs.into_iter().collect();
        let data: usize = pairs
            .iter()
            .map(|(n, v)| n.as_ref().len() + v.as_ref().len() + 2)
            .sum();
        let mut out = Vec::with_capacity(4 + 8 * pairs.len() + data);
        out.extend_from_slice(&len_u32(pairs.len()).to_le_bytes());
        for (n, v) in &pairs {
            out.extend_from_slice(&len_u32(n.as_ref().len()).to_le_bytes());
            out.extend_from_slice(&len_u32(v.as_ref().len()).to_le_bytes());
        }
        for (n, v) in &pairs {
            out.extend_from_slice(n.as_ref());
            out.push(0);
            out.extend_from_slice(v.as_ref());
            out.push(0);
        }
        Fields(out)
    }

    /// The host's answer to a header-map read, kept as it is once it is known to be well
    /// formed. Empty bytes are an empty map (Envoy's answer when a map has no fields).
    pub fn from_serialized(bytes: Vec<u8>) -> Result<Self, MapError> {
        if bytes.is_empty() {
            return Ok(Fields::default());
        }
        let count = read_u32(&bytes, 0).ok_or(MapError::SizeTable(0))?;
        // The table's size is checked before it is walked: a huge count costs nothing.
        let table_end = usize::try_from(count)
            .ok()
            .and_then(|n| n.checked_mul(8))
            .and_then(|n| n.checked_add(4))
            .filter(|&end| end <= bytes.len())
            .ok_or(MapError::SizeTable(count))?;
        let mut at = table_end;
        for i in 0..count {
            let entry = 4 + 8 * i as usize;
            let (Some(n), Some(v)) = (read_u32(&bytes, entry), read_u32(&bytes, entry + 4)) else {
                return Err(MapError::SizeTable(count));
            };
            for len in [n, v] {
                let end = at
                    .checked_add(len as usize)
                    .filter(|&end| bytes.get(end) == Some(&0))
                    .ok_or(MapError::Field(i))?;
                at = end + 1;
            }
        }
        match bytes.len() - at {
            0 => Ok(Fields(bytes)),
            extra => Err(MapError::Trailing(extra)),
        }
    }

    /// The fields as `(name, value)` pairs, in order.
    pub fn pairs(&self) -> Pairs<'_> {
        let count = read_u32(&self.0, 0).unwrap_or(0);
        Pairs {
            map: &self.0,
            left: count,
            entry: 4,
            data: 4 + 8 * count as usize,
        }
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        read_u32(&self.0, 0).unwrap_or(0) as usize
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every value of `name`, in order.
    pub fn values<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a [u8]> + Clone + use<'a, 'n> {
        self.pairs()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The first value of `name`.
    pub fn first(&self, name: &str) -> Option<&[u8]> {
        self.values(name).next()
    }

    /// All values of `name` joined with `,`; borrowed when there is exactly one.
    pub fn joined(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        let mut values = self.values(name);
        let first = values.next()?;
        match values.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut out = Vec::with_capacity(first.len() + second.len() + 1);
                out.extend_from_slice(first);
                for v in std::iter::once(second).chain(values) {
                    out.push(b',');
                    out.extend_from_slice(v);
                }
                Some(Cow::Owned(out))
            }
        }
    }

    /// Whether a field named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.values(name).next().is_some()
    }

    /// The serialized map, as the host would send it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.pairs()
                    .map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

/// The `(name, value)` pairs of [`Fields`], read in place.
#[derive(Debug, Clone)]
pub struct Pairs<'a> {
    map: &'a [u8],
    left: u32,
    /// Offset of the next field's entry in the size table.
    entry: usize,
    /// Offset of the next field's name.
    data: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    // `from_serialized` checked the NULs once; this walk runs for every lookup (twenty or so
    // a request), so it does not check them again: doing so cost 7k instructions a span.
    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        let n = read_u32(self.map, self.entry)? as usize;
        let v = read_u32(self.map, self.entry + 4)? as usize;
        self.entry += 8;
        let value_at = self.data.checked_add(n)?.checked_add(1)?;
        let name = self.map.get(self.data..value_at - 1)?;
        let next = value_at.checked_add(v)?.checked_add(1)?;
        let value = self.map.get(value_at..next - 1)?;
        self.data = next;
        Some((name, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// A length in the map encoding; header maps never come near 4 GiB.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Where header writes go (the host's request header map).
pub trait HeaderWriter {
    /// Replaces every field named `name` by one with `value`.
    fn set(&mut self, name: &str, value: &[u8]);
    /// Removes every field named `name`.
    fn remove(&mut self, name: &str);
}

/// Reads from a snapshot, writes to the host. Removing a header the snapshot does not have
/// costs no host call: `propagation` clears `tracestate` and the B3 headers it does not write
/// on every request, and most requests carry none of them.
pub struct SnapshotHeaders<'a, W: ?Sized> {
    fields: &'a Fields,
    writer: &'a mut W,
}

impl<'a, W: HeaderWriter + ?Sized> SnapshotHeaders<'a, W> {
    /// The adapter over `fields` and `writer`.
    pub fn new(fields: &'a Fields, writer: &'a mut W) -> Self {
        SnapshotHeaders { fields, writer }
    }
}

impl<W: HeaderWriter + ?Sized> RequestHeaders for SnapshotHeaders<'_, W> {
    fn get(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        self.fields.joined(name)
    }

    fn first(&self, name: &str) -> Option<&[u8]> {
        self.fields.first(name)
    }

    fn set(&mut self, name: &str, value: &[u8]) {
        self.writer.set(name, value);
    }

    fn remove(&mut self, name: &str) {
        if self.fields.contains(name) {
            self.writer.remove(name);
        }
    }
}

/// A [`HeaderWriter`] that records writes (tests and benchmarks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordedWrites(pub Vec<(String, Option<Vec<u8>>)>);

impl HeaderWriter for RecordedWrites {
    fn set(&mut self, name: &str, value: &[u8]) {
        self.0.push((name.to_owned(), Some(value.to_vec())));
    }

    fn remove(&mut self, name: &str) {
        self.0.push((name.to_owned(), None));
    }
}

/// A header's unsigned decimal value (`content-length`, `:status`, a port); `None` for
/// anything else, so that a value Envoy would not have passed falls back to asking Envoy.
pub fn parse_decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_repeated_fields_in_order() {
        let f = Fields::from_pairs([
            ("tracestate", &b"a=1"[..]),
            ("x", b"y"),
            ("TraceState", b"b=2"),
        ]);
        assert_eq!(f.joined("tracestate").unwrap().as_ref(), b"a=1,b=2");
        assert!(matches!(f.joined("x"), Some(Cow::Borrowed(b"y"))));
        assert_eq!(f.joined("absent"), None);
        assert_eq!(f.first("tracestate"), Some(&b"a=1"[..]));
    }

    #[test]
    fn removing_an_absent_header_costs_no_write() {
        let f = Fields::from_pairs([("tracestate", &b"a=1"[..])]);
        let mut w = RecordedWrites::default();
        let mut h = SnapshotHeaders::new(&f, &mut w);
        h.remove("b3");
        h.remove("tracestate");
        h.set("traceparent", b"v");
        assert_eq!(
            w.0,
            vec![
                ("tracestate".to_owned(), None),
                ("traceparent".to_owned(), Some(b"v".to_vec()))
            ]
        );
    }

    /// A serialized map written out by hand from the ABI's description, not by `from_pairs`.
    fn abi_map(fields: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = (fields.len() as u32).to_le_bytes().to_vec();
        for (n, v) in fields {
            out.extend((n.len() as u32).to_le_bytes());
            out.extend((v.len() as u32).to_le_bytes());
        }
        for (n, v) in fields {
            out.extend(*n);
            out.push(0);
            out.extend(*v);
            out.push(0);
        }
        out
    }

    #[test]
    fn from_pairs_writes_the_abi_encoding() {
        let f = Fields::from_pairs([(":status", &b"200"[..]), ("x", b"")]);
        assert_eq!(
            f.as_bytes(),
            [
                &[2, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0][..],
                b":status\x00200\x00x\x00\x00",
            ]
            .concat()
        );
        assert_eq!(
            Fields::from_pairs::<&str, &[u8]>([]).as_bytes(),
            [0, 0, 0, 0]
        );
    }

    #[test]
    fn serialized_maps_table() {
        let two = abi_map(&[(b":status", b"200"), (b"content-length", b"42")]);
        let mut no_nul = two.clone();
        let last = no_nul.len() - 1;
        no_nul[last] = b'x';
        let mut trailing = two.clone();
        trailing.extend(b"zz");
        let mut long_name = two.clone();
        long_name[4] = 200;
        let huge_count = [0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0];
        // (case, bytes, the fields or the error)
        type Expected = Result<Vec<(&'static [u8], &'static [u8])>, MapError>;
        let cases: Vec<(&str, Vec<u8>, Expected)> = vec![
            ("empty answer: no map", vec![], Ok(vec![])),
            ("count 0", vec![0, 0, 0, 0], Ok(vec![])),
            (
                "two fields",
                two.clone(),
                Ok(vec![(b":status", b"200"), (b"content-length", b"42")]),
            ),
            (
                "empty name and value, and bytes that are not UTF-8",
                abi_map(&[(b"", b""), (b"\xff", b"\xfe\x00")]),
                Ok(vec![(b"", b""), (b"\xff", b"\xfe\x00")]),
            ),
            ("count cut short", vec![1, 0], Err(MapError::SizeTable(0))),
            (
                "size table cut short",
                two[..10].to_vec(),
                Err(MapError::SizeTable(2)),
            ),
            (
                "a count no buffer can hold",
                huge_count.to_vec(),
                Err(MapError::SizeTable(u32::MAX)),
            ),
            (
                "last value not NUL-terminated",
                no_nul,
                Err(MapError::Field(1)),
            ),
            (
                "last value cut short",
                two[..two.len() - 2].to_vec(),
                Err(MapError::Field(1)),
            ),
            (
                "a name longer than the map",
                long_name,
                Err(MapError::Field(0)),
            ),
            (
                "bytes after the last field",
                trailing,
                Err(MapError::Trailing(2)),
            ),
        ];
        for (case, bytes, expected) in cases {
            let got = Fields::from_serialized(bytes.clone());
            match expected {
                Ok(pairs) => {
                    let f = got.unwrap_or_else(|e| panic!("{case}: {e}"));
                    assert_eq!(f.pairs().collect::<Vec<_>>(), pairs, "{case}");
                    assert_eq!(f.len(), pairs.len(), "{case}");
                }
                Err(e) => assert_eq!(got, Err(e), "{case}"),
            }
        }
    }

    #[test]
    fn every_cut_of_a_map_is_refused() {
        let map = abi_map(&[(b"a", b"1"), (b"bb", b""), (b"", b"333")]);
        for end in 1..map.len() {
            assert!(
                Fields::from_serialized(map[..end].to_vec()).is_err(),
                "cut at {end}"
            );
        }
        assert!(Fields::from_serialized(map).is_ok());
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;
        use super::abi_map;

        fn field() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
            (
                proptest::collection::vec(any::<u8>(), 0..12),
                proptest::collection::vec(any::<u8>(), 0..24),
            )
        }

        proptest! {
            #[test]
            fn the_fields_come_back_as_written(fields in proptest::collection::vec(field(), 0..12)) {
                let borrowed: Vec<(&[u8], &[u8])> =
                    fields.iter().map(|(n, v)| (n.as_slice(), v.as_slice())).collect();
                let bytes = abi_map(&borrowed);
                let f = Fields::from_serialized(bytes.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(f.pairs().collect::<Vec<_>>(), borrowed);
                let again = Fields::from_pairs(f.pairs());
                prop_assert_eq!(again.as_bytes(), bytes.as_slice());
            }

            #[test]
            fn any_bytes_are_a_map_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
                if let Ok(f) = Fields::from_serialized(bytes.clone()) {
                    // Accepted means every byte was accounted for.
                    prop_assert_eq!(f.pairs().count(), f.len());
                    let again = Fields::from_pairs(f.pairs());
                    prop_assert!(again == f || bytes.is_empty());
                }
            }
        }
    }
}
