//! Sending one prepared body as an OTLP export, over gRPC (HTTP/2, raw bytes) or OTLP/HTTP
//! (HTTP/1.1), and classifying what came back.
//!
//! Bodies arrive framed (and compressed) by the pool, so this layer only adds headers: no
//! codec, no per-request encoding or compression. That is why it speaks HTTP/2 through hyper
//! directly rather than through a tonic client, which would frame and compress again.

use std::net::SocketAddr;
use std::sync::Mutex as SyncMutex;
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

const GRPC_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const USER_AGENT: &str = concat!("meshtrace-loadgen/", env!("CARGO_PKG_VERSION"));

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// OTLP/gRPC (HTTP/2, cleartext).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (HTTP/1.1 keep-alive).
    Http,
}

/// Where to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// Transport.
    pub protocol: Protocol,
    /// Socket address to connect to.
    pub addr: SocketAddr,
    /// `host:port` for the `:authority` / `Host` header.
    pub authority: String,
    /// Request path (`/v1/traces` or the gRPC method).
    pub path: String,
    /// Bodies are gzip-compressed.
    pub gzip: bool,
}

/// Why the endpoint is not usable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    /// Not `http://host:port[/path]` or `host:port`.
    #[error("endpoint {0:?}: expected host:port or http://host:port[/path]")]
    Syntax(String),
    /// TLS endpoints are out of scope for a loopback load generator.
    #[error("endpoint {0:?}: https is not supported (loopback benchmarks run cleartext)")]
    Https(String),
}

/// Splits an endpoint into `host:port` and the path to post to: the gRPC method, or for HTTP
/// the URL's path, `/v1/traces` when it has none (as `OTEL_EXPORTER_OTLP_ENDPOINT` does).
pub fn parse_endpoint(
    endpoint: &str,
    protocol: Protocol,
) -> Result<(String, String), EndpointError> {
    if endpoint.starts_with("https://") {
        return Err(EndpointError::Https(endpoint.to_owned()));
    }
    let rest = endpoint.strip_prefix("http://").unwrap_or(endpoint);
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let port_ok = authority
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !port_ok {
        return Err(EndpointError::Syntax(endpoint.to_owned()));
    }
    let path = match protocol {
        Protocol::Grpc => GRPC_PATH.to_owned(),
        Protocol::Http if path.is_empty() || path == "/" => "/v1/traces".to_owned(),
        Protocol::Http => path.to_owned(),
    };
    Ok((authority.to_owned(), path))
}

/// What the receiver said to an accepted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// Spans the receiver reported rejecting (`partial_success.rejected_spans`).
    pub rejected_spans: u64,
}

/// A failed export, by the kind the report groups it under.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// TCP connect or the HTTP/2 handshake failed.
    #[error("connect: {0}")]
    Connect(String),
    /// The connection broke while the request was in flight.
    #[error("connection: {0}")]
    Io(#[from] hyper::Error),
    /// No answer within the timeout.
    #[error("timeout")]
    Timeout,
    /// A gRPC status other than OK.
    #[error("grpc status {code}: {message}")]
    Grpc {
        /// The `grpc-status` code.
        code: u32,
        /// The `grpc-message`.
        message: String,
    },
    /// An HTTP status other than 2xx.
    #[error("http status {0}")]
    Http(StatusCode),
    /// An answer that is not a well-formed OTLP response.
    #[error("protocol: {0}")]
    Protocol(String),
}

impl Failure {
    /// The stable name the report counts it under.
    #[must_use]
    pub fn kind(&self) -> String {
        match self {
            Self::Connect(_) => "connect".to_owned(),
            Self::Io(_) => "connection".to_owned(),
            Self::Timeout => "timeout".to_owned(),
            Self::Grpc { code, .. } => format!("grpc_{}", grpc_code_name(*code)),
            Self::Http(status) => format!("http_{}", status.as_u16()),
            Self::Protocol(_) => "protocol".to_owned(),
        }
    }
}

/// The gRPC status code names, lower-cased, as the report shows them.
#[must_use]
pub fn grpc_code_name(code: u32) -> &'static str {
    const NAMES: [&str; 17] = [
        "ok",
        "cancelled",
        "unknown",
        "invalid_argument",
        "deadline_exceeded",
        "not_found",
        "already_exists",
        "permission_denied",
        "resource_exhausted",
        "failed_precondition",
        "aborted",
        "out_of_range",
        "unimplemented",
        "internal",
        "unavailable",
        "data_loss",
        "unauthenticated",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|c| NAMES.get(c))
        .copied()
        .unwrap_or("unknown_code")
}

