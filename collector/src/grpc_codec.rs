//! A tonic codec that moves protobuf bytes as they are: the receiver hands request bytes to
//! validation without a prost decode, and the exporter sends batch bytes without an encode.

use bytes::{Buf, BufMut, Bytes};
use std::time::Duration;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Bytes in, bytes out.
#[derive(Debug, Default, Clone, Copy)]
pub struct RawCodec;

/// Encodes [`Bytes`] as the message body.
#[derive(Debug, Default, Clone, Copy)]
pub struct RawEncoder;

/// Decodes the message body into [`Bytes`].
#[derive(Debug, Default, Clone, Copy)]
pub struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n)))
    }
}

/// The gRPC method path for a signal's `Export`.
pub fn export_path(signal: crate::otlp::Signal) -> &'static str {
    use crate::otlp::Signal;
    match signal {
        Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    }
}

/// Local copies of the few `google.rpc` messages needed for `RetryInfo`: `Status`, `Any`,
/// `Duration` and `RetryInfo` itself.
pub mod rpc {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        #[prost(string, tag = "1")]
        pub type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        #[prost(int32, tag = "1")]
        pub code: i32,
        #[prost(string, tag = "2")]
        pub message: String,
        #[prost(message, repeated, tag = "3")]
        pub details: Vec<Any>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Duration {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        pub retry_delay: Option<Duration>,
    }
}

/// The server's `RetryInfo` delay, if it sent one.
pub fn retry_delay(status: &tonic::Status) -> Option<Duration> {
    use prost::Message;
    let s = rpc::Status::decode(status.details()).ok()?;
    let info = s
        .details
        .iter()
        .find(|d| d.type_url.ends_with("google.rpc.RetryInfo"))?;
    let d = rpc::RetryInfo::decode(info.value.as_slice())
        .ok()?
        .retry_delay?;
    let secs = u64::try_from(d.seconds).ok()?;
    Some(Duration::from_secs(secs) + Duration::from_nanos(u64::try_from(d.nanos).unwrap_or(0)))
}

/// A status that tells OTLP clients to retry after `delay`: the `RetryInfo` detail (what
/// OTLP/gRPC clients read) and `grpc-retry-pushback-ms` (what gRPC's own retry policy reads).
pub fn status_with_retry_info(
    code: tonic::Code,
    message: String,
    delay: Duration,
) -> tonic::Status {
    use prost::Message;
    let info = rpc::RetryInfo {
        retry_delay: Some(rpc::Duration {
            seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(delay.subsec_nanos()).unwrap_or(0),
        }),
    };
    let details = rpc::Status {
        code: code as i32,
        message: message.clone(),
        details: vec![rpc::Any {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: info.encode_to_vec(),
        }],
    };
    let mut s = tonic::Status::with_details(code, message, details.encode_to_vec().into());
    if let Ok(v) = delay.as_millis().to_string().parse() {
        s.metadata_mut().insert("grpc-retry-pushback-ms", v);
    }
    s
}
