//! OTLP/gRPC: the three `Export` services over tonic, with the raw-bytes codec.

use super::{GrpcConfig, RequestError, Shared};
use crate::grpc_codec::{RawCodec, export_path};
use crate::otlp::Signal;
use crate::pipeline::{BoxFuture, ConsumeError};
use bytes::Bytes;
use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

/// A running gRPC server.
pub struct GrpcServer {
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl GrpcServer {
    /// Stops accepting and lets in-flight calls finish.
    pub async fn shutdown(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// Which service a [`ExportService`] serves.
pub trait SignalService: Send + Sync + 'static {
    /// The signal.
    const SIGNAL: Signal;
    /// The gRPC service name.
    const NAME: &'static str;
}

/// Traces.
pub struct TracesSvc;
/// Metrics.
pub struct MetricsSvc;
/// Logs.
pub struct LogsSvc;

impl SignalService for TracesSvc {
    const SIGNAL: Signal = Signal::Traces;
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}
impl SignalService for MetricsSvc {
    const SIGNAL: Signal = Signal::Metrics;
    const NAME: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
}
impl SignalService for LogsSvc {
    const SIGNAL: Signal = Signal::Logs;
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
}

/// One signal's `Export` service.
pub struct ExportService<S> {
    shared: Arc<Shared>,
    max_recv: usize,
    _s: PhantomData<S>,
}

impl<S> Clone for ExportService<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            max_recv: self.max_recv,
            _s: PhantomData,
        }
    }
}

impl<S: SignalService> tonic::server::NamedService for ExportService<S> {
    const NAME: &'static str = S::NAME;
}

/// Maps a request failure to the gRPC status OTLP clients expect.
fn status(e: RequestError) -> Status {
    match e {
        RequestError::Invalid(m) => Status::invalid_argument(m),
        RequestError::Consume(ConsumeError::Retryable {
            reason,
            retry_after,
            ..
        }) => match retry_after {
            // UNAVAILABLE is always retried by OTLP clients; RetryInfo says when.
            Some(d) => {
                crate::grpc_codec::status_with_retry_info(tonic::Code::Unavailable, reason, d)
            }
            None => Status::unavailable(reason),
        },
        RequestError::Consume(ConsumeError::Permanent { reason }) => {
            Status::invalid_argument(reason)
        }
    }
}

struct Unary<S> {
    shared: Arc<Shared>,
    _s: PhantomData<S>,
}

impl<S: SignalService> tonic::codegen::Service<Request<Bytes>> for Unary<S> {
    type Response = Response<Bytes>;
    type Error = Status;
    type Future = BoxFuture<'static, Result<Response<Bytes>, Status>>;
    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move {
            let client = Arc::new(crate::client::ClientInfo {
                auth: req
                    .extensions()
                    .get::<crate::extension::auth::AuthData>()
                    .cloned()
                    .unwrap_or_default(),
                address: req.remote_addr().map(|a| a.ip()),
                metadata: if shared.include_metadata {
                    req.metadata()
                        .iter()
                        .filter_map(|kv| match kv {
                            tonic::metadata::KeyAndValueRef::Ascii(k, v) => {
                                Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))
                            }
                            tonic::metadata::KeyAndValueRef::Binary(..) => None,
                        })
                        .collect()
                } else {
                    Vec::new()
                },
            });
            let partial = crate::client::scope(client, shared.export(S::SIGNAL, req.into_inner()))
                .await
                .map_err(status)?;
            // Everything accepted: an empty Export*ServiceResponse.
            Ok(Response::new(
                partial.map_or_else(Bytes::new, |p| Bytes::from(p.encode())),
            ))
        })
    }
}

impl<S: SignalService> tonic::codegen::Service<http::Request<tonic::body::Body>>
    for ExportService<S>
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;
    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let shared = self.shared.clone();
        let max = self.max_recv;
        Box::pin(async move {
            let mut req = req;
            match shared.authenticate(req.headers()) {
                // Handed to the call with the request (tonic keeps the extensions).
                Ok(auth) => {
                    req.extensions_mut().insert(auth);
                }
                Err(e) => return Ok(Status::unauthenticated(e.to_string()).into_http()),
            }
            if req.uri().path() != export_path(S::SIGNAL) {
                return Ok(
                    Status::unimplemented(format!("unknown method {}", req.uri().path()))
                        .into_http(),
                );
            }
            let mut grpc = tonic::server::Grpc::new(RawCodec)
                .accept_compressed(CompressionEncoding::Gzip)
                // What the Collector's gRPC server registers besides gzip (snappy aside, which
                // tonic does not have): an agent Collector may send with `compression: zstd`.
                .accept_compressed(CompressionEncoding::Zstd)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max);
            let unary = Unary::<S> {
                shared,
                _s: PhantomData,
            };
            let mut resp = grpc.unary(unary, req).await;
            // tonic answers an over-limit message with OUT_OF_RANGE, which OTLP clients retry;
            // the Collector (grpc-go) answers RESOURCE_EXHAUSTED, which they do not. Our own
            // handler never returns OUT_OF_RANGE, so this only rewrites the size refusal.
            if resp.headers().get("grpc-status").is_some_and(|v| v == "11") {
                resp.headers_mut()
                    .insert("grpc-status", http::HeaderValue::from_static("8"));
            }
            Ok(resp)
        })
    }
}

fn svc<S: SignalService>(shared: &Arc<Shared>, max: usize) -> Option<ExportService<S>> {
    shared.consumers.get(S::SIGNAL).map(|_| ExportService {
        shared: shared.clone(),
        max_recv: max,
        _s: PhantomData,
    })
}

/// Binds and serves.
pub async fn start(
    label: &str,
    cfg: &GrpcConfig,
    shared: Arc<Shared>,
) -> Result<GrpcServer, String> {
    let listener = crate::net::bind(label, "OTLP/gRPC receiver", &cfg.endpoint, true).await?;
    let max = cfg.max_recv_bytes();
    let mut server = tonic::transport::Server::builder().tcp_nodelay(true);
    if cfg.max_concurrent_streams > 0 {
        server = server.max_concurrent_streams(cfg.max_concurrent_streams);
    }
    if let Some(p) = cfg
        .keepalive
        .as_ref()
        .and_then(|k| k.server_parameters.as_ref())
    {
        server = server
            .http2_keepalive_interval(p.time)
            .http2_keepalive_timeout(p.timeout);
        if let Some(age) = p.max_connection_age {
            server = server.max_connection_age(age);
        }
        if let Some(g) = p.max_connection_age_grace {
            server = server.max_connection_age_grace(g);
        }
    }
    let router = server
        .add_optional_service(svc::<TracesSvc>(&shared, max))
        .add_optional_service(svc::<MetricsSvc>(&shared, max))
        .add_optional_service(svc::<LogsSvc>(&shared, max));
    let tls = cfg
        .tls
        .as_ref()
        .map(|t| crate::tls::server::TlsServer::new(label, t, &[b"h2"]))
        .transpose()?;
    let stop = CancellationToken::new();
    let token = stop.clone();
    let incoming = crate::net::grpc_incoming(listener, tls, stop.clone());
    let label = label.to_owned();
    let task = tokio::spawn(async move {
        if let Err(e) = router
            .serve_with_incoming_shutdown(incoming, token.cancelled())
            .await
        {
            tracing::error!(component = %label, error = %e, "gRPC server failed");
        }
    });
    Ok(GrpcServer {
        stop,
        task: Some(task),
    })
}