/// HTTP/2 windows: large enough that a 100-span request never waits for a WINDOW_UPDATE.
const STREAM_WINDOW: u32 = 4 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;

/// Connections to the target: `slots` shared HTTP/2 connections for gRPC (requests are
/// multiplexed), or a pool of idle HTTP/1.1 keep-alive connections (one request each at a
/// time) for OTLP/HTTP.
#[derive(Debug)]
pub struct Connections {
    target: Target,
    timeout: Duration,
    h2: Vec<Mutex<Option<http2::SendRequest<Full<Bytes>>>>>,
    h1_idle: SyncMutex<Vec<http1::SendRequest<Full<Bytes>>>>,
}

impl Connections {
    /// No connection is opened until the first request.
    #[must_use]
    pub fn new(target: Target, slots: usize, timeout: Duration) -> Self {
        Self {
            target,
            timeout,
            h2: (0..slots.max(1)).map(|_| Mutex::new(None)).collect(),
            h1_idle: SyncMutex::new(Vec::new()),
        }
    }

    /// Exports `body` (`slot` picks the HTTP/2 connection; ignored for HTTP/1.1).
    pub async fn export(&self, slot: usize, body: Bytes) -> Result<Ack, Failure> {
        match tokio::time::timeout(self.timeout, self.export_inner(slot, body)).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Timeout),
        }
    }

    async fn export_inner(&self, slot: usize, body: Bytes) -> Result<Ack, Failure> {
        match self.target.protocol {
            Protocol::Grpc => {
                let mut sender = self.h2_sender(slot).await?;
                let req = self.request(body)?;
                sender.ready().await?;
                let resp = sender.send_request(req).await?;
                read_grpc(resp).await
            }
            Protocol::Http => {
                let idle = self.h1_idle.lock().ok().and_then(|mut idle| idle.pop());
                let mut sender = match idle {
                    Some(s) if !s.is_closed() => s,
                    _ => self.h1_connect().await?,
                };
                let req = self.request(body)?;
                sender.ready().await?;
                let resp = sender.send_request(req).await?;
                let ack = read_http(resp).await;
                if !sender.is_closed()
                    && let Ok(mut idle) = self.h1_idle.lock()
                {
                    idle.push(sender);
                }
                ack
            }
        }
    }

    fn request(&self, body: Bytes) -> Result<Request<Full<Bytes>>, Failure> {
        let t = &self.target;
        let mut builder = Request::post(format!("http://{}{}", t.authority, t.path))
            .header(header::USER_AGENT, USER_AGENT);
        builder = match t.protocol {
            Protocol::Grpc => {
                let b = builder
                    .header(header::CONTENT_TYPE, "application/grpc")
                    .header(header::TE, "trailers");
                if t.gzip {
                    b.header("grpc-encoding", "gzip")
                } else {
                    b
                }
            }
            Protocol::Http => {
                let b = builder
                    .header(header::HOST, &t.authority)
                    .header(header::CONTENT_TYPE, "application/x-protobuf");
                if t.gzip {
                    b.header(header::CONTENT_ENCODING, "gzip")
                } else {
                    b
                }
            }
        };
        builder
            .body(Full::new(body))
            .map_err(|e| Failure::Protocol(e.to_string()))
    }

    /// A clone of slot `slot`'s HTTP/2 sender, connecting first if it has none or it closed.
    /// The slot stays locked while connecting so that concurrent users wait for one
    /// connection instead of each opening their own.
    async fn h2_sender(&self, slot: usize) -> Result<http2::SendRequest<Full<Bytes>>, Failure> {
        let n = self.h2.len().max(1);
        let Some(cell) = self.h2.get(slot % n) else {
            return Err(Failure::Connect("no connection slot".to_owned()));
        };
        let mut guard = cell.lock().await;
        if let Some(sender) = guard.as_ref().filter(|s| !s.is_closed()) {
            return Ok(sender.clone());
        }
        *guard = None;
        let stream = self.tcp().await?;
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Connect(e.to_string()))?;
        tokio::spawn(async move {
            // Ends when the peer closes or errs; requests on it then fail and reconnect.
            let _ = conn.await;
        });
        *guard = Some(sender.clone());
        Ok(sender)
    }

    async fn h1_connect(&self) -> Result<http1::SendRequest<Full<Bytes>>, Failure> {
        let stream = self.tcp().await?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Connect(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    async fn tcp(&self) -> Result<TcpStream, Failure> {
        let stream = TcpStream::connect(self.target.addr)
            .await
            .map_err(|e| Failure::Connect(format!("{}: {e}", self.target.addr)))?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }
}

async fn read_grpc(resp: http::Response<hyper::body::Incoming>) -> Result<Ack, Failure> {
    let (parts, body) = resp.into_parts();
    if parts.status != StatusCode::OK {
        return Err(Failure::Http(parts.status));
    }
    // Trailers-only answers (errors, usually) carry the status in the headers.
    if let Some(code) = grpc_status(&parts.headers)?
        && code != 0
    {
        return Err(Failure::Grpc {
            code,
            message: grpc_message(&parts.headers),
        });
    }
    let collected = body.collect().await?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let mut data = collected.to_bytes();
    let code = match (grpc_status(&trailers)?, grpc_status(&parts.headers)?) {
        (Some(code), _) | (None, Some(code)) => code,
        (None, None) => return Err(Failure::Protocol("no grpc-status".to_owned())),
    };
    if code != 0 {
        return Err(Failure::Grpc {
            code,
            message: grpc_message(&trailers),
        });
    }
    if data.is_empty() {
        return Ok(Ack { rejected_spans: 0 });
    }
    if data.len() < 5 {
        return Err(Failure::Protocol("short gRPC message".to_owned()));
    }
    let compressed = data.get_u8();
    let len = usize::try_from(data.get_u32()).unwrap_or(usize::MAX);
    if compressed != 0 || len != data.len() {
        return Err(Failure::Protocol(
            "unexpected gRPC response framing".to_owned(),
        ));
    }
    ack(&data)
}

async fn read_http(resp: http::Response<hyper::body::Incoming>) -> Result<Ack, Failure> {
    let (parts, body) = resp.into_parts();
    let data = body.collect().await?.to_bytes();
    if !parts.status.is_success() {
        return Err(Failure::Http(parts.status));
    }
    let protobuf = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/x-protobuf"));
    if protobuf {
        ack(&data)
    } else {
        Ok(Ack { rejected_spans: 0 })
    }
}

fn ack(message: &[u8]) -> Result<Ack, Failure> {
    let resp = ExportTraceServiceResponse::decode(message)
        .map_err(|e| Failure::Protocol(format!("response: {e}")))?;
    let rejected = resp.partial_success.map_or(0, |p| p.rejected_spans);
    Ok(Ack {
        rejected_spans: u64::try_from(rejected).unwrap_or(0),
    })
}

fn grpc_status(headers: &HeaderMap) -> Result<Option<u32>, Failure> {
    match headers.get("grpc-status") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| Failure::Protocol("bad grpc-status".to_owned())),
    }
}

