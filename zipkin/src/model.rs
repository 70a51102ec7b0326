//! The Zipkin v2 span model both encodings decode into (ids as fixed-size arrays, times in
//! microseconds as Zipkin sends them).

use std::collections::BTreeMap;
use std::net::IpAddr;

/// `kind`: how the span relates to its remote peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// Absent, or a value this translator does not know (the `span.kind` tag then decides).
    #[default]
    Unspecified,
    /// `CLIENT`
    Client,
    /// `SERVER`
    Server,
    /// `PRODUCER`
    Producer,
    /// `CONSUMER`
    Consumer,
}

/// A network endpoint (`localEndpoint`, `remoteEndpoint`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Endpoint {
    /// `serviceName`.
    pub service_name: String,
    /// `ipv4` (any IP in JSON, as the Collector's decoder accepts).
    pub ipv4: Option<IpAddr>,
    /// `ipv6`.
    pub ipv6: Option<IpAddr>,
    /// `port`; 0 when absent.
    pub port: u16,
}

impl Endpoint {
    /// True when nothing is set (such an endpoint is treated as absent).
    pub fn is_empty(&self) -> bool {
        self.service_name.is_empty() && self.ipv4.is_none() && self.ipv6.is_none() && self.port == 0
    }
}

/// An annotation: a timestamped event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Microseconds since the Unix epoch.
    pub timestamp: u64,
    /// `value` (the event name, or `name|{json attributes}|dropped count`).
    pub value: String,
}

/// One Zipkin v2 span.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Span {
    /// `traceId`; a 64-bit trace id is in the low 8 bytes.
    pub trace_id: [u8; 16],
    /// `id`.
    pub id: [u8; 8],
    /// `parentId`.
    pub parent_id: Option<[u8; 8]>,
    /// `name`.
    pub name: String,
    /// `kind`.
    pub kind: Kind,
    /// Start, microseconds since the Unix epoch; 0 when absent.
    pub timestamp: u64,
    /// Duration in microseconds.
    pub duration: u64,
    /// `shared`: a server span reusing its client's span id.
    pub shared: bool,
    /// `debug`.
    pub debug: bool,
    /// `localEndpoint`, when set and not empty.
    pub local_endpoint: Option<Endpoint>,
    /// `remoteEndpoint`, when set and not empty.
    pub remote_endpoint: Option<Endpoint>,
    /// `annotations`, in order.
    pub annotations: Vec<Annotation>,
    /// `tags`.
    pub tags: BTreeMap<String, String>,
}

/// Parses up to 16 hex digits (Zipkin ids), as Go's `strconv.ParseUint(s, 16, 64)`.
pub(crate) fn parse_hex_u64(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for b in s.bytes() {
        let d = (b as char).to_digit(16)?;
        v = v.checked_mul(16)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// A Zipkin trace id in hex (16 or 32 digits; shorter values are zero-padded, as Zipkin's
/// decoders accept) as 16 bytes.
pub(crate) fn parse_trace_id(s: &str) -> Option<[u8; 16]> {
    let (high, low) = if s.len() > 16 {
        let split = s.len() - 16;
        (
            parse_hex_u64(s.get(..split)?)?,
            parse_hex_u64(s.get(split..)?)?,
        )
    } else {
        (0, parse_hex_u64(s)?)
    };
    Some(((u128::from(high) << 64) | u128::from(low)).to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids() {
        assert_eq!(
            parse_hex_u64("00f067aa0ba902b7"),
            Some(0x00f0_67aa_0ba9_02b7)
        );
        assert_eq!(parse_hex_u64("A"), Some(10));
        assert_eq!(parse_hex_u64(""), None);
        assert_eq!(parse_hex_u64("x1"), None);
        assert_eq!(parse_hex_u64("1ffffffffffffffff"), None);
        let t = parse_trace_id("5b8efff798038103d269b633813fc60c").unwrap();
        assert_eq!(t[0], 0x5b);
        assert_eq!(t[15], 0x0c);
        let t = parse_trace_id("d269b633813fc60c").unwrap();
        assert_eq!(&t[..8], &[0; 8]);
        assert_eq!(t[8], 0xd2);
        assert_eq!(parse_trace_id("zz"), None);
    }
}
