//! Listening sockets and HTTP/1+2 serving shared by receivers, the health check and the
//! metrics endpoint: Go-style endpoints (`host:port`, `:port`), the loud Kubernetes warning
//! for loopback-only listeners, and graceful shutdown (stop accepting, finish in-flight
//! requests).
//!
//! With a receiver's `tls:` block, each accepted TCP stream goes through a rustls handshake
//! ([`crate::tls::server::TlsServer`]) in its own task before hyper or tonic see it, so a
//! client that stalls its handshake holds up nobody else.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The OpenTelemetry Collector's default `max_request_body_size` for HTTP servers (confighttp).
pub const DEFAULT_MAX_REQUEST_BODY_SIZE: i64 = 20 * 1024 * 1024;

/// The body limit, in bytes, that an HTTP server's `max_request_body_size` sets. Zero or less
/// means the 20 MiB default: the Collector's confighttp does the same (the field is a Go
/// `int64` there), and a config written for it says `0` to mean "the default", not "refuse
/// every body".
pub fn max_request_body_bytes(configured: i64) -> usize {
    let bytes = if configured <= 0 {
        DEFAULT_MAX_REQUEST_BODY_SIZE
    } else {
        configured
    };
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

/// Resolves a Go-style endpoint (`localhost:4317`, `0.0.0.0:4318`, `:8888`, `[::1]:1`) to the
/// addresses to bind, IPv4 first.
pub async fn resolve(endpoint: &str) -> Result<SocketAddr, String> {
    let ep = if endpoint.starts_with(':') {
        format!("0.0.0.0{endpoint}")
    } else {
        endpoint.to_owned()
    };
    let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host(&ep)
        .await
        .map_err(|e| format!("cannot resolve endpoint {endpoint:?}: {e}"))?
        .collect();
    addrs.sort_by_key(|a| !a.is_ipv4());
    addrs
        .first()
        .copied()
        .ok_or_else(|| format!("endpoint {endpoint:?} resolves to no address"))
}

/// Checks the syntax of an endpoint without resolving it: `host:port` with a numeric port.
pub fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let (host, port) = endpoint
        .rsplit_once(':')
        .ok_or_else(|| format!("endpoint {endpoint:?} must be host:port (e.g. 0.0.0.0:4317)"))?;
    port.parse::<u16>()
        .map_err(|_| format!("endpoint {endpoint:?} has an invalid port {port:?}"))?;
    if host.contains(' ') || host.contains('/') {
        return Err(format!(
            "endpoint {endpoint:?} has an invalid host {host:?}"
        ));
    }
    Ok(())
}

