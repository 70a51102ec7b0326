//! A snapshot of a header map (request or response headers, pseudo-headers included), read
//! from the host in one call, and the adapter that lets [`propagation`](crate::propagation)
//! read from it while its writes go to the host.
//!
//! One read of the whole map replaces a property read per header: method, path, authority,
//! user agent, `x-request-id`, the trace headers and the allow-listed ones all come from it.
//! Names are compared ASCII case-insensitively; repeated fields keep their order and are
//! joined with `,` when read as one value (RFC 9110 field combination, which the trace-context
//! rules for duplicate `traceparent` and split `tracestate` rely on).

use std::borrow::Cow;

use crate::propagation::RequestHeaders;

/// Header fields in the order the host gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(pub Vec<(String, Vec<u8>)>);

impl Fields {
    /// Fields from `(name, value)` pairs (tests, fuzzing).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        Fields(
            pairs
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v.to_vec()))
                .collect(),
        )
    }

    /// Every value of `name`, in order.
    pub fn values<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a [u8]> + Clone + use<'a, 'n> {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
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
}
