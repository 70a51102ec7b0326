//! Zipkin's protobuf encoding (`zipkin.proto3`, `Content-Type: application/x-protobuf`): the
//! four messages of `zipkin.proto`, written out for prost (no protoc needed), and their
//! decoding into the span model. The messages are public so tests and tools can build
//! payloads exactly as Zipkin's Java and Go reporters encode them.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use prost::Message;

use crate::ZipkinError;
use crate::model::{Annotation, Endpoint, Kind, Span as ModelSpan};

/// `zipkin.proto3.ListOfSpans`: the body of a protobuf POST.
#[derive(Clone, PartialEq, Message)]
pub struct ListOfSpans {
    /// The spans.
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<Span>,
}

/// `zipkin.proto3.Span`.
#[derive(Clone, PartialEq, Message)]
pub struct Span {
    /// 8 or 16 bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    /// Empty or 8 bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub parent_id: Vec<u8>,
    /// 8 bytes.
    #[prost(bytes = "vec", tag = "3")]
    pub id: Vec<u8>,
    /// `Span.Kind`: 0 unspecified, 1 client, 2 server, 3 producer, 4 consumer.
    #[prost(int32, tag = "4")]
    pub kind: i32,
    /// Operation name.
    #[prost(string, tag = "5")]
    pub name: String,
    /// Start, microseconds since the epoch.
    #[prost(fixed64, tag = "6")]
    pub timestamp: u64,
    /// Microseconds.
    #[prost(uint64, tag = "7")]
    pub duration: u64,
    /// The host that recorded the span.
    #[prost(message, optional, tag = "8")]
    pub local_endpoint: Option<ProtoEndpoint>,
    /// The other side of the RPC.
    #[prost(message, optional, tag = "9")]
    pub remote_endpoint: Option<ProtoEndpoint>,
    /// Events.
    #[prost(message, repeated, tag = "10")]
    pub annotations: Vec<ProtoAnnotation>,
    /// Tags.
    #[prost(btree_map = "string, string", tag = "11")]
    pub tags: BTreeMap<String, String>,
    /// Debug flag.
    #[prost(bool, tag = "12")]
    pub debug: bool,
    /// Shared server span.
    #[prost(bool, tag = "13")]
    pub shared: bool,
}

/// `zipkin.proto3.Endpoint`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoEndpoint {
    /// Service name.
    #[prost(string, tag = "1")]
    pub service_name: String,
    /// 4 bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub ipv4: Vec<u8>,
    /// 16 bytes.
    #[prost(bytes = "vec", tag = "3")]
    pub ipv6: Vec<u8>,
    /// Port.
    #[prost(int32, tag = "4")]
    pub port: i32,
}

/// `zipkin.proto3.Annotation`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoAnnotation {
    /// Microseconds since the epoch.
    #[prost(fixed64, tag = "1")]
    pub timestamp: u64,
    /// The event.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// Decodes a `ListOfSpans`.
pub(crate) fn decode(body: &[u8]) -> Result<Vec<ModelSpan>, ZipkinError> {
    let list = ListOfSpans::decode(body)?;
    list.spans
        .into_iter()
        .enumerate()
        .map(|(index, s)| convert(s).map_err(|reason| ZipkinError::Span { index, reason }))
        .collect()
}

fn id8(b: &[u8], what: &str) -> Result<[u8; 8], String> {
    <[u8; 8]>::try_from(b).map_err(|_| format!("{what} has length {}, want 8", b.len()))
}

fn convert(s: Span) -> Result<ModelSpan, String> {
    let trace_id = match s.trace_id.len() {
        16 => <[u8; 16]>::try_from(s.trace_id.as_slice()).unwrap_or([0; 16]),
        // A 64-bit trace id (Brave's default): the low half of the OTLP id.
        8 => {
            let low = id8(&s.trace_id, "trace_id")?;
            (u128::from(u64::from_be_bytes(low))).to_be_bytes()
        }
        n => return Err(format!("trace_id has length {n}, want 8 or 16")),
    };
    let id = id8(&s.id, "id")?;
    if id == [0; 8] {
        return Err("a non-zero span id is required".into());
    }
    let parent_id = if s.parent_id.is_empty() {
        None
    } else {
        Some(id8(&s.parent_id, "parent_id")?)
    };
    let kind = match s.kind {
        1 => Kind::Client,
        2 => Kind::Server,
        3 => Kind::Producer,
        4 => Kind::Consumer,
        _ => Kind::Unspecified,
    };
    Ok(ModelSpan {
        trace_id,
        id,
        parent_id,
        name: s.name,
        kind,
        timestamp: s.timestamp,
        duration: s.duration,
        shared: s.shared,
        debug: s.debug,
        local_endpoint: s.local_endpoint.and_then(endpoint),
        remote_endpoint: s.remote_endpoint.and_then(endpoint),
        annotations: s
            .annotations
            .into_iter()
            .map(|a| Annotation {
                timestamp: a.timestamp,
                value: a.value,
            })
            .collect(),
        tags: s.tags,
    })
}

/// An address of 4 or 16 bytes; anything else reads as absent.
fn ip(b: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    <[u8; 16]>::try_from(b)
        .ok()
        .map(|v6| IpAddr::V6(Ipv6Addr::from(v6)))
}

fn endpoint(e: ProtoEndpoint) -> Option<Endpoint> {
    let ep = Endpoint {
        service_name: e.service_name,
        ipv4: ip(&e.ipv4),
        ipv6: ip(&e.ipv6),
        // The wire type is int32; ports are 16 bits (Go's uint16 conversion).
        port: e.port as u16,
    };
    (!ep.is_empty()).then_some(ep)
}