/// Binds `endpoint`, logging where `what` listens, and warning loudly when it is loopback-only
/// inside Kubernetes (`k8s_warning`: for receivers and the health check, which other pods and
/// the kubelet must reach).
pub async fn bind(
    component: &str,
    what: &str,
    endpoint: &str,
    k8s_warning: bool,
) -> Result<TcpListener, String> {
    let addr = resolve(endpoint).await?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {endpoint} ({addr}): {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(component, endpoint, address = %local, "{what} listening");
    if k8s_warning
        && local.ip().is_loopback()
        && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
    {
        tracing::warn!(
            component,
            endpoint,
            "{what} listens on loopback only ({local}) but the collector runs in Kubernetes: \
             other pods (sidecars, Envoy, kubelet probes) cannot reach it. Set `endpoint: 0.0.0.0:{}` \
             (or `${{env:MY_POD_IP}}:{}`) in this component's config.",
            local.port(),
            local.port()
        );
    }
    Ok(listener)
}

/// The peer of an HTTP request, set by [`HttpServer::serve`] in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// A running HTTP server; [`HttpServer::shutdown`] stops it gracefully.
pub struct HttpServer {
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
    /// The bound address.
    pub local_addr: SocketAddr,
}

/// How a server is served.
#[derive(Clone, Default)]
pub struct ServeOptions {
    /// TLS: every connection is a TLS one.
    pub tls: Option<std::sync::Arc<crate::tls::server::TlsServer>>,
    /// HTTP/1 clients must send their request headers within this long (slowloris).
    pub read_header_timeout: Option<Duration>,
}

/// A stream of accepted connections for tonic: plain TCP, or TLS after a handshake done in
/// its own task (so one slow handshake does not hold up the accept loop).
pub fn grpc_incoming(
    listener: TcpListener,
    tls: Option<std::sync::Arc<crate::tls::server::TlsServer>>,
    stop: CancellationToken,
) -> tokio_stream::wrappers::ReceiverStream<Result<GrpcConn, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (stream, peer) = tokio::select! {
                () = stop.cancelled() => break,
                r = listener.accept() => match r {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::debug!(error = %e, "accept failed");
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            match &tls {
                None => {
                    if tx.send(Ok(GrpcConn::Plain(stream))).await.is_err() {
                        break;
                    }
                }
                Some(tls) => {
                    let (tls, tx) = (tls.clone(), tx.clone());
                    tokio::spawn(async move {
                        match tls.accept(stream).await {
                            Ok(s) => {
                                let _ = tx.send(Ok(GrpcConn::Tls(Box::new(s)))).await;
                            }
                            Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        }
                    });
                }
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// A gRPC server connection: plain TCP or TLS.
pub enum GrpcConn {
    /// h2c.
    Plain(tokio::net::TcpStream),
    /// h2 over TLS.
    Tls(Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>),
}

impl tonic::transport::server::Connected for GrpcConn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl tokio::io::AsyncRead for GrpcConn {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            GrpcConn::Plain(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            GrpcConn::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for GrpcConn {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            GrpcConn::Plain(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            GrpcConn::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            GrpcConn::Plain(s) => std::pin::Pin::new(s).poll_flush(cx),
            GrpcConn::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            GrpcConn::Plain(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            GrpcConn::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// How long in-flight HTTP requests get to finish on shutdown.
const GRACE: Duration = Duration::from_secs(10);

impl HttpServer {
    /// Serves `handler` on `listener` (HTTP/1.1 and h2c) until shut down.
    pub fn serve<H, F>(listener: TcpListener, handler: H) -> Self
    where
        H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
    {
        Self::serve_with(listener, ServeOptions::default(), handler)
    }

    /// Serves `handler` on `listener` with `opts` (TLS, header timeout) until shut down.
    pub fn serve_with<H, F>(listener: TcpListener, opts: ServeOptions, handler: H) -> Self
    where
        H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let local_addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let token = stop.clone();
        let task = tokio::spawn(async move {
            let graceful = hyper_util::server::graceful::GracefulShutdown::new();
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(opts.read_header_timeout);
            loop {
                let (stream, peer) = tokio::select! {
                    () = token.cancelled() => break,
                    r = listener.accept() => match r {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::debug!(error = %e, "accept failed");
                            continue;
                        }
                    },
                };
                let _ = stream.set_nodelay(true);
                let h = handler.clone();
                let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                    req.extensions_mut().insert(RemoteAddr(peer));
                    let fut = h(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let watcher = graceful.watcher();
                let builder = builder.clone();
                let tls = opts.tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => {
                            let conn =
                                builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
                            let _ = watcher.watch(conn.into_owned()).await;
                        }
                        Some(tls) => match tls.accept(stream).await {
                            Ok(s) => {
                                let conn =
                                    builder.serve_connection_with_upgrades(TokioIo::new(s), svc);
                                let _ = watcher.watch(conn.into_owned()).await;
                            }
                            Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        },
                    }
                });
            }
            drop(listener);
            let _ = tokio::time::timeout(GRACE, graceful.shutdown()).await;
        });
        Self {
            stop,
            task: Some(task),
            local_addr,
        }
    }

    /// Stops accepting and waits for in-flight requests (up to a grace period).
    pub async fn shutdown(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// A `Retry-After` value for `delay`: whole seconds, rounded up, at least 1 (0 would invite
/// an immediate retry).
pub fn retry_after(delay: Duration) -> Option<http::HeaderValue> {
    let secs = (delay.as_secs() + u64::from(delay.subsec_nanos() > 0)).max(1);
    http::HeaderValue::from_str(&secs.to_string()).ok()
}

/// A plain-text response.
pub fn text(status: http::StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// An HTML page.
pub fn html(body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = text(http::StatusCode::OK, body);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// For pages that are only read: `None` for GET and HEAD, the 405 naming them otherwise.
pub fn only_get(method: &http::Method) -> Option<Response<Full<Bytes>>> {
    if method == http::Method::GET || method == http::Method::HEAD {
        return None;
    }
    let mut r = text(http::StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    r.headers_mut().insert(
        http::header::ALLOW,
        http::HeaderValue::from_static("GET, HEAD"),
    );
    Some(r)
}

/// A request's media type: its `Content-Type` without parameters, lowercase (`""` when
/// absent).
pub fn media_type(headers: &http::HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// A receiver's `compression_algorithms`, read once when it starts: the encodings it takes
/// besides none, and the list as written for messages.
#[derive(Debug, Clone)]
pub struct AllowedEncodings {
    encodings: Vec<crate::otlp::encoding::ContentEncoding>,
    written: String,
}

impl AllowedEncodings {
    /// From the (validated) setting; `None` when unset (every encoding).
    pub fn new(list: Option<&[String]>) -> Option<Self> {
        use crate::otlp::encoding::ContentEncoding;
        list.map(|l| AllowedEncodings {
            encodings: l.iter().filter_map(|a| ContentEncoding::parse(a)).collect(),
            written: l.join(", "),
        })
    }
}

/// The `Content-Encoding` of a request to an HTTP receiver, or why it is refused (400, as the
/// Collector answers an encoding it does not know). `allowed` is the receiver's
/// `compression_algorithms` (default: every encoding); an unencoded body is always accepted.
pub fn content_encoding(
    headers: &http::HeaderMap,
    allowed: Option<&AllowedEncodings>,
) -> Result<crate::otlp::encoding::ContentEncoding, String> {
    use crate::otlp::encoding::{ContentEncoding, SUPPORTED};
    let value = match headers.get(http::header::CONTENT_ENCODING) {
        None => return Ok(ContentEncoding::Identity),
        Some(v) => v.to_str().unwrap_or("\u{fffd}"),
    };
    let encoding = ContentEncoding::parse(value).ok_or_else(|| {
        format!("unsupported Content-Encoding {value:?} (supported: {SUPPORTED})")
    })?;
    match allowed {
        Some(a) if encoding != ContentEncoding::Identity && !a.encodings.contains(&encoding) => {
            Err(format!(
                "Content-Encoding {value:?} is not enabled (compression_algorithms: [{}])",
                a.written
            ))
        }
        _ => Ok(encoding),
    }
}

/// Checks a receiver's `compression_algorithms` (at `field`): every name one the Collector
/// knows.
pub fn check_compression_algorithms(
    list: Option<&[String]>,
    field: &str,
) -> Vec<crate::config::ConfigError> {
    use crate::otlp::encoding::{ContentEncoding, SUPPORTED};
    list.unwrap_or_default()
        .iter()
        .filter(|a| ContentEncoding::parse(a).is_none())
        .map(|a| {
            crate::config::ConfigError::new(format!(
                "unsupported compression algorithm {a:?} (supported: {SUPPORTED})"
            ))
            .field(field)
        })
        .collect()
}

/// A request body decoded with its `Content-Encoding`, at most `max` bytes; or the status
/// and message to answer instead (413 past `max`, 400 for a body that does not decode).
pub fn decode_body(
    encoding: crate::otlp::encoding::ContentEncoding,
    body: Bytes,
    max: usize,
) -> Result<Bytes, (http::StatusCode, String)> {
    use crate::otlp::encoding::{ContentEncoding, DecompressError, decompress};
    if encoding == ContentEncoding::Identity {
        // The body was read with the same cap; no copy.
        return Ok(body);
    }
    decompress(encoding, &body, max)
        .map(Bytes::from)
        .map_err(|e| match e {
            DecompressError::TooLarge { .. } => {
                (http::StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
            }
            _ => (http::StatusCode::BAD_REQUEST, e.to_string()),
        })
}

/// A receiver's `response_headers`, parsed once (names and values were checked at validation).
pub fn response_headers(
    configured: &std::collections::BTreeMap<String, String>,
) -> Vec<(http::HeaderName, http::HeaderValue)> {
    configured
        .iter()
        .filter_map(|(k, v)| {
            Some((
                http::HeaderName::from_bytes(k.as_bytes()).ok()?,
                http::HeaderValue::from_str(v).ok()?,
            ))
        })
        .collect()
}

/// The value of `key` in a query string (`a=1&b=x%2Fy`), percent- and `+`-decoded; the first
/// one when repeated. Malformed escapes are kept as they are; bytes that are not UTF-8 are
/// replaced.
pub fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == key).then(|| decode(v))
    })
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|h| char::from(*h).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_encodings_and_compression_algorithms() {
        use crate::otlp::encoding::ContentEncoding as E;
        let headers = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(http::header::CONTENT_ENCODING, v.parse().unwrap());
            h
        };
        let gzip_only = ["gzip".to_owned()];
        /// `Content-Encoding`, `compression_algorithms`, the answer.
        type Case<'a> = (Option<&'a str>, Option<&'a [String]>, Result<E, &'a str>);
        let cases: [Case<'_>; 6] = [
            (None, None, Ok(E::Identity)),
            (Some("Zstd"), None, Ok(E::Zstd)),
            (Some("gzip"), Some(&gzip_only), Ok(E::Gzip)),
            (Some("identity"), Some(&gzip_only), Ok(E::Identity)),
            (
                Some("zstd"),
                Some(&gzip_only),
                Err("Content-Encoding \"zstd\" is not enabled (compression_algorithms: [gzip])"),
            ),
            (
                Some("br"),
                None,
                Err(
                    "unsupported Content-Encoding \"br\" (supported: gzip, zstd, zlib, deflate, snappy, x-snappy-framed, lz4)",
                ),
            ),
        ];
        for (value, allowed, want) in cases {
            let h = value.map(headers).unwrap_or_default();
            let allowed = AllowedEncodings::new(allowed);
            assert_eq!(
                content_encoding(&h, allowed.as_ref()),
                want.map_err(str::to_owned),
                "{value:?} {allowed:?}"
            );
        }
        let list = ["zstd".to_owned(), "brotli".to_owned()];
        let errors =
            check_compression_algorithms(Some(&list), "protocols.http.compression_algorithms");
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "field `protocols.http.compression_algorithms`: unsupported compression algorithm \"brotli\" (supported: gzip, zstd, zlib, deflate, snappy, x-snappy-framed, lz4)"
        );
    }

    #[test]
    fn endpoint_syntax() {
        for ok in [
            "localhost:4317",
            "0.0.0.0:4318",
            ":8888",
            "[::1]:1",
            "${x}:1",
        ] {
            assert!(check_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in ["localhost", "host:port", "a:70000", "a b:1"] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn resolves_go_style_endpoints() {
        assert_eq!(resolve(":0").await.unwrap(), "0.0.0.0:0".parse().unwrap());
        assert_eq!(
            resolve("localhost:5").await.unwrap().ip().to_string(),
            "127.0.0.1"
        );
    }
}