fn grpc_message(headers: &HeaderMap) -> String {
    headers
        .get("grpc-message")
        .map(HeaderValue::to_str)
        .and_then(Result::ok)
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let ok = [
            (
                "127.0.0.1:4317",
                Protocol::Grpc,
                "127.0.0.1:4317",
                GRPC_PATH,
            ),
            (
                "http://localhost:4317",
                Protocol::Grpc,
                "localhost:4317",
                GRPC_PATH,
            ),
            (
                "http://127.0.0.1:4318",
                Protocol::Http,
                "127.0.0.1:4318",
                "/v1/traces",
            ),
            (
                "http://127.0.0.1:4318/",
                Protocol::Http,
                "127.0.0.1:4318",
                "/v1/traces",
            ),
            (
                "127.0.0.1:9/custom/traces",
                Protocol::Http,
                "127.0.0.1:9",
                "/custom/traces",
            ),
        ];
        for (input, protocol, authority, path) in ok {
            assert_eq!(
                parse_endpoint(input, protocol),
                Ok((authority.to_owned(), path.to_owned())),
                "{input}"
            );
        }
        assert!(matches!(
            parse_endpoint("https://x:1", Protocol::Grpc),
            Err(EndpointError::Https(_))
        ));
        for bad in ["", "localhost", "http://:4317", "host:port", "host:99999"] {
            assert!(
                matches!(
                    parse_endpoint(bad, Protocol::Http),
                    Err(EndpointError::Syntax(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn failure_kinds_are_stable_names() {
        assert_eq!(
            Failure::Grpc {
                code: 14,
                message: String::new()
            }
            .kind(),
            "grpc_unavailable"
        );
        assert_eq!(
            Failure::Grpc {
                code: 8,
                message: String::new()
            }
            .kind(),
            "grpc_resource_exhausted"
        );
        assert_eq!(
            Failure::Grpc {
                code: 99,
                message: String::new()
            }
            .kind(),
            "grpc_unknown_code"
        );
        assert_eq!(
            Failure::Http(StatusCode::TOO_MANY_REQUESTS).kind(),
            "http_429"
        );
        assert_eq!(Failure::Timeout.kind(), "timeout");
    }
}
