//! A small app behind the sidecar, as a mesh runs them: for each request it calls the next
//! service through the sidecar's outbound listener with the same method, forwarding the
//! trace context headers the way instrumented apps (and Istio's docs) do, and answers with
//! the upstream's status, body, media type and gRPC status headers. `/healthz` is answered
//! locally, like a real health endpoint.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::thread::JoinHandle;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use crate::client;
use crate::error::{Context, Result};

/// Headers an app forwards from its inbound request to its outbound calls (the trace
/// context, and `content-type` so that a gRPC call stays one on both hops).
pub const PROPAGATED: &[&str] = &[
    "content-type",
    "traceparent",
    "tracestate",
    "x-request-id",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
];

/// The `Host` the app calls (the upstream's service name, as in a mesh).
pub const UPSTREAM_HOST: &str = "reviews.bookinfo.svc.cluster.local:9080";

/// A running app on 127.0.0.1; stopped on drop.
pub struct App {
    port: u16,
    outbound: Arc<AtomicU16>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl App {
    /// Starts the app on a free port. It calls the sidecar's outbound listener, whose port
    /// is known once Envoy runs: [`App::set_outbound_port`].
    pub fn start() -> Result<Self> {
        let outbound = Arc::new(AtomicU16::new(0));
        let shared = Arc::clone(&outbound);
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("binding the app")?;
        listener
            .set_nonblocking(true)
            .context("non-blocking listener")?;
        let port = listener.local_addr().context("app address")?.port();
        let (stop, stopped) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("app runtime")?;
        let thread = std::thread::Builder::new()
            .name(format!("app-{port}"))
            .spawn(move || runtime.block_on(serve(listener, stopped, shared)))
            .context("app thread")?;
        Ok(App {
            port,
            outbound,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where its outbound calls go.
    pub fn set_outbound_port(&self, port: u16) {
        self.outbound.store(port, Ordering::Relaxed);
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    mut stopped: oneshot::Receiver<()>,
    outbound: Arc<AtomicU16>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let outbound = outbound.load(Ordering::Relaxed);
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(
                            TokioIo::new(stream),
                            service_fn(move |req| handle(req, outbound)),
                        )
                        .await;
                });
            }
        }
    }
}

async fn handle(
    req: Request<Incoming>,
    outbound: u16,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    if req.uri().path() == "/healthz" {
        return Ok(Response::new(Full::new(Bytes::from_static(b"ok"))));
    }
    let method = req.method().as_str().to_owned();
    let forwarded: Vec<(String, Vec<u8>)> = PROPAGATED
        .iter()
        .flat_map(|name| {
            req.headers()
                .get_all(*name)
                .iter()
                .map(|v| ((*name).to_owned(), v.as_bytes().to_vec()))
        })
        .collect();
    let upstream = tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &[u8])> = forwarded
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        client::send(outbound, &method, &path, UPSTREAM_HOST, &headers)
    })
    .await;
    let response = match upstream {
        Ok(Ok(r)) => {
            let mut response = Response::new(Full::new(Bytes::from(r.body)));
            *response.status_mut() =
                StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_GATEWAY);
            // The upstream's media type, and a gRPC status it answered in its headers.
            for name in ["content-type", "grpc-status", "grpc-message"] {
                let value = r
                    .headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .and_then(|(_, v)| hyper::header::HeaderValue::from_str(v).ok());
                if let Some(v) = value {
                    response
                        .headers_mut()
                        .insert(hyper::header::HeaderName::from_static(name), v);
                }
            }
            response
        }
        _ => {
            let mut response =
                Response::new(Full::new(Bytes::from_static(b"upstream call failed")));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            response
        }
    };
    Ok(response)
}
